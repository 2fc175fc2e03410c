/**
 * Runs one scenario against one deployment: starts the worker threads (publishers and subscribers
 * apart), waits for their handshakes, probes until every subscriber sees traffic, times the run,
 * then collects and verifies what every subscriber received.
 *
 * Throughput is measured on the delivery side, as natsbench does: messages delivered to all
 * subscribers together (distinct per subscriber) from the first publish to the moment the last
 * delivery group had everything. The publish rate (up to the publishers' final PING/PONG) is kept
 * too and is the headline for publish-only rows.
 */
import { Worker } from "node:worker_threads"
import { sleep } from "./client.js"
import { nowMs, type Command, type Progress, type Report, type SubscriberConn, type WorkerSpec } from "./messages.js"
import type { MemoryResult } from "./memory.js"
import type { CpuUse } from "./stats.js"
export type { CpuUse } from "./stats.js"
import type { LatencyScenario, ReqRepScenario, ThroughputScenario } from "./scenarios.js"
import type { Deployment } from "./servers.js"
import { hostBusySeconds, processCpuSeconds } from "./servers.js"
import { summarizeLatencies, type LatencySummary } from "./stats.js"
import { verifyGroup, type GroupVerdict, type SeqReport } from "./verify.js"

export interface RunOptions {
  timeoutMs: number
  batchBytes: number
  /** Threads the subscriber connections of a row are spread over. */
  subThreads: number
  /** 1: responder and requester share a thread; 2: a thread each. */
  reqrepThreads: 1 | 2
  /** Publisher flow-control window in bytes (0 = off); see worker.ts. */
  windowBytes: number
}


export interface ThroughputResult {
  kind: "throughput"
  ok: boolean
  error?: string
  sent: number
  delivered: number
  pubMsgsPerSec: number
  subMsgsPerSec: number
  /** The row's headline: delivery rate, or publish rate when there are no subscribers. */
  msgsPerSec: number
  mbPerSec: number
  lost: number
  dup: number
  ooo: number
  invalid: number
  /** Distinct messages per subscriber (shows that every queue member was used). */
  perSub: number[]
  /** Average messages per subscriber socket read (larger = the server batches its writes more). */
  msgsPerRead: number
  /** Times a publisher paused (1 ms each) because of the flow-control window. */
  windowWaits: number
  cpu: CpuUse
}

export interface ReqRepResult {
  kind: "reqrep"
  ok: boolean
  error?: string
  latency: LatencySummary
  lost: number
  mismatched: number
  cpu: CpuUse
}

/** One-way latency at a fixed rate: send (just before the write) to arrival in the subscriber, µs. */
export interface LatencyResult {
  kind: "latency"
  ok: boolean
  error?: string
  latency: LatencySummary
  lost: number
  dup: number
  /** Timed messages per second actually written (the schedule's rate unless the publisher fell behind). */
  rateActual: number
  /** Worst delay of a timed write behind its schedule (ms). */
  maxLagMs: number
  cpu: CpuUse
}

export type RunResult = ThroughputResult | ReqRepResult | LatencyResult | MemoryResult

const workerUrl = new URL("./worker.js", import.meta.url)

/** One worker thread and the reports it sent, awaitable by type. */
class Member {
  readonly worker: Worker
  private readonly inbox: Report[] = []
  private waiters: Array<{ type: Report["type"]; resolve: (r: Report) => void }> = []
  private readonly listeners = new Map<Report["type"], (r: Report) => void>()
  private exited = false

  constructor(spec: WorkerSpec, private readonly onFailure: (err: Error) => void) {
    this.worker = new Worker(workerUrl, { workerData: spec })
    this.worker.on("message", (r: Report) => {
      if (r.type === "error") {
        onFailure(new Error(`${spec.role}: ${r.message}`))
        return
      }
      const listener = this.listeners.get(r.type)
      if (listener !== undefined) {
        listener(r)
        return
      }
      const i = this.waiters.findIndex((w) => w.type === r.type)
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(r)
      else this.inbox.push(r)
    })
    this.worker.on("error", (err) => onFailure(new Error(`${spec.role} worker crashed: ${err.message}`)))
    this.worker.on("exit", () => (this.exited = true))
  }

