/**
 * The skeleton every connection session shares (clients and route links): the supervised fibers
 * around one socket and one synchronous connection object.
 *
 * On a Node socket (TCP or TLS, `NetSocket.rawSocketOf`) the per-read path is one plain call:
 * the socket's 'data' callback parses the chunk, runs the batch through the connection and the
 * router, and the flush at its end writes every touched connection's output to its socket at once
 * (`DirectPump`). Effect is only there for the lifecycle and the rare waits: a batch that leaves
 * something to wait for (a fast-producer stall, a pending bcrypt verdict, a route INFO/CONNECT)
 * pauses the socket and a fiber resumes reading when the wait is over; a write the socket did not
 * take at once (it returned false) is waited for by a fiber under write_deadline.
 *
 * On another transport (`MemoryTransport`) the session runs on fibers: the reader (bytes →
 * `Parser.stream` → the connection's batch handler) and the writer (wakes when a batch left output
 * and writes it in one call).
 *
 * Either way, in the session's scope it opens the socket's read side first (the Node socket is set
 * up — and later destroyed — by its reader, and writes wait for it), starts whatever the caller
 * starts (greeting, keepalive), then waits until the connection is closed by either side, lets the
 * writer send what is still buffered (an `-ERR`, the last messages) and returns; closing the scope
 * closes the socket.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type * as Net from "node:net"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { rawSocketOf, writeNowOf } from "../net/NetSocket.js"
import { PeerAddress } from "../net/Transport.js"
import type { OutBuffer } from "../protocol/OutBuffer.js"
import * as Parser from "../protocol/Parser.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import { ErrText } from "../protocol/ProtocolError.js"

/** What a session needs from the connection object it drives. */
export interface SessionConnection {
  readonly out: OutBuffer
  /** Bytes handed to the socket and not yet accepted by it. */
  inFlight: number
  readonly closing: boolean
  readonly prefix: string
  pingsOut: number
  sendPing(): void
  flush(): void
  close(reason: CloseReason, errText?: string): void
}

/** The two signals between a connection object (sync) and its session (fibers). */
export interface SessionSignals {
  /** The writer fiber's wake-up (made on first use: a session that writes synchronously has none). */
  readonly wake: Latch.Latch
  readonly closed: Deferred.Deferred<void>
  /**
   * Set by a session that writes synchronously: `wakeWriter` calls its `schedule` (write at the end
   * of this turn's I/O callbacks) instead of opening `wake`.
   */
  writeNow: { schedule(): void } | undefined
  /** Handed to the connection: wake the writer (or write); the connection is closed. */
  readonly io: { wakeWriter(): void; closed(): void }
}

/**
 * The signals with prototype methods (an idle connection holds no closures for them) and no latch
 * unless a writer fiber waits on it.
 */
class Signals implements SessionSignals {
  private latch: Latch.Latch | undefined = undefined
  readonly closed = Deferred.makeUnsafe<void>()
  writeNow: { schedule(): void } | undefined = undefined
  readonly io: SignalsIO = new SignalsIO(this)
  get wake(): Latch.Latch {
    return (this.latch ??= Latch.makeUnsafe(false))
  }
}

class SignalsIO {
  constructor(private readonly signals: Signals) {}
  wakeWriter(): void {
    const write = this.signals.writeNow
    if (write === undefined) this.signals.wake.openUnsafe()
    else write.schedule()
  }
  closed(): void {
    Deferred.doneUnsafe(this.signals.closed, Effect.void)
  }
}

export const makeSignals = (): SessionSignals => new Signals()

/** The remote address of a Node socket (and no Nagle delay on it), or the transport's `PeerAddress`. */
export const remoteAddress = Effect.flatMap(
  Effect.serviceOption(NodeSocket.NetSocket),
  Option.match({
    onNone: () => Effect.map(Effect.service(PeerAddress), (peer) => peer ?? { ip: "pipe", port: 0 }),
    onSome: (s) => {
      s.setNoDelay(true)
      return Effect.succeed({ ip: s.remoteAddress?.replace(/^::ffff:/, "") ?? "unknown", port: s.remotePort ?? 0 })
    }
  })
)

/**
 * Hands everything buffered to the socket in one write per wake-up; backpressure is `inFlight`.
 * write_deadline: a write not done within it is a stall (`onStall`); with a socket that writes
 * synchronously (`NetSocket`) the timer starts only when a write did not complete at once.
 */
