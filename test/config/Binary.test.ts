/**
 * The executable's command line end to end: -t, --help, -v, refused flags, flags over the config
 * file, -l/-T logging, -m monitoring, and the startup banner.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { binPath, type ChildServer, freePort, startOurs } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-cli-"))
const procs: Array<ChildServer> = []
const children: Array<ChildProcess> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  for (const c of children) c.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

const run = (...args: Array<string>) => spawnSync(process.execPath, [binPath, ...args], { encoding: "utf8", timeout: 15_000 })
const conf = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

describe("the binary", () => {
  it("-t tests a config file and exits; errors name file:line:col", () => {
    const good = conf("good.conf", "listen: 127.0.0.1:4999\ncluster {\n  name: c\n  listen: 127.0.0.1:6999\n}\n")
    const ok = run("-c", good, "-t")
    expect(ok.status).toBe(0)
    // nats-server's wording, on stderr as nats-server writes it.
    expect(ok.stderr).toBe(`effect-nats-server: configuration file ${good} is valid\n`)
    const none = run("-t")
    expect(none.status).toBe(1)
    expect(none.stderr).toBe("effect-nats-server: must specify [-c, --config] option to check configuration file syntax\n")
    const bad = conf("bad.conf", "port: 4222\nfoo_unknown: 1\n")
    const r = run("--config", bad, "-t")
    expect(r.status).toBe(1)
    expect(r.stderr).toContain(`${bad}:2:1: unknown field "foo_unknown"`)
  })

  it("--help, -v, unknown and unsupported flags", () => {
    expect(run("--help").stdout).toContain("Usage: effect-nats-server")
    expect(run("-v").stdout).toMatch(/effect-nats-server: v\d+\.\d+\.\d+/)
    const unknown = run("--bogus")
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain("flag provided but not defined: -bogus")
    const js = run("-js")
    expect(js.status).toBe(1)
    expect(js.stderr).toMatch(/JetStream is not supported/)
    const routes = run("-routes", "nats://127.0.0.1:4248")
    expect(routes.status).toBe(1)
    expect(routes.stderr).toMatch(/--routes requires a cluster/)
  })

  it("flags override the config file; -l writes the log to a file; -T=false drops the time", async () => {
    const filePort = await freePort()
    const flagPort = await freePort()
    const logFile = path.join(dir, "server.log")
    const file = conf("prec.conf", `listen: 127.0.0.1:${filePort}\nmax_payload: 1024\n`)
    // With -l the lines go to the file, not to stderr: wait for the file.
    const child = spawn(process.execPath, [binPath, "-c", file, "-p", String(flagPort), "-l", logFile, "-T=false", "-D"], { stdio: "ignore" })
    children.push(child)
    await waitUntil("log file written", () => fs.existsSync(logFile) && fs.readFileSync(logFile, "utf8").includes("Server is ready"))
    const log = fs.readFileSync(logFile, "utf8")
    expect(log).toContain(`Listening for client connections on 127.0.0.1:${flagPort}`)
    // No time: `[pid] [INF] …`
    expect(log.split("\n")[0]).toMatch(/^\[\d+\] \[INF\] Starting effect-nats-server$/)
    const c = await RawClient.connect(flagPort)
    expect(c.info["max_payload"]).toBe(1024)
    c.close()
  })

  it("-m serves monitoring; the banner names the server and its version", async () => {
    const m = await freePort()
    const s = await startOurs(["-a", "127.0.0.1", "-p", "-1", "-m", String(m), "-n", "banner"])
    procs.push(s)
    const out = s.output()
    expect(out).toMatch(/^\[\d+\] \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} \[INF\] Starting effect-nats-server$/m)
    expect(out).toContain("[INF]   Name:     banner")
    expect(out).toContain(`Starting http monitor on 127.0.0.1:${m}`)
    const varz = (await fetch(`http://127.0.0.1:${m}/varz`).then((r) => r.json())) as Record<string, unknown>
    expect(varz["server_name"]).toBe("banner")
    expect(varz["port"]).toBe(s.port)
    expect(await fetch(`http://127.0.0.1:${m}/healthz`).then((r) => r.json())).toEqual({ status: "ok" })
  })
})
