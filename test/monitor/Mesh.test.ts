/**
 * `/meshz`: what this server and the peers whose monitors it can reach report — the monitor URL
 * our servers advertise in route INFO, peers without one (ours without a monitor, real
 * nats-server) listed from the route alone, and a peer monitor that does not answer.
 */
import * as Effect from "effect/Effect"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { getJson, MeshPeerError } from "../../src/monitor/Mesh.js"
import { monitorAddress } from "../../src/monitor/Monitor.js"
import { NATS_COMPAT_VERSION } from "../../src/server/ServerState.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

type Json = Record<string, any>

const mport = (s: TestServer) => monitorAddress(s.broker)!.port
const meshz = async (s: TestServer): Promise<Json> => {
  const res = await fetch(`http://127.0.0.1:${mport(s)}/meshz`)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toBe("application/json")
  return (await res.json()) as Json
}
const routePort = (s: TestServer) => s.cluster!.listen!.port

describe("/meshz in a 3-node cluster (one peer without a monitor)", () => {
  let A: TestServer
  let B: TestServer
  let C: TestServer
  const clients: Array<NatsConnection> = []

  beforeAll(async () => {
    A = await startServer({ httpPort: -1, serverName: "A", cluster: { name: "MESH", host: "127.0.0.1", port: -1 } })
    const routes = [`nats-route://127.0.0.1:${routePort(A)}`]
    B = await startServer({ httpPort: -1, serverName: "B", cluster: { name: "MESH", host: "127.0.0.1", port: -1, routes } })
    // C has no monitor: nothing to advertise.
    C = await startServer({ serverName: "C", cluster: { name: "MESH", host: "127.0.0.1", port: -1, routes } })
    await waitUntil("full mesh", () => [A, B, C].every((s) => s.cluster!.routes.size === 2), 20_000)
    for (const [s, n] of [[A, 2], [B, 1], [C, 3]] as const) {
      for (let i = 0; i < n; i++) clients.push(await connect({ servers: s.url }))
    }
  }, 60_000)
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    for (const s of [C, B, A]) await s?.stop()
  })

  it("starts the monitor once, before the cluster, so that the first route INFO carries its URL", () => {
    for (const s of [A, B]) {
      const lines = s.lines()
      const monitor = lines.filter((l) => l.includes("Starting http monitor"))
      expect(monitor).toHaveLength(1)
      expect(lines.indexOf(monitor[0]!)).toBeLessThan(lines.findIndex((l) => l.includes("Listening for route connections")))
    }
  })

  it("advertises our monitor URL in the route INFO our peers received", () => {
    const fromA = [...B.cluster!.routes.values()].find((r) => r.remoteId === A.broker.serverId)!
    expect(fromA.peerRaw?.["monitor_url"]).toBe(`http://127.0.0.1:${mport(A)}`)
    const fromC = [...A.cluster!.routes.values()].find((r) => r.remoteId === C.broker.serverId)!
    expect(fromC.peerRaw?.["monitor_url"]).toBeUndefined()
  })

  it("lists this server, the peer read through its monitor, and the peer known from its route only", async () => {
    const doc = await meshz(A)
    expect(doc["server_id"]).toBe(A.broker.serverId)
    expect(doc["cluster"]).toBe("MESH")
    const servers = doc["servers"] as Array<Json>
    expect(servers.map((s) => s["server_name"])).toEqual(["A", ...[B, C].sort((x, y) => ridOf(A, x) - ridOf(A, y)).map((s) => s.broker.serverName)])
    const [self, ...peers] = servers
    expect(self!["source"]).toBe("self")
    expect(self!["version"]).toBe(NATS_COMPAT_VERSION)
    expect(self!["connections"]).toBe(2)
    expect(self!["routes"].map((r: Json) => r["remote_id"]).sort()).toEqual([B.broker.serverId, C.broker.serverId].sort())
    // Names come from the routes' INFO (nats-server 2.9's /routez has none).
    expect(self!["routes"].map((r: Json) => r["remote_name"]).sort()).toEqual(["B", "C"])
    const b = peers.find((p) => p["server_id"] === B.broker.serverId)!
    expect(b["source"]).toBe("monitor")
    expect(b["monitor_url"]).toBe(`http://127.0.0.1:${mport(B)}`)
    expect(b["connections"]).toBe(1)
    // B's own routes, as B's /routez reports them: to A and to C.
    expect(b["routes"].map((r: Json) => r["remote_id"]).sort()).toEqual([A.broker.serverId, C.broker.serverId].sort())
    const c = peers.find((p) => p["server_id"] === C.broker.serverId)!
    expect(c["source"]).toBe("route")
    expect(c["server_name"]).toBe("C")
    expect(c["error"]).toBe("monitor URL not advertised by this peer")
    expect(c["connections"]).toBeUndefined()
    expect(c["routes"]).toEqual([])
  })

  it("counters follow the live state on every request", async () => {
    const before = (await meshz(A))["servers"].find((s: Json) => s["server_id"] === B.broker.serverId)
    const extra = await connect({ servers: B.url })
    const after = (await meshz(A))["servers"].find((s: Json) => s["server_id"] === B.broker.serverId)
    expect(after["connections"]).toBe(before["connections"] + 1)
    await extra.close()
  })
})

