/**
 * `/metrics`: the Prometheus text output parsed by a Prometheus text-format parser, its values
 * checked against known traffic (messages and bytes in/out, connections, subscriptions, slow
 * consumers), against `/varz` and `/subsz`, and per route in a 2-node cluster (counters, RTT,
 * identity labels, cluster size).
 */
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Result from "effect/Result"
import { connz, decodeConnzOptions } from "../../src/monitor/Connz.js"
import { snapshot, VARZ_FIELDS } from "../../src/monitor/Metrics.js"
import { monitorAddress } from "../../src/monitor/Monitor.js"
import { NATS_COMPAT_VERSION, SERVER_NAME, SERVER_VERSION } from "../../src/server/ServerState.js"
import { scrape } from "../support/prometheus.js"
import { RawClient } from "../support/raw.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"
import { systemImports } from "../../src/server/SystemImports.js"

const mport = (s: TestServer) => monitorAddress(s.broker)!.port

const getJson = async (s: TestServer, path: string): Promise<Record<string, any>> =>
  (await (await fetch(`http://127.0.0.1:${mport(s)}${path}`)).json()) as Record<string, any>

const count = (sub: AsyncIterable<Msg>, box: { n: number }) =>
  void (async () => {
    for await (const _ of sub) box.n++
  })()

