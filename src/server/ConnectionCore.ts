/**
 * What every connection of the broker shares, clients and route links alike: the outbound
 * buffer and its dirty flag, keepalive state (PINGs out, RTT), traffic counters and the close
 * reason. The hot-path sends go through here.
 *
 * Time is read from the broker's Effect `Clock` (`clock`, given by the subclass), never from
 * `Date.now()`/`performance.now()`, so that `TestClock` drives activity stamps and RTTs too.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Encoder from "../protocol/Encoder.js"
import { OutBuffer } from "../protocol/OutBuffer.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import type { Flushable } from "./Router.js"
import type { ServerState } from "./ServerState.js"

export abstract class ConnectionCore implements Flushable {
  abstract readonly server: ServerState
  /**
   * When the connection was made and last had activity (wall-clock ms): numbers, not `Date`s —
   * two `Date`s were ~190 bytes of every idle connection and a `Date` per batch that had ops.
   */
  readonly startMs: number
  readonly out = new OutBuffer()
  dirty = false

  pingsOut = 0
  lastActivityMs: number
  rtt: number | undefined = undefined
  /**
   * When the outstanding PING was sent (`monotonicMs`, fractional); NaN before the first. It starts
   * as a double on purpose: a field that starts as a small integer and later holds a fraction
   * changes representation, which retires the hidden class of every connection object and
   * deoptimizes every hot function that touched one — at the first keepalive PING, seconds into
   * a connection's traffic (measured: a ~0.6 s burst of 1-5 ms stalls in latency_10kps).
   */
  pingSentAt = Number.NaN

  inMsgs = 0
  inBytes = 0
  outMsgs = 0
  outBytes = 0
  /** Bytes handed to the socket and not yet accepted by it (waiting for drain). */
  inFlight = 0

  closeReason: CloseReason | undefined = undefined

  constructor(readonly clock: Clock.Clock) {
    const now = clock.currentTimeMillisUnsafe()
    this.startMs = now
    this.lastActivityMs = now
  }

  /** When the connection was made (for the monitor and closed-connection records). */
  get start(): Date {
    return new Date(this.startMs)
  }

  /** When the connection last had activity (for the monitor and closed-connection records). */
  get lastActivity(): Date {
    return new Date(this.lastActivityMs)
  }

  /** Wall-clock milliseconds from the broker's `Clock`. */
  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /** Monotonic milliseconds (fractional) from the broker's `Clock`. */
  monotonicMs(): number {
    return Number(this.clock.monotonicTimeNanosUnsafe()) / 1e6
  }

  get closing(): boolean {
    return this.closeReason !== undefined
  }

  /** Hand the buffered output to the writer fiber. */
  abstract flush(): void

  /** Append a control frame; it goes out with the batch's flush. */
  send(bytes: Uint8Array): void {
    if (this.closing) return
    this.out.appendBytes(bytes)
    this.server.router.markDirty(this)
  }

  /** A keepalive PING, written at once (timers run outside any batch). */
  sendPing(): void {
    this.pingsOut++
    this.pingSentAt = this.monotonicMs()
    this.send(Encoder.PING_BYTES)
    this.flush()
  }

  /** The peer answered: nothing is outstanding and the round trip is the RTT. */
  pong(): void {
    this.pingsOut = 0
    if (this.pingSentAt > 0) this.rtt = this.monotonicMs() - this.pingSentAt
  }
}
