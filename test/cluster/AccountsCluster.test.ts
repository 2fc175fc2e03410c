/**
 * Accounts across a route: two servers with the same accounts config, ours and real nats-server
 * 2.9 (and, as a second cluster, ours and ours), with publishers on one server and subscribers on
 * the other, in both directions:
 *
 * - isolation: random subscriptions (wildcards) and publishes in two accounts against a
 *   per-account model — interest and messages of an account stay in it across the route;
 * - plain pub/sub (with headers: HMSG carries the account) and queue groups per account;
 * - stream imports with and without a prefix: the shadow interest (in the exporter's account)
 *   crosses the route;
 * - service imports with the requester and the responder on different servers: the request
 *   reaches the responder once, on the exporter's subject with a `_R_` reply, and the response
 *   comes back; stream response type vs singleton.
 *
 * No fixed sleeps: `sync` waits until a probe published on one connection reaches a subscriber on
 * the other server in the same account — the route is ordered, so interest announced before the
 * probe's, and messages published before the probe on that connection, have arrived too.
 */
import fc from "fast-check"
import { connect, headers, type NatsConnection, StringCodec } from "nats"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { isServiceReply } from "../../src/accounts/Accounts.js"
import { routez } from "../../src/monitor/Routez.js"
import { matchesPattern } from "../../src/subjects/Subject.js"
import { q } from "../support/accountGraphs.js"
import { type ConfServer, startNatsWithConf, startOursWithConf } from "../support/confServers.js"
import { freePort, natsServerPath } from "../support/servers.js"
import { literal, pattern } from "../support/subjectArbitraries.js"
import { waitUntil } from "../support/wait.js"

const sc = StringCodec()

const ACCOUNTS = `
accounts {
  A: { users: [{ user: a, password: pw }] }
  B: { users: [{ user: b, password: pw }] }
  E: {
    users: [{ user: e, password: pw }]
    exports: [
      { stream: "st.>" }
      { stream: "px.>" }
      { service: "svc.>" }
      { service: "one.svc" }
      { service: "many.svc", response_type: stream }
    ]
  }
  I: {
    users: [{ user: i, password: pw }]
    imports: [
      { stream: { account: E, subject: "st.>" } }
      { stream: { account: E, subject: "px.>" }, prefix: "pfx" }
      { service: { account: E, subject: "svc.>" } }
      { service: { account: E, subject: "one.svc" }, to: "local.one" }
      { service: { account: E, subject: "many.svc" } }
    ]
  }
}
`

const conf = (name: string, clusterPort: number, routes: ReadonlyArray<number>, httpPort?: number) => `
server_name: ${name}
${httpPort !== undefined ? `http: 127.0.0.1:${httpPort}` : ""}
cluster {
  name: accs
  listen: 127.0.0.1:${clusterPort}
  routes: [${routes.map((p) => `nats://127.0.0.1:${p}`).join(", ")}]
}
${ACCOUNTS}
`

interface Cluster {
  readonly name: string
  readonly available: boolean
  /** X is always ours; Y is ours or nats-server (then with its monitor on `yHttp`). */
  readonly start: () => Promise<[ConfServer, ConfServer, number | undefined]>
}

interface RoutezDoc {
  readonly routes: ReadonlyArray<{
    readonly subscriptions: number
    readonly subscriptions_list_detail?: ReadonlyArray<{ readonly subject: string; readonly qgroup?: string; readonly sid: string }>
  }>
}

/** `/routez?subs=detail` of a server: ours from its state, nats-server from its monitor. */
const routezOf = async (s: ConfServer, httpPort: number | undefined): Promise<RoutezDoc> =>
  s.ours !== undefined
    ? JSON.parse(JSON.stringify(routez(s.ours.broker, s.ours.cluster, { subs: true, subsDetail: true })))
    : await fetch(`http://127.0.0.1:${httpPort}/routez?subs=detail`).then((r) => r.json() as Promise<RoutezDoc>)

const clusters: ReadonlyArray<Cluster> = [
  {
    name: "ours + nats-server",
    available: natsServerPath !== undefined,
    start: async () => {
      const [cx, cy, hy] = await Promise.all([freePort(), freePort(), freePort()])
      const X = await startOursWithConf(conf("X", cx!, []), { debug: true, trace: false })
      const Y = await startNatsWithConf(conf("Y", cy!, [cx!], hy!))
      return [X, Y, hy!]
    }
  },
  {
    name: "ours + ours",
    available: true,
    start: async () => {
      const [cx, cy] = await Promise.all([freePort(), freePort()])
      const X = await startOursWithConf(conf("X", cx!, []), { debug: true, trace: false })
      const Y = await startOursWithConf(conf("Y", cy!, [cx!]), { debug: true, trace: false })
      return [X, Y, undefined]
    }
  }
]

