/**
 * Benchmark entry point: parses the command line, pins this process and the servers to separate
 * cores, runs every selected row against our server and the reference nats-server (alternating
 * who goes first), prints the table and writes JSON lines to bench/results/<timestamp>.jsonl.
 * Exits 1 if any run lost, duplicated or reordered a message or failed, 2 on usage errors.
 *
 *   node dist/bench/main.js [--rows REGEX] [--runs N] [--scale F] [--ours-is-ref] …  (--help)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { runMemory } from "./memory.js"
import { JsonlSink, renderMarkdown, renderTable, summarize, summaryRecord, type Impl, type RowSummary } from "./report.js"
import { runLatency, runReqRep, runThroughput, type RunOptions, type RunResult } from "./run.js"
import { cold, QUICK_MEMORY_DIVISOR, rowSize, scaled, SUITE, type Scenario } from "./scenarios.js"
import {
  killAllSync,
  onPath,
  oursTemplates,
  pinSelf,
  refTemplates,
  startCluster,
  startStandalone,
  benchCerts,
  tasksetWorks,
  type Deployment,
  type StartOptions,
  type Templates
} from "./servers.js"

/** --quick: message (and warm-up) counts × this, no reruns. */
const QUICK_SCALE = 0.02
const QUICK_SETTLE_MS = 300

const USAGE = `usage: node dist/bench/main.js [options]   (or: npm run bench -- [options])

  --rows REGEX          run only rows whose name matches (e.g. 'pubsub|reqrep')
  --runs N              runs per row and implementation; the table shows medians (default 1)
  --scale F             multiply message counts (e.g. 0.1 for a quick check; default 1)
  --cold                throughput rows without their untimed warm-up (time a fresh server's first messages)
  --quick               one-round smoke of every row: --scale ${QUICK_SCALE} (warm-ups too), --retries 0,
                        memory rows with 1/${QUICK_MEMORY_DIVISOR} of the connections and subscriptions,
                        settling ${QUICK_SETTLE_MS} ms; numbers are not comparable to full runs
  --settle-ms MS        memory rows: pause between "load in place" and the RSS sample (default 1000)
  --markdown FILE       also write the table as Markdown (the README's performance table; - = stdout)
  --timeout S           seconds a run may take before it is reported as failed (default 60)
  --ours TPL            standalone command template for ours    (env BENCH_OURS)
  --ours-cluster TPL    cluster-node command template for ours  (env BENCH_OURS_CLUSTER)
  --ref TPL             standalone template for the reference   (env BENCH_REF)
  --ref-cluster TPL     cluster-node template for the reference (env BENCH_REF_CLUSTER)
  --ours-is-ref         use the reference templates for ours too (validates the benchmark itself)
  --no-ref              run ours only
  --server-cpus LIST    taskset CPU list for servers (default 0 on >= 2 cores)
  --client-cpus LIST    CPU list for this benchmark process (default 1 on >= 2 cores)
  --no-pin              no CPU pinning at all
  --sub-threads N       threads the subscriber connections of a row share (default 1: best when
                        the benchmark has one core; raise it on machines with more)
  --reqrep-threads 1|2  responder and requester in one thread or two (default 1)
  --batch-bytes N       bytes per publisher write (default 65536)
  --window-bytes N      publishers pause while more than N payload+frame bytes are published but
                        not yet received by every subscriber (default 33554432 = half of
                        nats-server's 64 MB slow-consumer limit, which routes do not protect;
                        0 = no limit)
  --max-other CORES     rerun a run during which other processes used more than this many
                        cores (shared machine noise; default 0.3; keeps the quietest attempt)
  --retries N           max reruns per run for --max-other (default 2; 0 = never rerun)
  --out FILE            JSON-lines output (default bench/results/<timestamp>.jsonl)
  --list                print the rows and exit

Templates: placeholders {port} {cport} {routes} {name} {repo}; split on whitespace. Node A of a
cluster has no routes: a {routes} token (and a --routes flag right before it) is then dropped.
Defaults:
  ours         ${oursTemplates.single}
  ours cluster ${oursTemplates.cluster}
  ref          ${refTemplates.single}
  ref cluster  ${refTemplates.cluster}`

