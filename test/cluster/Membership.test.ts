/**
 * Model tests for the pure cluster logic: membership snapshots and duplicate-route resolution.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { preferNew } from "../../src/cluster/Duplicates.js"
import * as Membership from "../../src/cluster/Membership.js"

describe("duplicate routes", () => {
  /**
   * A model of N servers. A link is a TCP connection dialed by one server to another; each end
   * identifies it when it processes the peer's INFO, in any order. Each server keeps at most one
   * registered link per peer, deciding with `preferNew` exactly as the cluster code does; a link
   * dropped by either end is closed on both. Property: once every INFO has been processed, each
   * pair of servers that still has an open link has exactly one, both ends registered the same one,
   * and no registered link is closed.
   */
  interface Link {
    readonly id: number
    readonly from: number
    readonly to: number
    closed: boolean
  }
  const ids = ["NA", "NB", "NC", "ND"]

  const arbEvents = fc.array(
    fc.record({ from: fc.integer({ min: 0, max: 3 }), to: fc.integer({ min: 0, max: 3 }), order: fc.array(fc.nat(), { minLength: 2, maxLength: 2 }) }),
    { minLength: 1, maxLength: 12 }
  )

  it("property: any order of connects and INFO processing converges to one route per pair, agreed by both ends", () =>
    fc.assert(
      fc.property(arbEvents, fc.array(fc.nat(), { maxLength: 40 }), (dials, schedule) => {
        const links: Array<Link> = []
        // registered[s][peer] = link id
        const registered = ids.map(() => new Map<number, Link>())
        const pending: Array<{ server: number; link: Link }> = []
        for (const d of dials) {
          if (d.from === d.to) continue
          const link: Link = { id: links.length, from: d.from, to: d.to, closed: false }
          links.push(link)
          pending.push({ server: d.from, link }, { server: d.to, link })
        }
        // Process the INFO events in an arbitrary interleaving.
        let k = 0
        while (pending.length > 0) {
          const idx = (schedule[k++] ?? 0) % pending.length
          const { server, link } = pending.splice(idx, 1)[0]!
          if (link.closed) continue
          const peer = link.from === server ? link.to : link.from
          const existing = registered[server]!.get(peer)
          if (existing === undefined || existing.closed) {
            registered[server]!.set(peer, link)
            continue
          }
          if (existing === link) continue
          const replace = preferNew(ids[server]!, ids[peer]!, existing.from === server, link.from === server)
          const dropped = replace ? existing : link
          dropped.closed = true
          if (replace) registered[server]!.set(peer, link)
        }
        // Closed links are unregistered at both ends (a close reaches the peer).
        for (const reg of registered) for (const [peer, l] of reg) if (l.closed) reg.delete(peer)
        for (let a = 0; a < ids.length; a++) {
          for (let b = a + 1; b < ids.length; b++) {
            const open = links.filter((l) => !l.closed && ((l.from === a && l.to === b) || (l.from === b && l.to === a)))
            const dialed = links.some((l) => (l.from === a && l.to === b) || (l.from === b && l.to === a))
            if (!dialed) continue
            // Opposite directions always leave exactly one survivor; the same direction keeps the first.
            expect(open.length).toBe(1)
            expect(registered[a]!.get(b)).toBe(open[0])
            expect(registered[b]!.get(a)).toBe(open[0])
          }
        }
      }),
      { numRuns: 500 }
    ))

  it("keeps the link dialed by the smaller server id", () => {
    // On NA (smaller): a link it dialed beats one it accepted.
    expect(preferNew("NA", "NB", false, true)).toBe(true)
    expect(preferNew("NA", "NB", true, false)).toBe(false)
    // On NB: the accepted link (dialed by NA) beats its own.
    expect(preferNew("NB", "NA", false, true)).toBe(false)
    expect(preferNew("NB", "NA", true, false)).toBe(true)
    // Same direction: first registered stays.
    expect(preferNew("NA", "NB", true, true)).toBe(false)
  })
})

describe("membership", () => {
  const member = (id: string, rid: number, urls: Array<string>, ldm = false) => ({
    serverId: id,
    serverName: id,
    routeUrl: `127.0.0.1:${rid}`,
    clientUrls: urls,
    ldm,
    rid
  })

  it("connect_urls follow join order and leave out lame ducks", () => {
    let s = Membership.empty
    s = Membership.join(s, member("B", 1, ["h:2"]))
    s = Membership.join(s, member("C", 2, ["h:3"]))
    expect(Membership.peerClientUrls(s)).toEqual(["h:2", "h:3"])
    s = Membership.update(s, "B", { ldm: true })
    expect(Membership.peerClientUrls(s)).toEqual(["h:3"])
    s = Membership.leave(s, "C", 99) // not the route C is known through: ignored
    expect(Membership.peerClientUrls(s)).toEqual(["h:3"])
    s = Membership.leave(s, "C", 2)
    expect(Membership.peerClientUrls(s)).toEqual([])
  })

  it("property: after any sequence of joins and leaves, members are exactly those joined through a route not yet left", () =>
    fc.assert(
      fc.property(
        fc.array(fc.record({ join: fc.boolean(), server: fc.integer({ min: 0, max: 4 }), rid: fc.integer({ min: 1, max: 6 }) }), { maxLength: 40 }),
        (events) => {
          let s = Membership.empty
          const model = new Map<string, number>()
          for (const e of events) {
            const id = `N${e.server}`
            if (e.join) {
              s = Membership.join(s, member(id, e.rid, [`h:${e.server}`]))
              model.set(id, e.rid)
            } else {
              s = Membership.leave(s, id, e.rid)
              if (model.get(id) === e.rid) model.delete(id)
            }
          }
          expect([...s.members.keys()].sort()).toEqual([...model.keys()].sort())
          for (const [id, rid] of model) expect(s.members.get(id)!.rid).toBe(rid)
          const urls = Membership.peerClientUrls(s)
          expect(new Set(urls).size).toBe(urls.length)
          expect(urls.sort()).toEqual([...model.keys()].map((id) => `h:${id.slice(1)}`).sort())
        }
      ),
      { numRuns: 300 }
    ))
})
