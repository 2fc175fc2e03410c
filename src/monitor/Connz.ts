/**
 * `/connz`: client connections (open, recently closed, or both) with nats-server 2.9's options —
 * sorting, paging, a single `cid`, one account's connections (`acc`), subscription lists and
 * `auth` details (the user, and the account unless it is `$G`).
 *
 * @since 0.1.0
 */
import { toText } from "../protocol/ByteString.js"
import * as Result from "effect/Result"
import { GLOBAL_ACCOUNT } from "../accounts/Accounts.js"
import { ClientConnection } from "../server/ClientConnection.js"
import { ClosedClient, type ClosedSubscription } from "../server/ClosedClient.js"
import type { Connection, ServerState } from "../server/ServerState.js"
import type { LocalSubscription } from "../server/Subscription.js"
import { goRtt, goTime, goUptime } from "./format.js"
import {
  type ConnState,
  decodeBool,
  decodeInt,
  decodeState,
  decodeSubs,
  decodeUint,
  type InvalidQuery,
  invalidQuery
} from "./params.js"

/** nats-server's `DefaultConnListSize`. */
export const DEFAULT_CONN_LIST_SIZE = 1024


export type SortOpt =
  | "cid"
  | "start"
  | "subs"
  | "pending"
  | "msgs_to"
  | "msgs_from"
  | "bytes_to"
  | "bytes_from"
  | "last"
  | "idle"
  | "uptime"
  | "stop"
  | "reason"

const SORT_OPTS: ReadonlySet<string> = new Set<SortOpt>([
  "cid",
  "start",
  "subs",
  "pending",
  "msgs_to",
  "msgs_from",
  "bytes_to",
  "bytes_from",
  "last",
  "idle",
  "uptime",
  "stop",
  "reason"
])

export interface ConnzOptions {
  readonly sort: SortOpt
  readonly auth: boolean
  readonly subs: boolean
  readonly subsDetail: boolean
  readonly offset: number
  readonly limit: number
  /** 0 = every connection. */
  readonly cid: number
  readonly state: ConnState
  readonly user: string
  readonly account: string
}

/**
 * Decode `/connz` query parameters; on failure the text nats-server answers with 400. Query
 * decoding errors come first, then the option checks of `Server.Connz`.
 */
export const decodeConnzOptions = (query: URLSearchParams): Result.Result<ConnzOptions, InvalidQuery> => {
  const sortText = query.get("sort") ?? ""
  const auth = decodeBool(query, "auth")
  if (Result.isFailure(auth)) return Result.fail(auth.failure)
  const subs = decodeSubs(query)
  if (Result.isFailure(subs)) return Result.fail(subs.failure)
  const offset = decodeInt(query, "offset")
  if (Result.isFailure(offset)) return Result.fail(offset.failure)
  const limit = decodeInt(query, "limit")
  if (Result.isFailure(limit)) return Result.fail(limit.failure)
  const cid = decodeUint(query, "cid")
  if (Result.isFailure(cid)) return Result.fail(cid.failure)
  const state = decodeState(query)
  if (Result.isFailure(state)) return Result.fail(state.failure)
  return checkConnzOptions({
    sort: sortText,
    auth: auth.success,
    subs: subs.success.subs,
    subsDetail: subs.success.detail,
    offset: offset.success,
    limit: limit.success,
    cid: cid.success,
    state: state.success,
    user: query.get("user") ?? "",
    account: query.get("acc") ?? ""
  })
}

/** `Server.Connz`'s option checks and defaults. */
export const checkConnzOptions = (
  raw: Omit<ConnzOptions, "sort"> & { readonly sort: string }
): Result.Result<ConnzOptions, InvalidQuery> => {
  const sort = raw.sort === "" ? "cid" : raw.sort
  if (!SORT_OPTS.has(sort)) return invalidQuery("sort", raw.sort, `invalid sorting option: ${sort}`)
  if (sort === "stop" && raw.state !== "closed") return invalidQuery("sort", raw.sort, "sort by stop only valid on closed connections")
  if (sort === "reason" && raw.state !== "closed") return invalidQuery("sort", raw.sort, "sort by reason only valid on closed connections")
  return Result.succeed({
    ...raw,
    sort: sort as SortOpt,
    offset: Math.max(0, raw.offset),
    // A single connection is asked for with `cid`.
    limit: raw.cid > 0 ? 1 : raw.limit <= 0 ? DEFAULT_CONN_LIST_SIZE : raw.limit
  })
}

