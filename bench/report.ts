/**
 * Turning runs into results: medians per (row, implementation), the ours-vs-ref table, and the
 * JSON-lines file. In the ratio column > 1 means "ours is better" for speed: ours/ref for
 * throughput, ref/ours for latency. Memory rows are the exception: their ratio is ours/ref as
 * issue 12 states memory targets (> 1 = ours uses more).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { MemoryResult } from "./memory.js"
import type { LatencyResult, ReqRepResult, RunResult, ThroughputResult } from "./run.js"
import type { Scenario } from "./scenarios.js"
import { fmtCount, fmtFixed, median } from "./stats.js"

export type Impl = "ours" | "ref"

/** Medians over the runs of one implementation on one row. */
export interface ImplSummary {
  runs: number
  okRuns: number
  /** Headline: msgs/s for throughput rows, p99 µs for latency rows, RSS MiB for memory rows. */
  value: number
  /** Memory rows: VmRSS and VmHWM of the server, MiB. */
  rssMiB: number
  hwmMiB: number
  /** Memory rows: RSS growth per connection / subscription, KiB. */
  perItemKiB: number
  mbPerSec: number
  pubMsgsPerSec: number
  subMsgsPerSec: number
  p50: number
  p90: number
  p99: number
  /** Summed over runs; NaN if some run did not get as far as verifying. */
  lost: number
  dup: number
  serverCores: number
  clientCores: number
  otherCores: number
  errors: string[]
}

export const summarize = (results: ReadonlyArray<RunResult>): ImplSummary => {
  const tps = results.filter((r): r is ThroughputResult => r.kind === "throughput")
  const rrs = results.filter((r): r is ReqRepResult | LatencyResult => r.kind === "reqrep" || r.kind === "latency")
  const mems = results.filter((r): r is MemoryResult => r.kind === "memory")
  const okMem = mems.filter((r) => r.ok)
  const ok = results.filter((r) => r.ok)
  const okTp = tps.filter((r) => r.ok)
  const okRr = rrs.filter((r) => r.ok)
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
  return {
    runs: results.length,
    okRuns: ok.length,
    value: tps.length > 0
      ? median(okTp.map((r) => r.msgsPerSec))
      : mems.length > 0
        ? median(okMem.map((r) => r.rssKiB / 1024))
        : median(okRr.map((r) => r.latency.p99)),
    rssMiB: median(okMem.map((r) => r.rssKiB / 1024)),
    hwmMiB: median(okMem.map((r) => r.hwmKiB / 1024)),
    perItemKiB: median(okMem.map((r) => r.perItemKiB)),
    mbPerSec: median(okTp.map((r) => r.mbPerSec)),
    pubMsgsPerSec: median(okTp.map((r) => r.pubMsgsPerSec)),
    subMsgsPerSec: median(okTp.map((r) => r.subMsgsPerSec)),
    p50: median(okRr.map((r) => r.latency.p50)),
    p90: median(okRr.map((r) => r.latency.p90)),
    p99: median(okRr.map((r) => r.latency.p99)),
    lost: sum(results.map((r) => r.lost)),
    dup: sum([...tps.map((r) => r.dup), ...results.flatMap((r) => (r.kind === "latency" ? [r.dup] : []))]),
    serverCores: median(ok.map((r) => r.cpu.server)),
    clientCores: median(ok.map((r) => r.cpu.client)),
    otherCores: median(ok.map((r) => r.cpu.other)),
    errors: results.flatMap((r) => (r.error === undefined ? [] : [r.error]))
  }
}

export interface RowSummary {
  scenario: Scenario
  ours: ImplSummary | undefined
  ref: ImplSummary | undefined
}

/** The ratio column: ours/ref for msgs/s and memory, ref/ours for latency. */
export const ratio = (kind: Scenario["kind"], ours: number, ref: number): number =>
  kind === "throughput" || kind === "memory" ? ours / ref : ref / ours

interface Line {
  row: string
  metric: string
  ours: string
  ref: string
  ratio: string
  mbOurs: string
  mbRef: string
  coresOurs: string
  coresRef: string
  lost: string
  dup: string
  status: string
}

const HEADER: Line = {
  row: "row",
  metric: "metric",
  ours: "ours",
  ref: "ref",
  ratio: "ratio*",
  mbOurs: "MB/s ours",
  mbRef: "MB/s ref",
  coresOurs: "cores s/c/o ours",
  coresRef: "cores s/c/o ref",
  lost: "lost o/r",
  dup: "dup o/r",
  status: "ok o/r"
}

const cores = (s: ImplSummary | undefined): string =>
  s === undefined ? "-" : `${fmtFixed(s.serverCores, 2)}/${fmtFixed(s.clientCores, 2)}/${fmtFixed(s.otherCores, 2)}`
const both = (o: ImplSummary | undefined, r: ImplSummary | undefined, f: (s: ImplSummary) => string): string =>
  `${o === undefined ? "-" : f(o)}/${r === undefined ? "-" : f(r)}`