export const writerLoop = (
  out: { take(): Uint8Array | undefined },
  writer: Socket.Writer,
  wake: Latch.Latch,
  accounting: { inFlight: number },
  writeDeadline: number,
  onStall: () => void,
  onWritten?: () => void
) =>
  Effect.gen(function*() {
    const writeNow = writeNowOf(writer)
    while (true) {
      yield* wake.await
      wake.closeUnsafe()
      let chunk = out.take()
      while (chunk !== undefined) {
        accounting.inFlight += chunk.length
        // A write the socket takes at once needs no timer (nor fibers): the deadline only runs
        // while a write waits (for the drain), as long as the socket can write synchronously.
        const waiting = writeNow === undefined ? writer.write(chunk) : writeNow(chunk)
        const wrote = waiting === undefined ? true : yield* waiting.pipe(Effect.timeoutOption(Duration.millis(writeDeadline)))
        accounting.inFlight -= chunk.length
        if (wrote !== true && Option.isNone(wrote)) return onStall()
        onWritten?.()
        chunk = out.take()
      }
    }
  })

/** What a session runs; its functions are called as methods (a class may implement them). */
export interface SessionSpec {
  readonly kind: Parser.PeerKind
  readonly limits: Parser.ParserLimits
  /** Called with every read chunk before it is parsed (e.g. to note the first byte). */
  readonly onRead?: ((chunk: Uint8Array) => void) | undefined
  /**
   * Apply one parsed batch to the connection (synchronously); what to wait for before the next
   * read is parsed, if anything (undefined on the hot path).
   */
  readonly handle: (parsed: Parser.Parsed) => Effect.Effect<void> | undefined
  /**
   * Where the parser may hand whole messages directly (see `Parser.MsgSink`); `handle` still gets
   * every batch that had any. Only the synchronous pump on a Node socket uses it: there a batch
   * is applied right after its step, so the sink's messages and the batch's ops stay in order.
   */
  readonly sink?: Parser.MsgSink | undefined
  readonly writeDeadline: number
  /** The socket did not take a write within write_deadline. */
  readonly onWriteStall: () => void
  /** The socket accepted a write. */
  readonly onWritten?: (() => void) | undefined
  /**
   * Read a Node socket into one buffer of this session's, reused for every read (see
   * `useReadBuffer`), instead of a fresh 64 KiB buffer per read: from the start (true) or once a
   * read of at least `BUSY_READ` bytes showed the connection busy ("busy": an idle connection
   * holds no buffer). Only for a connection that keeps nothing of a read past its batch (its
   * payloads are copied out); a read queued while a batch waits is copied.
   */
  readonly reuseReadBuffer?: boolean | "busy" | undefined
  /** Runs once the fibers are up: the greeting, timers (fork them into the scope). */
  readonly start: Effect.Effect<void, never, Scope.Scope>
}

/** Run a session until its connection closes (scoped: the scope's close closes the socket). */
export const runSession = (socket: Socket.Socket, conn: SessionConnection, signals: SessionSignals, spec: SessionSpec) => {
  const raw = rawSocketOf(socket)
  return raw === undefined ? runOnFibers(socket, conn, signals, spec) : runDirect(raw, conn, signals, spec)
}

/** A session on another transport: reader and writer fibers over `effect/socket`. */
const runOnFibers = (socket: Socket.Socket, conn: SessionConnection, signals: SessionSignals, spec: SessionSpec) =>
  Effect.gen(function*() {
    const pull = yield* Socket.readerBytes(socket)
    const reads = spec.onRead === undefined
      ? pull
      : Effect.map(pull, (chunks) => {
        for (const chunk of chunks) spec.onRead?.(chunk)
        return chunks
      })
    const reader = yield* Stream.fromPull(Effect.succeed(reads)).pipe(
      Parser.stream(spec.kind, spec.limits),
      Stream.runForEach((parsed) => spec.handle(parsed) ?? Effect.void),
      // However the read side ends (EOF, reset), the peer is gone.
      Effect.matchCause({ onSuccess: () => conn.close("Client Closed"), onFailure: () => conn.close("Client Closed") }),
      Effect.forkScoped
    )
    const writer = yield* socket.writer
    const writing = yield* writerLoop(
      conn.out,
      writer,
      signals.wake,
      conn,
      spec.writeDeadline,
      () => spec.onWriteStall(),
      spec.onWritten === undefined ? undefined : () => spec.onWritten?.()
    ).pipe(Effect.forkScoped)
    yield* spec.start

    yield* Deferred.await(signals.closed).pipe(Effect.onInterrupt(() => Effect.sync(() => conn.close("Server Shutdown"))))
    yield* Fiber.interrupt(reader)
    // Let the writer send what is left before the socket closes (unless it is gone: a failed
    // write ended it, and waiting would only spin until the deadline).
    conn.flush()
    yield* Effect.gen(function*() {
      while (conn.out.size > 0 && writing.pollUnsafe() === undefined) {
        signals.wake.openUnsafe()
        yield* Effect.yieldNow
      }
    }).pipe(Effect.timeoutOption(Duration.millis(Math.min(spec.writeDeadline, 2000))))
    yield* Fiber.interrupt(writing)
  })

