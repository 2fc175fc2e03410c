/**
 * The client auth timeout's default, as nats-server 2.9.10 derives it (`getDefaultAuthTimeout`):
 * two seconds, or the TLS handshake timeout plus one second when clients use TLS; an explicit
 * `authorization { timeout }` wins. The same config files go to our server and to nats-server,
 * and `/varz` `auth_timeout` must agree.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { authTimeout } from "../../src/server/auth/Auth.js"
import { type Certs, makeCerts } from "../support/certs.js"
import { type ChildServer, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"

const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
})

const varzAuthTimeout = async (p: ChildServer): Promise<unknown> => {
  const line = await p.waitFor(/Starting http monitor on/)
  const base = `http://${/on (\S+)\s*$/.exec(line.trim())![1]}`
  const varz = (await (await fetch(`${base}/varz`)).json()) as { auth_timeout?: unknown }
  return varz.auth_timeout
}

describe("auth timeout default", () => {
  it("is derived from the TLS timeout as nats-server does, and reported in /varz", async () => {
    const certs: Certs = makeCerts()
    const tls = (extra: string) => `tls { cert_file: "${certs.server.cert}", key_file: "${certs.server.key}"${extra} }\n`
    const cases: Array<{ conf: string; expected: number }> = [
      { conf: "authorization { user: a, password: b }\n", expected: 2 },
      { conf: tls("") + "authorization { user: a, password: b }\n", expected: 3 },
      { conf: tls(", timeout: 5") + "authorization { user: a, password: b, timeout: 1 }\n", expected: 1 },
      { conf: tls(", timeout: 5"), expected: 6 }
    ]
    for (const [i, c] of cases.entries()) {
      const file = path.join(certs.dir, `auth-timeout-${i}.conf`)
      fs.writeFileSync(file, `listen: 127.0.0.1:-1\nhttp: 127.0.0.1:-1\n${c.conf}`)
      const targets = [startOurs(["-c", file])]
      if (natsServerPath !== undefined) targets.push(startNatsServer(["-c", file]))
      const started = await Promise.all(targets)
      procs.push(...started)
      const seen = await Promise.all(started.map(varzAuthTimeout))
      expect(seen[0], c.conf).toBe(c.expected)
      if (seen.length > 1) expect(seen[0], c.conf).toBe(seen[1])
    }
    // The session's timer uses the same value.
    expect(authTimeout({ authorization: undefined, tls: undefined })).toBe(2000)
    expect(authTimeout({ authorization: undefined, tls: { timeout: 2000 } as never })).toBe(3000)
  }, 90_000)
})
