/**
 * The authorization example of README.md, read from the README itself and run: the bcrypt user
 * logs in and has the default permissions, bob's allow/deny/queue/allow_responses rules hold, the
 * nkey user makes the INFO carry a nonce.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ConfServer, startOursWithConf } from "../support/confServers.js"
import { RawClient } from "../support/raw.js"
import { repoRoot } from "../support/servers.js"

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const section = readme.slice(readme.indexOf("## Authentication and permissions"))
const snippet = /```\n([\s\S]*?)```/.exec(section)![1]!

describe("README: authentication and permissions", () => {
  let server: ConfServer
  beforeAll(async () => {
    server = await startOursWithConf(snippet)
  })
  afterAll(async () => {
    await server?.stop()
  })

  const login = async (user: string, pass: string): Promise<RawClient> => {
    const c = await RawClient.connect(server.port)
    c.send(`CONNECT {"verbose":true,"user":"${user}","pass":"${pass}"}\r\nPING\r\n`)
    await c.expectPastPings("+OK\r\nPONG\r\n")
    return c
  }

  it("alice (bcrypt) logs in and has the default permissions", async () => {
    const c = await login("alice", "alice-secret")
    c.send("PUB public.news 1\r\nx\r\nPUB orders.new 1\r\nx\r\nSUB _INBOX.x 1\r\nPING\r\n")
    await c.expectPastPings(`+OK\r\n-ERR 'Permissions Violation for Publish to "orders.new"'\r\n+OK\r\nPONG\r\n`)
    c.close()
  })

  it("bob's publish and subscribe rules", async () => {
    const c = await login("bob", "bob-secret")
    c.send("PUB orders.new 1\r\nx\r\nPUB orders.internal.x 1\r\nx\r\nSUB requests.a 1\r\nSUB work.a 2\r\nSUB work.a workers 3\r\nPING\r\n")
    await c.expectPastPings(
      `+OK\r\n-ERR 'Permissions Violation for Publish to "orders.internal.x"'\r\n+OK\r\n` +
        `-ERR 'Permissions Violation for Subscription to "work.a"'\r\n+OK\r\nPONG\r\n`
    )
    // allow_responses: bob may answer a request it received, once.
    const alice = await login("alice", "alice-secret")
    alice.send("SUB _INBOX.r1 9\r\nPUB requests.a _INBOX.r1 1\r\nq\r\nPING\r\n")
    await alice.expectPastPings("+OK\r\n+OK\r\nPONG\r\n")
    await c.expectPastPings("MSG requests.a 1 _INBOX.r1 1\r\nq\r\n")
    c.send("PUB _INBOX.r1 1\r\na\r\nPUB _INBOX.r1 1\r\nb\r\nPING\r\n")
    await c.expectPastPings(`+OK\r\n-ERR 'Permissions Violation for Publish to "_INBOX.r1"'\r\nPONG\r\n`)
    await alice.expectPastPings("MSG _INBOX.r1 9 1\r\na\r\n")
    c.close()
    alice.close()
  })

  it("the nkey user makes INFO carry a nonce", async () => {
    const c = await RawClient.connect(server.port)
    expect(c.info["auth_required"]).toBe(true)
    expect(typeof c.info["nonce"]).toBe("string")
    c.close()
  })

  it("a wrong password is an Authorization Violation", async () => {
    const c = await RawClient.connect(server.port)
    c.send(`CONNECT {"verbose":false,"user":"alice","pass":"nope"}\r\nPING\r\n`)
    expect(await c.waitClosed()).toBe("-ERR 'Authorization Violation'\r\n")
  })
})