/** The part of Node's `ReadableState` that `noReadMore` sets (absent from the typings). */
interface ReadMoreState {
  readingMore: boolean
}

/** Keep the Readable from scheduling its `maybeReadMore` tick after the current chunk. */
const noReadMore = (raw: Net.Socket): void => {
  const state = (raw as unknown as { readonly _readableState?: ReadMoreState })._readableState
  if (state !== undefined && !state.readingMore) state.readingMore = true
}

/** Buffered output past which a connection writes at once rather than at the end of the turn. */
const WRITE_NOW_BYTES = 1024 * 1024

/** Pumps with output to write once the current turn's I/O callbacks are done. */
const due: Array<DirectPump> = []
let dueScheduled = false

const writeDue = (): void => {
  dueScheduled = false
  // A write may resume a stalled producer whose batch schedules more: those are written here too.
  for (let i = 0; i < due.length; i++) {
    const pump = due[i]!
    pump.queued = false
    pump.pump()
  }
  due.length = 0
}

/**
 * The synchronous core of a session on a Node socket: reads are parsed and applied in the
 * socket's 'data' callback, output is written in `pump` (the connection's `wakeWriter`). Its two
 * waits — a batch's and a write's drain — each get a fiber (forked with the session's context,
 * interrupted by `release`) only while they last: an idle connection parks no fibers for them.
 * The socket's listeners are shared by all pumps (they find theirs on the socket), and methods
 * are on the prototype: an idle connection holds no closures for them.
 */
class DirectPump {
  private state: Parser.ParserState
  /** Chunks that arrived while reading was held (the socket is paused meanwhile). */
  private queue: Array<Uint8Array> = []
  /** The fiber of the batch's wait that holds reading, while it runs. */
  readFiber: Fiber.Fiber<void> | undefined = undefined
  /** The fiber that waits for the drain (under write_deadline), while it runs. */
  writeFiber: Fiber.Fiber<void> | undefined = undefined
  /** A batch's wait is running: parse nothing more until it is done. */
  private held = false
  /** The read side is over (EOF, a read error, a protocol error): nothing more is parsed. */
  private finished = false
  /** Reading stopped for good (the peer is gone or the session is closing). */
  private stopped = false
  /** Bytes of the write that waits for the drain (0: none). */
  private blocked = 0
  /** Resolved with true on the drain, false when the socket closed first. */
  private drained: Deferred.Deferred<boolean> | undefined = undefined
  /** A write failed or stalled: nothing more is written. */
  writerDone = false
  /** Reads land in a buffer the next read overwrites (`useReadBuffer`): a chunk kept is copied. */
  private transient = false

  constructor(
    private readonly raw: Net.Socket,
    private readonly conn: SessionConnection,
    private readonly spec: SessionSpec,
    private readonly context: Context.Context<never>
  ) {
    this.state = Parser.initial(spec.kind, spec.limits)
  }

  /** A wait's fiber, with the session's context. */
  private run(effect: Effect.Effect<void>): Fiber.Fiber<void> {
    return Effect.runForkWith(this.context)(effect)
  }

  open(): void {
    const raw = this.raw as PumpedSocket
    raw[pumpKey] = this
    if (this.spec.reuseReadBuffer === true) this.transient = useReadBuffer(raw)
    raw.on("data", onPumpData)
    raw.on("end", onPumpEnd)
    raw.on("close", onPumpClose)
    raw.on("error", onPumpEnd)
    raw.resume()
  }

