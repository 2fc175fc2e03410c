/**
 * A configured route URL counts as connected as soon as the server there is registered through
 * any link — also one it dialed to us, e.g. after it restarted with a new id — so our dialer for
 * that URL does not add a duplicate link (whose resolution can replace the working route and lose
 * what was in flight on it). Found by the cluster chaos run (full-mesh configs, kill + restart).
 */
import { afterEach, expect, it } from "vitest"
import { freePort, startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

it("a route accepted from the server at a configured URL marks that URL as connected", async () => {
  // A advertises a route address where nothing listens; C is configured with it, so C's own
  // dials always fail: only the link A dials can tell C that the URL is A.
  const advertised = await freePort()
  const aUrl = `nats://127.0.0.1:${advertised}`
  const C: TestServer = await startServer({ serverName: "C", debug: true, cluster: { name: "t", host: "127.0.0.1", port: -1, routes: [aUrl] } })
  cleanup.push(() => C.stop())
  await waitUntil("C's dial to A failed", () => C.lines().some((l) => l.includes(`Error trying to connect to route (attempt 1)`)))
  const cUrl = `nats://127.0.0.1:${C.cluster!.listen!.port}`
  const A: TestServer = await startServer({ serverName: "A", cluster: { name: "t", host: "127.0.0.1", port: -1, advertise: `127.0.0.1:${advertised}`, routes: [cUrl] } })
  cleanup.push(() => A.stop())
  await waitUntil("C registers A", () => C.cluster!.routes.has(A.broker.serverId))
  expect(C.cluster!.urlIds.get(aUrl)).toBe(A.broker.serverId)
})