describe("/metrics on a standalone server", () => {
  let server: TestServer
  let sub: NatsConnection
  let pub: NatsConnection
  const got = { n: 0 }

  beforeAll(async () => {
    server = await startServer({ httpPort: -1, serverName: "metrics-a", maxPayload: 32 * 1024, maxPending: 64 * 1024 })
    sub = await connect({ servers: server.url, name: "sub" })
    pub = await connect({ servers: server.url, name: "pub" })
    count(sub.subscribe("m.x"), got)
    sub.subscribe("m.other.*")
    await sub.flush()
  })
  afterAll(async () => {
    await sub?.close().catch(() => {})
    await pub?.close().catch(() => {})
    await server?.stop()
  })

  it("is Prometheus text that a parser reads, with the exporter's names, types and labels", async () => {
    const s = await scrape(mport(server))
    expect(s.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
    const id = { server_id: server.broker.serverId }
    for (const field of VARZ_FIELDS) {
      if (field === "max_subscriptions") continue // only when configured, as /varz
      expect(s.type(`gnatsd_varz_${field}`), field).toBe("GAUGE")
      expect(s.samples(`gnatsd_varz_${field}`, id), field).toHaveLength(1)
    }
    expect(s.samples("gnatsd_varz_max_subscriptions")).toHaveLength(0)
    expect(s.value("gnatsd_varz_version", { ...id, value: NATS_COMPAT_VERSION })).toBe(1)
    expect(s.value("gnatsd_varz_server_name", { ...id, value: "metrics-a" })).toBe(1)
    expect(s.value("gnatsd_varz_server_id", { ...id, value: server.broker.serverId })).toBe(1)
    const info = s.samples("gnatsd_server_info", id)
    expect(info).toHaveLength(1)
    expect(info[0]!.value).toBe(1)
    expect(info[0]!.labels).toEqual({
      server_id: server.broker.serverId,
      server_name: "metrics-a",
      version: NATS_COMPAT_VERSION,
      implementation: SERVER_NAME,
      implementation_version: SERVER_VERSION,
      cluster: "",
      node_version: process.version
    })
    expect(s.value("gnatsd_varz_port", id)).toBe(server.port)
    expect(s.value("gnatsd_varz_max_payload", id)).toBe(32 * 1024)
    expect(s.value("gnatsd_varz_connections", id)).toBe(2)
    expect(s.value("gnatsd_connz_num_connections", id)).toBe(2)
    // Two client subscriptions and the system account's internal ones (nats-server counts both).
    // (and one per $SYS import of the global account)
    const system = server.broker.router.lookup("$SYS")!.index.size + systemImports("$G", "$SYS").length
    expect(system).toBeGreaterThan(3)
    expect(s.value("gnatsd_varz_subscriptions", id)).toBe(2 + system)
    expect(s.value("gnatsd_subsz_num_subscriptions", id)).toBe(2 + system)
    expect(s.value("gnatsd_varz_mem", id)).toBeGreaterThan(1024 * 1024)
    expect(s.value("gnatsd_varz_uptime_seconds", id)).toBeGreaterThanOrEqual(0)
    expect(s.value("gnatsd_varz_start_time_seconds", id)).toBe(server.broker.start.getTime() / 1000)
    // Standalone: no routes, a cluster of one.
    expect(s.value("gnatsd_routez_num_routes", id)).toBe(0)
    expect(s.samples("gnatsd_routez_route_in_msgs")).toHaveLength(0)
    expect(s.value("gnatsd_routez_cluster_size", id)).toBe(1)
    // The standard process metrics.
    expect(s.type("process_cpu_seconds_total")).toBe("COUNTER")
    expect(s.value("process_cpu_seconds_total")).toBeGreaterThan(0)
    expect(s.value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024)
    expect(Math.abs(s.value("process_start_time_seconds") - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2)
  })

  it("messages and bytes in/out move by exactly the traffic sent, and agree with /varz", async () => {
    const id = { server_id: server.broker.serverId }
    const before = await scrape(mport(server))
    const N = 40
    const payload = new Uint8Array(100).fill(7)
    const target = got.n + N
    for (let i = 0; i < N; i++) pub.publish("m.x", payload)
    // Nobody listens here: counted in, not out.
    for (let i = 0; i < 5; i++) pub.publish("m.none", payload.subarray(0, 10))
    await pub.flush()
    await waitUntil("N deliveries", () => got.n >= target)
    const after = await scrape(mport(server))
    const varz = await getJson(server, "/varz")
    const d = (name: string) => after.value(name, id) - before.value(name, id)
    expect(d("gnatsd_varz_in_msgs")).toBe(N + 5)
    expect(d("gnatsd_varz_in_bytes")).toBe(N * 100 + 5 * 10)
    expect(d("gnatsd_varz_out_msgs")).toBe(N)
    expect(d("gnatsd_varz_out_bytes")).toBe(N * 100)
    for (const field of ["in_msgs", "out_msgs", "in_bytes", "out_bytes", "connections", "total_connections", "subscriptions", "slow_consumers"]) {
      expect(after.value(`gnatsd_varz_${field}`, id), field).toBe(varz[field])
    }
    const subsz = await getJson(server, "/subsz")
    expect(after.value("gnatsd_subsz_num_inserts", id)).toBe(subsz["num_inserts"])
  })

  it("counts connections opening and closing, and a slow consumer", async () => {
    const id = { server_id: server.broker.serverId }
    const before = await scrape(mport(server))
    const slow = await RawClient.connect(server.port)
    slow.send('CONNECT {"verbose":false}\r\nSUB flood 1\r\nPING\r\n')
    await slow.expect("PONG\r\n")
    const during = await scrape(mport(server))
    expect(during.value("gnatsd_varz_connections", id)).toBe(before.value("gnatsd_varz_connections", id) + 1)
    expect(during.value("gnatsd_varz_total_connections", id)).toBe(before.value("gnatsd_varz_total_connections", id) + 1)
    expect(during.value("gnatsd_varz_subscriptions", id)).toBe(before.value("gnatsd_varz_subscriptions", id) + 1)
    // Stop reading and flood it past max_pending (64 KiB).
    slow.socket.pause()
    const big = new Uint8Array(8 * 1024)
    // On the way, while bytes wait for the slow client, the snapshot's pending bytes are /connz's.
    const pendingSeen: Array<[number, number]> = []
    const connzOptions = decodeConnzOptions(new URLSearchParams())
    if (Result.isFailure(connzOptions)) throw connzOptions.failure
    // 16 KiB per round trip: the server's buffer for it is seen growing before it passes 64 KiB.
    for (let i = 0; i < 4000 && server.broker.router.stats.slowConsumers === 0; i++) {
      for (let j = 0; j < 2; j++) pub.publish("flood", big)
      await pub.flush()
      const snap = snapshot(server.broker, server.cluster, { httpHost: "127.0.0.1", httpPort: 0, reqStats: new Map(), cpu: 0 })
      const rows = connz(server.broker, connzOptions.success)["connections"] as Array<{ pending_bytes: number }>
      pendingSeen.push([snap.pendingBytes, rows.reduce((n, r) => n + r.pending_bytes, 0)])
    }
    expect(pendingSeen.some(([p]) => p > 0)).toBe(true)
    for (const [fromSnapshot, fromConnz] of pendingSeen) expect(fromSnapshot).toBe(fromConnz)
    await waitUntil("slow consumer closed", () => server.broker.router.stats.slowConsumers === 1 && server.broker.clients.size === 2)
    const after = await scrape(mport(server))
    expect(after.value("gnatsd_varz_slow_consumers", id)).toBe(before.value("gnatsd_varz_slow_consumers", id) + 1)
    expect(after.value("gnatsd_varz_connections", id)).toBe(2)
    slow.socket.destroy()
  })

  it("concurrent scrapes each see one consistent snapshot", async () => {
    const scrapes = await Promise.all([0, 1, 2, 3].map(() => scrape(mport(server))))
    for (const s of scrapes) {
      expect(s.value("gnatsd_varz_connections", { server_id: server.broker.serverId })).toBe(2)
      // Every family is rendered once, with its samples.
      expect(s.text.match(/^# TYPE gnatsd_varz_in_msgs /gm)).toHaveLength(1)
    }
  })
})

describe("/metrics in a 2-node cluster", () => {
  let A: TestServer
  let B: TestServer
  let onA: NatsConnection
  let onB: NatsConnection
  const got = { n: 0 }

  beforeAll(async () => {
    A = await startServer({ httpPort: -1, serverName: "mA", cluster: { name: "MET", host: "127.0.0.1", port: -1 } })
    B = await startServer({
      httpPort: -1,
      serverName: "mB",
      cluster: { name: "MET", host: "127.0.0.1", port: -1, routes: [`nats-route://127.0.0.1:${A.cluster!.listen!.port}`] }
    })
    await waitUntil("route up", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1)
    onB = await connect({ servers: B.url })
    count(onB.subscribe("r.x"), got)
    await onB.flush()
    onA = await connect({ servers: A.url })
    await waitUntil("interest on A", () => A.broker.router.index.match("r.x").plain.length > 0)
  })
  afterAll(async () => {
    await onA?.close().catch(() => {})
    await onB?.close().catch(() => {})
    await B?.stop()
    await A?.stop()
  })

  it("per-route counters move by the routed traffic; RTT, identity labels and cluster size", async () => {
    const routeAB = [...A.cluster!.routes.values()][0]!
    const routeBA = [...B.cluster!.routes.values()][0]!
    const ridA = { server_id: A.broker.serverId, rid: String(routeAB.rid) }
    const ridB = { server_id: B.broker.serverId, rid: String(routeBA.rid) }
    const beforeA = await scrape(mport(A))
    const beforeB = await scrape(mport(B))
    const N = 30
    const target = got.n + N
    for (let i = 0; i < N; i++) onA.publish("r.x", new Uint8Array(50))
    await onA.flush()
    await waitUntil("routed deliveries", () => got.n >= target)
    // The first route PING goes out after ~1s: wait until both ends measured an RTT.
    await waitUntil("route RTT measured", () => (routeAB.rtt ?? 0) > 0 && (routeBA.rtt ?? 0) > 0, 15_000)
    const a = await scrape(mport(A))
    const b = await scrape(mport(B))
    const dA = (name: string) => a.value(name, ridA) - beforeA.value(name, ridA)
    const dB = (name: string) => b.value(name, ridB) - beforeB.value(name, ridB)
    expect(dA("gnatsd_routez_route_out_msgs")).toBe(N)
    expect(dA("gnatsd_routez_route_out_bytes")).toBe(N * 50)
    expect(dB("gnatsd_routez_route_in_msgs")).toBe(N)
    expect(dB("gnatsd_routez_route_in_bytes")).toBe(N * 50)
    expect(a.value("gnatsd_routez_route_rtt_seconds", ridA)).toBeGreaterThan(0)
    expect(a.value("gnatsd_routez_route_rtt_seconds", ridA)).toBeLessThan(5)
    expect(a.value("gnatsd_routez_route_rtt_seconds", ridA)).toBeCloseTo(routeAB.rtt! / 1000, 9)
    expect(a.value("gnatsd_routez_route_subscriptions", ridA)).toBe(routeAB.subscriptionCount)
    expect(b.value("gnatsd_routez_route_pending_bytes", ridB)).toBeGreaterThanOrEqual(0)
    expect(a.value("gnatsd_routez_route_info", { ...ridA, remote_id: B.broker.serverId, remote_name: "mB", ip: "127.0.0.1" })).toBe(1)
    expect(b.value("gnatsd_routez_route_info", { ...ridB, remote_id: A.broker.serverId, remote_name: "mA" })).toBe(1)
    for (const [s, m] of [[A, a], [B, b]] as const) {
      const id = { server_id: s.broker.serverId }
      expect(m.value("gnatsd_routez_num_routes", id)).toBe(1)
      expect(m.value("gnatsd_varz_routes", id)).toBe(1)
      expect(m.value("gnatsd_routez_cluster_size", { ...id, cluster: "MET" })).toBe(2)
      expect(m.samples("gnatsd_server_info", id)[0]!.labels["cluster"]).toBe("MET")
    }
    // And they agree with /routez.
    const rz = await getJson(A, "/routez")
    expect(a.value("gnatsd_routez_route_out_msgs", ridA)).toBe(rz["routes"][0]["out_msgs"])
  })
})