  /**
   * The session is over: end the socket once written, as `fromNetSocket`'s writer and reader do;
   * the waits' fibers still running are interrupted.
   */
  release(): Effect.Effect<void> {
    this.stopReading()
    // Output still waiting for the end of the turn (e.g. the SHUTDOWN event of an interrupted
    // session) goes out before the end.
    this.pump()
    const raw = this.raw
    raw.off("data", onPumpData)
    if (!raw.destroyed && !raw.writableEnded) raw.end()
    if (!raw.destroyed) raw.destroySoon()
    const fibers = [this.readFiber, this.writeFiber].filter((f) => f !== undefined)
    return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
  }

  stopReading(): void {
    this.stopped = true
    this.queue = []
  }

  /** A read into the reused buffer (`useReadBuffer`): its first `n` bytes. */
  onRead(n: number, buf: Buffer): void {
    this.onData(buf.subarray(0, n), this.transient)
  }

  onData(chunk: Buffer, transient = false): void {
    // Node's Readable follows every chunk with a `process.nextTick(maybeReadMore_)`, which in
    // flowing mode only calls `read(0)` on a socket that is reading anyway — a tick (and the tick
    // queue's promise-rejection pass) per read on the request/reply path. Marking it as already
    // scheduled skips it, as Node's own http does for its IncomingMessage streams.
    noReadMore(this.raw)
    if (this.stopped) return
    if (this.held) {
      // The reused read buffer is overwritten by the next read: a queued chunk is a copy.
      this.queue.push(transient ? Buffer.from(chunk) : chunk)
      this.raw.pause()
      return
    }
    this.read(chunk)
    if (this.finished && !this.held) this.peerGone()
    else if (!this.transient && chunk.length >= BUSY_READ && this.spec.reuseReadBuffer === "busy") this.busy()
  }

  /**
   * Switch a busy connection to the reused read buffer, unless reading is held or Node's stream
   * still holds chunks read before (they would then arrive after the buffer's reads).
   */
  private busy(): void {
    if (this.held || this.stopped || this.raw.readableLength > 0) return
    this.transient = useReadBuffer(this.raw)
  }

  onEnd(): void {
    this.finished = true
    if (!this.held && !this.stopped) this.peerGone()
  }

  onClose(): void {
    this.onEnd()
    if (this.drained !== undefined) Deferred.doneUnsafe(this.drained, Effect.succeed(false))
  }

  onDrain(): void {
    if (this.drained !== undefined) Deferred.doneUnsafe(this.drained, Effect.succeed(true))
  }

  /** However the read side ended (EOF, reset, a protocol error), the peer is gone. */
  private peerGone(): void {
    this.stopReading()
    this.conn.close("Client Closed")
  }

  /** Parse one chunk and apply its batch; a batch that leaves a wait holds reading. */
  private read(chunk: Uint8Array): void {
    try {
      this.spec.onRead?.(chunk)
      const [next, parsed] = Parser.step(this.state, chunk, this.spec.sink)
      this.state = next
      if (parsed.error !== undefined) {
        // The parser is done: nothing after the violation is read (its batch still runs).
        this.finished = true
        this.queue = []
      }
      if (parsed.ops.length === 0 && parsed.error === undefined && parsed.sunk === 0) return
      const wait = this.spec.handle(parsed)
      if (wait !== undefined) {
        this.held = true
        this.raw.pause()
        // The wait may end at once (then `unhold` already ran, and may have started the next).
        const fiber = this.run(Effect.andThen(wait, Effect.sync(() => this.unhold())))
        if (fiber.pollUnsafe() === undefined) this.readFiber = fiber
      }
    } catch {
      // A defect in the handler ends this connection, not the process.
      this.finished = true
      this.held = false
      this.queue = []
    }
  }

  /** The wait is over: parse what queued up meanwhile, then read on. */
  private unhold(): void {
    this.held = false
    this.readFiber = undefined
    while (!this.held && !this.stopped) {
      const chunk = this.queue.shift()
      if (chunk === undefined) break
      this.read(chunk)
    }
    if (this.held || this.stopped) return
    if (this.finished) this.peerGone()
    else if (this.raw.isPaused() && !this.raw.destroyed) this.raw.resume()
  }

