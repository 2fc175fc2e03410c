import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isValidSubject, matchesPattern } from "../../src/subjects/Subject.js"
import { type MatchResult, SubjectIndex } from "../../src/subjects/SubjectIndex.js"

interface Sub {
  readonly id: number
  readonly subject: string
  readonly queue: string | undefined
}

let nextId = 0
const sub = (subject: string, queue?: string): Sub => ({ id: nextId++, subject, queue })

/** Order-free view of a match result: sorted plain ids, queue groups keyed and sorted by name. */
interface Canon {
  readonly plain: ReadonlyArray<number>
  readonly queues: ReadonlyArray<readonly [string, ReadonlyArray<number>]>
}
const ids = (subs: ReadonlyArray<Sub>): Array<number> => subs.map((s) => s.id).sort((a, b) => a - b)

const canonOfResult = (r: MatchResult<Sub>): Canon => {
  const queues: Array<readonly [string, ReadonlyArray<number>]> = []
  for (const group of r.queues) {
    expect(group.length).toBeGreaterThan(0)
    const name = group[0]!.queue
    expect(name).toBeDefined()
    for (const s of group) expect(s.queue).toBe(name)
    queues.push([name!, ids(group)])
  }
  for (const s of r.plain) expect(s.queue).toBeUndefined()
  queues.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  // one group per distinct name
  expect(new Set(queues.map((q) => q[0])).size).toBe(queues.length)
  return { plain: ids(r.plain), queues }
}

/** The reference model: a list of subscriptions filtered with matchesPattern. */
const canonOfModel = (live: ReadonlyArray<Sub>, subject: string): Canon => {
  const hit = live.filter((s) => matchesPattern(s.subject, subject))
  const byName = new Map<string, Array<Sub>>()
  for (const s of hit) {
    if (s.queue === undefined) continue
    const g = byName.get(s.queue) ?? []
    g.push(s)
    byName.set(s.queue, g)
  }
  return {
    plain: ids(hit.filter((s) => s.queue === undefined)),
    queues: [...byName.entries()]
      .map(([name, g]) => [name, ids(g)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }
}

const fanoutOfModel = (live: ReadonlyArray<Sub>, subject: string): number => {
  const c = canonOfModel(live, subject)
  return c.plain.length + c.queues.length
}

// --- generators: a tiny alphabet so that subscriptions overlap and collide constantly ------------

const patternArb = fc
  .array(fc.constantFrom("a", "b", "c", "*", ">"), { minLength: 1, maxLength: 3 })
  .map((ts) => ts.join("."))
  .filter(isValidSubject)
const queueArb = fc.constantFrom<string | undefined>(undefined, undefined, "q1", "q2")
// Publish subjects: mostly literal tokens, sometimes a literal `*`/`>` token or an empty token.
const subjectArb = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom("a", "b", "*", ">", ""), { minLength: 1, maxLength: 3 }) }
).map((ts) => ts.join("."))

type Cmd =
  | { readonly tag: "insert"; readonly subject: string; readonly queue: string | undefined }
  | { readonly tag: "remove"; readonly pick: number }
  | { readonly tag: "removeStale"; readonly pick: number }
  | { readonly tag: "match"; readonly subject: string }

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ tag: fc.constant("insert" as const), subject: patternArb, queue: queueArb })
  },
  { weight: 3, arbitrary: fc.record({ tag: fc.constant("remove" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ tag: fc.constant("removeStale" as const), pick: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ tag: fc.constant("match" as const), subject: subjectArb }) }
)

/** Every literal subject of 1..3 tokens over {a,b,c}, plus a few odd ones: what the cache tests re-check. */
const UNIVERSE: ReadonlyArray<string> = (() => {
  const out: Array<string> = []
  const ts = ["a", "b", "c"]
  for (const x of ts) {
    out.push(x)
    for (const y of ts) {
      out.push(`${x}.${y}`)
      for (const z of ts) out.push(`${x}.${y}.${z}`)
    }
  }
  out.push("a.*", "*", "a.>", "a..b")
  return out
})()