/** One row before it is written: the values sorting needs, then the JSON. */
interface Row {
  readonly cid: number
  readonly start: number
  readonly last: number
  readonly stop: number | undefined
  readonly reason: string
  readonly subs: number
  readonly pending: number
  readonly inMsgs: number
  readonly outMsgs: number
  readonly inBytes: number
  readonly outBytes: number
  readonly json: Record<string, unknown>
}

/** A subscription as `/connz?subs=detail` lists it (no account, as in nats-server). */
export const clientSubDetail = (sub: LocalSubscription | ClosedSubscription): Record<string, unknown> => ({
  // Byte strings become JSON text as Go writes them (invalid UTF-8 as U+FFFD).
  subject: toText(sub.subject),
  qgroup: sub.queue === undefined ? undefined : toText(sub.queue),
  sid: toText(sub.sid),
  msgs: sub.delivered,
  max: sub.max > 0 ? sub.max : undefined,
  cid: sub.owner.cid
})

/** nats-server's `maxNoRTTPingBeforeFirstPong`. */
const NO_RTT_PING_BEFORE_FIRST_PONG_MS = 2000

/**
 * nats-server's `getRTT`: a client library that is not measured yet (RTT comes from the server's
 * PINGs) is sent a PING now, so that the next request shows its RTT. Only once the client got its
 * first PONG (or 2s after it connected), as nats-server.
 */
const requestRtt = (conn: ClientConnection | ClosedClient, now: number): void => {
  if (conn instanceof ClosedClient) return
  if (conn.rtt !== undefined || conn.closing || !conn.lang) return
  if (conn.firstPingDone || now - conn.startMs > NO_RTT_PING_BEFORE_FIRST_PONG_MS) conn.sendPing()
}

/** The ConnInfo of one client, open or closed (a closed one is frozen at its stop time). */
const row = (conn: ClientConnection | ClosedClient, now: number, options: ConnzOptions): Row => {
  if (conn.stop === undefined) requestRtt(conn, now)
  const start = conn.start.getTime()
  const last = conn.lastActivity.getTime()
  const stop = conn.stop?.getTime()
  const until = stop ?? now
  const subs = [...conn.subs.values()]
  const pending = conn.out.size + conn.inFlight
  const accountName = nameOfAccount(conn)
  const json: Record<string, unknown> = {
    cid: conn.cid,
    kind: "Client",
    type: "nats",
    ip: conn.ip,
    port: conn.port,
    start: goTime(conn.start),
    last_activity: goTime(conn.lastActivity),
    stop: conn.stop !== undefined ? goTime(conn.stop) : undefined,
    reason: conn.closeReason,
    rtt: goRtt(conn.rtt),
    uptime: goUptime(until - start),
    idle: goUptime(until - last),
    pending_bytes: pending,
    in_msgs: conn.inMsgs,
    out_msgs: conn.outMsgs,
    in_bytes: conn.inBytes,
    out_bytes: conn.outBytes,
    subscriptions: subs.length,
    name: conn.name || undefined,
    lang: conn.lang || undefined,
    version: conn.version || undefined,
    // nats-server has no TLS state for a connection that is gone.
    tls_version: conn instanceof ClosedClient ? undefined : conn.tlsSession?.version,
    tls_cipher_suite: conn instanceof ClosedClient ? undefined : conn.tlsSession?.cipher,
    authorized_user: options.auth ? conn.user || undefined : undefined,
    // nats-server names the account only when it is not the global one.
    account: options.auth && accountName !== undefined && accountName !== GLOBAL_ACCOUNT ? accountName : undefined,
    subscriptions_list: !options.subsDetail && options.subs && subs.length > 0 ? subs.map((s) => toText(s.subject)) : undefined,
    subscriptions_list_detail: options.subsDetail && subs.length > 0 ? subs.map(clientSubDetail) : undefined
  }
  return {
    cid: conn.cid,
    start,
    last,
    stop,
    reason: conn.closeReason ?? "",
    subs: subs.length,
    pending,
    inMsgs: conn.inMsgs,
    outMsgs: conn.outMsgs,
    inBytes: conn.inBytes,
    outBytes: conn.outBytes,
    json
  }
}