const count = (x: number): string => (Number.isNaN(x) ? "?" : String(x))

const linesFor = (row: RowSummary): Line[] => {
  const { scenario: sc, ours, ref } = row
  const common = {
    lost: both(ours, ref, (s) => count(s.lost)),
    dup: both(ours, ref, (s) => count(s.dup)),
    status: both(ours, ref, (s) => (s.okRuns === s.runs ? "ok" : `FAIL${s.runs - s.okRuns}`))
  }
  if (sc.kind === "throughput") {
    const o = ours?.value ?? NaN
    const r = ref?.value ?? NaN
    return [
      {
        row: sc.name,
        metric: sc.subs === 0 ? "pub msgs/s" : "msgs/s",
        ours: fmtCount(o),
        ref: fmtCount(r),
        ratio: fmtFixed(ratio(sc.kind, o, r), 2),
        mbOurs: fmtFixed(ours?.mbPerSec ?? NaN, 1),
        mbRef: fmtFixed(ref?.mbPerSec ?? NaN, 1),
        coresOurs: cores(ours),
        coresRef: cores(ref),
        ...common
      }
    ]
  }
  if (sc.kind === "memory") {
    const mem = (label: string, f: (s: ImplSummary) => number, first: boolean, digits = 1): Line => {
      const o = ours === undefined ? NaN : f(ours)
      const r = ref === undefined ? NaN : f(ref)
      return {
        row: first ? sc.name : "",
        metric: label,
        ours: fmtFixed(o, digits),
        ref: fmtFixed(r, digits),
        ratio: `${fmtFixed(ratio(sc.kind, o, r), 2)} o/r`,
        mbOurs: "",
        mbRef: "",
        coresOurs: "",
        coresRef: "",
        ...(first ? { lost: "", dup: "", status: common.status } : { lost: "", dup: "", status: "" })
      }
    }
    const what = sc.load === "idle" ? "1 client" : `${sc.count} ${sc.load}`
    return [
      mem(`RSS MiB, ${what}`, (s) => s.rssMiB, true),
      mem("peak MiB", (s) => s.hwmMiB, false),
      ...(sc.load === "idle" ? [] : [mem(`KiB per ${sc.load === "conns" ? "conn" : "sub"}`, (s) => s.perItemKiB, false, 2)])
    ]
  }
  const pick = (label: string, f: (s: ImplSummary) => number, first: boolean): Line => {
    const o = ours === undefined ? NaN : f(ours)
    const r = ref === undefined ? NaN : f(ref)
    return {
      row: first ? sc.name : "",
      metric: label,
      ours: fmtFixed(o, 0),
      ref: fmtFixed(r, 0),
      ratio: fmtFixed(ratio(sc.kind, o, r), 2),
      mbOurs: "",
      mbRef: "",
      coresOurs: first ? cores(ours) : "",
      coresRef: first ? cores(ref) : "",
      ...(first ? common : { lost: "", dup: "", status: "" })
    }
  }
  return [pick("p50 us", (s) => s.p50, true), pick("p90 us", (s) => s.p90, false), pick("p99 us", (s) => s.p99, false)]
}

export const renderTable = (rows: ReadonlyArray<RowSummary>, runs: number): string => {
  const lines = [HEADER, ...rows.flatMap(linesFor)]
  const keys = Object.keys(HEADER) as Array<keyof Line>
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...lines.map((l) => l[k].length))])) as Record<keyof Line, number>
  const leftAligned = new Set<keyof Line>(["row", "metric"])
  const fmt = (l: Line): string =>
    keys.map((k) => (leftAligned.has(k) ? l[k].padEnd(width[k]) : l[k].padStart(width[k]))).join("  ").trimEnd()
  const out = lines.map(fmt)
  out.splice(1, 0, "-".repeat(out[0]!.length))
  out.push(
    "",
    `* ratio > 1 means ours is better: ours/ref for msgs/s, ref/ours for latency. ${runs > 1 ? `Medians over ${runs} runs.` : "One run."}`,
    "  Memory rows (mem_*) are the exception: ratio \"o/r\" = ours/ref, > 1 means ours uses more. RSS = VmRSS of the server",
    "  process after the load is in place (mem_idle: one client connected), peak = VmHWM.",
    "  msgs/s = messages delivered to all subscribers together per second (publish rate for pub_*); MB/s = 10^6 payload bytes/s.",
    "  cores s/c/o = CPU cores used by the server(s) / this benchmark process / everything else on the host (noise) during the",
    "  timed phase. lost/dup/ok: ours/ref."
  )
  return out.join("\n")
}

/** Appends JSON lines to a results file (created with its folder on first write). */
export class JsonlSink {
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, "")
  }

  write(record: object): void {
    fs.appendFileSync(this.file, JSON.stringify(record, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)) + "\n")
  }
}

