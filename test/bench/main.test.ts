/**
 * The benchmark's command line, end to end on the built harness (dist/bench, built by the global
 * setup): the suite has every row of issue 12's table, and a --quick run of the latency and idle
 * memory rows against our server and nats-server produces verified results, JSON summaries and
 * the Markdown table. Only correctness of the harness — no timing assertions.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { onPath } from "../../bench/servers.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const main = path.join(repo, "dist/bench/main.js")
const bench = (args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [main, ...args], { cwd: repo, encoding: "utf8", timeout: 120_000 })

describe("npm run bench", () => {
  it("--list has every row of the issue's table plus latency and memory", () => {
    const r = bench(["--list"])
    expect(r.status).toBe(0)
    const names = r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => l.split(/\s+/)[0])
    expect(names).toEqual(expect.arrayContaining([
      "pub_16B", "pubsub_16B", "pubsub_1KB", "fanout_1x4_16B", "queue_1x4_16B", "reqrep_16B", "latency_10kps",
      "cluster_16B", "cluster_1KB", "cluster_reqrep", "mem_idle", "mem_conns", "mem_subs"
    ]))
    expect(r.stdout).toMatch(/mem_conns\s+single\s+10000 conns/)
    expect(r.stdout).toMatch(/mem_subs\s+single\s+100000 subs/)
    // Throughput rows time the steady state, after an untimed warm-up of half their count...
    expect(r.stdout).toMatch(/^cluster_1KB\s+cluster\s+200000 msgs .*\(after 100000 untimed\)$/m)
    // ... which --cold leaves out.
    const coldList = bench(["--list", "--cold", "--rows", "^cluster_1KB$"])
    expect(coldList.status).toBe(0)
    expect(coldList.stdout).toMatch(/^cluster_1KB\s+cluster\s+200000 msgs /m)
    expect(coldList.stdout).not.toMatch(/untimed/)
  })

  it("--quick throughput row: the warm-up runs on connections of its own and is not counted", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-main-"))
    try {
      const out = path.join(dir, "r.jsonl")
      const r = bench(["--quick", "--no-pin", "--no-ref", "--rows", "^pubsub_16B$", "--out", out])
      expect(r.stderr + r.stdout).not.toMatch(/FAILED/)
      expect(r.status).toBe(0)
      const runs = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((x) => x["type"] === "run")
      expect(runs).toHaveLength(1)
      const run = runs[0]!
      expect(run["ok"]).toBe(true)
      // --quick: 2,000,000 × 0.02 timed after 1,000,000 × 0.02 untimed; exactly the timed ones
      // are counted, each delivered once.
      expect(run["msgs"]).toBe(40_000)
      expect(run["warmup"]).toBe(20_000)
      expect(run["sent"]).toBe(40_000)
      expect(run["delivered"]).toBe(40_000)
      expect(run["lost"]).toBe(0)
      expect(run["dup"]).toBe(0)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 150_000)

  it.skipIf(!onPath("nats-server"))("--quick latency and idle memory rows: verified runs, summaries and the Markdown table", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-main-"))
    try {
      const out = path.join(dir, "r.jsonl")
      const md = path.join(dir, "t.md")
      const r = bench(["--quick", "--no-pin", "--rows", "^(latency_10kps|mem_idle)$", "--out", out, "--markdown", md])
      expect(r.stderr + r.stdout).not.toMatch(/FAILED/)
      expect(r.status).toBe(0)
      const records = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      const runs = records.filter((x) => x["type"] === "run")
      expect(runs.map((x) => `${String(x["row"])}/${String(x["impl"])}`).sort()).toEqual(
        ["latency_10kps/ours", "latency_10kps/ref", "mem_idle/ours", "mem_idle/ref"]
      )
      for (const run of runs) {
        expect(run["ok"]).toBe(true)
        if (run["row"] === "latency_10kps") {
          const lat = run["latency"] as { count: number; p50: number; p99: number }
          // --quick: 20,000 × 0.02 timed messages, every one delivered and timed.
          expect(lat.count).toBe(400)
          expect(lat.p50).toBeGreaterThan(0)
          expect(lat.p99).toBeGreaterThanOrEqual(lat.p50)
          expect(run["lost"]).toBe(0)
          expect(run["dup"]).toBe(0)
        } else {
          expect(run["rssKiB"] as number).toBeGreaterThan(0)
        }
      }
      const table = fs.readFileSync(md, "utf8")
      expect(table).toMatch(/^\| row \| ours \| nats-server 2\.9\.10 \| ratio \|$/m)
      expect(table).toMatch(/^\| one-way latency at 10,000 msgs\/s p50 \/ p99 \| \d+ \/ \d+ µs \| \d+ \/ \d+ µs \| [\d.]+ \/ [\d.]+ /m)
      expect(table).toMatch(/^\| RSS idle \(one client connected\) \| \d+ MiB \| \d+ MiB \| [\d.]+ /m)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 150_000)
})
