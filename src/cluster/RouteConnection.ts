/**
 * One route link's protocol state and the synchronous handling of its message and interest ops.
 *
 * Like `ClientConnection`, it is plain code over parsed batches: RS+/RS- update the remote
 * interest this route holds in the subject index, RMSG/HMSG go to local subscribers only (the
 * one-hop rule). INFO and CONNECT change cluster membership, which is Effect's business, so
 * `apply` stops at them and lets the route session handle them in order.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Encoder from "../protocol/Encoder.js"
import type * as Op from "../protocol/Op.js"
import type { MsgSink, Parsed } from "../protocol/Parser.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import type { InterestChange, Producer } from "../server/Router.js"
import { ConnectionCore } from "../server/ConnectionCore.js"
import type { Connection, ServerState } from "../server/ServerState.js"
import { RemoteInterest, type RouteTarget } from "../server/Subscription.js"
import type { PeerInfo } from "./RouteInfo.js"

/** Above this backlog a route stalls the publishers feeding it; below the low mark it releases them. */
const BACKLOG_HIGH = 8 * 1024 * 1024
const BACKLOG_LOW = 1024 * 1024

import type { Account } from "../server/Subscription.js"

export interface RouteIO {
  wakeWriter(): void
  closed(): void
}

export class RouteConnection extends ConnectionCore implements Connection, RouteTarget, MsgSink {
  readonly kind = "Router" as const
  mark = 0
  readonly queueScratch: Array<string> = []
  /** Remote interest this route announced, keyed by `account subject[ queue]` as RS- names it. */
  readonly interest = new Map<string, RemoteInterest>()
  /** The account of the last routed op (runs of RMSG usually share one): saves a map lookup each. */
  private lastAccount: Account | undefined = undefined

  /** Set once the peer's INFO was accepted and this route is the one for that server. */
  registered = false
  peer: PeerInfo | undefined = undefined
  /** The peer's raw INFO, re-sent when gossiping. */
  peerRaw: Record<string, unknown> | undefined = undefined
  /** What the peer said in CONNECT (its id and cluster name), before its INFO arrived. */
  connectName: string | undefined = undefined
  connectReceived = false

  constructor(
    readonly cid: number,
    readonly server: ServerState,
    readonly ip: string,
    readonly port: number,
    /** Whether we dialed this route, and the URL we dialed. */
    public solicitedUrl: string | undefined,
    /** Whether that URL is a configured (explicit) route. */
    public explicit: boolean,
    private readonly io: RouteIO
  ) {
    super(server.clock)
  }

  get rid(): number {
    return this.cid
  }

  get remoteId(): string | undefined {
    return this.peer?.server_id ?? this.connectName
  }

  /** `ip:port - rid:N - ` as nats-server prefixes route log lines. */
  get prefix(): string {
    return `${this.ip}:${this.port} - rid:${this.cid} - `
  }

  /** Number of interest entries held for this route (for /routez and /varz). */
  get subscriptionCount(): number {
    return this.interest.size
  }

  // --- output ----------------------------------------------------------------------------------

  flush(producer?: Producer): void {
    this.dirty = false
    if (this.out.size > 0) this.io.wakeWriter()
    // The producer whose batch took the backlog past the high mark waits for it to drain.
    if (producer !== undefined && this.backlog > BACKLOG_HIGH) producer.stalledBy(this)
  }

  /** Bytes waiting for the peer: buffered here plus handed to the socket and not yet accepted. */
  get backlog(): number {
    return this.out.size + this.inFlight
  }

  private drained: Deferred.Deferred<void> | undefined = undefined

  /** Backlogged: wait (at most a second, as nats-server's stall) until the backlog is low again. */
  awaitDrain(): Effect.Effect<void> {
    if (this.backlog <= BACKLOG_LOW || this.closing) return Effect.void
    this.drained ??= Deferred.makeUnsafe<void>()
    return Deferred.await(this.drained).pipe(Effect.timeoutOption(Duration.seconds(1)), Effect.asVoid)
  }

