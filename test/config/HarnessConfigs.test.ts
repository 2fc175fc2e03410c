/**
 * Configs written for nats-server 2.9.10 by client test harnesses: `server_tags` (reported in
 * /varz `tags` as nats-server reports them, checked side by side), a user's `permission` key
 * (nats-server reads it as `permissions`), and the ports file harnesses wait for, named after
 * the program name the server was started as (a symlink named `nats-server`).
 */
import * as Result from "effect/Result"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { configFromString } from "../../src/config/ConfigFile.js"
import { programName } from "../../src/server/ProcessFiles.js"
import { binPath, type ChildServer, natsServerPath, startNatsServer, startOurs, startProcess } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-harness-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const monitorUrl = (p: ChildServer): Promise<string> =>
  p.waitFor(/Starting http monitor on/).then((line) => `http://${/on (\S+)\s*$/.exec(line.trim())![1]}`)

describe("configs written for nats-server", () => {
  it("server_tags: accepted and reported in /varz tags exactly as nats-server reports them", async () => {
    const file = path.join(dir, "tags.conf")
    fs.writeFileSync(file, `listen: 127.0.0.1:-1\nhttp: 127.0.0.1:-1\nserver_tags: ["Region:EU", " b ", "b", "cloud:aws"]\n`)
    const targets = [startOurs(["-c", file])]
    if (natsServerPath !== undefined) targets.push(startNatsServer(["-c", file]))
    const started = await Promise.all(targets)
    procs.push(...started)
    const tags = await Promise.all(started.map(async (p) => ((await (await fetch(`${await monitorUrl(p)}/varz`)).json()) as { tags?: unknown }).tags))
    expect(tags[0]).toEqual(["region:eu", "b", "cloud:aws"])
    if (tags.length > 1) expect(tags[0]).toEqual(tags[1])
    // A single string is one tag; a non-string is refused.
    const one = configFromString(`server_tags: "a:1"\n`, { file: "t.conf" })
    expect(Result.isSuccess(one) && one.success.options.serverTags).toEqual(["a:1"])
    const bad = configFromString(`server_tags: [1]\n`, { file: "t.conf" })
    expect(Result.isFailure(bad) && bad.failure.message).toMatch(/^t\.conf:1:\d+: error parsing tags: unsupported type/)
  })

  it("a user's `permission` (the nats.js harness's spelling) is read as `permissions`, as nats-server 2.9.10 does", () => {
    const user = (key: string) =>
      `authorization {\n  users: [\n    { user: derek, password: foobar, ${key}: { subscribe: "bar", publish: "foo" } }\n  ]\n}\n`
    const as = (key: string) => {
      const r = configFromString(user(key), { file: "t.conf" })
      return Result.isSuccess(r) ? { ok: r.success.options } : { error: r.failure.message.replaceAll(key, "<key>") }
    }
    // Whatever `permissions` does, `permission` and `authorization` do the same.
    expect(as("permission")).toEqual(as("permissions"))
    expect(as("authorization")).toEqual(as("permissions"))
    // …and it is a working permissions block, so the harness's auth config starts.
    expect(as("permission")).toMatchObject({ ok: { authorization: { users: [{ user: "derek", permissions: { publish: { allow: ["foo"] }, subscribe: { allow: ["bar"] } } }] } } })
    // Other unknown keys in a user map stay errors (nats-server: unknown field).
    const unknown = configFromString(user("bogus"), { file: "t.conf" })
    expect(Result.isFailure(unknown) && unknown.failure.message).toMatch(/unknown field "bogus"/)
    if (natsServerPath !== undefined) {
      const file = path.join(dir, "perm.conf")
      fs.writeFileSync(file, user("permission"))
      const r = spawnSync(natsServerPath, ["-t", "-c", file], { encoding: "utf8" })
      expect(r.stderr).toContain("is valid")
    }
    const file = path.join(dir, "perm-ours.conf")
    fs.writeFileSync(file, user("permission"))
    const ours = spawnSync(process.execPath, [binPath, "-t", "-c", file], { encoding: "utf8" })
    expect(ours.stderr).toContain("is valid")
    expect(ours.status).toBe(0)
  })
})

describe("ports file", () => {
  it("is named after the program name: a symlink named nats-server writes nats-server_<pid>.ports", async () => {
    const link = path.join(dir, "nats-server")
    fs.symlinkSync(binPath, link)
    const portsDir = path.join(dir, "ports")
    fs.mkdirSync(portsDir)
    const p = await startProcess(link, ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", portsDir])
    procs.push(p)
    const file = path.join(portsDir, `nats-server_${p.child.pid}.ports`)
    await waitUntil("the ports file", () => fs.existsSync(file))
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ nats: [`nats://127.0.0.1:${p.port}`] })
    p.child.kill("SIGINT")
    await p.exited
    expect(fs.existsSync(file)).toBe(false)
  })

  it("moves with ports_file_dir on SIGHUP, and pid_file is written anew", async () => {
    const [d1, d2] = ["p1", "p2"].map((d) => fs.mkdtempSync(path.join(dir, d)))
    const conf = path.join(dir, "moving.conf")
    const write = (ports: string, pid: string) => fs.writeFileSync(conf, `listen: 127.0.0.1:-1\nports_file_dir: "${ports}"\npid_file: "${pid}"\n`)
    write(d1!, path.join(d1!, "s.pid"))
    const p = await startOurs(["-c", conf])
    procs.push(p)
    const name = `effect-nats-server_${p.child.pid}.ports`
    await waitUntil("ports file in the first dir", () => fs.existsSync(path.join(d1!, name)))
    write(d2!, path.join(d2!, "s.pid"))
    p.child.kill("SIGHUP")
    await p.waitFor(`Reloaded: ports_file_dir = ${d2}`)
    expect(fs.existsSync(path.join(d1!, name))).toBe(false)
    expect(JSON.parse(fs.readFileSync(path.join(d2!, name), "utf8"))).toEqual({ nats: [`nats://127.0.0.1:${p.port}`] })
    expect(fs.readFileSync(path.join(d2!, "s.pid"), "utf8")).toBe(String(p.child.pid))
    p.child.kill("SIGINT")
    await p.exited
    expect(fs.existsSync(path.join(d2!, name))).toBe(false)
  })

  it("programName: argv0 set by a wrapper wins over node; else the script's base name without .js", () => {
    expect(programName("node", "/usr/lib/node_modules/effect-nats-server/bin/effect-nats-server.js")).toBe("effect-nats-server")
    expect(programName("/usr/bin/node", "/tmp/x/nats-server")).toBe("nats-server")
    expect(programName("nats-server", "/repo/bin/effect-nats-server.js")).toBe("nats-server")
    expect(programName("node", "")).toBe("effect-nats-server")
  })
})