  /** Queued in `due`: its output goes out at the end of this turn's I/O callbacks. */
  queued = false

  /**
   * The connection has output (its `wakeWriter`): write it once this turn of the event loop has
   * run its I/O callbacks (`writeDue`), so that the output of every read Node delivers in one
   * turn — up to 32 × 64 KiB from one socket — goes out in one write; at once when that much is
   * buffered already.
   */
  schedule(): void {
    if (this.conn.out.size >= WRITE_NOW_BYTES) return this.pump()
    if (this.queued) return
    this.queued = true
    due.push(this)
    if (!dueScheduled) {
      dueScheduled = true
      setImmediate(writeDue)
    }
  }

  /** Write everything buffered now (one writev for several chunks), unless a write waits for the drain. */
  pump(): void {
    if (this.blocked !== 0 || this.writerDone) return
    const out = this.conn.out
    const raw = this.raw
    let chunk = out.take()
    if (chunk === undefined) {
      // All written and none of it held by Node: the buffer may start over.
      if (raw.writableLength === 0) out.rewind()
      return
    }
    if (raw.destroyed || raw.writableEnded) {
      this.writerDone = true
      return
    }
    let took = true
    try {
      if (out.size === 0) {
        took = raw.write(chunk)
      } else {
        // Several chunks: corked writes leave as one writev when uncorked.
        raw.cork()
        while (chunk !== undefined) {
          if (!raw.write(chunk)) took = false
          chunk = out.take()
        }
        raw.uncork()
      }
    } catch {
      this.writerDone = true
      return
    }
    if (!took && raw.writableLength > 0) {
      // Node queued some: the rest waits for the drain, under write_deadline (the writer fiber).
      const held = raw.writableLength
      this.blocked = held
      this.conn.inFlight += held
      const drained = (this.drained = Deferred.makeUnsafe<boolean>())
      raw.once("drain", onPumpDrain)
      this.writeFiber = this.run(Effect.flatMap(
        Effect.timeoutOption(Deferred.await(drained), Duration.millis(this.spec.writeDeadline)),
        (result) => Effect.sync(() => this.unblock(Option.getOrUndefined(result)))
      ))
      return
    }
    this.spec.onWritten?.()
    if (raw.writableLength === 0 && out.size === 0) out.rewind()
  }

  /** The drain wait is over (true: drained; false: socket closed; undefined: deadline passed). */
  private unblock(drained: boolean | undefined): void {
    this.raw.off("drain", onPumpDrain)
    this.drained = undefined
    this.writeFiber = undefined
    this.conn.inFlight -= this.blocked
    this.blocked = 0
    if (drained !== true) {
      this.writerDone = true
      if (drained === undefined) this.spec.onWriteStall()
      return
    }
    this.spec.onWritten?.()
    this.pump()
  }
}

const pumpKey = Symbol("DirectPump")
type PumpedSocket = Net.Socket & { [pumpKey]?: DirectPump }

// The socket's listeners, one set for every pump (`this` is the socket).
function onPumpData(this: PumpedSocket, chunk: Buffer): void {
  this[pumpKey]?.onData(chunk)
}
function onPumpRead(this: PumpedSocket, n: number, buf: Buffer): boolean {
  this[pumpKey]?.onRead(n, buf)
  return true
}
function onPumpEnd(this: PumpedSocket): void {
  this[pumpKey]?.onEnd()
}
function onPumpClose(this: PumpedSocket): void {
  this[pumpKey]?.onClose()
}
function onPumpDrain(this: PumpedSocket): void {
  this[pumpKey]?.onDrain()
}

/** Node's own keys for a socket's `onread` buffer and callback (see `useReadBuffer`). */
let readBufferKeys: { readonly buffer: symbol; readonly callback: symbol } | null | undefined

/** Size of a reused read buffer: what Node reads at most per read otherwise. */
const READ_BUFFER = 64 * 1024
/** A read this large shows a busy connection (`reuseReadBuffer: "busy"`). */
const BUSY_READ = 16 * 1024

interface UserBufferHandle {
  useUserBuffer?: (buf: Uint8Array) => void
}

