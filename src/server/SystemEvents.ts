/**
 * The system account's own traffic: what this server publishes there (nats-server's internal
 * "system client"), and the events it publishes when a client logs in and when it goes.
 *
 * Messages are published like any local publish, in the system account (`options.systemAccount`,
 * `$SYS` by default), so they reach local subscribers there and cross routes to the members whose
 * clients subscribed. Each carries nats-server's `ServerInfo` stamp (`server`: name, host, id,
 * cluster, ver, tags, seq, jetstream, time), whose `seq` counts what this server published.
 *
 * Events, as nats-server 2.9.10 publishes them (captured from the real server):
 * - `$SYS.ACCOUNT.<acc>.CONNECT` (`io.nats.server.advisory.v1.client_connect`) once a client's
 *   CONNECT was accepted;
 * - `$SYS.ACCOUNT.<acc>.DISCONNECT` (`io.nats.server.advisory.v1.client_disconnect`) when it
 *   closed, with its message counts (`sent` = what the client published, `received` = what it
 *   was delivered) and the close reason.
 * Clients of the global account `$G` get none (nats-server ignores global account activity), and
 * nothing is built when nobody has interest. These are rare events: plain functions, no Effect.
 *
 * @since 0.1.0
 */
import { SYSTEM_ACCOUNT } from "../accounts/Accounts.js"
import { fromText } from "../protocol/ByteString.js"
import { makeDynamicName } from "./ServerId.js"
import { goJson, goTime } from "../values/GoJson.js"
import type { Account } from "./Subscription.js"
import type { ClientConnection } from "./ClientConnection.js"
import type { Publisher } from "./Router.js"
import type { ServerState } from "./ServerState.js"

/** The publisher of the system account's messages (nats-server's system client). */
export const SYSTEM_PUBLISHER: Publisher = { cid: -1, echo: true }

export const CONNECT_EVENT_TYPE = "io.nats.server.advisory.v1.client_connect"
export const DISCONNECT_EVENT_TYPE = "io.nats.server.advisory.v1.client_disconnect"

/** `$SYS.ACCOUNT.<acc>.CONNECT` / `.DISCONNECT` (text; the router's subjects are byte strings). */
export const connectEventSubject = (account: string): string => `$SYS.ACCOUNT.${account}.CONNECT`
export const disconnectEventSubject = (account: string): string => `$SYS.ACCOUNT.${account}.DISCONNECT`

const NANOS_PER_MS = 1_000_000

/** A server's system account publisher and its client events. */
export class SystemEvents {
  private seq = 0

  constructor(
    private readonly server: ServerState,
    /** The nats-server version this server speaks (`ver`). */
    private readonly version: string
  ) {}

  /** The system account's name (`system_account`, else `$SYS`). */
  get name(): string {
    return this.server.options.systemAccount ?? SYSTEM_ACCOUNT
  }

  /** The system account (always served: `ServerState` creates it). */
  get account(): Account {
    return this.server.router.account(this.name)
  }

  private now(): number {
    return this.server.clock.currentTimeMillisUnsafe()
  }

  /** nats-server's `ServerInfo` stamp; every call takes the next `seq`. */
  stamp(now: number = this.now()): Record<string, unknown> {
    const s = this.server
    const tags = s.options.serverTags
    return {
      name: s.serverName,
      host: s.listen?.host ?? s.options.host,
      id: s.serverId,
      cluster: s.clusterName,
      ver: this.version,
      tags: tags !== undefined && tags.length > 0 ? tags : undefined,
      seq: ++this.seq,
      jetstream: false,
      time: goTime(now)
    }
  }

  /** A fresh event id (a 22-character nuid, as nats-server's). */
  eventId(): string {
    return makeDynamicName(this.server.random)
  }

  /** Whether anything (local or a route) has interest in `subject` (text) in the system account. */
  hasInterest(subject: string): boolean {
    const result = this.account.index.match(fromText(subject))
    return result.plain.length > 0 || result.queues.length > 0
  }

  /**
   * Publish `body` (a JSON document, written as Go writes it) on `subject` in the system account,
   * and flush it out. `subject` and `reply` are byte strings, as the router has them. Not from
   * inside a delivery: the router is not re-entrant (responders defer, see monitor/SystemRequests).
   */
  publish(subject: string, reply: string | undefined, body: unknown): void {
    const router = this.server.router
    const payload = Buffer.from(goJson(body), "utf8")
    router.publishLocal(SYSTEM_PUBLISHER, subject, reply, -1, payload, this.account)
    router.flush()
  }

  /** A client's CONNECT was accepted. */
  clientConnected(conn: ClientConnection): void {
    if (conn.account === this.server.router.global) return
    const subject = connectEventSubject(conn.account.name)
    if (!this.hasInterest(subject)) return
    const now = this.now()
    this.publish(fromText(subject), undefined, {
      type: CONNECT_EVENT_TYPE,
      id: this.eventId(),
      timestamp: goTime(now),
      server: this.stamp(now),
      client: clientInfo(conn, false)
    })
  }

  /** A logged-in client is gone (its subscriptions already withdrawn). */
  clientDisconnected(conn: ClientConnection): void {
    if (!conn.connected || conn.account === this.server.router.global) return
    const subject = disconnectEventSubject(conn.account.name)
    if (!this.hasInterest(subject)) return
    const stop = conn.stop?.getTime() ?? this.now()
    this.publish(fromText(subject), undefined, {
      type: DISCONNECT_EVENT_TYPE,
      id: this.eventId(),
      timestamp: goTime(stop),
      server: this.stamp(),
      client: clientInfo(conn, true),
      sent: { msgs: conn.inMsgs, bytes: conn.inBytes },
      received: { msgs: conn.outMsgs, bytes: conn.outBytes },
      reason: conn.closeReason ?? ""
    })
  }
}

/** nats-server's `ClientInfo` of an event, in its field order (empty fields left out). */
const clientInfo = (conn: ClientConnection, closed: boolean): Record<string, unknown> => ({
  start: goTime(conn.start),
  host: conn.ip,
  id: conn.cid,
  acc: conn.account.name,
  user: conn.user || undefined,
  name: conn.name || undefined,
  lang: conn.lang || undefined,
  ver: conn.version || undefined,
  rtt: closed && conn.rtt !== undefined && conn.rtt > 0 ? Math.round(conn.rtt * NANOS_PER_MS) : undefined,
  stop: closed ? goTime(conn.stop ?? conn.now()) : undefined,
  kind: "Client",
  client_type: "nats"
})
