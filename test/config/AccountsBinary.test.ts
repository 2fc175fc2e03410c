/**
 * The executable with an accounts config: `-t` accepts it (as nats-server does), and a run serves
 * the accounts: B's client gets A's stream under B's prefix.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { connect, StringCodec } from "nats"
import { binPath, startOurs } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "accounts-bin-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const conf = path.join(dir, "a.conf")
fs.writeFileSync(conf, `port: -1
accounts {
  A: { users: [{user: a, password: a}], exports: [{stream: "pub.>"}] }
  B: { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: "pub.>"}, prefix: "fromA"}] }
}
`)
const run = (...args: Array<string>) => spawnSync(process.execPath, [binPath, ...args], { encoding: "utf8", timeout: 30_000 })

describe("the binary with accounts", () => {
  it("-t: valid", () => {
    const r = run("-t", "-c", conf)
    expect(r.stderr).toContain(`configuration file ${conf} is valid`)
    expect(r.status).toBe(0)
  })

  it("run: serves the accounts", async () => {
    const server = await startOurs(["-c", conf, "-a", "127.0.0.1"])
    const a = await connect({ servers: server.url, user: "a", pass: "a", reconnect: false })
    const b = await connect({ servers: server.url, user: "b", pass: "b", reconnect: false })
    try {
      const sc = StringCodec()
      const got: Array<string> = []
      b.subscribe("fromA.>", { callback: (_e, m) => got.push(`${m.subject} ${sc.decode(m.data)}`) })
      await b.flush()
      a.publish("pub.news", sc.encode("hello"))
      await a.flush()
      await b.flush()
      expect(got).toEqual(["fromA.pub.news hello"])
    } finally {
      await a.close()
      await b.close()
      await server.stop()
    }
  })
})
