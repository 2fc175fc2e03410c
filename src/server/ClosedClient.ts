/**
 * What `/connz?state=closed` shows of a client that is gone: a small copy of its ConnInfo fields
 * taken when it closed — counters, identity, close reason and its subscriptions as plain records —
 * and nothing else. Keeping the connection object itself would keep its output buffer, parser
 * state and session alive for as long as the record is listed (nats-server keeps the last 10,000).
 *
 * @since 0.1.0
 */
import type { CloseReason } from "../protocol/ProtocolError.js"

/** A subscription as the closed client had it. */
export interface ClosedSubscription {
  readonly subject: string
  readonly queue: string | undefined
  readonly sid: string
  readonly delivered: number
  readonly max: number
  readonly owner: { readonly cid: number }
}

/** What a closing client (a `ClientConnection`) hands over to its record. */
export interface ClosingClient {
  readonly cid: number
  readonly ip: string
  readonly port: number
  readonly start: Date
  readonly lastActivity: Date
  readonly stop: Date | undefined
  readonly closeReason: CloseReason | undefined
  readonly rtt: number | undefined
  readonly inMsgs: number
  readonly outMsgs: number
  readonly inBytes: number
  readonly outBytes: number
  readonly name: string | undefined
  readonly lang: string | undefined
  readonly version: string | undefined
  readonly user: string | undefined
  /** The account the client was bound to (for `/connz?acc=`). */
  readonly account?: { readonly name: string } | undefined
  readonly subs: Iterable<readonly [string, { readonly subject: string; readonly queue: string | undefined; readonly sid: string; readonly delivered: number; readonly max: number }]>
}

export class ClosedClient {
  readonly kind = "Client" as const
  /** Nothing is pending on a closed connection. */
  readonly out = { size: 0 } as const
  readonly inFlight = 0
  readonly closing = true

  private constructor(
    readonly cid: number,
    readonly ip: string,
    readonly port: number,
    readonly start: Date,
    readonly lastActivity: Date,
    readonly stop: Date,
    readonly closeReason: CloseReason | undefined,
    readonly rtt: number | undefined,
    readonly inMsgs: number,
    readonly outMsgs: number,
    readonly inBytes: number,
    readonly outBytes: number,
    readonly name: string | undefined,
    readonly lang: string | undefined,
    readonly version: string | undefined,
    readonly user: string | undefined,
    readonly subs: ReadonlyMap<string, ClosedSubscription>,
    /** The name of the account the client was in. */
    readonly accountName: string | undefined
  ) {}

  /** The record of `conn`, which has just closed. */
  static of(conn: ClosingClient): ClosedClient {
    const owner = { cid: conn.cid }
    const subs = new Map<string, ClosedSubscription>()
    for (const [sid, s] of conn.subs) {
      subs.set(sid, { subject: s.subject, queue: s.queue, sid: s.sid, delivered: s.delivered, max: s.max, owner })
    }
    return new ClosedClient(
      conn.cid,
      conn.ip,
      conn.port,
      conn.start,
      conn.lastActivity,
      conn.stop ?? new Date(),
      conn.closeReason,
      conn.rtt,
      conn.inMsgs,
      conn.outMsgs,
      conn.inBytes,
      conn.outBytes,
      conn.name,
      conn.lang,
      conn.version,
      conn.user,
      subs,
      conn.account?.name
    )
  }

  /** Connection: already closed. */
  close(): void {}
}