  next<T extends Report["type"]>(type: T): Promise<Extract<Report, { type: T }>> {
    const i = this.inbox.findIndex((r) => r.type === type)
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as Extract<Report, { type: T }>)
    return new Promise((resolve) => this.waiters.push({ type, resolve: resolve as (r: Report) => void }))
  }

  /** Handles every report of `type` (instead of queueing it for `next`). */
  on<T extends Report["type"]>(type: T, f: (r: Extract<Report, { type: T }>) => void): void {
    this.listeners.set(type, f as (r: Report) => void)
  }

  post(c: Command): void {
    this.worker.postMessage(c)
  }

  /** Asks the worker to close its connection; terminates it if it does not exit promptly. */
  async stop(): Promise<void> {
    if (this.exited) return
    const exit = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()))
    this.post({ type: "finish" })
    const t = setTimeout(() => void this.worker.terminate(), 2000)
    await exit
    clearTimeout(t)
  }
}

/**
 * A set of workers whose first failure aborts whatever the run is waiting for: every wait is
 * raced against `failed`.
 */
class Team {
  readonly members: Member[] = []
  private fail!: (err: Error) => void
  readonly failed: Promise<never> = new Promise<never>((_, reject) => (this.fail = reject))

  constructor() {
    this.failed.catch(() => {})
  }

  spawn(spec: WorkerSpec): Member {
    const m = new Member(spec, (err) => this.fail(err))
    this.members.push(m)
    return m
  }

  /** Waits for `p`, failing on a worker failure or after `ms`. */
  async within<A>(p: Promise<A>, ms: number, what: string): Promise<A> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms)
    })
    try {
      return await Promise.race([p, this.failed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()))
  }
}

const cpuMeter = (deployment: Deployment) => {
  const pids = deployment.servers.map((s) => s.pid)
  const server0 = pids.reduce((a, p) => a + processCpuSeconds(p), 0)
  const client0 = process.cpuUsage()
  const host0 = hostBusySeconds()
  const t0 = nowMs()
  return (): CpuUse => {
    const wallS = (nowMs() - t0) / 1000
    const server = pids.reduce((a, p) => a + processCpuSeconds(p), 0) - server0
    const c = process.cpuUsage(client0)
    const client = (c.user + c.system) / 1e6
    const other = Math.max(0, hostBusySeconds() - host0 - server - client)
    return { server: server / wallS, client: client / wallS, other: other / wallS, wallS }
  }
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err))

/** After the last group completed: a short untimed pause that lets late duplicates show up. */
const SETTLE_MS = 200
/** With all publishers done, a run whose deliveries make no progress for this long has lost messages. */
const IDLE_MS = 3000

/**
 * A throughput row: its warm-up phase (untimed, when `sc.warmup > 0`), then the timed phase on new
 * connections. A warm-up that loses, duplicates or stalls fails the row like the timed phase would.
 */
export const runThroughput = async (
  sc: ThroughputScenario,
  dep: Deployment,
  opts: RunOptions
): Promise<ThroughputResult> => {
  if (sc.warmup > 0) {
    const warm = await throughputPhase({ ...sc, msgs: sc.warmup }, dep, opts)
    if (!warm.ok) return { ...warm, error: `warm-up: ${warm.error ?? "failed"}` }
  }
  return throughputPhase(sc, dep, opts)
}