let probes = 0

/**
 * Wait until a probe published on `pub` reaches a subscriber on `sub` (same account, other
 * server): everything `sub`'s server announced before, and everything `pub` published before,
 * has crossed the route.
 */
const sync = async (pub: NatsConnection, sub: NatsConnection) => {
  const subject = `sync.${++probes}`
  let got = false
  const s = sub.subscribe(subject, { callback: () => (got = true) })
  await sub.flush()
  const deadline = Date.now() + 5_000
  while (!got) {
    if (pub.isClosed() || sub.isClosed()) throw new Error(`probe ${subject}: connection closed`)
    if (Date.now() > deadline) throw new Error(`probe ${subject} never crossed the route`)
    pub.publish(subject)
    await pub.flush()
    await sub.flush()
  }
  s.unsubscribe()
  await sub.flush()
}

const flushAll = async (conns: Iterable<NatsConnection>) => {
  for (const nc of conns) await nc.flush()
}

describe.each(clusters.filter((c) => c.available))("accounts across a route: $name", (cluster) => {
  let X: ConfServer
  let Y: ConfServer
  let yHttp: number | undefined
  const conns: Array<NatsConnection> = []
  const login = async (server: ConfServer, user: string) => {
    const nc = await connect({ servers: server.url, user, pass: "pw", reconnect: false })
    conns.push(nc)
    return nc
  }

  beforeAll(async () => {
    ;[X, Y, yHttp] = await cluster.start()
    await waitUntil("the route is registered", () => [...X.ours!.cluster!.routes.values()].some((r) => r.registered), 15_000)
  }, 30_000)
  afterEach(async () => {
    for (const nc of conns.splice(0)) await nc.close()
  })
  afterAll(async () => {
    await Y?.stop()
    await X?.stop()
  })

  const directions = () => [
    { name: "X → Y", pub: X, sub: Y },
    { name: "Y → X", pub: Y, sub: X }
  ]

  it("isolation: random subscriptions and publishes in two accounts, against a per-account model, both directions", async () => {
    for (const { name, pub, sub } of directions()) {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom("a", "b"), pattern), { minLength: 1, maxLength: 5 }),
          fc.array(fc.tuple(fc.constantFrom("a", "b"), literal), { minLength: 1, maxLength: 8 }),
          async (subs, pubs) => {
            const subc = { a: await login(sub, "a"), b: await login(sub, "b") }
            const pubc = { a: await login(pub, "a"), b: await login(pub, "b") }
            try {
              const got: Array<string> = []
              subs.forEach(([user, subject], i) => {
                subc[user as "a" | "b"].subscribe(subject, {
                  callback: (_e, m) => {
                    if (!m.subject.startsWith("sync.")) got.push(`${user} ${i} ${m.subject}`)
                  }
                })
              })
              await flushAll(Object.values(subc))
              await sync(pubc.a, subc.a)
              await sync(pubc.b, subc.b)
              const expected: Array<string> = []
              for (const [user, subject] of pubs) {
                pubc[user as "a" | "b"].publish(subject, sc.encode("x"))
                subs.forEach(([owner, p], i) => {
                  if (owner === user && matchesPattern(p, subject)) expected.push(`${owner} ${i} ${subject}`)
                })
              }
              await sync(pubc.a, subc.a)
              await sync(pubc.b, subc.b)
              await flushAll(Object.values(subc))
              expect(got.sort(), `${name} ${q({ subs, pubs })}`).toEqual(expected.sort())
            } finally {
              for (const nc of [...Object.values(subc), ...Object.values(pubc)]) {
                conns.splice(conns.indexOf(nc), 1)
                await nc.close()
              }
            }
          }
        ),
        // No shrinking: every run starts four clients and waits on the route.
        { numRuns: 6, endOnFailure: true }
      )
    }
  }, 120_000)

  it("plain pub/sub within an account, with headers, both directions", async () => {
    for (const { name, pub, sub } of directions()) {
      const pa = await login(pub, "a")
      const sa = await login(sub, "a")
      const sb = await login(sub, "b")
      const got: Array<string> = []
      sa.subscribe("plain.>", { callback: (_e, m) => got.push(`a ${m.subject} ${sc.decode(m.data)} ${m.headers?.get("X-Acc") ?? "-"}`) })
      sb.subscribe("plain.>", { callback: (_e, m) => got.push(`b ${m.subject}`) })
      await flushAll([sa, sb])
      await sync(pa, sa)
      const h = headers()
      h.set("X-Acc", "A")
      pa.publish("plain.one", sc.encode("1"))
      pa.publish("plain.two", sc.encode("2"), { headers: h })
      await sync(pa, sa)
      await flushAll([sa, sb])
      expect(got, name).toEqual(["a plain.one 1 -", "a plain.two 2 A"])
    }
  }, 30_000)

  it("queue groups of the same name in two accounts stay two groups across the route, both directions", async () => {
    for (const { name, pub, sub } of directions()) {
      const pa = await login(pub, "a")
      const pb = await login(pub, "b")
      const count = { a: 0, b: 0 }
      const seen = new Map<string, number>()
      const member = (nc: NatsConnection, acc: "a" | "b") =>
        nc.subscribe("work", { queue: "q", callback: (_e, m) => {
          count[acc]++
          const k = `${acc} ${sc.decode(m.data)}`
          seen.set(k, (seen.get(k) ?? 0) + 1)
        } })
      // A's group only on the other server (two members); B's group on both servers.
      const sa1 = await login(sub, "a")
      const sa2 = await login(sub, "a")
      const sb = await login(sub, "b")
      member(sa1, "a")
      member(sa2, "a")
      member(sb, "b")
      member(pb, "b")
      await flushAll([sa1, sa2, sb, pb])
      await sync(pa, sa1)
      await sync(pb, sb)
      for (let i = 0; i < 30; i++) pa.publish("work", sc.encode(String(i)))
      for (let i = 0; i < 30; i++) pb.publish("work", sc.encode(String(i)))
      await sync(pa, sa1)
      await sync(pb, sb)
      await flushAll([sa1, sa2, sb, pb])
      expect(count, name).toEqual({ a: 30, b: 30 })
      expect([...seen.values()].every((n) => n === 1), name).toBe(true)
      for (const nc of [pa, pb, sa1, sa2, sb]) await nc.close()
      conns.length = 0
    }
  }, 30_000)

  it("stream imports with and without a prefix: the shadow interest crosses the route, both directions", async () => {
    for (const { name, pub, sub } of directions()) {
      const pe = await login(pub, "e")
      const si = await login(sub, "i")
      const se = await login(sub, "e")
      const sa = await login(sub, "a")
      const got: Array<string> = []
      si.subscribe("st.>", { callback: (_e, m) => got.push(`i ${m.subject}`) })
      si.subscribe("pfx.px.>", { callback: (_e, m) => got.push(`i ${m.subject}`) })
      // Not imported unprefixed: nothing on px.* in I.
      si.subscribe("px.>", { callback: (_e, m) => got.push(`i-unprefixed ${m.subject}`) })
      sa.subscribe(">", { callback: (_e, m) => got.push(`a ${m.subject}`) })
      await flushAll([si, sa])
      await sync(pe, se)
      pe.publish("st.one")
      pe.publish("px.two")
      pe.publish("other.three")
      await sync(pe, se)
      await flushAll([si, sa])
      expect(got.sort(), name).toEqual(["i pfx.px.two", "i st.one"])
    }
    // The importer's interest is announced in the exporter's account (nats-server's shadows).
    const route = [...X.ours!.cluster!.routes.values()][0]!
    const si = await login(Y, "i")
    si.subscribe("pfx.px.deep")
    await si.flush()
    await waitUntil("the shadow reached X", () => route.interest.has("E px.deep"))
    expect(route.interest.has("I pfx.px.deep")).toBe(true)
  }, 30_000)

  it("/routez?subs=detail names each remote subscription `account subject[ queue]` in its sid, both sides", async () => {
    for (const { name, pub, sub } of directions()) {
      const httpPort = pub === Y ? yHttp : undefined
      const si = await login(sub, "i")
      const sa = await login(sub, "a")
      const pa = await login(pub, "a")
      const pe = await login(pub, "e")
      const se = await login(sub, "e")
      si.subscribe("pfx.px.rz")
      sa.subscribe("rz.*", { queue: "g" })
      await flushAll([si, sa])
      await sync(pa, sa)
      await sync(pe, se)
      const doc = await routezOf(pub, httpPort)
      const detail = doc.routes[0]?.subscriptions_list_detail ?? []
      const mine = detail.filter((d) => d.subject.includes("rz")).map((d) => [d.sid, d.subject, d.qgroup ?? ""]).sort()
      // The importer's subscription, its shadow in the exporter, and a queue subscription.
      expect(mine, name).toEqual([["A rz.* g", "rz.*", "g"], ["E px.rz", "px.rz", ""], ["I pfx.px.rz", "pfx.px.rz", ""]])
      expect(doc.routes[0]!.subscriptions, name).toBe(detail.length)
      for (const nc of [si, sa, pa, pe, se]) await nc.close()
      conns.length = 0
    }
  }, 30_000)

  it("request/reply through a service import, requester and responder on different servers, both placements", async () => {
    for (const { name, pub, sub } of directions()) {
      const requester = await login(pub, "i")
      const responder = await login(sub, "e")
      const probe = await login(pub, "e")
      // An importer's subscriber on the service's subjects, on the responder's server: the
      // requester's message crosses for it, but only the requester's server forwards it into the
      // exporter (nats-server applies no service import to a routed message).
      const watcher = await login(sub, "i")
      const watched: Array<string> = []
      watcher.subscribe("svc.>", { callback: (_e, m) => watched.push(m.subject) })
      await watcher.flush()
      const seen: Array<string> = []
      const replies: Array<string> = []
      const infos: Array<string> = []
      responder.subscribe("svc.>", { callback: (_e, m) => {
        seen.push(`${m.subject} ${sc.decode(m.data)}`)
        replies.push(m.reply ?? "")
        infos.push(m.headers?.get("Nats-Request-Info") ?? "")
        m.respond(sc.encode(`re ${sc.decode(m.data)}`))
      } })
      responder.subscribe("one.svc", { callback: (_e, m) => {
        seen.push(`${m.subject} ${sc.decode(m.data)}`)
        m.respond(sc.encode("one"))
      } })
      await responder.flush()
      await sync(probe, responder)
      const r1 = await requester.request("svc.echo", sc.encode("1"), { timeout: 5000 })
      expect(sc.decode(r1.data), name).toBe("re 1")
      const r2 = await requester.request("svc.echo", sc.encode("2"), { timeout: 5000, noMux: true })
      expect(sc.decode(r2.data), name).toBe("re 2")
      const r3 = await requester.request("local.one", sc.encode("3"), { timeout: 5000 })
      expect(sc.decode(r3.data), name).toBe("one")
      // Each request reached the responder once (a duplicate would have come before the probe),
      // on the exporter's subject, with a _R_ reply.
      await sync(probe, responder)
      await sync(requester, watcher)
      expect(seen, name).toEqual(["svc.echo 1", "svc.echo 2", "one.svc 3"])
      expect(watched, name).toEqual(["svc.echo", "svc.echo"])
      for (const r of replies) expect(isServiceReply(r), `${name} ${r}`).toBe(true)
      // The requester's server stamped nats-server's Nats-Request-Info; it crossed the route (HMSG).
      for (const info of infos) expect((JSON.parse(info) as { acc: string }).acc, `${name} ${info}`).toBe("I")
      for (const nc of [requester, responder, probe, watcher]) await nc.close()
      conns.length = 0
    }
  }, 30_000)

  it("response_type stream: every response crosses back; singleton: only the first, both placements", async () => {
    for (const { name, pub, sub } of directions()) {
      const requester = await login(pub, "i")
      const responder = await login(sub, "e")
      const probeHere = await login(pub, "e")
      responder.subscribe("many.svc", { callback: (_e, m) => {
        for (let n = 0; n < 3; n++) responder.publish(m.reply!, sc.encode(`r${n}`))
      } })
      responder.subscribe("svc.single", { callback: (_e, m) => {
        for (let n = 0; n < 3; n++) responder.publish(m.reply!, sc.encode(`s${n}`))
      } })
      await responder.flush()
      await sync(probeHere, responder)
      const many: Array<string> = []
      const single: Array<string> = []
      requester.subscribe("_INBOX.many", { callback: (_e, m) => many.push(sc.decode(m.data)) })
      requester.subscribe("_INBOX.single", { callback: (_e, m) => single.push(sc.decode(m.data)) })
      await requester.flush()
      requester.publish("many.svc", sc.encode(""), { reply: "_INBOX.many" })
      requester.publish("svc.single", sc.encode(""), { reply: "_INBOX.single" })
      await waitUntil(`${name}: responses`, () => many.length >= 3 && single.length >= 1)
      // Everything the responder sent has crossed back (same connection, ordered route), and
      // been handed to the requester.
      await sync(responder, probeHere)
      await requester.flush()
      expect(many, name).toEqual(["r0", "r1", "r2"])
      expect(single, name).toEqual(["s0"])
      for (const nc of [requester, responder, probeHere]) await nc.close()
      conns.length = 0
    }
  }, 30_000)
})
