/**
 * Config reload decisions as nats-server 2.9.10 makes them (`diffOptions` in reload.go): its
 * `Reloaded: …` lines, what it refuses and with which words, and SIGHUP without a config file —
 * the last one checked side by side against real nats-server.
 */
import * as Result from "effect/Result"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RawClient } from "../support/raw.js"
import { waitUntil } from "../support/wait.js"
import { afterAll, describe, expect, it } from "vitest"
import { diffRoutes, planReload } from "../../src/config/Reload.js"
import { decodeServerOptions, type ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"

const procs: Array<ChildServer> = []
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-reload-"))
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const plan = (a: ServerOptionsInput, b: ServerOptionsInput) => planReload(decodeServerOptions(a), decodeServerOptions(b))
const changes = (a: ServerOptionsInput, b: ServerOptionsInput) => {
  const r = plan(a, b)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success.changes
}
const refusal = (a: ServerOptionsInput, b: ServerOptionsInput) => {
  const r = plan(a, b)
  return Result.isFailure(r) ? r.failure.message : undefined
}

describe("planReload", () => {
  it("logs nats-server's Reloaded: lines", () => {
    expect(new Set(changes({ maxPayload: 1024 }, { maxPayload: 2048, debug: true, pingInterval: 30_000, writeDeadline: 2500 }))).toEqual(
      new Set(["Reloaded: max_payload = 2048", "Reloaded: ping_interval = 30s", "Reloaded: write_deadline = 2.5s", "Reloaded: debug = true"])
    )
    expect(changes({}, { clientAdvertise: "h:1" })).toEqual(["Reload: client_advertise = h:1"])
    expect(changes({}, { serverTags: ["a"] })).toEqual(["Reloaded: tags"])
    expect(changes({ cluster: { name: "a", port: 7000 } }, { cluster: { name: "b", port: 7000 } })).toEqual(["Reloaded: cluster"])
  })

  it("cluster routes: added and removed URLs, logged after the cluster block", () => {
    const r = plan({ cluster: { port: 7000, routes: ["nats://h:1", "nats://h:2/"] } }, { cluster: { port: 7000, noAdvertise: true, routes: ["nats://h:2", "nats://h:3"] } })
    expect(Result.isSuccess(r) && r.success).toEqual({
      changes: ["Reloaded: cluster", "Reloaded: cluster routes"],
      routes: { add: ["nats://h:3"], remove: ["nats://h:1"] }
    })
    expect(diffRoutes(["nats://h:1"], ["nats://h:1/"])).toEqual({ add: [], remove: [] })
  })

  it("refuses what nats-server refuses, in its words", () => {
    expect(refusal({ port: 4222 }, { port: 4223 })).toBe("config reload not supported for Port: old=4222, new=4223")
    expect(refusal({}, { maxSubscriptions: 10 })).toBe("config reload not supported for MaxSubs: old=0, new=10")
    expect(refusal({ cluster: { host: "127.0.0.1", port: 7000 } }, { cluster: { host: "0.0.0.0", port: 7000 } })).toBe(
      "config reload not supported for cluster host: old=127.0.0.1, new=0.0.0.0"
    )
    expect(refusal({ cluster: { port: 7000 } }, { cluster: { port: 7001 } })).toBe("config reload not supported for cluster port: old=7000, new=7001")
    // Enabling clustering (live nats-server 2.9.10: the default cluster host differs first).
    expect(refusal({}, { cluster: { port: 7001 } })).toBe("config reload not supported for cluster host: old=, new=0.0.0.0")
  })
})

describe("SIGHUP without a config file", () => {
  const targets = [{ name: "effect-nats-server", start: startOurs }]
  if (natsServerPath !== undefined) targets.push({ name: "nats-server", start: startNatsServer })
  it.each(targets)("$name: refuses with nats-server's error and keeps running", async ({ start }) => {
    const s = await start(["-a", "127.0.0.1", "-p", "-1"])
    procs.push(s)
    s.child.kill("SIGHUP")
    await s.waitFor("[ERR] Failed to reload server configuration: can only reload config when a file is provided using -c or --config")
    expect(s.child.exitCode).toBe(null)
  })
})

describe("max_connections lowered by SIGHUP", () => {
  const targets = [{ name: "effect-nats-server", start: startOurs }]
  if (natsServerPath !== undefined) targets.push({ name: "nats-server", start: startNatsServer })
  it.each(targets)("$name: closes clients until within the limit", async ({ name, start }) => {
    const port = await freePort()
    const conf = path.join(dir, `maxconn-${name}.conf`)
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_connections: 10\n`)
    const s = await start(["-c", conf])
    procs.push(s)
    const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(port)))
    for (const c of clients) c.send('CONNECT {"verbose":false}\r\n')
    await Promise.all(clients.map((c) => c.expectOpen()))
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_connections: 1\n`)
    s.child.kill("SIGHUP")
    await s.waitFor("Closed 2 connections to fall within max_connections")
    await s.waitFor("Reloaded: max_connections = 1")
    await waitUntil("two clients closed", () => clients.filter((c) => c.closed).length === 2)
    for (const c of clients.filter((c) => c.closed)) expect(c.pending()).toContain("-ERR 'maximum connections exceeded'")
    await clients.find((c) => !c.closed)!.expectOpen()
    for (const c of clients) c.close()
  })
})
