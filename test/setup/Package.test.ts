/**
 * The packed tarball (`npm pack`, as published): its executable runs from the unpacked package
 * (with the dependencies installed next to it, as `npx effect-nats-server` has them), and no
 * source map in it names a file the tarball does not contain.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { type ChildServer, repoRoot, startProcess } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-pack-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const filesUnder = (root: string): Array<string> =>
  fs.readdirSync(root, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name))

describe("the packed package", () => {
  it("runs its executable from the tarball, and its source maps point only at shipped files", async () => {
    // The current build (the test suite's global setup made it current), packed as npm publishes it.
    const packed = spawnSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: repoRoot, encoding: "utf8" })
    expect(packed.status, packed.stderr).toBe(0)
    const filename = (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename
    const untar = spawnSync("tar", ["xzf", path.join(dir, filename), "-C", dir], { encoding: "utf8" })
    expect(untar.status, untar.stderr).toBe(0)
    const pkg = path.join(dir, "package")

    const files = filesUnder(pkg)
    expect(files).toContain(path.join(pkg, "bin/effect-nats-server.js"))
    expect(files).toContain(path.join(pkg, "dist/bin/effect-nats-server.cjs"))
    // V8's code cache for each way the executable runs: through its shebang, and as `node bin/…`.
    expect(files).toContain(path.join(pkg, "dist/bin/effect-nats-server.cjs.cache"))
    expect(files).toContain(path.join(pkg, "dist/bin/effect-nats-server.cjs.--max-semi-space-size=4_--no-lazy-feedback-allocation.cache"))
    for (const map of files.filter((f) => f.endsWith(".map"))) {
      const { sources, sourceRoot } = JSON.parse(fs.readFileSync(map, "utf8")) as { sources: Array<string>; sourceRoot?: string }
      for (const s of sources) expect(fs.existsSync(path.resolve(path.dirname(map), sourceRoot ?? "", s)), `${map} → ${s}`).toBe(true)
    }

    // Dependencies where an install would put them (native addons such as @node-rs/bcrypt are
    // not bundled); nothing of the repository besides them.
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"))
    const server = await startProcess(path.join(pkg, "bin/effect-nats-server.js"), ["-a", "127.0.0.1", "-p", "-1"])
    procs.push(server)
    // Run as npx runs it, through the shebang: node gets the executable's V8 flags.
    const cmdline = fs.readFileSync(`/proc/${server.child.pid}/cmdline`, "utf8").split("\0")
    expect(cmdline).toContain("--max-semi-space-size=4")
    expect(cmdline).toContain("--no-lazy-feedback-allocation")
    const client = await RawClient.connect(server.port)
    expect(client.info["server_name"]).toMatch(/^N[A-Z0-9]{55}$/)
    await client.expectOpen()
    client.close()
  }, 60_000)
})
