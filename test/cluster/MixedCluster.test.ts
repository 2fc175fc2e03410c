/**
 * One cluster of our servers and a real nats-server 2.9: A (ours, seed), N (nats-server) and C
 * (ours), each seeded from A. They must form a full mesh and route messages, queue groups and
 * interest in every direction.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

describe.skipIf(natsServerPath === undefined)("mixed cluster with nats-server 2.9", () => {
  const procs: Array<ChildServer> = []
  const clients: Array<NatsConnection> = []
  let A: ChildServer, N: ChildServer, C: ChildServer
  let monitorPort = 0
  const servers = () => [A, N, C]

  beforeAll(async () => {
    const [pa, pn, pc, ca, cn, cc, mn] = await Promise.all(Array.from({ length: 7 }, freePort))
    monitorPort = mn!
    const common = ["--cluster_name", "mixed"]
    A = await startOurs(["-a", "127.0.0.1", "-p", String(pa), "-n", "A", "--cluster", `nats://127.0.0.1:${ca}`, ...common])
    procs.push(A)
    N = await startNatsServer(["-a", "127.0.0.1", "-p", String(pn), "-n", "N", "-m", String(mn), "--cluster", `nats://127.0.0.1:${cn}`, "--routes", `nats://127.0.0.1:${ca}`, ...common])
    procs.push(N)
    C = await startOurs(["-a", "127.0.0.1", "-p", String(pc), "-n", "C", "--cluster", `nats://127.0.0.1:${cc}`, "--routes", `nats://127.0.0.1:${ca}`, ...common])
    procs.push(C)
  }, 60_000)
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    for (const p of procs) await p.stop()
  })

  const client = async (s: ChildServer) => {
    const nc = await connect({ servers: s.url })
    clients.push(nc)
    return nc
  }

  it("forms a full mesh", async () => {
    const all = servers().map((s) => `127.0.0.1:${s.port}`).sort()
    const watchers = await Promise.all(servers().map(client))
    await waitUntil("every server advertises all three", () =>
      watchers.every((w) => JSON.stringify([...(w.info?.connect_urls ?? [])].sort()) === JSON.stringify(all)), 20_000)
    await waitUntilAsync("nats-server has two routes", async () => {
      const routez = await fetch(`http://127.0.0.1:${monitorPort}/routez`).then((r) => r.json()) as { num_routes: number }
      return routez.num_routes === 2
    }, 20_000)
  }, 30_000)

  it("routes messages in every direction, exactly once", async () => {
    const subs = await Promise.all(servers().map(client))
    const pubs = await Promise.all(servers().map(client))
    const got: Array<Array<string>> = [[], [], []]
    subs.forEach((nc, i) => {
      const sub = nc.subscribe("mix.all")
      void (async () => {
        for await (const m of sub) got[i]!.push(dec.decode(m.data))
      })()
    })
    await Promise.all(subs.map((s) => s.flush()))
    // Interest propagation through (and into) nats-server: probe until every subscriber hears every publisher.
    for (const [p, pub] of pubs.entries()) {
      await waitUntilAsync(`probe from ${p}`, async () => {
        pub.publish("mix.all", enc.encode(`probe-${p}`))
        await pub.flush()
        return got.every((g) => g.includes(`probe-${p}`))
      }, 15_000)
    }
    // Probes may still be in flight (several were sent per publisher): count only real messages.
    const real = (g: Array<string>) => g.filter((m) => !m.startsWith("probe-"))
    for (const [p, pub] of pubs.entries()) for (let i = 0; i < 20; i++) pub.publish("mix.all", enc.encode(`${p}:${i}`))
    await Promise.all(pubs.map((p) => p.flush()))
    await waitUntil("60 messages at each subscriber", () => got.every((g) => real(g).length >= 60))
    await Promise.all([...pubs, ...subs].map((c) => c.flush()))
    for (const g of got) {
      expect(real(g)).toHaveLength(60)
      expect(new Set(real(g)).size).toBe(60)
    }
  }, 30_000)

  it("queue groups across ours and nats-server deliver each message once", async () => {
    const members = await Promise.all(servers().map(client))
    const seen = new Map<string, number>()
    const per = [0, 0, 0]
    members.forEach((nc, i) => {
      const sub = nc.subscribe("mix.q", { queue: "workers" })
      void (async () => {
        for await (const m of sub) {
          per[i]!++
          const k = dec.decode(m.data)
          seen.set(k, (seen.get(k) ?? 0) + 1)
        }
      })()
    })
    await Promise.all(members.map((m) => m.flush()))
    const pubs = await Promise.all(servers().map(client))
    // Wait until queue interest reached everyone: a probe from each server is consumed once.
    for (const [p, pub] of pubs.entries()) {
      for (let i = 0; i < 30; i++) pub.publish("mix.q", enc.encode(`warm-${p}-${i}`))
      await pub.flush()
    }
    await waitUntil("warm-up consumed", () => [...seen.keys()].filter((k) => k.startsWith("warm")).length === 90)
    seen.clear()
    per.fill(0)
    const n = 300
    for (let i = 0; i < n; i++) pubs[i % 3]!.publish("mix.q", enc.encode(String(i)))
    await Promise.all(pubs.map((p) => p.flush()))
    await waitUntil("all consumed", () => seen.size === n)
    await Promise.all([...pubs, ...members].map((c) => c.flush()))
    expect([...seen.values()].every((c) => c === 1)).toBe(true)
    expect(per.reduce((a, b) => a + b, 0)).toBe(n)
    for (const c of per) expect(c).toBeGreaterThan(0)
  }, 30_000)

  it("request/reply through nats-server, and headers survive the routes", async () => {
    const svc = await client(N)
    const sub = svc.subscribe("mix.rpc")
    void (async () => {
      for await (const m of sub) m.respond(enc.encode(`${m.headers?.get("X-From") ?? "?"}:${dec.decode(m.data)}`))
    })()
    await svc.flush()
    const req = await client(C)
    const { headers } = await import("@nats-io/transport-node")
    await waitUntilAsync("request answered", async () => {
      const h = headers()
      h.set("X-From", "C")
      try {
        const r = await req.request("mix.rpc", enc.encode("hi"), { timeout: 500, headers: h })
        return dec.decode(r.data) === "C:hi"
      } catch {
        return false
      }
    }, 15_000)
  }, 30_000)
})