interface Cli {
  rows: RegExp
  runs: number
  scale: number
  timeoutMs: number
  ours: Templates
  ref: Templates | undefined
  serverCpus: string | undefined
  clientCpus: string | undefined
  pin: boolean
  batchBytes: number
  subThreads: number
  reqrepThreads: 1 | 2
  windowBytes: number
  maxOther: number
  retries: number
  out: string | undefined
  list: boolean
  quick: boolean
  cold: boolean
  settleMs: number
  markdown: string | undefined
}


class UsageError extends Error {}

const parseCli = (argv: ReadonlyArray<string>): Cli => {
  const env = process.env
  let oursSingle = env["BENCH_OURS"] ?? oursTemplates.single
  let oursCluster = env["BENCH_OURS_CLUSTER"] ?? oursTemplates.cluster
  let refSingle = env["BENCH_REF"] ?? refTemplates.single
  let refCluster = env["BENCH_REF_CLUSTER"] ?? refTemplates.cluster
  let oursIsRef = false
  let noRef = false
  const cli: Omit<Cli, "ours" | "ref"> = {
    rows: /./,
    runs: 1,
    scale: 1,
    timeoutMs: 60_000,
    serverCpus: undefined,
    clientCpus: undefined,
    pin: true,
    batchBytes: 65_536,
    subThreads: 1,
    reqrepThreads: 1,
    windowBytes: 32 * 1024 * 1024,
    maxOther: 0.3,
    retries: 2,
    out: undefined,
    list: false,
    quick: false,
    cold: false,
    settleMs: 1000,
    markdown: undefined
  }
  let retriesGiven = false
  let scaleGiven = false
  let settleGiven = false
  const number = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v)
    if (v === undefined || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} needs a number >= ${min}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case "--rows":
        cli.rows = new RegExp(value())
        break
      case "--runs":
        cli.runs = Math.floor(number(flag, value(), 1))
        break
      case "--scale":
        cli.scale = number(flag, value(), 1e-6)
        scaleGiven = true
        break
      case "--quick":
        cli.quick = true
        break
      case "--cold":
        cli.cold = true
        break
      case "--settle-ms":
        cli.settleMs = Math.floor(number(flag, value(), 0))
        settleGiven = true
        break
      case "--markdown":
        cli.markdown = value()
        break
      case "--timeout":
        cli.timeoutMs = number(flag, value(), 1) * 1000
        break
      case "--ours":
        oursSingle = value()
        break
      case "--ours-cluster":
        oursCluster = value()
        break
      case "--ref":
        refSingle = value()
        break
      case "--ref-cluster":
        refCluster = value()
        break
      case "--ours-is-ref":
        oursIsRef = true
        break
      case "--no-ref":
        noRef = true
        break
      case "--server-cpus":
        cli.serverCpus = value()
        break
      case "--client-cpus":
        cli.clientCpus = value()
        break
      case "--no-pin":
        cli.pin = false
        break
      case "--sub-threads":
        cli.subThreads = Math.floor(number(flag, value(), 1))
        break
      case "--reqrep-threads": {
        const v = value()
        if (v !== "1" && v !== "2") throw new UsageError("--reqrep-threads is 1 or 2")
        cli.reqrepThreads = v === "1" ? 1 : 2
        break
      }
      case "--batch-bytes":
        cli.batchBytes = Math.floor(number(flag, value(), 64))
        break
      case "--window-bytes":
        cli.windowBytes = Math.floor(number(flag, value(), 0))
        break
      case "--max-other":
        cli.maxOther = number(flag, value(), 0)
        break
      case "--retries":
        cli.retries = Math.floor(number(flag, value(), 0))
        retriesGiven = true
        break
      case "--out":
        cli.out = value()
        break
      case "--list":
        cli.list = true
        break
      case "-h":
      case "--help":
        console.log(USAGE)
        process.exit(0)
        break
      default:
        throw new UsageError(`unknown option ${flag}`)
    }
  }
  if (cli.quick) {
    if (!scaleGiven) cli.scale = QUICK_SCALE
    if (!retriesGiven) cli.retries = 0
    if (!settleGiven) cli.settleMs = QUICK_SETTLE_MS
  }
  const ref = { single: refSingle, cluster: refCluster }
  const ours = oursIsRef ? ref : { single: oursSingle, cluster: oursCluster }
  // The reference is optional: without nats-server on PATH the ref columns stay empty.
  const refCmd = refSingle.trim().split(/\s+/)[0] ?? ""
  return { ...cli, ours, ref: noRef || !onPath(refCmd) ? undefined : ref }
}