/**
 * Read `raw` into one 64 KiB buffer of its own from now on, as `net.connect({ onread })` does:
 * Node then calls `onPumpRead` with each read's length instead of emitting a fresh 64 KiB buffer
 * per read (an allocation, memory not in cache, and external memory that brings on garbage
 * collections). Node 20 takes `onread` only when it creates the socket and not for sockets a
 * server accepts, so the same two fields are set here on the socket, and its handle is switched
 * to the buffer. Chunks Node read before stay in its stream and still arrive as 'data' first.
 * False (nothing changed) on a TLS socket or a Node without those fields. Exported for the test
 * that shows it engages on the Node we run on (`onread` is the read callback, `this` the socket).
 */
export const useReadBuffer = (
  raw: Net.Socket,
  onread: (this: Net.Socket, n: number, buf: Buffer) => boolean = onPumpRead
): boolean => {
  if ((raw as { encrypted?: boolean }).encrypted === true) return false
  const handle = (raw as unknown as { _handle?: UserBufferHandle | null })._handle
  if (handle == null || typeof handle.useUserBuffer !== "function") return false
  if (readBufferKeys === undefined) {
    const symbols = Object.getOwnPropertySymbols(raw)
    const buffer = symbols.find((s) => s.description === "kBuffer")
    const callback = symbols.find((s) => s.description === "kBufferCb")
    readBufferKeys = buffer !== undefined && callback !== undefined ? { buffer, callback } : null
  }
  if (readBufferKeys === null) return false
  const fields = raw as unknown as Record<symbol, unknown>
  // A socket made with its own `onread` keeps it.
  if (fields[readBufferKeys.buffer] != null) return false
  const buf = Buffer.allocUnsafe(READ_BUFFER)
  fields[readBufferKeys.buffer] = buf
  fields[readBufferKeys.callback] = onread
  handle.useUserBuffer(buf)
  return true
}

/** A session on a Node socket: synchronous reads and writes (`DirectPump`), fibers for the waits. */
const runDirect = (raw: Net.Socket, conn: SessionConnection, signals: SessionSignals, spec: SessionSpec) =>
  Effect.gen(function*() {
    // The waits' fibers run with the session's context; closing its scope interrupts them.
    const context = yield* Effect.context<never>()
    const pump = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pump = new DirectPump(raw, conn, spec, context)
        signals.writeNow = pump
        pump.open()
        return pump
      }),
      (pump) => Effect.suspend(() => pump.release())
    )
    // Anything queued before the session started (e.g. by a TLS greeting) goes out now.
    pump.pump()
    yield* spec.start

    yield* Deferred.await(signals.closed).pipe(Effect.onInterrupt(() => Effect.sync(() => conn.close("Server Shutdown"))))
    pump.stopReading()
    if (pump.readFiber !== undefined) yield* Fiber.interrupt(pump.readFiber)
    // Let the writer send what is left before the socket closes (unless a failed write ended it).
    conn.flush()
    yield* Effect.gen(function*() {
      while (conn.out.size > 0 && !pump.writerDone) {
        pump.pump()
        yield* Effect.yieldNow
      }
    }).pipe(Effect.timeoutOption(Duration.millis(Math.min(spec.writeDeadline, 2000))))
    if (pump.writeFiber !== undefined) yield* Fiber.interrupt(pump.writeFiber)
  })

/**
 * Server PINGs: the first after `first` ms plus up to 20% jitter (nats-server measures RTT with
 * it), then every `interval` when `due()` says so; more than `pingMax` unanswered → `-ERR 'Stale
 * Connection'` and close.
 */
export const keepalive = (conn: SessionConnection, options: {
  readonly first: number
  readonly interval: () => number
  readonly pingMax: () => number
  readonly due: () => boolean
  readonly onFirst?: () => void
  readonly onStale: () => void
}) =>
  Effect.gen(function*() {
    const jitter = yield* Random.next
    yield* Effect.sleep(Duration.millis(options.first + jitter * options.first * 0.2))
    options.onFirst?.()
    let first = true
    while (!conn.closing) {
      if (first || conn.pingsOut > 0 || options.due()) {
        if (conn.pingsOut + 1 > options.pingMax()) {
          options.onStale()
          conn.close("Stale Connection", ErrText.staleConnection)
          return
        }
        conn.sendPing()
      }
      first = false
      yield* Effect.sleep(Duration.millis(options.interval()))
    }
  })

/**
 * What a `KeepaliveTicker` asks of the server for every connection it keeps alive — one object
 * shared by all of them (no closures per connection).
 */
