/**
 * Signals on a real server process: SIGHUP reloads the config file, SIGUSR2 enters lame-duck
 * mode, SIGTERM/SIGINT shut down cleanly, `--signal` sends them; pid and ports files.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { binPath, type ChildServer, freePort, startOurs } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-signals-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const writeConf = (name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

describe("signals", () => {
  it("SIGHUP reloads what changed in the file and refuses what cannot change", async () => {
    const port = await freePort()
    const conf = writeConf("reload.conf", `listen: 127.0.0.1:${port}\nmax_payload: 1024\n`)
    const s = await startOurs(["-c", conf])
    procs.push(s)
    const before = await RawClient.connect(s.port)
    expect(before.info["max_payload"]).toBe(1024)
    before.close()

    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 2048\ndebug: true\n`)
    s.child.kill("SIGHUP")
    await s.waitFor("Reloaded server configuration")
    expect(s.output()).toContain("Reloaded: max_payload = 2048")
    expect(s.output()).toContain("Reloaded: debug = true")
    const after = await RawClient.connect(s.port)
    expect(after.info["max_payload"]).toBe(2048)
    after.close()

    // The port cannot change while running: the whole reload is refused, the server keeps going.
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port + 1}\nmax_payload: 4096\n`)
    s.child.kill("SIGHUP")
    await s.waitFor("Failed to reload server configuration: config reload not supported for Port")
    const still = await RawClient.connect(s.port)
    expect(still.info["max_payload"]).toBe(2048)
    still.close()

    // A bad file is reported with file:line:col and changes nothing.
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\nbogus_key: 1\n`)
    s.child.kill("SIGHUP")
    await s.waitFor(/Failed to reload server configuration: .*reload\.conf:2:1: unknown field "bogus_key"/)
    await (await RawClient.connect(s.port)).expectOpen()
  })

  it("SIGUSR2: protocol-1 clients get an INFO with ldm:true, are closed after the grace period, and the server exits", async () => {
    const port = await freePort()
    const conf = writeConf("ldm.conf", `listen: 127.0.0.1:${port}\nlame_duck_grace_period: "1s"\nlame_duck_duration: "30s"\n`)
    const s = await startOurs(["-c", conf])
    procs.push(s)
    const c = await RawClient.connect(s.port)
    c.send('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n')
    await c.expect("PONG\r\n")
    const sentAt = Date.now()
    s.child.kill("SIGUSR2")
    const info = await c.nextNonPing()
    expect(info.startsWith("INFO ")).toBe(true)
    expect(JSON.parse(info.slice(5, -3))).toMatchObject({ ldm: true })
    await s.waitFor("Entering lame duck mode, stop accepting new clients")
    // The client listener is closed: new clients are refused and go elsewhere.
    const refused = await new Promise<string>((resolve) => {
      const probe = net.connect({ host: "127.0.0.1", port: s.port })
      probe.once("connect", () => {
        probe.destroy()
        resolve("connected")
      })
      probe.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"))
    })
    expect(refused).toBe("ECONNREFUSED")
    await c.waitClosed(10_000)
    const closedAfter = Date.now() - sentAt
    expect(closedAfter).toBeGreaterThanOrEqual(900)
    expect(closedAfter).toBeLessThan(10_000)
    expect(await s.exited).toBe(0)
    expect(s.output()).toContain("Closing existing clients")
  })

  it("SIGTERM closes clients and exits with code 1; SIGINT exits with 0 (as nats-server)", async () => {
    const t = await startOurs(["-a", "127.0.0.1", "-p", "-1"])
    procs.push(t)
    const c = await RawClient.connect(t.port)
    t.child.kill("SIGTERM")
    await c.waitClosed()
    expect(await t.exited).toBe(1)
    expect(t.output()).toContain("Server Exiting..")

    const i = await startOurs(["-a", "127.0.0.1", "-p", "-1"])
    procs.push(i)
    i.child.kill("SIGINT")
    expect(await i.exited).toBe(0)
  })

  it("--signal sends to the pid in a pid file; the ports file lists the listeners and is removed at exit", async () => {
    const pidFile = path.join(dir, "server.pid")
    const s = await startOurs(["-a", "127.0.0.1", "-p", "-1", "-P", pidFile, "--ports_file_dir", dir])
    procs.push(s)
    expect(Number(fs.readFileSync(pidFile, "utf8"))).toBe(s.child.pid)
    const portsFile = path.join(dir, `effect-nats-server_${s.child.pid}.ports`)
    expect(JSON.parse(fs.readFileSync(portsFile, "utf8"))).toEqual({ nats: [`nats://127.0.0.1:${s.port}`] })
    const r = spawnSync(process.execPath, [binPath, "--signal", `quit=${pidFile}`], { encoding: "utf8" })
    expect(r.status).toBe(0)
    expect(await s.exited).toBe(0)
    expect(fs.existsSync(portsFile)).toBe(false)
    const bad = spawnSync(process.execPath, [binPath, "--signal", "bogus=1"], { encoding: "utf8" })
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toMatch(/bogus/)
  })
})
