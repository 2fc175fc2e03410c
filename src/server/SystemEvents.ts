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
 * nothing is built when nobody has interest.
 * - `$SYS.SERVER.ACCOUNT.<acc>.CONNS` then `$SYS.ACCOUNT.<acc>.SERVER.CONNS`
 *   (`io.nats.server.advisory.v1.account_connections`, one id for both, the account's
 *   `AccountStat`) when a client logs into an account and when it goes — for every account, `$G`
 *   and the system account too — and again every 30 s while the account has connections
 *   (`dueAccountConnections` says which; a fiber of the monitor's layer asks);
 * - `$SYS.SERVER.<id>.SHUTDOWN` (the bare `ServerInfo` stamp) when the server shuts down, after
 *   which it publishes nothing more (nats-server turns its eventing off).
 * These are rare events: plain functions, no Effect.
 *
 * @since 0.1.0
 */
import { SYSTEM_ACCOUNT } from "../accounts/Accounts.js"
import { fromText } from "../protocol/ByteString.js"
import { makeDynamicName } from "./ServerId.js"
import { goJson, goTime } from "../values/GoJson.js"
import type * as Clock from "effect/Clock"
import type * as Random from "effect/Random"
import type { ServerOptions } from "../config/ServerOptions.js"
import type { Account } from "./Subscription.js"
import type { Publisher, Router } from "./Router.js"

/** What the system publisher reads of its server (a `ServerState`). */
export interface SystemHost {
  readonly options: ServerOptions
  readonly router: Router
  readonly clock: Clock.Clock
  readonly random: Random.Random
  readonly serverId: string
  readonly serverName: string
  readonly listen: { readonly host: string; readonly port: number } | undefined
  readonly clusterName: string | undefined
}

/** What the client events read of a client (a `ClientConnection`). */
export interface EventClient {
  readonly cid: number
  readonly ip: string
  readonly start: Date
  readonly account: Account
  readonly connected: boolean
  readonly user: string | undefined
  readonly name: string | undefined
  readonly lang: string | undefined
  readonly version: string | undefined
  readonly rtt: number | undefined
  readonly stop: Date | undefined
  readonly inMsgs: number
  readonly inBytes: number
  readonly outMsgs: number
  readonly outBytes: number
  readonly closeReason: string | undefined
  now(): number
}

/** The publisher of the system account's messages (nats-server's system client). */
export const SYSTEM_PUBLISHER: Publisher = { cid: -1, echo: true }

export const CONNECT_EVENT_TYPE = "io.nats.server.advisory.v1.client_connect"
export const DISCONNECT_EVENT_TYPE = "io.nats.server.advisory.v1.client_disconnect"
export const ACCOUNT_CONNECTIONS_EVENT_TYPE = "io.nats.server.advisory.v1.account_connections"

/** nats-server's `eventsHBInterval`: an account with connections repeats its CONNS event this often. */
export const ACCOUNT_CONNECTIONS_INTERVAL_MS = 30_000

/** `$SYS.ACCOUNT.<acc>.CONNECT` / `.DISCONNECT` (text; the router's subjects are byte strings). */
export const connectEventSubject = (account: string): string => `$SYS.ACCOUNT.${account}.CONNECT`
export const disconnectEventSubject = (account: string): string => `$SYS.ACCOUNT.${account}.DISCONNECT`
/** The two subjects of an account's CONNS event, in nats-server's order (the old one first). */
export const accountConnectionsSubjects = (account: string): readonly [string, string] => [
  `$SYS.SERVER.ACCOUNT.${account}.CONNS`,
  `$SYS.ACCOUNT.${account}.SERVER.CONNS`
]
export const shutdownEventSubject = (serverId: string): string => `$SYS.SERVER.${serverId}.SHUTDOWN`
export const statszEventSubject = (serverId: string): string => `$SYS.SERVER.${serverId}.STATSZ`

/** nats-server's `AccountStat` of one account (/accstatz, STATZ requests, CONNS events). */
export const accountStat = (acc: Account): Record<string, unknown> => ({
  acc: acc.name,
  conns: acc.connections,
  leafnodes: 0,
  total_conns: acc.connections,
  sent: { msgs: acc.stats.outMsgs, bytes: acc.stats.outBytes },
  received: { msgs: acc.stats.inMsgs, bytes: acc.stats.inBytes },
  slow_consumers: acc.stats.slowConsumers
})

const NANOS_PER_MS = 1_000_000

/** A server's system account publisher and its client events. */
export class SystemEvents {
  private seq = 0
  /** When each account with connections repeats its CONNS event (clock ms). */
  private readonly connsDue = new Map<Account, number>()
  /** SHUTDOWN was sent: nothing more is published. */
  private stopped = false

  constructor(
    private readonly server: SystemHost,
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
    if (this.stopped) return
    const router = this.server.router
    const payload = Buffer.from(goJson(body), "utf8")
    router.publishLocal(SYSTEM_PUBLISHER, subject, reply, -1, payload, this.account)
    router.flush()
  }

  /**
   * `acc`'s CONNS event (to `reply` only, when given: a `CONNS` request), and its repeat
   * rescheduled: in 30 s while it has connections, never once it has none.
   */
  accountConnections(acc: Account, reply?: string): void {
    if (this.stopped) return
    const now = this.now()
    if (acc.connections > 0) this.connsDue.set(acc, now + ACCOUNT_CONNECTIONS_INTERVAL_MS)
    else this.connsDue.delete(acc)
    const subjects = reply !== undefined ? [reply] : accountConnectionsSubjects(acc.name).filter((s) => this.hasInterest(s))
    if (subjects.length === 0) return
    const head = { type: ACCOUNT_CONNECTIONS_EVENT_TYPE, id: this.eventId(), timestamp: goTime(now) }
    const stat = accountStat(acc)
    for (const subject of subjects) this.publish(fromText(subject), undefined, { ...head, server: this.stamp(now), ...stat })
  }

  /** The accounts whose CONNS repeat is due at `now` (clock ms). */
  dueAccountConnections(now: number = this.now()): Array<Account> {
    const due: Array<Account> = []
    for (const [acc, at] of this.connsDue) if (at <= now) due.push(acc)
    return due
  }

  /** Repeat the CONNS event of every account whose turn it is. */
  repeatAccountConnections(): void {
    for (const acc of this.dueAccountConnections()) this.accountConnections(acc)
  }

  /** The server is shutting down: `$SYS.SERVER.<id>.SHUTDOWN`, then no more events. */
  shutdown(): void {
    if (this.stopped) return
    const subject = shutdownEventSubject(this.server.serverId)
    if (this.hasInterest(subject)) this.publish(fromText(subject), undefined, this.stamp())
    this.stopped = true
    this.connsDue.clear()
  }

  /** Whether SHUTDOWN was sent. */
  get isStopped(): boolean {
    return this.stopped
  }

  /** A client logged into `conn.account` (nats-server's account registration): its CONNS event. */
  clientBound(conn: EventClient): void {
    this.accountConnections(conn.account)
  }

  /** A client's CONNECT was accepted. */
  clientConnected(conn: EventClient): void {
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
  clientDisconnected(conn: EventClient): void {
    if (!conn.connected) return
    this.accountConnections(conn.account)
    if (conn.account === this.server.router.global) return
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
const clientInfo = (conn: EventClient, closed: boolean): Record<string, unknown> => ({
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
