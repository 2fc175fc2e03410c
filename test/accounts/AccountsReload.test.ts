/**
 * SIGHUP reload of accounts on a real process, ours and nats-server side by side: a new stream
 * export and import take effect for subscriptions made before the reload, a removed import stops
 * delivering, a user moved to another account is disconnected silently, a new user of an account
 * logs in — and the `Reloaded: accounts` line is logged.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Result from "effect/Result"
import { afterAll, describe, expect, it } from "vitest"
import { planReload } from "../../src/config/Reload.js"
import { decodeServerOptions, type ServerOptions } from "../../src/config/ServerOptions.js"
import { RawClient } from "../support/raw.js"
import { waitUntil } from "../support/wait.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "acc-reload-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const conf = (port: number, step: 1 | 2 | 3) => `
listen: 127.0.0.1:${port}
accounts {
  A: {
    users: [{ user: a, password: pw }${step === 2 ? "" : ", { user: mover, password: pw }"}]
    ${step === 2 ? `exports: [{ stream: "news.>" }]` : ""}
  }
  B: {
    users: [{ user: b, password: pw }${step === 2 ? ", { user: mover, password: pw }, { user: b2, password: pw }" : ""}]
    ${step === 2 ? `imports: [{ stream: { account: A, subject: "news.>" }, prefix: "a" }]` : ""}
  }
}
`

const targets = [
  { name: "effect-nats-server", available: true, start: (file: string) => startOurs(["-c", file]) },
  { name: "nats-server", available: natsServerPath !== undefined, start: (file: string) => startNatsServer(["-c", file]) }
]

const login = async (port: number, user: string) => {
  const c = await RawClient.connect(port)
  c.send(`CONNECT {"verbose":false,"user":"${user}","pass":"pw"}\r\nPING\r\n`)
  await c.expectPastPings("PONG\r\n")
  return c
}

for (const target of targets) describe.skipIf(!target.available)(`reload of accounts: ${target.name}`, () => {
  it("new exports and imports apply to existing subscriptions; removed ones stop; moved users are closed", async () => {
    const port = await freePort()
    const file = path.join(dir, `${target.name}.conf`)
    fs.writeFileSync(file, conf(port, 1))
    const s = await target.start(file)
    procs.push(s)
    const a = await login(port, "a")
    const b = await login(port, "b")
    const mover = await login(port, "mover")
    b.send("SUB a.news.> 1\r\nPING\r\n")
    await b.expectPastPings("PONG\r\n")
    a.send("PUB news.x 1\r\n1\r\nPING\r\n")
    await a.expectPastPings("PONG\r\n")
    b.send("PING\r\n")
    await b.expectPastPings("PONG\r\n")

    fs.writeFileSync(file, conf(port, 2))
    s.child.kill("SIGHUP")
    await s.waitFor("Reloaded server configuration")
    expect(s.output()).toContain("Reloaded: accounts")
    // mover is now a user of B: closed without an error.
    expect(await mover.waitClosed()).toBe("")
    // b's subscription from before the reload takes the new import.
    a.send("PUB news.y 1\r\n2\r\nPING\r\n")
    await a.expectPastPings("PONG\r\n")
    b.send("PING\r\n")
    await b.expectPastPings("MSG a.news.y 1 1\r\n2\r\nPONG\r\n")
    // A new user of B logs in and is in B.
    const b2 = await login(port, "b2")
    b2.send("SUB a.news.> 9\r\nPING\r\n")
    await b2.expectPastPings("PONG\r\n")
    a.send("PUB news.z 1\r\n3\r\nPING\r\n")
    await a.expectPastPings("PONG\r\n")
    b2.send("PING\r\n")
    await b2.expectPastPings("MSG a.news.z 9 1\r\n3\r\nPONG\r\n")
    b.send("PING\r\n")
    await b.expectPastPings("MSG a.news.z 1 1\r\n3\r\nPONG\r\n")

    fs.writeFileSync(file, conf(port, 3))
    s.child.kill("SIGHUP")
    await waitUntil("the second reload", () => s.output().split("Reloaded server configuration").length === 3)
    // b2 is gone with its user; the import is gone: b gets nothing.
    expect(await b2.waitClosed()).toBe("")
    a.send("PUB news.w 1\r\n4\r\nPING\r\n")
    await a.expectPastPings("PONG\r\n")
    b.send("PING\r\n")
    await b.expectPastPings("PONG\r\n")
    a.close()
    b.close()
  }, 60_000)
})

describe("planReload: accounts", () => {
  const opts = (users: Array<string>, exports: Array<string>) =>
    decodeServerOptions({ accounts: [{ name: "A", users: users.map((user) => ({ user, password: "pw" })), exports: exports.map((subject) => ({ kind: "stream" as const, subject })) }] })
  const lines = (a: ServerOptions, b: ServerOptions) => {
    const r = planReload(a, b)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    return r.success.changes
  }
  it("users of an account changed: both lines; only exports: Reloaded: accounts; nothing: no line", () => {
    expect(lines(opts(["a"], []), opts(["a", "b"], []))).toEqual(["Reloaded: authorization users", "Reloaded: accounts"])
    expect(lines(opts(["a"], []), opts(["a"], ["x.>"]))).toEqual(["Reloaded: accounts"])
    expect(lines(opts(["a"], ["x.>"]), opts(["a"], ["x.>"]))).toEqual([])
  })
})
