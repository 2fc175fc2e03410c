/**
 * Clustering with in-process servers: the seed walkthrough forms a full mesh, one-hop forwarding
 * delivers exactly one copy, queue groups span the cluster, interest propagates both ways and no
 * message crosses a route without interest.
 */
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

const routeUrl = (s: TestServer) => `nats://127.0.0.1:${s.cluster!.listen!.port}`
const routes = (s: TestServer) => [...s.cluster!.routes.values()] as Array<RouteConnection>
const clusterOpts = (name: string, seed?: TestServer) => ({
  serverName: name,
  cluster: { name: "test-cluster", host: "127.0.0.1", port: -1, ...(seed ? { routes: [routeUrl(seed)] } : {}) }
})

/** Remote interest for `subject` as seen on server `s` (routes that asked for it). */
const remoteInterest = (s: TestServer, subject: string) =>
  [...s.broker.router.index.match(subject).plain, ...s.broker.router.index.match(subject).queues.flat()].filter((i) => i.remote).length

const collect = (sub: AsyncIterable<Msg>, into: Array<string>) =>
  void (async () => {
    for await (const m of sub) into.push(dec.decode(m.data))
  })()

describe("three-node cluster from the seed walkthrough", () => {
  let A: TestServer, B: TestServer, C: TestServer
  const clients: Array<NatsConnection> = []
  const client = async (...servers: Array<TestServer>) => {
    const nc = await connect({ servers: servers.map((s) => s.url) })
    clients.push(nc)
    return nc
  }

  beforeAll(async () => {
    A = await startServer(clusterOpts("A"))
    B = await startServer(clusterOpts("B", A))
    C = await startServer(clusterOpts("C", A))
    // B and C only know A; gossip must connect them to each other.
    await waitUntil("full mesh", () => [A, B, C].every((s) => s.cluster!.routes.size === 2), 10_000)
  })
  afterAll(async () => {
    for (const c of clients) await c.close()
    for (const s of [C, B, A]) await s?.stop()
  })

  it("forms a full mesh where every pair has exactly one route", () => {
    const ids = [A, B, C].map((s) => s.broker.serverId)
    for (const s of [A, B, C]) {
      const peers = [...s.cluster!.routes.keys()].sort()
      expect(peers).toEqual(ids.filter((id) => id !== s.broker.serverId).sort())
      // No leftover duplicate links stay open.
      expect([...s.cluster!.links].filter((l) => !l.closing)).toHaveLength(2)
    }
  })

  it("clients learn every member through connect_urls", async () => {
    const nc = await client(A)
    await waitUntil("connect_urls", () => (nc.info?.connect_urls?.length ?? 0) === 3)
    expect([...nc.info!.connect_urls!].sort()).toEqual([A, B, C].map((s) => `127.0.0.1:${s.port}`).sort())
  })

  it("a subscriber on A gets exactly one copy of messages published on A, B, C and via a multi-URL client", async () => {
    const sub = await client(A)
    const got: Array<string> = []
    collect(sub.subscribe("walk.hello"), got)
    await sub.flush()
    await waitUntil("interest on B and C", () => remoteInterest(B, "walk.hello") === 1 && remoteInterest(C, "walk.hello") === 1)
    const pubs = [await client(A), await client(B), await client(C), await client(C, B, A)]
    for (const [i, p] of pubs.entries()) {
      p.publish("walk.hello", enc.encode(`from-${i}`))
      await p.flush()
    }
    await waitUntil("4 messages", () => got.length >= 4)
    // One more round trip through every publisher's server, then nothing else may have arrived.
    for (const p of pubs) await p.flush()
    await sub.flush()
    expect(got.sort()).toEqual(["from-0", "from-1", "from-2", "from-3"])
  })

  it("a queue group spread over three servers delivers every message exactly once cluster-wide", async () => {
    const subs = [await client(A), await client(B), await client(C)]
    const seen = new Map<string, number>()
    const perMember = [0, 0, 0, 0, 0, 0]
    let m = 0
    for (const nc of subs) {
      for (let k = 0; k < 2; k++) {
        const idx = m++
        const sub = nc.subscribe("jobs.run", { queue: "workers" })
        void (async () => {
          for await (const msg of sub) {
            perMember[idx]!++
            const key = dec.decode(msg.data)
            seen.set(key, (seen.get(key) ?? 0) + 1)
          }
        })()
      }
      await nc.flush()
    }
    // Each server sees its 2 local members and each peer's aggregated entry with weight 2.
    await waitUntil("queue interest everywhere", () =>
      [A, B, C].every((s) =>
        s.broker.router.index.match("jobs.run").queues.flat().reduce((n, i) => n + (i.remote ? i.weight : 1), 0) === 6
      ))
    const n = 300
    const pubs = [await client(A), await client(B), await client(C)]
    for (let i = 0; i < n; i++) pubs[i % 3]!.publish("jobs.run", enc.encode(String(i)))
    for (const p of pubs) await p.flush()
    await waitUntil("all queue messages", () => seen.size === n)
    for (const s of subs) await s.flush()
    for (const p of pubs) await p.flush()
    expect([...seen.values()].every((c) => c === 1)).toBe(true)
    expect(perMember.reduce((a, b) => a + b, 0)).toBe(n)
    // Members on every server take part.
    expect(perMember.slice(0, 2).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(perMember.slice(2, 4).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(perMember.slice(4, 6).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
  })

  it("propagates subscribe and unsubscribe; no message crosses a route without interest", async () => {
    const subB = await client(B)
    const pubA = await client(A)
    const sub = subB.subscribe("interest.x")
    await subB.flush()
    await waitUntil("A sees B's interest", () => remoteInterest(A, "interest.x") === 1)
    const got: Array<string> = []
    collect(sub, got)
    pubA.publish("interest.x", enc.encode("one"))
    await pubA.flush()
    await waitUntil("delivered across the route", () => got.length === 1)

    sub.unsubscribe()
    await subB.flush()
    await waitUntil("A forgets B's interest", () => remoteInterest(A, "interest.x") === 0)

    // Nobody is interested now: publishing on A must not put a single message on any route.
    const before = routes(A).map((r) => r.outMsgs)
    for (let i = 0; i < 50; i++) pubA.publish("interest.x", enc.encode("nobody"))
    pubA.publish("nobody.at.all", enc.encode("x"))
    await pubA.flush()
    expect(routes(A).map((r) => r.outMsgs)).toEqual(before)
  })

  it("a message from a route is never forwarded to another route (one hop)", async () => {
    const subC = await client(C)
    const sub = subC.subscribe("hop.x")
    await subC.flush()
    await waitUntil("interest", () => remoteInterest(A, "hop.x") === 1 && remoteInterest(B, "hop.x") === 1)
    const got: Array<string> = []
    collect(sub, got)
    const routeToC = (s: TestServer) => s.cluster!.routes.get(C.broker.serverId)!
    const aToC = routeToC(A).outMsgs
    const bToC = routeToC(B).outMsgs
    const bToA = B.cluster!.routes.get(A.broker.serverId)!.outMsgs
    const pubA = await client(A)
    pubA.publish("hop.x", enc.encode("once"))
    await pubA.flush()
    await waitUntil("delivered", () => got.length === 1)
    await subC.flush()
    expect(routeToC(A).outMsgs).toBe(aToC + 1)
    expect(routeToC(B).outMsgs).toBe(bToC)
    expect(B.cluster!.routes.get(A.broker.serverId)!.outMsgs).toBe(bToA)
    expect(got).toEqual(["once"])
  })

  it("request/reply across the cluster, with no-responders only when nobody anywhere listens", async () => {
    const svc = await client(C)
    const sub = svc.subscribe("rpc.echo")
    void (async () => {
      for await (const m of sub) m.respond(enc.encode(`echo:${dec.decode(m.data)}`))
    })()
    await svc.flush()
    await waitUntil("interest on A", () => remoteInterest(A, "rpc.echo") === 1)
    const req = await client(A)
    const r = await req.request("rpc.echo", enc.encode("hi"), { timeout: 3000 })
    expect(dec.decode(r.data)).toBe("echo:hi")
    await expect(req.request("rpc.none", enc.encode("x"), { timeout: 3000 })).rejects.toThrow(/no responders/i)
  })
})
