/**
 * The memory rows: resident memory of one freshly started standalone server under a static load —
 * one idle client, N idle client connections, or M subscriptions on one connection — read from
 * `/proc/<pid>/status` (VmRSS: resident now; VmHWM: the peak resident size so far).
 *
 * The load runs in a child process (`holder.ts`), so its sockets count against that process's
 * open-file limit, not this one's. When N connections need more descriptors than the soft limit
 * allows, the holder and the server are started under `prlimit --nofile=HARD:HARD` (util-linux;
 * it execs the command, so the PID measured is the server's); the same for ours and the
 * reference. Every connection has done CONNECT + PING/PONG (and every SUB was processed before
 * the PONG) when the holder reports ready; the sample is taken `settleMs` later.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { sleep } from "./client.js"
import type { CpuUse } from "./stats.js"
import type { MemoryScenario } from "./scenarios.js"
import { onPath, processCpuSeconds, startStandalone, type StartOptions, type Templates } from "./servers.js"

export interface MemoryResult {
  kind: "memory"
  ok: boolean
  error?: string
  /** Resident set of the server process, KiB (VmRSS), `settleMs` after the load was in place. */
  rssKiB: number
  /** Peak resident set of the server process so far, KiB (VmHWM). */
  hwmKiB: number
  /** Resident set just after start-up, before the holder connected (KiB). */
  startRssKiB: number
  /** (rssKiB − startRssKiB) per connection or subscription held (NaN for the idle row). */
  perItemKiB: number
  /** What the holder reported it holds (connections / subscriptions). */
  conns: number
  subs: number
  /** The measured process's name (`/proc/<pid>/comm`): must be the server, not a wrapper. */
  comm: string
  /** How long the holder took to set its load up (ms). */
  setupMs: number
  cpu: CpuUse
  lost: number
}

export interface ProcMemory {
  rssKiB: number
  hwmKiB: number
}

/** VmRSS and VmHWM of a process, in KiB, from /proc/<pid>/status; NaN when unavailable. */
export const procMemory = (pid: number): ProcMemory => {
  let status = ""
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  } catch {
    return { rssKiB: NaN, hwmKiB: NaN }
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)
    return m === null ? NaN : Number(m[1])
  }
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") }
}

/** The soft and hard open-file limits of this process (from /proc/self/limits). */
export const openFileLimits = (): { soft: number; hard: number } => {
  try {
    const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))
    const [soft, hard] = (line ?? "").replace("Max open files", "").trim().split(/\s+/)
    const n = (s: string | undefined): number => (s === "unlimited" ? Infinity : Number(s))
    return { soft: n(soft), hard: n(hard) }
  } catch {
    return { soft: NaN, hard: NaN }
  }
}

/** Descriptors a process needs besides its sockets (stdio, event loop, libraries, listeners). */
const FD_MARGIN = 200

/**
 * The argv prefix that gives a child `need` open files: none when the soft limit suffices,
 * `prlimit --nofile=HARD:HARD --` when the hard limit does; an error otherwise.
 */
export const fdPrefix = (need: number): string[] => {
  const { soft, hard } = openFileLimits()
  if (!(soft < need + FD_MARGIN)) return []
  if (!(hard >= need + FD_MARGIN)) {
    throw new Error(`the memory row needs ${need + FD_MARGIN} open files per process; the hard limit is ${hard} (raise it: ulimit -Hn)`)
  }
  if (!onPath("prlimit")) throw new Error(`the soft open-file limit ${soft} is below ${need + FD_MARGIN} and prlimit is not installed`)
  const h = hard === Infinity ? "unlimited" : String(hard)
  return ["prlimit", `--nofile=${h}:${h}`, "--"]
}

const holderPath = (): string => fileURLToPath(new URL("./holder.js", import.meta.url))

interface Holder {
  ready: Promise<{ conns: number; subs: number }>
  stop(): Promise<void>
}

