/**
 * `cluster.routes` on SIGHUP, as nats-server 2.9.10's routesOption: removed explicit routes are
 * closed (`Removed route <url>`, no reconnect), added ones are dialed, `Reloaded: cluster routes`
 * is logged; a changed cluster port is refused with nats-server's message. The reloading server C
 * is ours and, side by side with the same expectations, real nats-server; A and B are ours.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs, startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-route-reload-"))
const procs: Array<ChildServer> = []
const servers: Array<TestServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  for (const s of servers) await s.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const targets: Array<{ name: string; start: (args: ReadonlyArray<string>) => Promise<ChildServer> }> = [{ name: "effect-nats-server", start: startOurs }]
if (natsServerPath !== undefined) targets.push({ name: "nats-server", start: startNatsServer })

describe.each(targets)("SIGHUP with changed cluster routes: $name", (target) => {
  it("drops the removed route, dials the added one, and refuses a cluster port change", async () => {
    const [ca, cb, cc, pc] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const A = await startServer({ serverName: "A", cluster: { name: "rr", host: "127.0.0.1", port: ca! } })
    const B = await startServer({ serverName: "B", cluster: { name: "rr", host: "127.0.0.1", port: cb! } })
    servers.push(A, B)
    const conf = path.join(dir, `${target.name}.conf`)
    const write = (routes: ReadonlyArray<number>, cport = cc!) =>
      fs.writeFileSync(
        conf,
        `listen: 127.0.0.1:${pc}\nserver_name: C\ncluster {\n  name: rr\n  listen: 127.0.0.1:${cport}\n  routes: [${routes.map((p) => `nats://127.0.0.1:${p}`).join(", ")}]\n}\n`
      )
    write([ca!])
    const C = await target.start(["-D", "-c", conf])
    procs.push(C)
    const routedToC = (s: TestServer) => [...s.cluster!.routes.values()].some((r) => r.peer?.server_name === "C")
    await waitUntil("C is routed to A", () => routedToC(A), 15_000)
    // And C has registered it too: a reload before that finds no route to remove (nats-server
    // removes only registered routes), which a loaded machine showed.
    await C.waitFor("Registering remote route")
    expect(routedToC(B)).toBe(false)

    // Swap A for B.
    write([cb!])
    C.child.kill("SIGHUP")
    await C.waitFor(`Removed route nats://127.0.0.1:${ca}`)
    await C.waitFor("Reloaded: cluster routes")
    await C.waitFor("Reloaded server configuration")
    await waitUntil("C is routed to B", () => routedToC(B), 15_000)
    await waitUntil("A lost its route to C", () => !routedToC(A), 15_000)
    expect(A.lines().join("\n")).toMatch(/Router connection closed/)

    // Add A back next to B: both routes (and, by gossip, A and B meet).
    write([cb!, ca!])
    C.child.kill("SIGHUP")
    await waitUntil("C is routed to A again", () => routedToC(A), 15_000)
    expect(routedToC(B)).toBe(true)

    // The cluster port cannot change while running.
    write([cb!, ca!], cc! + 1)
    C.child.kill("SIGHUP")
    await C.waitFor(`config reload not supported for cluster port: old=${cc}, new=${cc! + 1}`)
    await C.stop()
  }, 60_000)
})