/** The model side of a run: live subscriptions plus the removed ones (for stale removes). */
class Model {
  readonly live: Array<Sub> = []
  readonly dead: Array<Sub> = []
  inserts = 0
  removes = 0
  apply(cmd: Cmd, index: SubjectIndex<Sub>): void {
    switch (cmd.tag) {
      case "insert": {
        const s = sub(cmd.subject, cmd.queue)
        index.insert(s)
        this.live.push(s)
        this.inserts++
        return
      }
      case "remove": {
        if (this.live.length === 0) {
          expect(index.remove(sub("a"))).toBe(false)
          return
        }
        const [s] = this.live.splice(cmd.pick % this.live.length, 1)
        expect(index.remove(s!)).toBe(true)
        this.dead.push(s!)
        this.removes++
        return
      }
      case "removeStale": {
        const s = this.dead.length === 0 ? sub("a") : this.dead[cmd.pick % this.dead.length]!
        expect(index.remove(s)).toBe(false)
        return
      }
      case "match":
        expect(canonOfResult(index.match(cmd.subject))).toEqual(canonOfModel(this.live, cmd.subject))
        return
    }
  }
}

const rootOf = (index: SubjectIndex<Sub>): Record<string, unknown> =>
  (index as unknown as { root: Record<string, unknown> }).root

const expectPruned = (index: SubjectIndex<Sub>): void => {
  const root = rootOf(index)
  expect((index as unknown as { exact: Map<string, unknown> }).exact.size).toBe(0)
  expect([root["literal"], root["pwc"], root["fwc"], root["plain"], root["queues"]]).toEqual([
    undefined,
    undefined,
    undefined,
    undefined,
    undefined
  ])
}

