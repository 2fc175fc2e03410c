/**
 * The skeleton every connection session shares (clients and route links): the supervised fibers
 * around one socket and one synchronous connection object.
 *
 * In the session's scope it opens the socket's read side first (the Node socket is set up — and
 * later destroyed — by its reader, and writes wait for it), forks the reader (bytes →
 * `Parser.stream` → the connection's batch handler), the writer (wakes when a batch left output and
 * writes it in one call) and whatever the caller starts (greeting, keepalive), then waits until the
 * connection is closed by either side, lets the writer send what is still buffered (an `-ERR`, the
 * last messages) and returns; closing the scope closes the socket.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { writeNowOf } from "../net/NetSocket.js"
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
  readonly wake: Latch.Latch
  readonly closed: Deferred.Deferred<void>
  /** Handed to the connection: wake the writer; the connection is closed. */
  readonly io: { wakeWriter(): void; closed(): void }
}

export const makeSignals = (): SessionSignals => {
  const wake = Latch.makeUnsafe(false)
  const closed = Deferred.makeUnsafe<void>()
  return {
    wake,
    closed,
    io: {
      wakeWriter: () => wake.openUnsafe(),
      closed: () => Deferred.doneUnsafe(closed, Effect.void)
    }
  }
}

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

export interface SessionSpec {
  readonly kind: Parser.PeerKind
  readonly limits: Parser.ParserLimits
  /** Called with every read before it is parsed (e.g. to note the first byte). */
  readonly onRead?: ((chunks: ReadonlyArray<Uint8Array>) => void) | undefined
  /** Apply one parsed batch to the connection. */
  readonly handle: (parsed: Parser.Parsed) => Effect.Effect<void>
  readonly writeDeadline: number
  /** The socket did not take a write within write_deadline. */
  readonly onWriteStall: () => void
  /** The socket accepted a write. */
  readonly onWritten?: (() => void) | undefined
  /** Runs once the fibers are up: the greeting, timers (fork them into the scope). */
  readonly start: Effect.Effect<void, never, Scope.Scope>
}

/** Run a session until its connection closes (scoped: the scope's close closes the socket). */
export const runSession = (socket: Socket.Socket, conn: SessionConnection, signals: SessionSignals, spec: SessionSpec) =>
  Effect.gen(function*() {
    const pull = yield* Socket.readerBytes(socket)
    const onRead = spec.onRead
    const reads = onRead === undefined
      ? pull
      : Effect.map(pull, (chunks) => {
        onRead(chunks)
        return chunks
      })
    const reader = yield* Stream.fromPull(Effect.succeed(reads)).pipe(
      Parser.stream(spec.kind, spec.limits),
      Stream.runForEach(spec.handle),
      // However the read side ends (EOF, reset), the peer is gone.
      Effect.matchCause({ onSuccess: () => conn.close("Client Closed"), onFailure: () => conn.close("Client Closed") }),
      Effect.forkScoped
    )
    const writer = yield* socket.writer
    const writing = yield* writerLoop(conn.out, writer, signals.wake, conn, spec.writeDeadline, spec.onWriteStall, spec.onWritten).pipe(Effect.forkScoped)
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
