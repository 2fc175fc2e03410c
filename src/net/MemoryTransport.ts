/**
 * An in-process network: `Transport` without sockets, for tests and `SimulatedCluster`.
 *
 * A `MemoryNetwork` is a registry of listeners by `host:port`. Each host (a server, a client)
 * gets its own `TransportShape` from `network.transport(host)`; a dial from host A to a listener
 * that host B opened is a connection on the link A–B: a pair of in-memory ends that implement
 * `effect/socket`'s `Socket` like `NetSocket` does for TCP (the reader hands over whole chunks,
 * the writer's scope sends FIN, a `CloseEvent` resets).
 *
 * The model is TCP's, byte-stream faithful:
 * - **Latency**: each write is delivered after `conditions(A, B).latency()` ms of `Clock` time —
 *   never before an earlier write of the same direction (a stream never reorders). Time is the
 *   reading fiber's `Clock`, so `TestClock` drives delivery.
 * - **Drops**: TCP never loses bytes mid-stream, so when `conditions(A, B).drop()` says a write is
 *   lost, the connection is reset instead: both ends fail with a reset, and whatever was still
 *   in flight is discarded (as an RST discards it).
 * - **Partitions**: `cut(A, B)` resets every connection between A and B, and dials between them
 *   fail (`no route to host`) until `heal(A, B)`. `blackhole(A, B)` is the silent kind: the
 *   connections stay open, writes succeed, nothing arrives (keepalive must notice), dials time
 *   out; `heal` delivers what was held on the connections still open.
 * - No backpressure and no write deadline: writes always complete at once.
 * TLS is refused: the reader's `upgrade` fails, and the listeners refuse TLS configurations.
 *
 * Determinism: nothing here reads wall-clock time or `Math.random`; the only sources of variation
 * are `conditions` (seed it) and the order in which fibers write.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Socket from "effect/socket/Socket"
import { DialError } from "./Dial.js"
import { type Listener, ListenError } from "./Listener.js"
import { PeerAddress, Transport, type TransportShape } from "./Transport.js"

/** How one direction of a link behaves; asked once per write. */
export interface LinkConditions {
  /** Milliseconds until this write arrives (0: at once). */
  readonly latency: () => number
  /** True: this write is lost, which resets the connection. */
  readonly drop: () => boolean
}

const perfect: LinkConditions = { latency: () => 0, drop: () => false }

export interface MemoryNetworkOptions {
  /** Conditions of the link from host `from` to host `to` (default: instant, lossless). */
  readonly conditions?: ((from: string, to: string) => LinkConditions) | undefined
  /** First port handed out for port 0 / -1 listeners and for dialing ends (default 40000). */
  readonly firstPort?: number | undefined
}

/** What happened on the network, for traces. */
export type NetworkEvent =
  | { readonly _tag: "Connected"; readonly id: number; readonly from: string; readonly to: string; readonly port: number }
  | { readonly _tag: "Refused"; readonly from: string; readonly to: string; readonly reason: string }
  | { readonly _tag: "Reset"; readonly id: number; readonly from: string; readonly to: string; readonly reason: string }
  | { readonly _tag: "Closed"; readonly id: number; readonly from: string; readonly to: string }

type Chunks = readonly [Uint8Array, ...Array<Uint8Array>]

const closedError = (code = 1000) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })
const resetError = (reason: string) =>
  new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: new Error(`connection reset: ${reason}`) }) })

interface Entry {
  readonly at: number
  readonly data: Uint8Array | undefined // undefined: FIN
}

/** One end of a connection: what it reads is what the other end wrote. */
class End {
  peer!: End
  readonly inbox: Array<Entry> = []
  head = 0
  lastAt = 0
  error: Socket.SocketError | undefined = undefined
  finSent = false
  finReceived = false
  waiting: (() => void) | undefined = undefined
  constructor(readonly pipe: Pipe, readonly host: string, readonly conditions: LinkConditions) {}

  wake(): void {
    const w = this.waiting
    this.waiting = undefined
    w?.()
  }