const throughputPhase = async (
  sc: ThroughputScenario,
  dep: Deployment,
  opts: RunOptions
): Promise<ThroughputResult> => {
  const groupCount = sc.subs === 0 ? 0 : sc.queue ? 1 : sc.subs
  const progress: Progress = {
    buffer: new SharedArrayBuffer(4 * (groupCount + sc.pubs)),
    groups: groupCount,
    pubs: sc.pubs
  }
  const counters = new Int32Array(progress.buffer)
  // Short like natsbench's: subject length is bytes the server parses per message, so it shifts results.
  const subject = "bench"
  const counts = Array.from({ length: sc.pubs }, () => sc.msgs)
  const expected = sc.msgs * sc.pubs
  const frameBytes = Buffer.byteLength(`PUB ${subject} ${sc.size}\r\n`) + sc.size + 2
  const window = opts.windowBytes > 0 ? Math.max(1, Math.floor(opts.windowBytes / frameBytes)) : 0
  const team = new Team()
  const tlsCa = dep.tlsCa !== undefined ? { tlsCa: dep.tlsCa } : {}
  const subs: Member[] = []
  const pubs: Member[] = []
  let meter: (() => CpuUse) | undefined
  try {
    const threads = Math.min(Math.max(1, opts.subThreads), sc.subs)
    const conns: SubscriberConn[][] = Array.from({ length: threads }, () => [])
    for (let i = 0; i < sc.subs; i++) {
      const c = { index: i, sid: i + 1, group: sc.queue ? 0 : i, expected }
      conns[i % threads]!.push(sc.queue ? { ...c, queue: "workers" } : c)
    }
    for (const c of conns) {
      subs.push(team.spawn({ role: "sub", port: dep.a.port, ...tlsCa, subject, size: sc.size, counts, conns: c, progress }))
    }
    // Probe receipts (one per subscriber) and group completions arrive from whichever thread.
    const probed = new Set<number>()
    const completedAt = new Map<number, number>()
    let allProbed = (): void => {}
    let allComplete = (): void => {}
    const probesDone = new Promise<void>((resolve) => (allProbed = resolve))
    const groupsDone = new Promise<void>((resolve) => (allComplete = resolve))
    if (groupCount === 0) allComplete()
    for (const m of subs) {
      m.on("probe-seen", (r) => {
        probed.add(r.index)
        if (probed.size === sc.subs) allProbed()
      })
      m.on("complete", (r) => {
        completedAt.set(r.group, r.t)
        if (completedAt.size === groupCount) allComplete()
      })
    }
    await team.within(Promise.all(subs.map((m) => m.next("ready"))), 20_000, "subscribers ready")
    for (let p = 0; p < sc.pubs; p++) {
      pubs.push(
        team.spawn({
          role: "pub",
          port: dep.b.port,
          ...tlsCa,
          subject,
          size: sc.size,
          count: sc.msgs,
          pubId: p,
          batchBytes: opts.batchBytes,
          window,
          progress
        })
      )
    }
    await team.within(Promise.all(pubs.map((m) => m.next("ready"))), 20_000, "publishers ready")

    if (subs.length > 0) {
      for (const p of pubs) p.post({ type: "probe" })
      await team.within(probesDone, 30_000, "probe messages reach every subscriber")
    }

    meter = cpuMeter(dep)
    for (const p of pubs) p.post({ type: "go" })
    const pubDone = Promise.all(pubs.map((m) => m.next("pub-done")))
    let pubResults: Array<Extract<Report, { type: "pub-done" }>> = []
    let complete = false
    pubDone.then((r) => (pubResults = r), () => {})
    groupsDone.then(() => (complete = true), () => {})

    // Wait for everything, or for deliveries to stall once publishing is over, or the timeout.
    const deadline = Date.now() + opts.timeoutMs
    let lastTotal = -1
    let lastChange = Date.now()
    let stalled = false
    await team.within(
      (async () => {
        while (pubResults.length < pubs.length || !complete) {
          await Promise.race([sleep(50), pubDone.then(() => groupsDone)])
          if (complete && pubResults.length === pubs.length) break
          let total = 0
          for (let g = 0; g < groupCount; g++) total += Atomics.load(counters, g)
          if (total !== lastTotal) {
            lastTotal = total
            lastChange = Date.now()
          }
          const publishingOver = pubResults.length === pubs.length
          if ((publishingOver && Date.now() - lastChange > IDLE_MS) || Date.now() > deadline) {
            stalled = true
            break
          }
        }
      })(),
      opts.timeoutMs + 10_000,
      "run"
    )
    const cpu = meter()
    if (subs.length > 0) await sleep(SETTLE_MS)

    for (const m of subs) m.post({ type: "report" })
    const results = (await team.within(Promise.all(subs.map((m) => m.next("sub-result"))), 10_000, "subscriber reports"))
      .flatMap((r) => r.results)
      .sort((a, b) => a.index - b.index)
    const reports: SeqReport[] = results.map((r) => r.report)
    const verdicts: GroupVerdict[] = sc.queue
      ? [verifyGroup(reports, counts)]
      : reports.map((r) => verifyGroup([r], counts))
    const sum = (f: (v: GroupVerdict) => number): number => verdicts.reduce((a, v) => a + f(v), 0)

    const sent = pubResults.reduce((a, r) => a + r.sent, 0)
    const start = Math.min(...pubResults.map((r) => r.t0))
    const pubEnd = Math.max(...pubResults.map((r) => r.t1))
    const delivered = reports.reduce((a, r) => a + r.unique, 0)
    const subEnd = complete && groupCount > 0
      ? Math.max(...completedAt.values())
      : Math.max(...results.map((r) => r.last))
    const pubMsgsPerSec = pubResults.length === pubs.length ? (sent / (pubEnd - start)) * 1000 : NaN
    const subMsgsPerSec = subs.length > 0 ? (delivered / (subEnd - start)) * 1000 : NaN
    const msgsPerSec = subs.length > 0 ? subMsgsPerSec : pubMsgsPerSec
    const perSub = reports.map((r) => r.unique)
    const lost = sum((v) => v.lost)
    const dup = sum((v) => v.dup)
    const ooo = sum((v) => v.ooo)
    const invalid = sum((v) => v.invalid)
    const unused = sc.queue && perSub.some((n) => n === 0)
    const problems: string[] = []
    if (stalled) problems.push(pubResults.length < pubs.length ? "publishing timed out" : "deliveries stalled")
    if (lost > 0) problems.push(`${lost} lost`)
    if (dup > 0) problems.push(`${dup} duplicated`)
    if (ooo > 0) problems.push(`${ooo} out of order`)
    if (invalid > 0) problems.push(`${invalid} invalid`)
    if (unused) problems.push(`a queue member received nothing (${perSub.join("/")})`)
    return {
      kind: "throughput",
      ok: problems.length === 0,
      ...(problems.length > 0 ? { error: problems.join(", ") } : {}),
      sent,
      delivered,
      pubMsgsPerSec,
      subMsgsPerSec,
      msgsPerSec,
      mbPerSec: (msgsPerSec * sc.size) / 1e6,
      lost,
      dup,
      ooo,
      invalid,
      perSub,
      msgsPerRead: delivered / Math.max(1, results.reduce((a, r) => a + r.reads, 0)),
      windowWaits: pubResults.reduce((a, r) => a + r.windowWaits, 0),
      cpu
    }
  } catch (err) {
    return {
      kind: "throughput",
      ok: false,
      error: errorMessage(err),
      sent: 0,
      delivered: 0,
      pubMsgsPerSec: NaN,
      subMsgsPerSec: NaN,
      msgsPerSec: NaN,
      mbPerSec: NaN,
      // Unknown: the run did not get as far as verification.
      lost: NaN,
      dup: 0,
      ooo: 0,
      invalid: 0,
      perSub: [],
      msgsPerRead: NaN,
      windowWaits: 0,
      cpu: meter?.() ?? { server: NaN, client: NaN, other: NaN, wallS: NaN }
    }
  } finally {
    await team.stopAll()
  }
}