const startHolder = (port: number, sc: MemoryScenario, timeoutMs: number, holderJs: string): Holder => {
  const load = sc.load === "subs" ? ["--subs", String(sc.count)] : ["--conns", String(sc.load === "idle" ? 1 : sc.count)]
  const argv = [...fdPrefix(sc.load === "conns" ? sc.count : 0), process.execPath, holderJs, "--port", String(port), ...load, "--timeout-ms", String(timeoutMs)]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-2000)))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const ready = new Promise<{ conns: number; subs: number }>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf("\n")
      if (nl < 0) return
      try {
        const r = JSON.parse(out.slice(0, nl)) as { ready: boolean; conns?: number; subs?: number; error?: string }
        if (r.ready) resolve({ conns: r.conns ?? 0, subs: r.subs ?? 0 })
        else reject(new Error(`holder: ${r.error ?? "failed"}`))
      } catch (e) {
        reject(new Error(`holder said ${JSON.stringify(out.slice(0, nl))}: ${String(e)}`))
      }
    })
    child.once("exit", (code) => reject(new Error(`holder exited (${code}) before it was ready: ${err.trim()}`)))
    child.once("error", (e) => reject(e))
  })
  ready.catch(() => {})
  return {
    ready,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin.end()
      const t = setTimeout(() => child.kill("SIGKILL"), 5000)
      await exited
      clearTimeout(t)
    }
  }
}

const comm = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()
  } catch {
    return "?"
  }
}

export interface MemoryOptions {
  timeoutMs: number
  /** Pause between "holder ready" and the sample (lets the server finish what the load started). */
  settleMs: number
  /** The compiled holder script (default: holder.js next to this module). */
  holderJs?: string
}

const nanCpu: CpuUse = { server: NaN, client: NaN, other: NaN, wallS: NaN }

/** Starts a fresh standalone server from `templates`, puts the row's load on it, samples its memory, stops it. */
export const runMemory = async (sc: MemoryScenario, templates: Templates, startOpts: StartOptions, opts: MemoryOptions): Promise<MemoryResult> => {
  const failed = (error: string, partial: Partial<MemoryResult> = {}): MemoryResult => ({
    kind: "memory",
    ok: false,
    error,
    rssKiB: NaN,
    hwmKiB: NaN,
    startRssKiB: NaN,
    perItemKiB: NaN,
    conns: 0,
    subs: 0,
    comm: "?",
    setupMs: NaN,
    cpu: nanCpu,
    lost: 0,
    ...partial
  })
  let prefix: string[]
  try {
    prefix = fdPrefix(sc.load === "conns" ? sc.count : 0)
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err))
  }
  const wrap = (t: string): string => (prefix.length === 0 ? t : `${prefix.join(" ")} ${t}`)
  let dep
  try {
    dep = await startStandalone({ single: wrap(templates.single), cluster: wrap(templates.cluster) }, startOpts)
  } catch (err) {
    return failed(`server start failed: ${err instanceof Error ? err.message : String(err)}`)
  }
  const server = dep.a
  const holder = startHolder(server.port, sc, opts.timeoutMs, opts.holderJs ?? holderPath())
  try {
    const startRss = procMemory(server.pid).rssKiB
    const cpu0 = processCpuSeconds(server.pid)
    const t0 = Date.now()
    let held: { conns: number; subs: number }
    try {
      held = await holder.ready
    } catch (err) {
      return failed(err instanceof Error ? err.message : String(err), { startRssKiB: startRss })
    }
    const setupMs = Date.now() - t0
    await sleep(opts.settleMs)
    const mem = procMemory(server.pid)
    const wallS = (Date.now() - t0) / 1000
    const cpu: CpuUse = { server: (processCpuSeconds(server.pid) - cpu0) / wallS, client: NaN, other: NaN, wallS }
    const name = comm(server.pid)
    const problems: string[] = []
    if (server.exited()) problems.push(`server exited:\n${server.logTail()}`)
    if (!(mem.rssKiB > 0)) problems.push(`no VmRSS for pid ${server.pid}`)
    if (["taskset", "prlimit", "sh", "bash"].includes(name)) problems.push(`pid ${server.pid} is ${name}, not the server`)
    const wantConns = sc.load === "conns" ? sc.count : 1
    if (held.conns !== wantConns) problems.push(`holder has ${held.conns} of ${wantConns} connections`)
    if (sc.load === "subs" && held.subs !== sc.count) problems.push(`holder has ${held.subs} of ${sc.count} subscriptions`)
    return {
      kind: "memory",
      ok: problems.length === 0,
      ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
      rssKiB: mem.rssKiB,
      hwmKiB: mem.hwmKiB,
      startRssKiB: startRss,
      perItemKiB: sc.load === "idle" ? NaN : (mem.rssKiB - startRss) / sc.count,
      conns: held.conns,
      subs: held.subs,
      comm: name,
      setupMs,
      cpu,
      lost: 0
    }
  } finally {
    await holder.stop()
    await dep.stop()
  }
}
