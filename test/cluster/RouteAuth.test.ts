/**
 * Route authorization against real nats-server 2.9, in both directions: the accepting side has
 * `cluster { authorization { user, password (bcrypt), timeout } }`, the dialing side puts the
 * credentials in the route URL (`nats-route://user:pass@host:port`). Good credentials form the
 * route (a message crosses it); bad or missing ones are refused with nats-server's log line.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as bcrypt from "@node-rs/bcrypt"
import { connect } from "@nats-io/transport-node"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"
import { waitUntilAsync } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "route-auth-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const HASH = bcrypt.hashSync("rpw", 4)
let n = 0
const acceptorConf = (port: number, clusterPort: number) => {
  const file = path.join(dir, `a${++n}.conf`)
  fs.writeFileSync(file, `
listen: 127.0.0.1:${port}
cluster {
  name: ra
  listen: 127.0.0.1:${clusterPort}
  authorization { user: ruser, password: "${HASH}", timeout: 1 }
}
`)
  return file
}

type Kind = "ours" | "nats-server"
const start = async (kind: Kind, args: ReadonlyArray<string>) => {
  const s = kind === "ours" ? await startOurs(args) : await startNatsServer(args)
  procs.push(s)
  return s
}

/** A message published on `from` reaches a subscriber on `to` (the route works). */
const crosses = async (from: ChildServer, to: ChildServer) => {
  const sub = await connect({ servers: to.url })
  const pub = await connect({ servers: from.url })
  try {
    let got = false
    const s = sub.subscribe("route.auth")
    void (async () => {
      for await (const _ of s) got = true
    })()
    await sub.flush()
    await waitUntilAsync("a message crosses the route", async () => {
      pub.publish("route.auth", new TextEncoder().encode("x"))
      await pub.flush()
      await sub.flush()
      return got
    }, 20_000)
  } finally {
    await sub.close()
    await pub.close()
  }
}

const pairs: ReadonlyArray<readonly [Kind, Kind]> = [["ours", "nats-server"], ["nats-server", "ours"]]

for (const [acceptor, dialer] of pairs) {
  describe.skipIf(natsServerPath === undefined)(`route authorization: ${acceptor} accepts, ${dialer} dials`, () => {
    const dialerArgs = async (route: string) => {
      const [p, c] = await Promise.all([freePort(), freePort()])
      return ["-a", "127.0.0.1", "-p", String(p), "-D", "--cluster_name", "ra", "--cluster", `nats://127.0.0.1:${c}`, "--routes", route]
    }

    it("good credentials in the route URL form the route", async () => {
      const [p, c] = await Promise.all([freePort(), freePort()])
      const A = await start(acceptor, ["-c", acceptorConf(p, c), "-D"])
      const D = await start(dialer, await dialerArgs(`nats-route://ruser:rpw@127.0.0.1:${c}`))
      await A.waitFor(/Registering remote route/, 20_000)
      await crosses(D, A)
      await crosses(A, D)
    }, 60_000)

    it("a wrong password is refused with nats-server's log line", async () => {
      const [p, c] = await Promise.all([freePort(), freePort()])
      const A = await start(acceptor, ["-c", acceptorConf(p, c), "-D"])
      await start(dialer, await dialerArgs(`nats-route://ruser:wrong@127.0.0.1:${c}`))
      const line = await A.waitFor(/rid:\d+ - authentication error/, 20_000)
      expect(line).toMatch(/\[ERR\] 127\.0\.0\.1:\d+ - rid:\d+ - authentication error$/)
      await A.waitFor(/Router connection closed: Authentication Failure/, 20_000)
      expect(A.output()).not.toMatch(/Registering remote route/)
    }, 60_000)

    it("a route without credentials is refused", async () => {
      const [p, c] = await Promise.all([freePort(), freePort()])
      const A = await start(acceptor, ["-c", acceptorConf(p, c), "-D"])
      await start(dialer, await dialerArgs(`nats-route://127.0.0.1:${c}`))
      await A.waitFor(/rid:\d+ - authentication error$/, 20_000)
      expect(A.output()).not.toMatch(/Registering remote route/)
    }, 60_000)
  })
}

describe.skipIf(natsServerPath === undefined)("route authorization: timeout and exact bytes, ours and nats-server", () => {
  for (const kind of ["ours", "nats-server"] as const) {
    it(`${kind}: a route connection that never sends CONNECT gets -ERR 'Authentication Timeout'`, async () => {
      const [p, c] = await Promise.all([freePort(), freePort()])
      const A = await start(kind, ["-c", acceptorConf(p, c), "-D"])
      await A.waitFor(/Listening for route connections/)
      const r = await RawClient.connect(c)
      expect(r.info["auth_required"]).toBe(true)
      expect(await r.waitClosed(5000)).toBe("-ERR 'Authentication Timeout'\r\n")
      await A.waitFor(/rid:\d+ - Authentication Timeout$/)
    }, 30_000)
  }
})