export const summaryRecord = (row: RowSummary): object => {
  const { scenario: sc, ours, ref } = row
  return {
    type: "summary",
    row: sc.name,
    kind: sc.kind,
    topology: sc.topology,
    ...(sc.kind === "memory" ? { load: sc.load, count: sc.count } : { size: sc.size, msgs: sc.msgs }),
    metric: sc.kind === "throughput" ? "msgs_per_s" : sc.kind === "memory" ? "rss_mib" : "p99_us",
    ours: ours ?? null,
    ref: ref ?? null,
    ratio: ours !== undefined && ref !== undefined ? ratio(sc.kind, ours.value, ref.value) : null
  }
}

/** How the README names the rows (issue 12's table); other rows keep their bench name. */
const README_LABELS: Record<string, string> = {
  pub_16B: "pub 16 B",
  pubsub_16B: "pub/sub 16 B",
  pubsub_1KB: "pub/sub 1 KB",
  tls_pubsub_1KB: "pub/sub 1 KB over TLS",
  fanout_1x4_16B: "fan-out 1→4, 16 B",
  queue_1x4_16B: "queue 1→4, 16 B",
  reqrep_16B: "request/reply",
  latency_10kps: "one-way latency at 10,000 msgs/s",
  cluster_16B: "cluster 16 B across a route",
  cluster_1KB: "cluster 1 KB across a route",
  cluster_reqrep: "cluster request/reply",
  mem_idle: "RSS idle (one client connected)"
}

const rowLabel = (sc: Scenario): string => {
  if (sc.kind === "memory" && sc.load === "conns") return `RSS at ${sc.count.toLocaleString("en-US")} idle connections`
  if (sc.kind === "memory" && sc.load === "subs") return `RSS at ${sc.count.toLocaleString("en-US")} subscriptions on one connection`
  return README_LABELS[sc.name] ?? sc.name
}

export interface MarkdownContext {
  runs: number
  scale: number
  /** yyyy-mm-dd of the run. */
  date: string
  /** The largest median "other" load of any row (cores used by other processes). */
  otherCores: number
}

/**
 * The table as Markdown, in the shape of the README's performance table: one line per row,
 * latency rows as p50 / p99, memory rows as MiB, and a ratio column (ours/ref for msgs/s and
 * memory, ref/ours for latency), with a line saying how it was measured.
 */
export const renderMarkdown = (rows: ReadonlyArray<RowSummary>, ctx: MarkdownContext): string => {
  const out = ["| row | ours | nats-server 2.9.10 | ratio |", "|---|---|---|---|"]
  for (const { scenario: sc, ours, ref } of rows) {
    const label = rowLabel(sc)
    const failed = (s: ImplSummary | undefined): string => (s !== undefined && s.okRuns < s.runs ? ` (${s.runs - s.okRuns} failed)` : "")
    const f = (s: ImplSummary | undefined, g: (s: ImplSummary) => string): string => (s === undefined ? "-" : g(s) + failed(s))
    if (sc.kind === "throughput") {
      const r = ratio(sc.kind, ours?.value ?? NaN, ref?.value ?? NaN)
      out.push(`| ${label} | ${f(ours, (s) => `${fmtCount(s.value)} msgs/s`)} | ${f(ref, (s) => fmtCount(s.value))} | ${fmtFixed(r, 2)} |`)
    } else if (sc.kind === "memory") {
      const r = ratio(sc.kind, ours?.rssMiB ?? NaN, ref?.rssMiB ?? NaN)
      const mib = (s: ImplSummary): string =>
        `${fmtFixed(s.rssMiB, 0)} MiB${Number.isFinite(s.perItemKiB) ? ` (${fmtFixed(s.perItemKiB, 1)} KiB each)` : ""}`
      out.push(`| ${label} | ${f(ours, mib)} | ${f(ref, mib)} | ${fmtFixed(r, 2)} (ours/ref: lower is better) |`)
    } else {
      const lat = (s: ImplSummary): string => `${fmtFixed(s.p50, 0)} / ${fmtFixed(s.p99, 0)} µs`
      const r50 = ratio(sc.kind, ours?.p50 ?? NaN, ref?.p50 ?? NaN)
      const r99 = ratio(sc.kind, ours?.p99 ?? NaN, ref?.p99 ?? NaN)
      out.push(`| ${label} p50 / p99 | ${f(ours, lat)} | ${f(ref, lat)} | ${fmtFixed(r50, 2)} / ${fmtFixed(r99, 2)} (ref/ours: lower latency is better) |`)
    }
  }
  const how = `Measured ${ctx.date} with \`npm run bench -- --runs ${ctx.runs}${ctx.scale !== 1 ? ` --scale ${ctx.scale}` : ""} --markdown FILE\`` +
    ` (${ctx.runs > 1 ? `medians of ${ctx.runs} runs` : "one run"}; other processes used up to ${fmtFixed(ctx.otherCores, 2)} cores during a row).`
  return [...out, "", how].join("\n")
}
