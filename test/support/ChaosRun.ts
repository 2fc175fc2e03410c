/**
 * Cluster chaos: steady publish load over a `ChaosCluster`, faults one at a time, and the
 * sequence accounting that says what was lost where.
 *
 * Every node has one publisher and one subscriber, both pinned to that node (they reconnect to it
 * and only to it). Publisher i sends `chaos.i` with its sequence number as payload, ~`rate`
 * messages a second; every subscriber listens on `chaos.*`, so every message must reach all of
 * them.
 *
 * A fault's window, per publisher p, is the range of p's sequence numbers (lo, hi]:
 * - lo: the highest number every subscriber had already received when the fault was injected
 *   (read at that moment, not guessed);
 * - hi: the last number p published before the cluster was confirmed whole again, which is
 *   (1) every node up and answering, each with exactly one route to each other node's current
 *   server id (`/routez`), (2) every route carrying the peer's interest in `chaos.*`
 *   (`/routez?subs=1`: the peer's subscriber is registered there), and (3) every client flushed
 *   (its connection is back and its SUBs and PUBs were processed).
 * Loss inside a window is allowed (at-most-once), loss outside it is a bug, duplicates never.
 *
 * Times: `detectMs` fault start → the peers noticed (their routes to it gone); `healMs` fault end
 * (restart ready, SIGCONT, proxy healed) → the mesh and interest are whole again.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { ChaosCluster, type ChaosNode, type ClusterSpec } from "./ChaosCluster.js"
import { SeqChecker, type SeqReport } from "./SeqChecker.js"

export type FaultKind = "kill" | "freeze" | "reset" | "drop"

export interface Fault {
  readonly kind: FaultKind
  /** The node killed/frozen, or one end of the cut. */
  readonly a: number
  /** The other end of a cut. */
  readonly b?: number
  /** How long the fault is held after the peers noticed it (ms, default 0). */
  readonly holdMs?: number
}

export interface FaultResult {
  readonly fault: Fault
  readonly label: string
  readonly detectMs: number
  readonly healMs: number
  /** Messages (publisher numbers) inside this fault's windows, all publishers together. */
  readonly windowSeqs: number
}

/**
 * One fault of each kind for the bounded tests: node 1 killed and restarted, node 2 frozen, the
 * link 0–1 (node 1's configured route to the seed) reset, the link 1–2 (gossiped) silently dropped.
 */
export const boundedFaults: ReadonlyArray<Fault> = [
  { kind: "kill", a: 1 },
  { kind: "freeze", a: 2 },
  { kind: "reset", a: 0, b: 1 },
  { kind: "drop", a: 1, b: 2 }
]

export const SUBJECT = "chaos.*"
const enc = new TextEncoder()
const dec = new TextDecoder()

/** Re-check `pred` until it holds; fail with `what` after `timeoutMs`. */
export const eventually = async (what: string, pred: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

const withTimeout = <A>(p: Promise<A>, ms: number): Promise<A | undefined> =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())])

export interface ChaosRunOptions {
  /** Messages per second per publisher (default 200). */
  readonly rate?: number
  /** Deadline for any one event (peers notice, mesh heals…), default 30 s. */
  readonly eventTimeoutMs?: number
  readonly log?: (line: string) => void
}

export class ChaosRun {
  readonly seq: SeqChecker
  readonly results: Array<FaultResult> = []
  private timer: ReturnType<typeof setInterval> | undefined = undefined
  private readonly timeout: number
  private readonly log: (line: string) => void

  private constructor(
    readonly cluster: ChaosCluster,
    private readonly pubs: Array<NatsConnection>,
    private readonly subs: Array<NatsConnection>,
    private readonly options: ChaosRunOptions
  ) {
    this.seq = new SeqChecker(pubs.length, subs.length)
    this.timeout = options.eventTimeoutMs ?? 30_000
    this.log = options.log ?? (() => {})
  }

  static async start(spec: ClusterSpec, options: ChaosRunOptions = {}): Promise<ChaosRun> {
    const cluster = await ChaosCluster.start(spec)
    const pubs: Array<NatsConnection> = []
    const subs: Array<NatsConnection> = []
    let run: ChaosRun | undefined
    try {
      const pinned = (n: ChaosNode, role: string) =>
        connect({
          servers: n.url,
          name: `${role}-${n.name}`,
          ignoreClusterUpdates: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 100,
          reconnectJitter: 50,
          waitOnFirstConnect: true
        })
      for (const n of cluster.nodes) subs.push(await pinned(n, "sub"))
      for (const n of cluster.nodes) pubs.push(await pinned(n, "pub"))
      run = new ChaosRun(cluster, pubs, subs, options)
      const r = run
      subs.forEach((nc, s) => {
        nc.subscribe(SUBJECT, {
          callback: (err, m) => {
            if (err !== null) return
            const p = Number(m.subject.slice(6))
            r.seq.receive(s, p, Number(dec.decode(m.data)))
          }
        })
      })
      await Promise.all(subs.map((s) => s.flush()))
      await eventually("the mesh and its interest", () => cluster.meshFormed(SUBJECT), run.timeout)
      run.startLoad()
      return run
    } catch (e) {
      for (const c of [...pubs, ...subs]) await c.close().catch(() => {})
      await cluster.stop()
      throw e
    }
  }