const ridOf = (from: TestServer, to: TestServer): number =>
  [...from.cluster!.routes.values()].find((r) => r.remoteId === to.broker.serverId)!.rid

describe("reading a peer's monitor", () => {
  it("fails with MeshPeerError when nothing listens", async () => {
    const port = await freePort()
    const exit = await Effect.runPromiseExit(getJson(`http://127.0.0.1:${port}/varz`))
    expect(exit._tag).toBe("Failure")
    const error = await Effect.runPromise(Effect.flip(getJson(`http://127.0.0.1:${port}/varz`)))
    expect(error).toBeInstanceOf(MeshPeerError)
    expect(error.url).toBe(`http://127.0.0.1:${port}/varz`)
    expect(error.message).toContain("ECONNREFUSED")
  })
})

describe.skipIf(natsServerPath === undefined)("/meshz with a nats-server 2.9 peer", () => {
  let A: TestServer
  let N: ChildServer
  let nMonitor = 0

  beforeAll(async () => {
    A = await startServer({ httpPort: -1, serverName: "A", cluster: { name: "MIXM", host: "127.0.0.1", port: -1 } })
    const [pn, cn, mn] = await Promise.all([freePort(), freePort(), freePort()])
    nMonitor = mn!
    N = await startNatsServer([
      "-a", "127.0.0.1", "-p", String(pn), "-n", "N", "-m", String(mn),
      "--cluster", `nats://127.0.0.1:${cn}`, "--routes", `nats://127.0.0.1:${routePort(A)}`, "--cluster_name", "MIXM"
    ])
    await waitUntil("route up", () => A.cluster!.routes.size === 1, 20_000)
  }, 60_000)
  afterAll(async () => {
    await N?.stop()
    await A?.stop()
  })

  it("nats-server takes our INFO with monitor_url, and is listed from the route (it advertises no monitor)", async () => {
    // nats-server registered the route (it ignored the extra INFO field).
    await waitUntilAsync("nats-server sees the route", async () => {
      const rz = (await fetch(`http://127.0.0.1:${nMonitor}/routez`).then((r) => r.json())) as Json
      return rz["num_routes"] === 1 && rz["routes"][0]["remote_id"] === A.broker.serverId
    }, 20_000)
    const doc = await meshz(A)
    const n = (doc["servers"] as Array<Json>)[1]!
    expect(n["source"]).toBe("route")
    expect(n["server_name"]).toBe("N")
    expect(n["version"]).toBe("2.9.10")
    expect(n["error"]).toBe("monitor URL not advertised by this peer")
  })
})
