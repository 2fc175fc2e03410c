/**
 * The executable with an accounts config: `-t` accepts it (as nats-server does), and a run exits
 * with the clear "parsed but not served yet" error instead of serving without accounts.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { binPath } from "../support/servers.js"

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

  it("run: refuses to start, saying why", () => {
    const r = run("-c", conf, "-a", "127.0.0.1")
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("Error starting server: accounts, operators and the system account are parsed and checked but not served by effect-nats-server yet")
    expect(r.stderr).not.toContain("Server is ready")
  })
})