/** The repository root: the nearest folder above this module with a package.json. */
const findRepo = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir)
    if (up === dir) return process.cwd()
    dir = up
  }
  return dir
}

const timestamp = (): string => new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z")

const describe = (r: RunResult): string => {
  const status = r.ok ? "ok" : `FAILED: ${r.error ?? "?"}`
  if (!r.ok && r.kind === "throughput" && Number.isNaN(r.msgsPerSec)) return status
  if (r.kind === "memory") {
    if (!r.ok && Number.isNaN(r.rssKiB)) return status
    return `RSS ${(r.rssKiB / 1024).toFixed(1)} MiB (peak ${(r.hwmKiB / 1024).toFixed(1)}, at start ${(r.startRssKiB / 1024).toFixed(1)}) with ${r.conns} conns, ${r.subs} subs${Number.isFinite(r.perItemKiB) ? ` (${r.perItemKiB.toFixed(1)} KiB each)` : ""}; set up in ${r.setupMs} ms  ${status}`
  }
  if (!r.ok && (r.kind === "reqrep" || r.kind === "latency") && Number.isNaN(r.latency.p50)) return status
  if (r.kind === "latency") {
    const l = r.latency
    return `p50 ${l.p50.toFixed(0)} p90 ${l.p90.toFixed(0)} p99 ${l.p99.toFixed(0)} max ${l.max.toFixed(0)} us at ${r.rateActual.toFixed(0)} msgs/s (max lag ${r.maxLagMs.toFixed(2)} ms)  lost ${r.lost} dup ${r.dup}  ${status}`
  }
  if (r.kind === "reqrep") {
    const l = r.latency
    return `p50 ${l.p50.toFixed(0)} p90 ${l.p90.toFixed(0)} p99 ${l.p99.toFixed(0)} us  ${status}`
  }
  const waits = (r.windowWaits > 0 ? ` window-waits ${r.windowWaits}` : "") +
    (Number.isFinite(r.msgsPerRead) ? ` msgs/read ${r.msgsPerRead.toFixed(0)}` : "")
  return `${(r.msgsPerSec / 1e6).toFixed(3)}M msgs/s (pub ${(r.pubMsgsPerSec / 1e6).toFixed(3)}M${waits})  lost ${r.lost} dup ${r.dup}  cores s/c/o ${r.cpu.server.toFixed(2)}/${r.cpu.client.toFixed(2)}/${r.cpu.other.toFixed(2)}  ${status}`
}

