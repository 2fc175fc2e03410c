/**
 * The benchmark's memory rows measure real server processes: the holder child really holds the
 * connections / subscriptions it reports (each confirmed by a PONG), the sample is the server's
 * own /proc entry (not a taskset/prlimit wrapper), and the numbers are positive. Small counts, no
 * timing assertions. Runs against our built server and, when installed, nats-server.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { fdPrefix, openFileLimits, procMemory, runMemory, type MemoryOptions } from "../../bench/memory.js"
import type { MemoryScenario } from "../../bench/scenarios.js"
import { onPath, oursTemplates, refTemplates, type StartOptions } from "../../bench/servers.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
// The compiled holder (globalSetup builds dist when a source is newer).
const holderJs = path.join(repo, "dist/bench/holder.js")
const startOpts: StartOptions = { repo, cpus: undefined, readyTimeoutMs: 30_000 }
const opts: MemoryOptions = { timeoutMs: 30_000, settleMs: 0, holderJs }

const row = (load: MemoryScenario["load"], count: number): MemoryScenario => ({
  kind: "memory",
  name: `mem_${load}`,
  topology: "single",
  description: "",
  load,
  count
})

const impls = [
  { name: "ours", templates: oursTemplates, comm: "node" },
  ...(onPath("nats-server") ? [{ name: "nats-server", templates: refTemplates, comm: "nats-server" }] : [])
]

describe("procMemory / open-file limits", () => {
  it("reads VmRSS and VmHWM of a live process, NaN for a missing one", () => {
    const m = procMemory(process.pid)
    expect(m.rssKiB).toBeGreaterThan(0)
    expect(m.hwmKiB).toBeGreaterThanOrEqual(m.rssKiB)
    expect(procMemory(0x7ffffff0).rssKiB).toBeNaN()
  })

  it("asks for prlimit only beyond the soft limit, and refuses beyond the hard one", () => {
    const { soft, hard } = openFileLimits()
    expect(soft).toBeGreaterThan(0)
    expect(hard).toBeGreaterThanOrEqual(soft)
    expect(fdPrefix(0)).toEqual([])
    if (Number.isFinite(hard)) expect(() => fdPrefix(hard + 1)).toThrow(/hard limit/)
    if (Number.isFinite(soft) && hard > soft + 1000 && onPath("prlimit")) expect(fdPrefix(soft)[0]).toBe("prlimit")
  })
})

describe.each(impls)("memory rows against $name", ({ templates, comm }) => {
  it("idle: one client, the server's own RSS", async () => {
    expect(fs.existsSync(holderJs)).toBe(true)
    const r = await runMemory(row("idle", 1), templates, startOpts, opts)
    expect(r.error).toBeUndefined()
    expect(r.ok).toBe(true)
    expect(r.comm).toBe(comm)
    expect(r.conns).toBe(1)
    expect(r.rssKiB).toBeGreaterThan(1024)
    expect(r.hwmKiB).toBeGreaterThanOrEqual(r.rssKiB)
  })

  it("connections: every one of them held, under a prlimit wrapper that is not what gets measured", async () => {
    const wrapped = {
      single: `prlimit --nofile=4096:4096 -- ${templates.single}`,
      cluster: `prlimit --nofile=4096:4096 -- ${templates.cluster}`
    }
    const useWrapper = onPath("prlimit") && openFileLimits().hard >= 4096
    const r = await runMemory(row("conns", 300), useWrapper ? wrapped : templates, startOpts, opts)
    expect(r.error).toBeUndefined()
    expect(r.ok).toBe(true)
    expect(r.comm).toBe(comm)
    expect(r.conns).toBe(300)
    expect(r.rssKiB).toBeGreaterThan(0)
    expect(Number.isFinite(r.perItemKiB)).toBe(true)
  })

  it("subscriptions: all SUBs processed before the sample", async () => {
    const r = await runMemory(row("subs", 5_000), templates, startOpts, opts)
    expect(r.error).toBeUndefined()
    expect(r.ok).toBe(true)
    expect(r.subs).toBe(5_000)
    expect(r.conns).toBe(1)
    expect(r.rssKiB).toBeGreaterThan(0)
  })
})