describe("SubjectIndex examples", () => {
  it("matches plain and queue subscriptions", () => {
    const index = new SubjectIndex<Sub>()
    const foo = sub("foo")
    const fooStarQ = sub("foo.*", "q1")
    index.insert(foo)
    index.insert(fooStarQ)
    expect(index.match("foo")).toEqual({ plain: [foo], queues: [] })
    expect(index.match("foo.bar")).toEqual({ plain: [], queues: [[fooStarQ]] })
    expect(index.match("foo.bar.baz")).toEqual({ plain: [], queues: [] })
    expect(index.match("bar")).toEqual({ plain: [], queues: [] })
  })

  it("groups queue subscriptions by name across trie branches", () => {
    const index = new SubjectIndex<Sub>()
    const star = sub("foo.*", "q")
    const fwc = sub("foo.>", "q")
    const lit = sub("foo.bar", "q2")
    const lit2 = sub("foo.bar", "q")
    const plainStar = sub("*.bar")
    const plainAll = sub(">")
    for (const s of [star, fwc, lit, lit2, plainStar, plainAll]) index.insert(s)
    expect(canonOfResult(index.match("foo.bar"))).toEqual({
      plain: ids([plainStar, plainAll]),
      queues: [
        ["q", ids([star, fwc, lit2])],
        ["q2", [lit.id]]
      ]
    })
  })

  it("groups many distinct queue names correctly", () => {
    const index = new SubjectIndex<Sub>()
    const live: Array<Sub> = []
    for (let i = 0; i < 30; i++) {
      for (const subject of ["foo.bar", "foo.*", ">", "*.bar"]) {
        if ((i + subject.length) % 3 === 0) continue
        const s = sub(subject, `g${(i * 7) % 23}`)
        index.insert(s)
        live.push(s)
      }
    }
    const got = canonOfResult(index.match("foo.bar"))
    expect(got.queues.length).toBe(23)
    expect(got).toEqual(canonOfModel(live, "foo.bar"))
  })

  it("orders matches like nats-server: per level `>`, then under `*`, then literal; last level literal before `*`", () => {
    const index = new SubjectIndex<Sub>()
    const subjects = ["foo.*", "foo.>", ">", "foo.bar", "*.bar", "*.*", "*.>"]
    const byName = new Map(subjects.map((s) => [s, sub(s)] as const))
    for (const s of byName.values()) index.insert(s)
    expect(index.match("foo.bar").plain.map((s) => s.subject)).toEqual([
      ">",
      "*.>",
      "*.bar",
      "*.*",
      "foo.>",
      "foo.bar",
      "foo.*"
    ])
    const inbox = new SubjectIndex<Sub>()
    const star = sub("_INBOX.*")
    const lit = sub("_INBOX.a")
    inbox.insert(star)
    inbox.insert(lit)
    expect(inbox.match("_INBOX.a").plain).toEqual([lit, star])
  })

  it("`>` needs at least one token, `*` exactly one", () => {
    const index = new SubjectIndex<Sub>()
    const fwc = sub("foo.>")
    const pwc = sub("foo.*")
    index.insert(fwc)
    index.insert(pwc)
    expect(index.match("foo").plain).toEqual([])
    expect(ids(index.match("foo.a").plain)).toEqual(ids([fwc, pwc]))
    expect(index.match("foo.a.b").plain).toEqual([fwc])
  })

  it("takes publish tokens literally and rejects empty tokens", () => {
    const index = new SubjectIndex<Sub>()
    const all = sub(">")
    const lit = sub("a.b")
    index.insert(all)
    index.insert(lit)
    expect(index.match("a.*").plain).toEqual([all])
    expect(index.match("a..b").plain).toEqual([])
    expect(index.match("a.").plain).toEqual([])
    expect(index.match("").plain).toEqual([])
  })

  it("removes by identity, once", () => {
    const index = new SubjectIndex<Sub>()
    const a = sub("a")
    const twin = sub("a")
    index.insert(a)
    expect(index.remove(twin)).toBe(false)
    expect(index.remove(a)).toBe(true)
    expect(index.remove(a)).toBe(false)
    expect(index.size).toBe(0)
  })

  it("rejects a second insert of the same object and invalid subjects", () => {
    const index = new SubjectIndex<Sub>()
    const a = sub("a")
    index.insert(a)
    expect(() => index.insert(a)).toThrow()
    for (const bad of ["", "a..b", "a.>.b", "a b", ".a"]) expect(() => index.insert(sub(bad))).toThrow(RangeError)
    expect(index.size).toBe(1)
    expect(index.stats().inserts).toBe(1)
  })

  it("size and entries() track the live subscriptions", () => {
    const index = new SubjectIndex<Sub>()
    const subs = [sub("a"), sub("a", "q"), sub("a.*"), sub(">", "q")]
    for (const s of subs) index.insert(s)
    index.remove(subs[1]!)
    expect(index.size).toBe(3)
    expect([...index.entries()]).toEqual([subs[0], subs[2], subs[3]])
  })

  it("prunes empty nodes", () => {
    const index = new SubjectIndex<Sub>()
    const subs = [sub("a.b.c"), sub("a.b"), sub("a.*.c", "q"), sub("a.>"), sub("*"), sub(">", "q")]
    for (const s of subs) index.insert(s)
    for (const s of subs) index.remove(s)
    expectPruned(index)
  })

  it("serves a cache hit without rebuilding the result", () => {
    const index = new SubjectIndex<Sub>()
    index.insert(sub("foo.*"))
    const first = index.match("foo.bar")
    expect(index.match("foo.bar")).toBe(first)
    expect(index.stats()).toMatchObject({ matches: 2, cacheHits: 1, cacheSize: 1 })
  })

  it("the subject matched last is answered again until any change or eviction", () => {
    const index = new SubjectIndex<Sub>({ cacheSize: 1 })
    const subject = "foo.bar"
    expect(index.match(subject)).toEqual({ plain: [], queues: [] })
    expect(index.match(subject)).toEqual({ plain: [], queues: [] })
    // A literal and a wildcard subscription both reach it, and their removal is seen as well.
    const lit = sub("foo.bar")
    index.insert(lit)
    expect(index.match(subject).plain).toEqual([lit])
    const wc = sub("foo.*")
    index.insert(wc)
    expect(index.match(subject).plain).toEqual([lit, wc])
    index.remove(lit)
    expect(index.match(subject).plain).toEqual([wc])
    // Another subject evicts it from the one-entry cache; a later change must still be seen.
    index.match("other")
    index.remove(wc)
    expect(index.match(subject).plain).toEqual([])
    expect(index.stats()).toMatchObject({ matches: 7, cacheHits: 1 })
  })

  it("request/reply churn does not flush unrelated cache entries", () => {
    const index = new SubjectIndex<Sub>()
    const hot = ["orders.new", "orders.paid", "metrics.cpu", "metrics.mem"]
    index.insert(sub("orders.*", "workers"))
    index.insert(sub("metrics.>"))
    const before = hot.map((s) => index.match(s))
    for (let i = 0; i < 500; i++) {
      const literal = sub(`_INBOX.${i}`)
      const mux = sub(`_INBOX.conn${i}.*`)
      index.insert(literal)
      index.insert(mux)
      expect(index.match(`_INBOX.${i}`).plain).toEqual([literal])
      expect(index.match(`_INBOX.conn${i}.1`).plain).toEqual([mux])
      index.remove(literal)
      index.remove(mux)
    }
    const hitsBefore = index.stats().cacheHits
    hot.forEach((s, i) => expect(index.match(s)).toBe(before[i]))
    expect(index.stats().cacheHits).toBe(hitsBefore + hot.length)
  })

  it("invalidates exactly the affected cached subjects", () => {
    const index = new SubjectIndex<Sub>()
    const a = index.match("a.b")
    const c = index.match("c.d")
    index.insert(sub("a.*"))
    expect(index.match("c.d")).toBe(c)
    expect(index.match("a.b")).not.toBe(a)
    expect(index.match("a.b").plain.length).toBe(1)
  })

  it("refills an invalidated entry of a full cache without evicting others", () => {
    const index = new SubjectIndex<Sub>({ cacheSize: 16 })
    for (let i = 0; i < 16; i++) index.match(`s.${i}`)
    const hot = sub("s.15")
    index.insert(hot)
    expect(index.stats().cacheSize).toBe(15)
    expect(index.match("s.15").plain).toEqual([hot])
    expect(index.stats().cacheSize).toBe(16)
    const hits = index.stats().cacheHits
    for (let i = 0; i < 16; i++) index.match(`s.${i}`)
    expect(index.stats().cacheHits).toBe(hits + 16)
  })

  it("keeps the cache bounded", () => {
    const index = new SubjectIndex<Sub>({ cacheSize: 16 })
    const cacheMap = (index as unknown as { cache: Map<string, unknown> }).cache
    const all = sub(">")
    index.insert(all)
    for (let i = 0; i < 1000; i++) {
      expect(index.match(`s.${i}`).plain).toEqual([all])
      if (i % 3 === 0) {
        // invalidated entries must not let the cache grow either
        const s = sub(`s.${i - 1}`)
        index.insert(s)
        index.remove(s)
      }
      expect(index.stats().cacheSize).toBeLessThanOrEqual(16)
      expect(cacheMap.size).toBeLessThanOrEqual(16)
    }
    const off = new SubjectIndex<Sub>({ cacheSize: 0 })
    off.insert(all)
    off.match("x")
    off.match("x")
    expect(off.stats()).toMatchObject({ matches: 2, cacheHits: 0, cacheSize: 0 })
  })

  it("reports fanout over the cached results", () => {
    const index = new SubjectIndex<Sub>()
    index.insert(sub("a"))
    index.insert(sub("a"))
    index.insert(sub("a", "q"))
    index.insert(sub(">", "q"))
    index.insert(sub("*", "r"))
    index.match("a") // 2 plain + groups q, r = 4
    index.match("b") // groups q (via >), r = 2
    index.match("x.y") // group q = 1
    index.match("zzz.zzz.zzz.zzz") // group q = 1
    expect(index.stats()).toEqual({
      inserts: 5,
      removes: 0,
      matches: 4,
      cacheHits: 0,
      cacheSize: 4,
      maxFanout: 4,
      avgFanout: 8 / 4
    })
  })
})

