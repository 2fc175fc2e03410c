/**
 * `npm run chaos -- --rounds N [--seed S] [--mode ours|mixed|both] [--topology seed|full]
 * [--max-hold MS] [--rate R]`: seeded random fault schedules against a 3-node cluster of ours
 * and against a mixed one (node 2 of 3 is real nats-server), under steady publish load.
 *
 * Each round is one fault — SIGKILL + restart, SIGSTOP/SIGCONT, route reset or silent route drop
 * between a random pair — held for a random time after the peers noticed it, then ended. It
 * prints every fault's heal time (fault end → every node routed to every other with the peers'
 * interest) and a summary per fault kind, and exits non-zero on any duplicate, any loss outside
 * the fault windows or a cluster that does not heal within the deadline. The same seed gives the
 * same schedule (not the same timings: the machine decides those).
 */
import { haveNatsServer } from "../support/ChaosCluster.js"
import { ChaosRun, type Fault, type FaultKind, type FaultResult } from "../support/ChaosRun.js"
import type { SeqReport } from "../support/SeqChecker.js"

const argv = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback
}
const rounds = Number(arg("rounds", "12"))
const seed = Number(arg("seed", String(Date.now() % 100_000)))
const mode = arg("mode", "both")
const topology = arg("topology", "seed") as "seed" | "full"
const maxHold = Number(arg("max-hold", "2000"))
const rate = Number(arg("rate", "200"))
if (!Number.isInteger(rounds) || rounds < 1 || !["ours", "mixed", "both"].includes(mode) || !["seed", "full"].includes(topology)) {
  console.error("usage: npm run chaos -- --rounds N [--seed S] [--mode ours|mixed|both] [--topology seed|full] [--max-hold MS] [--rate R]")
  process.exit(2)
}

/** mulberry32: a small seeded PRNG. */
const prng = (s: number) => () => {
  s = (s + 0x6d2b79f5) | 0
  let t = Math.imul(s ^ (s >>> 15), 1 | s)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const KINDS: ReadonlyArray<FaultKind> = ["kill", "freeze", "reset", "drop"]

const schedule = (s: number): Array<{ fault: Fault; gapMs: number }> => {
  const rnd = prng(s)
  const pick = (n: number) => Math.floor(rnd() * n)
  return Array.from({ length: rounds }, () => {
    const kind = KINDS[pick(KINDS.length)]!
    const a = pick(3)
    const b = (a + 1 + pick(2)) % 3
    const holdMs = Math.round(rnd() * maxHold)
    const fault: Fault = kind === "reset" || kind === "drop" ? { kind, a, b, holdMs } : { kind, a, holdMs }
    return { fault, gapMs: Math.round(rnd() * 1000) }
  })
}

interface Outcome {
  readonly name: string
  readonly results: ReadonlyArray<FaultResult>
  readonly report: SeqReport | undefined
  readonly error: string | undefined
}

const runOne = async (name: string, impls: ReadonlyArray<"ours" | "nats">): Promise<Outcome> => {
  const plan = schedule(seed)
  console.log(`\n== ${name}: ${impls.join(", ")} (${topology} topology), seed ${seed}, ${rounds} rounds`)
  const run = await ChaosRun.start({
    nodes: impls.map((impl, i) => ({ name: impl === "nats" ? `N${i}` : "ABC"[i]!, impl })),
    topology,
    pingInterval: "1s",
    debug: process.env["CHAOS_LOGS"] !== undefined
  }, { rate, log: (l) => console.log(`  ${l}`) })
  let error: string | undefined
  let report: SeqReport | undefined
  try {
    for (const { fault, gapMs } of plan) {
      await run.inject(fault)
      await new Promise((r) => setTimeout(r, gapMs))
    }
  } catch (e) {
    error = (e as Error).message
    console.log(`  FAILED: ${error}`)
  }
  try {
    report = await run.finish()
  } finally {
    await run.stop()
  }
  return { name, results: run.results, report, error }
}

const stats = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return s.length === 0 ? "-" : `n=${s.length} median ${q(0.5)} p90 ${q(0.9)} max ${s[s.length - 1]} ms`
}

const outcomes: Array<Outcome> = []
if (mode !== "mixed") outcomes.push(await runOne("ours", ["ours", "ours", "ours"]))
if (mode !== "ours") {
  if (!haveNatsServer) console.log("\n(nats-server not installed: mixed run skipped)")
  else outcomes.push(await runOne("mixed", ["ours", "nats", "ours"]))
}

console.log(`\n== heal times (fault end → full mesh + interest), seed ${seed}, ${topology} topology`)
for (const kind of KINDS) {
  console.log(`${kind.padEnd(6)} ${outcomes.map((o) => `${o.name}: ${stats(o.results.filter((r) => r.fault.kind === kind).map((r) => r.healMs))}`).join("   |   ")}`)
}
console.log(`\n== detection times (fault start → the peers dropped the route)`)
for (const kind of KINDS) {
  console.log(`${kind.padEnd(6)} ${outcomes.map((o) => `${o.name}: ${stats(o.results.filter((r) => r.fault.kind === kind).map((r) => r.detectMs))}`).join("   |   ")}`)
}
let failed = false
console.log("")
for (const o of outcomes) {
  const r = o.report
  if (r !== undefined) {
    console.log(`${o.name}: published ${r.published.reduce((a, b) => a + b, 0)}, received ${r.received}, duplicates ${r.duplicates}, reordered ${r.reordered}, lost inside windows ${r.lostInsideWindows}, lost outside windows ${r.lostOutsideTotal}`)
    if (r.lostOutsideTotal > 0) {
      console.log(`  lost outside windows: ${r.lostOutsideRanges.slice(0, 10).join(", ")}`)
      console.log(`  windows: ${r.windows.map((w) => `${w.label} pub${w.pub} (${w.lo},${w.hi}]`).join(", ")}`)
    }
  }
  if (o.error !== undefined || r === undefined || r.duplicates > 0 || r.lostOutsideTotal > 0) failed = true
}
console.log(failed ? "FAILED" : "OK")
process.exit(failed ? 1 : 0)
