/**
 * The README's "Metrics and the mesh page" snippet, run as written — with its fixed ports swapped
 * for free ones: the two `npx effect-nats-server` lines start our binary, the `curl` line runs in
 * bash and its output must match the `# …` lines under it (`…` standing for the server id).
 */
import { execFile } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { type ChildServer, freePort, repoRoot, startOurs } from "../support/servers.js"
import { waitUntilAsync } from "../support/wait.js"

const run = promisify(execFile)

const snippet = (): Array<string> => {
  const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8")
  const at = readme.indexOf("## Metrics and the mesh page")
  expect(at).toBeGreaterThan(0)
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  expect(block).not.toBeNull()
  return block![1]!.trimEnd().split("\n")
}

const hasCurl = existsSync("/usr/bin/curl")

describe.skipIf(!hasCurl)("README: metrics snippet", () => {
  const procs: Array<ChildServer> = []
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop()
  })

  it("starts the two servers and the scrape prints what the README says", async () => {
    const lines = snippet()
    // The README's ports → free ones (only loopback, never fixed ports in tests).
    const ports = [...new Set(lines.join("\n").match(/\b\d{4}\b/g) ?? [])]
    const free = await Promise.all(ports.map(() => freePort()))
    const mapping = new Map(ports.map((p, i) => [p, String(free[i])]))
    const swap = (line: string) => line.replace(/\b\d{4}\b/g, (p) => mapping.get(p) ?? p)

    const starts = lines.filter((l) => l.startsWith("npx effect-nats-server "))
    const commands = lines.filter((l) => l.startsWith("curl "))
    const expected = lines.filter((l) => l.startsWith("# ")).map((l) => l.slice(2))
    expect(starts).toHaveLength(2)
    expect(commands).toHaveLength(1)
    expect(expected).toHaveLength(2)
    for (const line of starts) procs.push(await startOurs(swap(line).split(/\s+/).slice(2)))

    const patterns = expected.map((e) => new RegExp(`^${e.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/…/g, "[A-Z0-9]+")}$`))
    let output = ""
    // The route between the two comes up shortly after they start.
    await waitUntilAsync(`the curl output matches the README:\n${expected.join("\n")}`, async () => {
      const r = await run("bash", ["-c", swap(commands[0]!)]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }))
      output = r.stdout
      const got = output.trimEnd().split("\n")
      return got.length === patterns.length && patterns.every((p, i) => p.test(got[i]!))
    }, 20_000)
    expect(output).toContain("cluster=\"demo\"} 2")
  }, 60_000)
})
