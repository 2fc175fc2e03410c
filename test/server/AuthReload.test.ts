/**
 * SIGHUP reload of users and permissions on a real process, ours and nats-server side by side:
 * a subscription whose permission is withdrawn is removed with nats-server's `-ERR` and stops
 * receiving, a user that is gone is disconnected silently, one whose password changed gets
 * `Authorization Violation`, others carry on.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as bcrypt from "@node-rs/bcrypt"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "auth-reload-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const HASH = bcrypt.hashSync("bpw", 4)
const conf = (port: number, aliceSubscribe: string, withBob: boolean, erinPw: string) => `
listen: 127.0.0.1:${port}
authorization {
  users: [
    { user: alice, password: apw, permissions: { subscribe: ${aliceSubscribe} } }
    ${withBob ? `{ user: bob, password: "${HASH}" }` : ""}
    { user: carol, password: cpw }
    { user: erin, password: ${erinPw} }
  ]
}
`

const targets = [
  { name: "effect-nats-server", available: true, start: (file: string) => startOurs(["-c", file]) },
  { name: "nats-server", available: natsServerPath !== undefined, start: (file: string) => startNatsServer(["-c", file]) }
]

for (const target of targets) describe.skipIf(!target.available)(`reload of users and permissions: ${target.name}`, () => {
  it("withdrawn permissions remove subscriptions, removed users are disconnected", async () => {
    const port = await freePort()
    const file = path.join(dir, `${target.name}.conf`)
    fs.writeFileSync(file, conf(port, `["foo.>", "bar"]`, true, "epw"))
    const s = await target.start(file)
    procs.push(s)

    const alice = await RawClient.connect(s.port)
    alice.send(`CONNECT {"verbose":false,"user":"alice","pass":"apw"}\r\nSUB foo.x 1\r\nSUB bar 2\r\nSUB foo.> 3\r\nPING\r\n`)
    await alice.expectPastPings("PONG\r\n")
    const bob = await RawClient.connect(s.port)
    bob.send(`CONNECT {"verbose":false,"user":"bob","pass":"bpw"}\r\nPING\r\n`)
    await bob.expectPastPings("PONG\r\n")
    const carol = await RawClient.connect(s.port)
    carol.send(`CONNECT {"verbose":false,"user":"carol","pass":"cpw"}\r\nPING\r\n`)
    await carol.expectPastPings("PONG\r\n")
    const erin = await RawClient.connect(s.port)
    erin.send(`CONNECT {"verbose":false,"user":"erin","pass":"epw"}\r\nPING\r\n`)
    await erin.expectPastPings("PONG\r\n")

    // alice may now only subscribe to foo.x; bob is gone.
    fs.writeFileSync(file, conf(port, `["foo.x"]`, false, "epw2"))
    s.child.kill("SIGHUP")
    await s.waitFor("Reloaded server configuration")

    // bob's user is gone: closed without -ERR (nats-server: the client "moved" account).
    expect(await bob.waitClosed()).toBe("")
    // erin's password changed: authenticated again, refused.
    expect(await erin.waitClosed()).toBe("-ERR 'Authorization Violation'\r\n")
    await s.waitFor(`authentication error - User "erin"`)
    // Both withdrawn subscriptions are reported; nats-server walks them in Go map order, so the
    // order of the two lines is not fixed.
    const removed = [await alice.nextNonPing(), await alice.nextNonPing()].sort()
    expect(removed).toEqual([
      `-ERR 'Permissions Violation for Subscription to "bar" (sid "2")'\r\n`,
      `-ERR 'Permissions Violation for Subscription to "foo.>" (sid "3")'\r\n`
    ])
    await s.waitFor(`Removed sub "bar" (sid "2") for User "alice" - not authorized`)

    // What is left of alice's interest still works, what was removed gets nothing.
    carol.send(`PUB bar 1\r\na\r\nPUB foo.y 1\r\nb\r\nPUB foo.x 1\r\nc\r\nPING\r\n`)
    await carol.expectPastPings("PONG\r\n")
    alice.send("PING\r\n")
    await alice.expectPastPings("MSG foo.x 1 1\r\nc\r\nPONG\r\n")
    alice.close()
    carol.close()
  }, 60_000)
})