  /** Ready chunks at `now`, a failure, or how long to wait (-1: until woken). */
  poll(now: number): Chunks | Socket.SocketError | number {
    if (this.error !== undefined) return this.error
    const out: Array<Uint8Array> = []
    while (this.head < this.inbox.length) {
      const e = this.inbox[this.head]!
      if (e.at > now) break
      if (e.data === undefined) {
        if (out.length > 0) break
        this.finReceived = true
        return closedError()
      }
      out.push(e.data)
      this.head++
    }
    if (this.head > 64 && this.head * 2 > this.inbox.length) {
      this.inbox.splice(0, this.head)
      this.head = 0
    }
    if (out.length > 0) return out as unknown as Chunks
    if (this.finReceived) return closedError()
    // Held by a black hole (at = Infinity): wait until `heal` releases it.
    if (this.head < this.inbox.length && this.inbox[this.head]!.at !== Infinity) return this.inbox[this.head]!.at - now
    return -1
  }

  readonly pull: Effect.Effect<Chunks, Socket.SocketError> = Effect.suspend(() => this.pullLoop())

  private pullLoop(): Effect.Effect<Chunks, Socket.SocketError> {
    return Clock.clockWith((clock) => {
      const r = this.poll(clock.currentTimeMillisUnsafe())
      if (typeof r === "number") {
        const wait = r < 0
          ? Effect.callback<void>((resume) => {
            const w = () => resume(Effect.void)
            this.waiting = w
            return Effect.sync(() => {
              if (this.waiting === w) this.waiting = undefined
            })
          })
          : Effect.sleep(Duration.millis(Math.max(1, Math.ceil(r))))
        return Effect.flatMap(wait, () => this.pullLoop())
      }
      return r instanceof Socket.SocketError ? Effect.fail(r) : Effect.succeed(r)
    })
  }

  /** Queue bytes (or FIN) for the peer, after this direction's latency. */
  deliver(now: number, data: Uint8Array | undefined): void {
    const peer = this.peer
    if (this.pipe.blackholed) {
      // A black-holed link: the bytes are in flight (retransmitted) until the link heals.
      peer.inbox.push({ at: Infinity, data })
      return
    }
    // Whole milliseconds: a clock that sleeps in whole milliseconds must reach `at` exactly.
    const at = Math.max(peer.lastAt, Math.ceil(now + Math.max(0, this.conditions.latency())))
    peer.lastAt = at
    peer.inbox.push({ at, data })
    peer.wake()
  }

  write(chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> {
    return Clock.clockWith((clock) => {
      if (Socket.isCloseEvent(chunk)) {
        this.pipe.reset("closed by peer")
        return Effect.void
      }
      if (this.error !== undefined) return Effect.fail(this.error)
      if (this.finSent) return Effect.fail(closedError(1006))
      if (this.conditions.drop()) {
        this.pipe.reset("write lost")
        return Effect.fail(this.error ?? closedError(1006))
      }
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk.slice()
      if (bytes.length > 0) this.deliver(clock.currentTimeMillisUnsafe(), bytes)
      return Effect.void
    })
  }

  /** Our side is done writing: FIN after the data in flight. */
  fin(now: number): void {
    if (this.finSent || this.error !== undefined) return
    this.finSent = true
    this.deliver(now, undefined)
    this.pipe.maybeClosed()
  }

  socket(): Socket.Socket {
    const reader: Socket.Socket["reader"] = Effect.acquireRelease(
      Effect.succeed<Socket.Reader<Uint8Array>>({
        pull: this.pull,
        upgrade: () =>
          Effect.fail(
            new Socket.SocketError({ reason: new Socket.SocketUpgradeError({ cause: new Error("TLS is not supported over the in-memory transport") }) })
          )
      }),
      // As for TCP, the reader owns the connection: closing its scope closes both directions.
      () => Clock.clockWith((clock) => Effect.sync(() => this.close(clock.currentTimeMillisUnsafe())))
    )
    const write = (chunk: Uint8Array | string | Socket.CloseEvent) => this.write(chunk)
    const writer: Socket.Socket["writer"] = Effect.acquireRelease(
      Effect.succeed<Socket.Writer>({ write, writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true }) }),
      () => Clock.clockWith((clock) => Effect.sync(() => this.fin(clock.currentTimeMillisUnsafe())))
    )
    return Socket.make({ reader, writer })
  }

  close(now: number): void {
    this.fin(now)
    // Nothing more is read: what arrives later is discarded.
    this.finReceived = true
    this.error ??= closedError()
    this.wake()
    this.pipe.maybeClosed()
  }
}