const isClient = (conn: Connection): conn is ClientConnection => conn instanceof ClientConnection

/** The account a client is (or was, when closed) bound to. */
const nameOfAccount = (conn: ClientConnection | ClosedClient): string | undefined =>
  conn instanceof ClosedClient ? conn.accountName : conn.account.name

/** Descending by a numeric key (then by cid, for a stable page order). */
const desc = (key: (r: Row) => number) => (a: Row, b: Row) => key(b) - key(a) || a.cid - b.cid

const comparator = (sort: SortOpt, now: number): (a: Row, b: Row) => number => {
  switch (sort) {
    case "cid":
    case "start":
      return (a, b) => a.cid - b.cid
    case "subs":
      return desc((r) => r.subs)
    case "pending":
      return desc((r) => r.pending)
    case "msgs_to":
      return desc((r) => r.outMsgs)
    case "msgs_from":
      return desc((r) => r.inMsgs)
    case "bytes_to":
      return desc((r) => r.outBytes)
    case "bytes_from":
      return desc((r) => r.inBytes)
    case "last":
      return desc((r) => r.last)
    case "idle":
      // Longest idle first (nats-server ≥ 2.10; 2.9 compared last activity − start by mistake).
      return desc((r) => (r.stop ?? now) - r.last)
    case "uptime":
      // Ascending in nats-server, unlike the other sorts.
      return (a, b) => ((a.stop ?? now) - a.start) - ((b.stop ?? now) - b.start) || a.cid - b.cid
    case "stop":
      return desc((r) => r.stop ?? 0)
    case "reason":
      return (a, b) => (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : a.cid - b.cid)
  }
}

/** The `/connz` document. */
export const connz = (state: ServerState, options: ConnzOptions, now: number = Date.now()): Record<string, unknown> => {
  const base = (total: number, conns: Array<Record<string, unknown>>) => ({
    server_id: state.serverId,
    now: goTime(now),
    num_connections: conns.length,
    total,
    offset: options.offset,
    limit: options.limit,
    connections: conns
  })
  const all: Array<ClientConnection> = []
  for (const conn of state.clients.values()) if (isClient(conn)) all.push(conn)
  let open = all
  let closed: ReadonlyArray<ClosedClient> = options.state !== "open" ? state.closed : []
  if (options.account !== "") {
    const account = state.router.lookup(options.account)
    // nats-server answers an unknown account before it fills in its id, with no list at all.
    if (account === undefined) return { ...base(0, []), server_id: "", connections: null }
    open = all.filter((c) => c.account === account)
    closed = closed.filter((c) => c.accountName === options.account)
  }

  let total = options.state === "open" ? open.length : options.state === "closed" ? closed.length : open.length + closed.length
  let picked: ReadonlyArray<ClientConnection | ClosedClient>
  if (options.cid > 0) {
    // An open connection is looked up among all (nats-server: `s.clients[cid]`), whatever `acc`.
    const hit = options.state === "closed"
      ? closed.find((c) => c.cid === options.cid)
      : all.find((c) => c.cid === options.cid) ??
        (options.state === "all" ? closed.find((c) => c.cid === options.cid) : undefined)
    picked = hit === undefined ? [] : [hit]
  } else {
    picked = options.state === "open" ? open : options.state === "closed" ? closed : [...open, ...closed]
    if (options.user !== "") {
      picked = picked.filter((c) => c.user === options.user)
      total = picked.length
    }
  }

  const rows = picked.map((c) => row(c, now, options))
  rows.sort((a, b) => a.cid - b.cid)
  rows.sort(comparator(options.sort, now))
  const from = Math.min(options.offset, rows.length)
  const to = Math.min(options.offset + options.limit, rows.length)
  return base(total, rows.slice(from, to).map((r) => r.json))
}