export const runReqRep = async (sc: ReqRepScenario, dep: Deployment, opts: RunOptions): Promise<ReqRepResult> => {
  const subject = "bench"
  const team = new Team()
  let meter: (() => CpuUse) | undefined
  try {
    const responderSpec = { role: "responder", port: dep.a.port, subject } as const
    const requesterSpec = {
      role: "requester",
      port: dep.b.port,
      subject,
      size: sc.size,
      count: sc.msgs,
      warmup: sc.warmup,
      timeoutMs: opts.timeoutMs
    } as const
    let requester: Member
    if (opts.reqrepThreads === 1) {
      requester = team.spawn({ role: "reqrep", responder: responderSpec, requester: requesterSpec })
    } else {
      const responder = team.spawn(responderSpec)
      await team.within(responder.next("ready"), 20_000, "responder ready")
      requester = team.spawn(requesterSpec)
    }
    await team.within(requester.next("ready"), 20_000, "requester ready")
    meter = cpuMeter(dep)
    requester.post({ type: "go" })
    const r = await team.within(requester.next("reqrep-result"), opts.timeoutMs + 30_000, "request/reply run")
    const cpu = meter()
    const latency = summarizeLatencies(r.latenciesUs)
    const ok = r.mismatched === 0
    return {
      kind: "reqrep",
      ok,
      ...(ok ? {} : { error: `${r.mismatched} mismatched replies` }),
      latency,
      lost: 0,
      mismatched: r.mismatched,
      cpu
    }
  } catch (err) {
    return {
      kind: "reqrep",
      ok: false,
      error: errorMessage(err),
      latency: summarizeLatencies(new Float64Array(0)),
      lost: NaN,
      mismatched: 0,
      cpu: meter?.() ?? { server: NaN, client: NaN, other: NaN, wallS: NaN }
    }
  } finally {
    await team.stopAll()
  }
}