/** One connection between a dialing host and a listening host. */
class Pipe {
  readonly a: End
  readonly b: End
  done = false
  /** The link is black-holed: writes succeed but nothing arrives until it heals. */
  blackholed = false
  constructor(readonly network: MemoryNetwork, readonly id: number, readonly from: string, readonly to: string, readonly port: number) {
    const c = network.conditions
    this.a = new End(this, from, c(from, to))
    this.b = new End(this, to, c(to, from))
    this.a.peer = this.b
    this.b.peer = this.a
  }

  reset(reason: string): void {
    if (this.done) return
    this.done = true
    for (const end of [this.a, this.b]) {
      end.error ??= resetError(reason)
      end.inbox.length = 0
      end.head = 0
      end.wake()
    }
    this.network.forget(this, { _tag: "Reset", id: this.id, from: this.from, to: this.to, reason })
  }

  /** The black hole is gone: what was held arrives now, in order, ahead of later writes. */
  release(): void {
    if (!this.blackholed) return
    this.blackholed = false
    for (const end of [this.a, this.b]) {
      for (let i = end.head; i < end.inbox.length; i++) {
        const e = end.inbox[i]!
        if (e.at === Infinity) end.inbox[i] = { at: end.lastAt, data: e.data }
      }
      end.wake()
    }
  }

  maybeClosed(): void {
    if (this.done || !this.a.finSent || !this.b.finSent) return
    this.done = true
    this.network.forget(this, { _tag: "Closed", id: this.id, from: this.from, to: this.to })
  }
}

interface Listening {
  readonly owner: string
  readonly port: number
  accepting: boolean
  readonly accept: (pipe: Pipe) => void
}

