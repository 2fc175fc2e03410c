/**
 * What every connection of the broker shares, clients and route links alike: the outbound
 * buffer and its dirty flag, keepalive state (PINGs out, RTT), traffic counters and the close
 * reason. The hot-path sends go through here.
 *
 * @since 0.1.0
 */
import * as Encoder from "../protocol/Encoder.js"
import { OutBuffer } from "../protocol/OutBuffer.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import type { Flushable } from "./Router.js"
import type { ServerState } from "./ServerState.js"

export abstract class ConnectionCore implements Flushable {
  abstract readonly server: ServerState
  readonly start = new Date()
  readonly out = new OutBuffer()
  dirty = false

  pingsOut = 0
  lastActivity = new Date()
  rtt: number | undefined = undefined
  pingSentAt = 0

  inMsgs = 0
  inBytes = 0
  outMsgs = 0
  outBytes = 0
  /** Bytes handed to the socket and not yet accepted by it (waiting for drain). */
  inFlight = 0

  closeReason: CloseReason | undefined = undefined

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
    this.pingSentAt = performance.now()
    this.send(Encoder.PING_BYTES)
    this.flush()
  }

  /** The peer answered: nothing is outstanding and the round trip is the RTT. */
  pong(): void {
    this.pingsOut = 0
    if (this.pingSentAt > 0) this.rtt = performance.now() - this.pingSentAt
  }
}