  // PINGs this side wrote and PONGs the peer answered (PONGs come back in order), for `roundTrip`.
  private pingsSent = 0
  private pongsSeen = 0
  private roundTrips: Array<{ readonly n: number; readonly done: Deferred.Deferred<void> }> = []

  override sendPing(): void {
    this.pingsSent++
    super.sendPing()
  }

  override pong(): void {
    super.pong()
    this.pongsSeen++
    while (this.roundTrips.length > 0 && this.roundTrips[0]!.n <= this.pongsSeen) Deferred.doneUnsafe(this.roundTrips.shift()!.done, Effect.void)
  }

  /**
   * A PING/PONG round trip: succeeds once the peer has processed everything sent before it (e.g.
   * an RS+), or after `timeout` when the route is gone or silent.
   */
  roundTrip(timeout: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closing) return Effect.void
      const done = Deferred.makeUnsafe<void>()
      this.roundTrips.push({ n: ++this.pingsSent, done })
      this.send(Encoder.PING_BYTES)
      this.flush()
      return Deferred.await(done).pipe(Effect.timeoutOption(timeout), Effect.asVoid)
    })
  }

  /** The writer handed a chunk to the socket: release stalled publishers once drained. */
  written(): void {
    if (this.drained !== undefined && (this.backlog <= BACKLOG_LOW || this.closing)) {
      Deferred.doneUnsafe(this.drained, Effect.void)
      this.drained = undefined
    }
  }

  /** RouteTarget: one RMSG/HMSG for a message a local client published (hot path). */
  sendMsg(account: string, subject: string, reply: string | undefined, queues: ReadonlyArray<string> | undefined, headerSize: number, buf: Uint8Array, start = 0, end = buf.length): void {
    if (this.closeReason !== undefined) return
    this.out.appendRouteMsg(account, subject, reply, queues, headerSize, buf, start, end)
    this.outMsgs++
    this.outBytes += end - start
    if (!this.dirty) this.server.router.markDirty(this)
  }

  /** Announce one change of local interest (RS+ with the weight for queues, RS- at zero). */
  sendInterest(change: InterestChange): void {
    this.send(Buffer.from(interestLine(change), "latin1"))
  }

  /** The full local interest, right after registration, in one write. */
  sendAllInterest(): void {
    let text = ""
    for (const acc of this.server.router.accounts.values()) {
      for (const change of acc.localInterest.values()) text += interestLine(change)
    }
    // Subjects and queue names are byte strings: one byte per char.
    if (text.length > 0) this.send(Buffer.from(text, "latin1"))
  }

  close(reason: CloseReason, errText?: string): void {
    if (this.closing) return
    if (errText !== undefined) this.send(Encoder.err(errText))
    this.closeReason = reason
    this.flush()
    this.written()
    this.io.closed()
  }

  // --- input -----------------------------------------------------------------------------------

  /**
   * Apply ops from `from` on, synchronously, until one that needs the session (INFO, CONNECT,
   * -ERR): returns its index, or `ops.length` when the batch is done. Flushes what it touched.
   */
  apply(parsed: Parsed, from: number): number {
    const ops = parsed.ops
    if (from === 0 && (ops.length > 0 || parsed.sunk > 0)) this.lastActivityMs = this.now()
    let i = from
    for (; i < ops.length && !this.closing; i++) {
      const op = ops[i]!
      switch (op._tag) {
        case "RouteMsg":
          this.routedMsg(op)
          break
        case "RouteSub":
          this.routeSub(op)
          break
        case "RouteUnsub":
          this.routeUnsub(op)
          break
        case "Ping":
          this.send(Encoder.PONG_BYTES)
          break
        case "Pong":
          this.pong()
          break
        case "Info":
        case "Connect":
        case "Err":
          this.server.router.flush()
          return i
        default:
          // +OK, LS+/LS-/A+/A- and client ops on a route carry nothing we act on.
          break
      }
    }
    this.server.router.flush()
    return i
  }

  /** The account a routed op names, when this server serves it. */
  private accountOf(name: string): Account | undefined {
    const last = this.lastAccount
    if (last !== undefined && last.name === name) return last
    const acc = this.server.router.lookup(name)
    if (acc !== undefined) this.lastAccount = acc
    return acc
  }

  private routedMsg(op: Op.RouteMsg): void {
    this.routed(op.account, op.subject, op.reply, op.queues, op.headerSize, op.payload, 0, op.payload.length)
  }

  /**
   * MsgSink: a whole RMSG/HMSG straight from the parser, before any op of its batch (the hot
   * path: no op object per message).
   */
  msg(account: string, subject: string, reply: string | undefined, queues: ReadonlyArray<string> | undefined, headerSize: number, buf: Uint8Array, from: number, to: number): void {
    if (!this.closing) this.routed(account, subject, reply, queues, headerSize, buf, from, to)
  }

  /** One routed message whose payload is `buf[from, to)` (no view of it is made: see `Router.publishLocalRange`). */
  private routed(account: string, subject: string, reply: string | undefined, queues: ReadonlyArray<string> | undefined, headerSize: number, buf: Uint8Array, from: number, to: number): void {
    this.inMsgs++
    this.inBytes += to - from
    const acc = this.accountOf(account)
    if (acc === undefined) {
      // As nats-server (a static config never creates accounts on demand): dropped, at debug.
      const log = this.server.log
      if (log.debugEnabled) log.debug(`${this.prefix}Unknown account "${account}" for routed message on subject: "${subject}"`)
      return
    }
    this.server.router.publishFromRouteRange(subject, reply, queues, headerSize, buf, from, to, acc)
  }

  private routeSub(op: Op.RouteSub): void {
    const key = op.queue === undefined ? `${op.account} ${op.subject}` : `${op.account} ${op.subject} ${op.queue}`
    const known = this.interest.get(key)
    if (known !== undefined) {
      // A repeated RS+ updates a queue's weight; for a plain subject it is ignored.
      known.weight = op.weight
      return
    }
    const acc = this.accountOf(op.account)
    if (acc === undefined) {
      // nats-server keeps nothing (it does not count it in /routez either) and says so as an error.
      this.server.log.error(`${this.prefix}Unknown account "${op.account}" for remote subject "${op.subject}"`)
      return
    }
    const interest = new RemoteInterest(this, op.subject, op.queue, op.weight, acc)
    try {
      this.server.router.addRemote(interest, acc)
    } catch {
      // An invalid subject from a peer is ignored rather than dropping the route.
      return
    }
    this.interest.set(key, interest)
  }

  private routeUnsub(op: Op.RouteUnsub): void {
    const key = op.queue === undefined ? `${op.account} ${op.subject}` : `${op.account} ${op.subject} ${op.queue}`
    const known = this.interest.get(key)
    if (known === undefined) {
      const log = this.server.log
      if (log.debugEnabled && this.accountOf(op.account) === undefined) {
        log.debug(`${this.prefix}Unknown account "${op.account}" for subject "${op.subject}"`)
      }
      return
    }
    this.interest.delete(key)
    this.server.router.removeRemote(known, known.account)
  }

  /**
   * Drop everything this route told us (it is gone). Returns how many entries were removed per
   * account (nats-server logs one `Removing N subscriptions for account "X"` line each).
   */
  removeAllInterest(): Map<string, number> {
    const removed = new Map<string, number>()
    for (const [key, interest] of this.interest) {
      this.server.router.removeRemote(interest, interest.account)
      const name = interest.account?.name ?? key.slice(0, key.indexOf(" "))
      removed.set(name, (removed.get(name) ?? 0) + 1)
    }
    this.interest.clear()
    return removed
  }
}

const interestLine = (c: InterestChange): string => {
  if (c.queue === undefined) return c.count > 0 ? `RS+ ${c.account} ${c.subject}\r\n` : `RS- ${c.account} ${c.subject}\r\n`
  return c.count > 0
    ? `RS+ ${c.account} ${c.subject} ${c.queue} ${c.count}\r\n`
    : `RS- ${c.account} ${c.subject} ${c.queue}\r\n`
}
