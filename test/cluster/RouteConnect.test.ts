/**
 * The accepting side's checks of a route CONNECT, side by side with real nats-server 2.9.10: a
 * `lang` (a client on the route port) and a `gateway` are refused with nats-server's -ERR, and —
 * as Go reads them into strings — an empty `lang` or `gateway` is the same as none (checked live:
 * `{"lang":""}` is not refused by nats-server).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"

/** What a server does with `CONNECT <body>` then `PING` on its route port. */
const outcome = async (port: number, body: string): Promise<string> => {
  const c = await RawClient.connect(port)
  try {
    c.send(`CONNECT ${body}\r\nPING\r\n`)
    const line = await c.nextNonPing(10_000)
    if (line === "PONG\r\n") return "open"
    const rest = await c.waitClosed(10_000)
    return `${line.trimEnd()} | closed${rest === "" ? "" : ` after ${JSON.stringify(rest)}`}`
  } finally {
    c.close()
  }
}

const BODIES = [
  `{"verbose":false,"cluster":"t","name":"NX","lang":"go"}`,
  `{"verbose":false,"cluster":"t","name":"NX","lang":""}`,
  `{"verbose":false,"cluster":"t","name":"NX","lang":null}`,
  `{"verbose":false,"cluster":"t","name":"NX","gateway":"gw"}`,
  `{"verbose":false,"cluster":"t","name":"NX","gateway":""}`
]

const EXPECTED = [
  "-ERR 'attempted to connect to route port' | closed",
  "open",
  "open",
  `-ERR 'Rejecting connection from gateway "gw" on the Route port' | closed`,
  "open"
]

describe("route CONNECT checks", () => {
  let ours: TestServer
  beforeAll(async () => {
    ours = await startServer({ cluster: { name: "t", host: "127.0.0.1", port: -1 } })
  }, 60_000)
  afterAll(() => ours?.stop())

  it.each(BODIES.map((b, i) => [b, EXPECTED[i]!]))("ours: CONNECT %s → %s", async (body, expected) => {
    expect(await outcome(ours.cluster!.listen!.port, body)).toBe(expected)
  })

  describe.skipIf(natsServerPath === undefined)("real nats-server", () => {
    let real: ChildServer
    let routePort: number
    beforeAll(async () => {
      routePort = await freePort()
      real = await startNatsServer(["-a", "127.0.0.1", "-p", "-1", "--cluster_name", "t", "--cluster", `nats://127.0.0.1:${routePort}`])
      // nats-server opens its route listener after "Server is ready".
      await real.waitFor("Listening for route connections")
    }, 60_000)
    afterAll(() => real?.stop())

    it.each(BODIES.map((b, i) => [b, EXPECTED[i]!]))("nats-server: CONNECT %s → %s", async (body, expected) => {
      expect(await outcome(routePort, body)).toBe(expected)
    })
  })
})