const linkKey = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`)
const address = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)

export class MemoryNetwork {
  readonly conditions: (from: string, to: string) => LinkConditions
  private readonly listeners = new Map<string, Listening>()
  private readonly cuts = new Set<string>()
  private readonly holes = new Set<string>()
  private readonly pipes = new Set<Pipe>()
  private nextPort: number
  private nextId = 1
  /** Every network event, in order (see `NetworkEvent`); a test may clear it. */
  readonly events: Array<NetworkEvent> = []
  /** Called for each event as it happens. */
  onEvent: ((event: NetworkEvent) => void) | undefined = undefined

  constructor(options: MemoryNetworkOptions = {}) {
    this.conditions = options.conditions ?? (() => perfect)
    this.nextPort = options.firstPort ?? 40000
  }

  private emit(event: NetworkEvent): void {
    this.events.push(event)
    this.onEvent?.(event)
  }

  /** @internal */
  forget(pipe: Pipe, event: NetworkEvent): void {
    this.pipes.delete(pipe)
    this.emit(event)
  }

  /** Is the link between `a` and `b` cut? */
  isCut(a: string, b: string): boolean {
    return this.cuts.has(linkKey(a, b)) || this.holes.has(linkKey(a, b))
  }

  /**
   * Black-hole the link between `a` and `b` (a partition as TCP sees it when nothing answers):
   * its connections stay open and writes succeed, but nothing arrives — only keepalive can tell
   * (`Stale Connection`) — and dials fail (`i/o timeout`) until `heal`, which delivers what was
   * held, in order, on the connections still open.
   */
  blackhole(a: string, b: string): void {
    this.holes.add(linkKey(a, b))
    for (const p of this.pipes) {
      if (linkKey(p.from, p.to) === linkKey(a, b)) p.blackholed = true
    }
  }

  /** Cut the link between hosts `a` and `b`: its connections reset, dials fail until `heal`. */
  cut(a: string, b: string): void {
    this.cuts.add(linkKey(a, b))
    for (const p of [...this.pipes]) {
      if (linkKey(p.from, p.to) === linkKey(a, b)) p.reset("link cut")
    }
  }

  heal(a: string, b: string): void {
    this.cuts.delete(linkKey(a, b))
    this.holes.delete(linkKey(a, b))
    for (const p of [...this.pipes]) {
      if (linkKey(p.from, p.to) === linkKey(a, b)) p.release()
    }
  }

  /** Heal every cut link. */
  healAll(): void {
    this.cuts.clear()
    this.holes.clear()
    for (const p of [...this.pipes]) p.release()
  }

  /** Reset every connection of `host` (e.g. its process died). */
  resetHost(host: string, reason: string): void {
    for (const p of [...this.pipes]) {
      if (p.from === host || p.to === host) p.reset(reason)
    }
  }

  /** Connections open now, as `from→to` pairs (for assertions). */
  connections(): ReadonlyArray<{ readonly from: string; readonly to: string }> {
    return [...this.pipes].map((p) => ({ from: p.from, to: p.to }))
  }

  /** The transport of one host: its listeners belong to it, its dials come from it. */
  transport(host: string): TransportShape {
    const network = this
    return {
      kind: "memory",
      listen: (listenHost, port, handler) =>
        Effect.gen(function*() {
          const bound = port <= 0 ? network.nextPort++ : port
          const key = address(listenHost, bound)
          if (network.listeners.has(key)) {
            return yield* Effect.fail(new ListenError({ address: key, cause: new Error(`listen tcp ${key}: bind: address already in use`) }))
          }
          const sessions = yield* FiberSet.make()
          const run = yield* FiberSet.runtime(sessions)<never>()
          const entry: Listening = {
            owner: host,
            port: bound,
            accepting: true,
            accept: (pipe) => {
              run(
                handler(pipe.b.socket()).pipe(
                  Effect.provideService(PeerAddress, { ip: pipe.from, port: pipe.port }),
                  Effect.ignoreCause({ log: "Error" }),
                  Effect.ensuring(Clock.clockWith((clock) => Effect.sync(() => pipe.b.close(clock.currentTimeMillisUnsafe()))))
                )
              )
            }
          }
          network.listeners.set(key, entry)
          yield* Effect.addFinalizer(() =>
            Effect.sync(() => {
              if (network.listeners.get(key) === entry) network.listeners.delete(key)
            })
          )
          const listener: Listener = {
            port: bound,
            stopAccepting: () => {
              entry.accepting = false
              if (network.listeners.get(key) === entry) network.listeners.delete(key)
            }
          }
          return listener
        }),
      dial: <A, E, R>(toHost: string, port: number, use: (socket: Socket.Socket) => Effect.Effect<A, E, R>) =>
        Effect.suspend((): Effect.Effect<A, E | DialError, R> => {
          const key = address(toHost, port)
          const target = network.listeners.get(key)
          const refuse = (reason: string) => {
            network.emit({ _tag: "Refused", from: host, to: target?.owner ?? toHost, reason })
            return Effect.fail(new DialError({ address: key, cause: new Error(reason) }))
          }
          if (target === undefined || !target.accepting) return refuse("connect: connection refused")
          if (network.holes.has(linkKey(host, target.owner))) return refuse("i/o timeout")
          if (network.isCut(host, target.owner)) return refuse("connect: no route to host")
          const pipe = new Pipe(network, network.nextId++, host, target.owner, network.nextPort++)
          network.pipes.add(pipe)
          network.emit({ _tag: "Connected", id: pipe.id, from: host, to: target.owner, port })
          target.accept(pipe)
          return use(pipe.a.socket()).pipe(Effect.provideService(PeerAddress, { ip: toHost, port }))
        })
    }
  }
}

/** A `Transport` layer for one host of `network` (default: a fresh network, host 127.0.0.1). */
export const layer = (network: MemoryNetwork = new MemoryNetwork(), host = "127.0.0.1"): Layer.Layer<never> =>
  Layer.succeed(Transport, network.transport(host))
