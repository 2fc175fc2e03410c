/**
 * Turning runs into results: medians per (row, implementation), the ours-vs-ref table, and the
 * JSON-lines file. In the ratio column > 1 always means "ours is better": ours/ref for
 * throughput, ref/ours for latency.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { ReqRepResult, RunResult, ThroughputResult } from "./run.js"
import type { Scenario } from "./scenarios.js"
import { fmtCount, fmtFixed, median } from "./stats.js"

export type Impl = "ours" | "ref"

/** Medians over the runs of one implementation on one row. */
export interface ImplSummary {
  runs: number
  okRuns: number
  /** Headline: msgs/s for throughput rows, p99 µs for latency rows. */
  value: number
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
  const rrs = results.filter((r): r is ReqRepResult => r.kind === "reqrep")
  const ok = results.filter((r) => r.ok)
  const okTp = tps.filter((r) => r.ok)
  const okRr = rrs.filter((r) => r.ok)
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
  return {
    runs: results.length,
    okRuns: ok.length,
    value: tps.length > 0 ? median(okTp.map((r) => r.msgsPerSec)) : median(okRr.map((r) => r.latency.p99)),
    mbPerSec: median(okTp.map((r) => r.mbPerSec)),
    pubMsgsPerSec: median(okTp.map((r) => r.pubMsgsPerSec)),
    subMsgsPerSec: median(okTp.map((r) => r.subMsgsPerSec)),
    p50: median(okRr.map((r) => r.latency.p50)),
    p90: median(okRr.map((r) => r.latency.p90)),
    p99: median(okRr.map((r) => r.latency.p99)),
    lost: sum(results.map((r) => r.lost)),
    dup: sum(tps.map((r) => r.dup)),
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

const ratio = (kind: Scenario["kind"], ours: number, ref: number): number =>
  kind === "throughput" ? ours / ref : ref / ours

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
    size: sc.size,
    msgs: sc.msgs,
    metric: sc.kind === "throughput" ? "msgs_per_s" : "p99_us",
    ours: ours ?? null,
    ref: ref ?? null,
    ratio: ours !== undefined && ref !== undefined ? ratio(sc.kind, ours.value, ref.value) : null
  }
}