  private startLoad() {
    const rate = this.options.rate ?? 200
    const tick = 10
    let carry = 0
    this.timer = setInterval(() => {
      carry += (rate * tick) / 1000
      const k = Math.floor(carry)
      carry -= k
      for (let i = 0; i < k; i++) {
        for (const [p, nc] of this.pubs.entries()) {
          if (nc.isClosed()) continue
          nc.publish(`chaos.${p}`, enc.encode(String(this.seq.next(p))))
        }
      }
    }, tick)
  }

  private node(i: number): ChaosNode {
    return this.cluster.nodes[i]!
  }

  private async flushAll(): Promise<void> {
    for (const nc of [...this.pubs, ...this.subs]) {
      await eventually("a client flush", async () => (await withTimeout(nc.flush().then(() => true, () => false), 5000)) === true, this.timeout, 100)
    }
  }

  /** Inject one fault, hold it, end it, and wait until the cluster is whole again. */
  async inject(fault: Fault): Promise<FaultResult> {
    try {
      return await this.injectUnsafe(fault)
    } catch (e) {
      throw new Error(`${(e as Error).message}\ncluster now:\n${await this.cluster.describe()}`)
    }
  }

  private async injectUnsafe(fault: Fault): Promise<FaultResult> {
    const c = this.cluster
    const a = this.node(fault.a)
    const b = fault.b === undefined ? undefined : this.node(fault.b)
    const label = b === undefined ? `${fault.kind} ${a.name}` : `${fault.kind} ${a.name}-${b.name}`
    const lo = this.pubs.map((_, p) => this.seq.receivedByAll(p))
    const t0 = Date.now()
    const others = c.nodes.filter((n) => n !== a)
    // Who must notice a fault that only keepalive can reveal (freeze, silent drop): our servers.
    // nats-server 2.9 delays a route's PING while it is delivering messages on that route (any
    // outbound message counts as activity), so under load it keeps a frozen or silently cut peer
    // until the peer's close reaches it after the fault ends.
    const watchers = (ends: ReadonlyArray<ChaosNode>) => {
      const ours = ends.filter((n) => n.spec.impl === "ours")
      return ours.length > 0 ? ours : ends
    }
    const noticed = (what: string, pairs: ReadonlyArray<readonly [ChaosNode, ChaosNode]>) =>
      eventually(`${label}: ${what}`, async () => (await Promise.all(pairs.map(([x, y]) => c.lostRoute(x, y)))).every(Boolean), this.timeout)
    let tDetect: number
    const hold = () => (fault.holdMs ?? 0) > 0 ? new Promise((r) => setTimeout(r, fault.holdMs)) : Promise.resolve()
    switch (fault.kind) {
      case "kill": {
        await c.kill(a)
        await noticed("peers drop the killed node", others.map((o) => [o, a] as const))
        tDetect = Date.now()
        await hold()
        await c.startNode(a)
        break
      }
      case "freeze": {
        c.freeze(a)
        await noticed("peers drop the frozen node", watchers(others).map((o) => [o, a] as const))
        tDetect = Date.now()
        await hold()
        c.thaw(a)
        break
      }
      case "reset":
      case "drop": {
        if (b === undefined) throw new Error("a cut needs two nodes")
        c.cut(a, b, fault.kind)
        const ends = fault.kind === "reset" ? [a, b] : watchers([a, b])
        await noticed("the ends drop the route", ends.map((x) => [x, x === a ? b : a] as const))
        tDetect = Date.now()
        await hold()
        c.heal()
        break
      }
    }
    const tEnd = Date.now()
    await eventually(`${label}: the mesh re-forms with its interest`, () => c.meshFormed(SUBJECT), this.timeout)
    const tHealed = Date.now()
    await this.flushAll()
    const hi = this.pubs.map((_, p) => this.seq.last(p))
    let windowSeqs = 0
    for (const [p, h] of hi.entries()) {
      this.seq.addWindow({ pub: p, lo: lo[p]!, hi: h, label })
      windowSeqs += h - lo[p]!
    }
    // Flow is back: every subscriber gets a message from every publisher published after the window.
    await eventually(`${label}: messages flow again`, () => hi.every((h, p) => this.seq.receivedByAll(p) > h), this.timeout)
    const result: FaultResult = { fault, label, detectMs: tDetect - t0, healMs: tHealed - tEnd, windowSeqs }
    this.results.push(result)
    this.log(`${label}: detected in ${result.detectMs} ms, healed in ${result.healMs} ms, window ${windowSeqs} msgs`)
    return result
  }

  /** Stop the load, wait until everything published has had its chance to arrive, and report. */
  async finish(): Promise<SeqReport> {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    await this.flushAll()
    const last = this.pubs.map((_, p) => this.seq.last(p))
    await eventually("the last messages arrive", () => last.every((l, p) => this.seq.receivedByAll(p) >= l), this.timeout).catch(() => {})
    // Whatever is still in flight behind the last one: one more round trip per subscriber.
    await Promise.all(this.subs.map((s) => withTimeout(s.flush(), 5000)))
    return this.seq.report()
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const nc of [...this.pubs, ...this.subs]) await withTimeout(nc.close().catch(() => {}), 5000)
    await this.cluster.stop()
  }
}