export const runLatency = async (sc: LatencyScenario, dep: Deployment, opts: RunOptions): Promise<LatencyResult> => {
  const subject = "bench"
  const team = new Team()
  let meter: (() => CpuUse) | undefined
  const sendBuf = new SharedArrayBuffer(8 * sc.msgs)
  const recvBuf = new SharedArrayBuffer(8 * sc.msgs)
  const failed = (error: string): LatencyResult => ({
    kind: "latency",
    ok: false,
    error,
    latency: summarizeLatencies(new Float64Array(0)),
    lost: NaN,
    dup: 0,
    rateActual: NaN,
    maxLagMs: NaN,
    cpu: meter?.() ?? { server: NaN, client: NaN, other: NaN, wallS: NaN }
  })
  try {
    const sub = team.spawn({ role: "lat-sub", port: dep.a.port, subject, size: sc.size, warmup: sc.warmup, count: sc.msgs, recvTimes: recvBuf })
    await team.within(sub.next("ready"), 20_000, "latency subscriber ready")
    const pub = team.spawn({ role: "lat-pub", port: dep.b.port, subject, size: sc.size, rate: sc.rate, warmup: sc.warmup, count: sc.msgs, sendTimes: sendBuf })
    await team.within(pub.next("ready"), 20_000, "latency publisher ready")
    pub.post({ type: "probe" })
    await team.within(sub.next("probe-seen"), 30_000, "probe messages reach the subscriber")
    meter = cpuMeter(dep)
    pub.post({ type: "go" })
    // The schedule itself takes (warmup + msgs) / rate seconds.
    const scheduleMs = ((sc.warmup + sc.msgs) / sc.rate) * 1000
    const pubDone = await team.within(pub.next("lat-pub-done"), scheduleMs + opts.timeoutMs, "latency publisher done")
    let complete = true
    await team.within(sub.next("complete"), IDLE_MS, "all timed messages delivered").catch(() => (complete = false))
    const cpu = meter()
    await sleep(SETTLE_MS)
    sub.post({ type: "report" })
    const [result] = (await team.within(sub.next("sub-result"), 10_000, "subscriber report")).results
    const verdict = verifyGroup([result!.report], [sc.msgs, sc.warmup])
    const send = new Float64Array(sendBuf)
    const recv = new Float64Array(recvBuf)
    const us: number[] = []
    for (let i = 0; i < sc.msgs; i++) if (recv[i]! > 0) us.push((recv[i]! - send[i]!) * 1000)
    const problems: string[] = []
    if (!complete) problems.push("deliveries stalled")
    if (verdict.lost > 0) problems.push(`${verdict.lost} lost`)
    if (verdict.dup > 0) problems.push(`${verdict.dup} duplicated`)
    if (verdict.ooo > 0) problems.push(`${verdict.ooo} out of order`)
    if (verdict.invalid > 0) problems.push(`${verdict.invalid} invalid`)
    return {
      kind: "latency",
      ok: problems.length === 0,
      ...(problems.length > 0 ? { error: problems.join(", ") } : {}),
      latency: summarizeLatencies(Float64Array.from(us)),
      lost: verdict.lost,
      dup: verdict.dup,
      rateActual: sc.msgs > 1 ? ((sc.msgs - 1) / (pubDone.t1 - pubDone.t0)) * 1000 : NaN,
      maxLagMs: pubDone.maxLagMs,
      cpu
    }
  } catch (err) {
    return failed(errorMessage(err))
  } finally {
    await team.stopAll()
  }
}
