/**
 * The differential fuzzer: the same seeded byte streams to our server and to real nats-server,
 * comparing what each sends back (after the INFO, byte for byte) and whether it closes. The INFO
 * is compared with the fields that legitimately differ taken out (ids, names, version strings,
 * ports). A difference is confirmed by replaying the case with a longer quiet window (so a slow
 * answer is not taken for a missing one) and is then either explained by an allow-list entry or
 * counted as unexplained.
 *
 * Cases share a server, so each pair of servers runs its cases one after the other (a wildcard
 * subscription of one case must not see another's messages); pairs run side by side.
 */
import { allowlist, type Observed } from "./allowlist.js"
import { type Case, makeCase } from "./cases.js"
import { exchange, type Exchange } from "./wire.js"

export interface Target {
  readonly ours: number
  readonly ref: number
}

export interface FuzzOptions {
  /** Server pairs (client ports), each running its share of the cases in sequence. */
  readonly targets: ReadonlyArray<Target>
  readonly seed: number
  readonly cases: number
  /** First case index (to resume or replay). */
  readonly from?: number
  /** Quiet time that ends a case, ms (a fifth of it once the last bytes were a PONG). */
  readonly idleMs?: number
  readonly onProgress?: (done: number) => void
}

export interface Difference {
  readonly case: Case
  readonly ours: Exchange
  readonly ref: Exchange
}

export interface FuzzResult {
  readonly cases: number
  readonly unexplained: ReadonlyArray<Difference>
  readonly explained: ReadonlyMap<string, number>
  readonly retried: number
}

/** INFO fields that differ between any two servers (or connections) by nature. */
const VOLATILE = ["server_id", "server_name", "version", "go", "git_commit", "client_id", "port", "client_ip", "nonce"]

export const normalizeInfo = (line: string): string => {
  const at = line.indexOf("{")
  if (!line.startsWith("INFO ") || at < 0) return line
  const json = line.slice(at, line.lastIndexOf("}") + 1)
  try {
    const o = JSON.parse(json) as Record<string, unknown>
    for (const k of VOLATILE) delete o[k]
    return `INFO ${JSON.stringify(o)}${line.slice(line.lastIndexOf("}") + 1)}`
  } catch {
    return line
  }
}

const same = (a: Exchange, b: Exchange): boolean =>
  a.closed === b.closed && a.out.equals(b.out) && normalizeInfo(a.info) === normalizeInfo(b.info)

const run = (port: number, c: Case, idleMs: number): Promise<Exchange> =>
  exchange(port, c.chunks, { idleMs, pongIdleMs: Math.max(8, idleMs / 5), maxMs: idleMs * 20 + 2000 })

export const runFuzz = async (options: FuzzOptions): Promise<FuzzResult> => {
  const from = options.from ?? 0
  const idleMs = options.idleMs ?? 60
  const unexplained: Array<Difference> = []
  const explained = new Map<string, number>()
  let retried = 0
  let next = from
  let done = 0
  const end = from + options.cases

  const one = async (t: Target, index: number) => {
    const c = makeCase(options.seed, index)
    let [a, b] = await Promise.all([run(t.ours, c, idleMs), run(t.ref, c, idleMs)])
    if (!same(a, b)) {
      retried++
      // Let whatever the first attempt left in flight land before replaying on the same servers.
      await new Promise((r) => setTimeout(r, idleMs * 4))
      ;[a, b] = await Promise.all([run(t.ours, c, idleMs * 8), run(t.ref, c, idleMs * 8)])
    }
    if (!same(a, b)) {
      const entry = normalizeInfo(a.info) === normalizeInfo(b.info) ? allowlist.find((e) => e.explains(c, a, b)) : undefined
      if (entry !== undefined) explained.set(entry.id, (explained.get(entry.id) ?? 0) + 1)
      else unexplained.push({ case: c, ours: a, ref: b })
    }
    done++
    options.onProgress?.(done)
  }

  const worker = async (t: Target) => {
    while (next < end) await one(t, next++)
  }
  await Promise.all(options.targets.map(worker))
  return { cases: options.cases, unexplained, explained, retried }
}

/** Long runs of bytes shortened in the middle, escaped. */
const show = (bytes: Uint8Array, max = 400): string => {
  const s = Buffer.from(bytes).toString("latin1")
  return JSON.stringify(s.length <= max ? s : `${s.slice(0, max / 2)}…(${s.length - max} bytes)…${s.slice(-max / 2)}`)
}

/** A difference as a reader needs it: the case's chunks and both answers, escaped. */
export const describe = (d: Difference): string =>
  [
    `case ${d.case.index} (${d.case.notes.join("; ") || "plain"})`,
    `  sent:  ${d.case.chunks.map((c) => show(c, 300)).join(" | ")}`,
    `  ours:  ${show(d.ours.out)}${d.ours.reset ? " [reset]" : d.ours.closed ? " [closed]" : " [open]"}`,
    `  ref:   ${show(d.ref.out)}${d.ref.reset ? " [reset]" : d.ref.closed ? " [closed]" : " [open]"}`,
    ...(normalizeInfo(d.ours.info) !== normalizeInfo(d.ref.info) ? [`  INFO ours: ${d.ours.info}`, `  INFO ref:  ${d.ref.info}`] : [])
  ].join("\n")