export interface SharedKeepalive<C extends SessionConnection> {
  readonly interval: () => number
  readonly pingMax: () => number
  /** A PING is due although none is outstanding (e.g. the connection was idle a whole interval). */
  readonly due: (conn: C) => boolean
  readonly onStale: (conn: C) => void
}

/** One connection's place in the ticker: its next deadline and whether its first PING went out. */
export interface KeepaliveEntry<C> {
  readonly conn: C
  at: number
  first: boolean
  /** Index in the heap; -1 once removed. */
  index: number
}

/**
 * `keepalive` for many connections on one fiber: each connection has a deadline (Clock millis) in
 * a min-heap, and one scoped fiber (`run`) sleeps on the layer's Clock until the earliest and
 * handles every connection that is due — with the same steps and times as `keepalive` (first
 * PING after `first` plus the jitter drawn by the caller, then one per interval while unanswered
 * or `due`, stale past ping_max). An idle connection costs an entry, not a fiber and its timer.
 */
export class KeepaliveTicker<C extends SessionConnection> {
  private readonly heap: Array<KeepaliveEntry<C>> = []
  private readonly wake = Latch.makeUnsafe(false)
  /** The deadline the fiber sleeps until (Infinity: it waits for an entry). */
  private target = Infinity

  constructor(private readonly options: SharedKeepalive<C>) {}

  /** Keep `conn` alive from now (`now`: Clock millis): first PING after `first` ms + `jitter` · 20%. */
  add(conn: C, now: number, first: number, jitter: number): KeepaliveEntry<C> {
    const entry: KeepaliveEntry<C> = { conn, at: now + first + jitter * first * 0.2, first: true, index: this.heap.length }
    this.heap.push(entry)
    this.up(entry.index)
    if (entry.at < this.target) this.wake.openUnsafe()
    return entry
  }

  /** The connection's session is over: forget it. */
  remove(entry: KeepaliveEntry<C>): void {
    const i = entry.index
    if (i < 0) return
    entry.index = -1
    const last = this.heap.pop()!
    if (last === entry) return
    this.heap[i] = last
    last.index = i
    this.down(i)
    this.up(last.index)
  }

  get size(): number {
    return this.heap.length
  }

  /** The ticker's fiber (fork it scoped, on the Clock the connections use). */
  readonly run: Effect.Effect<never> = Effect.suspend(() => {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        const top = self.heap[0]
        if (top === undefined) {
          yield* self.wake.await
          self.wake.closeUnsafe()
          continue
        }
        let now = yield* Clock.currentTimeMillis
        if (top.at > now) {
          self.target = top.at
          const timedOut = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(Duration.millis(top.at - now)), true),
            Effect.as(self.wake.await, false)
          )
          self.wake.closeUnsafe()
          self.target = Infinity
          if (!timedOut) continue
          now = Math.max(yield* Clock.currentTimeMillis, top.at)
        }
        self.tick(now)
      }
    })
  })

  /** Handle every connection due at `now`. */
  private tick(now: number): void {
    const o = this.options
    let entry = this.heap[0]
    while (entry !== undefined && entry.at <= now) {
      const conn = entry.conn
      if (conn.closing) {
        this.remove(entry)
      } else if (entry.first || conn.pingsOut > 0 || o.due(conn)) {
        if (conn.pingsOut + 1 > o.pingMax()) {
          this.remove(entry)
          o.onStale(conn)
          conn.close("Stale Connection", ErrText.staleConnection)
        } else {
          conn.sendPing()
          this.reschedule(entry, now + o.interval())
        }
      } else {
        this.reschedule(entry, now + o.interval())
      }
      entry = this.heap[0]
    }
  }

  private reschedule(entry: KeepaliveEntry<C>, at: number): void {
    entry.first = false
    entry.at = at
    this.down(entry.index)
  }

  private up(i: number): void {
    const heap = this.heap
    const entry = heap[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = heap[p]!
      if (parent.at <= entry.at) break
      heap[i] = parent
      parent.index = i
      i = p
    }
    heap[i] = entry
    entry.index = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const entry = heap[i]!
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && heap[r]!.at < heap[l]!.at ? r : l
      const child = heap[c]!
      if (child.at >= entry.at) break
      heap[i] = child
      child.index = i
      i = c
    }
    heap[i] = entry
    entry.index = i
  }
}