describe("SubjectIndex properties", () => {
  it("(a) agrees with a list + matchesPattern model", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 80 }), (cmds) => {
        const index = new SubjectIndex<Sub>()
        const model = new Model()
        for (const cmd of cmds) model.apply(cmd, index)
        expect(index.size).toBe(model.live.length)
        expect(new Set(index.entries())).toEqual(new Set(model.live))
        // After removing everything the trie is empty again.
        for (const s of model.live) expect(index.remove(s)).toBe(true)
        expectPruned(index)
      }),
      { numRuns: 400 }
    )
  })

  it.each([1024, 7, 1])("(b) cached results stay correct across inserts and removes (cacheSize %i)", (cacheSize) => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 40 }), (cmds) => {
        const index = new SubjectIndex<Sub>({ cacheSize })
        const model = new Model()
        for (const cmd of cmds) {
          model.apply(cmd, index)
          // The subject matched last before the change (the index remembers it) first: the change
          // must be seen there too.
          const last = UNIVERSE[UNIVERSE.length - 1]!
          expect(canonOfResult(index.match(last))).toEqual(canonOfModel(model.live, last))
          // Every subject twice: the first pass may fill the cache, the second must hit it correctly;
          // each one twice in a row (the second from the remembered last match).
          for (let pass = 0; pass < 2; pass++) {
            for (const s of UNIVERSE) {
              expect(canonOfResult(index.match(s))).toEqual(canonOfModel(model.live, s))
              expect(canonOfResult(index.match(s))).toEqual(canonOfModel(model.live, s))
            }
          }
          // Right after a full pass the last min(cacheSize, |UNIVERSE|) subjects are cached and fresh
          // (with the big cache, subjects of earlier match commands may be cached as well).
          if (cacheSize < UNIVERSE.length) expect(index.stats().cacheSize).toBe(cacheSize)
          else expect(index.stats().cacheSize).toBeGreaterThanOrEqual(UNIVERSE.length)
        }
      }),
      { numRuns: cacheSize === 1024 ? 100 : 60 }
    )
  })

  it("(c) stats: counters, precise invalidation and fanout", () => {
    fc.assert(
      fc.property(fc.array(cmdArb, { maxLength: 80 }), (cmds) => {
        const index = new SubjectIndex<Sub>()
        const model = new Model()
        // The cache a precisely invalidating index must have (never full here: few distinct subjects).
        const cached = new Set<string>()
        let matches = 0
        let hits = 0
        for (const cmd of cmds) {
          const liveBefore = model.live.length
          model.apply(cmd, index)
          if (cmd.tag === "match") {
            matches++
            if (cached.has(cmd.subject)) hits++
            else cached.add(cmd.subject)
          } else if (cmd.tag === "insert" || (cmd.tag === "remove" && liveBefore > 0)) {
            const changed = cmd.tag === "insert" ? model.live[model.live.length - 1]! : model.dead[model.dead.length - 1]!
            for (const k of cached) if (matchesPattern(changed.subject, k)) cached.delete(k)
          }
          const fanouts = [...cached].map((k) => fanoutOfModel(model.live, k))
          const total = fanouts.reduce((a, b) => a + b, 0)
          expect(index.stats()).toEqual({
            inserts: model.inserts,
            removes: model.removes,
            matches,
            cacheHits: hits,
            cacheSize: cached.size,
            maxFanout: Math.max(0, ...fanouts),
            avgFanout: cached.size === 0 ? 0 : total / cached.size
          })
        }
      }),
      { numRuns: 300 }
    )
  })
})