const main = async (): Promise<number> => {
  let cli: Cli
  try {
    cli = parseCli(process.argv.slice(2))
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`)
      return 2
    }
    throw err
  }
  const rows = SUITE.filter((s) => cli.rows.test(s.name)).map((s) => scaled(cli.cold ? cold(s) : s, cli.scale, cli.quick))
  if (cli.list) {
    for (const s of rows) {
      const unit = s.kind === "memory" ? (s.load === "subs" ? "subs " : "conns") : "msgs "
      const warm = s.kind === "memory" || s.warmup === 0 ? "" : ` (after ${s.warmup} untimed)`
      console.log(`${s.name.padEnd(16)} ${s.topology.padEnd(8)} ${String(rowSize(s)).padStart(9)} ${unit}  ${s.description}${warm}`)
    }
    return 0
  }
  if (rows.length === 0) {
    console.error(`no row matches ${cli.rows}`)
    return 2
  }

  const repo = findRepo()
  const cpus = os.availableParallelism()
  let serverCpus = cli.serverCpus
  let clientCpus = cli.clientCpus
  if (!cli.pin || !tasksetWorks()) {
    if (cli.pin) console.error("note: taskset not usable; servers and clients are not pinned")
    serverCpus = undefined
    clientCpus = undefined
  } else if (cpus >= 2) {
    serverCpus ??= "0"
    clientCpus ??= "1"
  }
  if (clientCpus !== undefined && !pinSelf(clientCpus)) {
    console.error(`note: could not pin the benchmark to CPUs ${clientCpus}`)
    clientCpus = undefined
  }

  const out = cli.out ?? path.join(repo, "bench", "results", `${timestamp()}.jsonl`)
  const sink = new JsonlSink(out)
  const impls: Impl[] = cli.ref === undefined ? ["ours"] : ["ours", "ref"]
  const templates: Record<Impl, Templates | undefined> = { ours: cli.ours, ref: cli.ref }
  const startOpts: StartOptions = { repo, cpus: serverCpus, readyTimeoutMs: 20_000 }
  const runOpts: RunOptions = { timeoutMs: cli.timeoutMs, batchBytes: cli.batchBytes, subThreads: cli.subThreads, reqrepThreads: cli.reqrepThreads, windowBytes: cli.windowBytes }
  sink.write({
    type: "config",
    time: new Date().toISOString(),
    node: process.version,
    cpus,
    serverCpus: serverCpus ?? null,
    clientCpus: clientCpus ?? null,
    runs: cli.runs,
    scale: cli.scale,
    ours: cli.ours,
    ref: cli.ref ?? null
  })
  console.error(
    `bench: ${rows.length} rows x ${cli.runs} runs x [${impls.join(", ")}]; servers on CPU ${serverCpus ?? "any"}, clients on CPU ${clientCpus ?? "any"}`
  )
  if (cli.ref === undefined) console.error("note: no reference server (nats-server not on PATH or --no-ref)")

  const results = new Map<string, Record<Impl, RunResult[]>>()
  for (const s of rows) results.set(s.name, { ours: [], ref: [] })

  for (let run = 0; run < cli.runs; run++) {
    for (const [rowIndex, sc] of rows.entries()) {
      // Alternate who goes first, so neither always runs on a machine the other just warmed up.
      const order = (rowIndex + run) % 2 === 0 ? impls : [...impls].reverse()
      for (const impl of order) {
        // On a shared machine, other jobs can steal the cores mid-run: rerun such runs and keep
        // the quietest attempt. A failed run is never retried away.
        const attempts: Array<{ result: RunResult; record: object }> = []
        for (let attempt = 0; attempt <= cli.retries; attempt++) {
          const { result, argv } = sc.kind === "memory"
            ? { result: await runMemory(sc, templates[impl]!, startOpts, { timeoutMs: cli.timeoutMs, settleMs: cli.settleMs }), argv: [] }
            : await runOnce(sc, templates[impl]!, startOpts, runOpts)
          const size = sc.kind === "memory" ? {} : { size: sc.size, warmup: sc.warmup }
          attempts.push({ result, record: { row: sc.name, impl, run: run + 1, attempt: attempt + 1, topology: sc.topology, ...size, msgs: rowSize(sc), servers: argv, ...result } })
          const disturbed = result.ok && result.cpu.other > cli.maxOther
          console.error(`  ${sc.name.padEnd(16)} ${impl.padEnd(4)} run ${run + 1}: ${describe(result)}${disturbed ? `  (other load ${result.cpu.other.toFixed(2)} cores)` : ""}`)
          if (!disturbed) break
        }
        const failed = attempts.find((a) => !a.result.ok)
        const kept = failed ?? attempts.reduce((a, b) => (b.result.cpu.other < a.result.cpu.other ? b : a))
        for (const a of attempts) sink.write({ type: a === kept ? "run" : "disturbed", ...a.record })
        results.get(sc.name)![impl].push(kept.result)
      }
    }
  }

  const summaries: RowSummary[] = rows.map((sc) => {
    const byImpl = results.get(sc.name)!
    return {
      scenario: sc,
      ours: byImpl.ours.length > 0 ? summarize(byImpl.ours) : undefined,
      ref: byImpl.ref.length > 0 ? summarize(byImpl.ref) : undefined
    }
  })
  for (const s of summaries) sink.write(summaryRecord(s))
  console.log(renderTable(summaries, cli.runs))
  console.log(`\nresults: ${out}`)
  if (cli.markdown !== undefined) {
    const md = renderMarkdown(summaries, {
      runs: cli.runs,
      scale: cli.scale,
      date: new Date().toISOString().slice(0, 10),
      otherCores: Math.max(0, ...summaries.flatMap((s) => [s.ours?.otherCores ?? 0, s.ref?.otherCores ?? 0]).filter(Number.isFinite))
    })
    if (cli.markdown === "-") console.log(`\n${md}`)
    else {
      fs.writeFileSync(cli.markdown, md + "\n")
      console.error(`markdown table: ${cli.markdown}`)
    }
  }

  const failed = [...results.values()].flatMap((r) => [...r.ours, ...r.ref]).filter((r) => !r.ok)
  if (failed.length > 0) {
    console.error(`\n${failed.length} run(s) failed (loss, duplicates, reordering or errors):`)
    for (const r of failed) console.error(`  ${r.error ?? "?"}`)
    return 1
  }
  return 0
}

/** Starts fresh servers for one run (no state carried over from other rows), runs, stops them. */
const runOnce = async (
  sc: Exclude<Scenario, { kind: "memory" }>,
  templates: Templates,
  startOpts: StartOptions,
  runOpts: RunOptions
): Promise<{ result: RunResult; argv: ReadonlyArray<ReadonlyArray<string>> }> => {
  let dep: Deployment
  try {
    dep = sc.topology === "single"
      ? await startStandalone(templates, startOpts, sc.kind === "throughput" && sc.tls === true ? benchCerts() : undefined)
      : await startCluster(templates, startOpts)
  } catch (err) {
    const error = `server start failed: ${err instanceof Error ? err.message : String(err)}`
    const nan = { server: NaN, client: NaN, other: NaN, wallS: NaN }
    const noLatency = { count: 0, p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN }
    const result: RunResult = sc.kind === "throughput"
      ? { kind: "throughput", ok: false, error, sent: 0, delivered: 0, pubMsgsPerSec: NaN, subMsgsPerSec: NaN, msgsPerSec: NaN, mbPerSec: NaN, lost: NaN, dup: 0, ooo: 0, invalid: 0, perSub: [], msgsPerRead: NaN, windowWaits: 0, cpu: nan }
      : sc.kind === "latency"
        ? { kind: "latency", ok: false, error, latency: noLatency, lost: NaN, dup: 0, rateActual: NaN, maxLagMs: NaN, cpu: nan }
        : { kind: "reqrep", ok: false, error, latency: noLatency, lost: NaN, mismatched: 0, cpu: nan }
    return { result, argv: [] }
  }
  try {
    const result: RunResult = sc.kind === "throughput"
      ? await runThroughput(sc, dep, runOpts)
      : sc.kind === "latency"
        ? await runLatency(sc, dep, runOpts)
        : await runReqRep(sc, dep, runOpts)
    for (const s of dep.servers) {
      if (s.exited()) {
        result.ok = false
        result.error = `${result.error === undefined ? "" : `${result.error}; `}server ${s.name} exited during the run:\n${s.logTail()}`
      } else if (!result.ok) {
        // Why a server dropped a connection (e.g. "Slow Consumer Detected") is in its log.
        const telling = s.logTail().split("\n").filter((l) => /slow consumer|error|fatal|panic|exceeded/i.test(l)).slice(-3)
        if (telling.length > 0) result.error = `${result.error ?? ""}\n    server ${s.name}: ${telling.join("\n    server " + s.name + ": ")}`
      }
    }
    return { result, argv: dep.servers.map((s) => s.argv) }
  } finally {
    await dep.stop()
  }
}

process.on("exit", killAllSync)
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    killAllSync()
    process.exit(130)
  })
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    console.error(err)
    killAllSync()
    process.exitCode = 1
  }
)
