/**
 * The system account's requests, answered as nats-server 2.9.10 answers them (captured from the
 * real server): internal subscriptions in the system account, announced to routes like any
 * subscription, so that a request published on any member reaches every member that serves it.
 *
 * - `$SYS.REQ.SERVER.PING` (and `$SYS.REQ.SERVER.PING.STATSZ`): every server answers with its
 *   statsz, `{"server":{…},"statsz":{…}}` — what `nats server list` collects;
 * - `$SYS.REQ.SERVER.PING.<KIND>`: every server answers; `$SYS.REQ.SERVER.<id>.<KIND>`: only the
 *   server with that id. KIND is STATSZ, VARZ, CONNZ, ROUTEZ, SUBSZ, HEALTHZ, JSZ, LEAFZ,
 *   GATEWAYZ or ACCOUNTZ; the answer is `{"server":{…},"data":{…}}` with the JSON of the HTTP
 *   endpoint (ACCOUNTZ: `/accountz`, its `account` option `/accountz?acc=`);
 * - `$SYS.REQ.ACCOUNT.<acc>.<KIND>`, every server that serves the account answers about it:
 *   CONNZ (`/connz?acc=`), SUBSZ (`/subsz?acc=&subs=1`), LEAFZ, JSZ (`jetstream not enabled`),
 *   INFO (the `/accountz?acc=` detail), STATZ (its `/accstatz` entry; silent while it has no
 *   connections, unless `include_unused`) and CONNS (its account_connections event, only while it
 *   has connections here). `PING` in the account's place is no account: CONNZ answers an empty
 *   document, STATZ leaves it to `$SYS.REQ.ACCOUNT.PING.STATZ` — `/accstatz` of every account
 *   (with `accounts`, `include_unused`), silent when that is empty;
 * - every other account imports `$SYS.REQ.ACCOUNT.PING.CONNZ` and `$SYS.REQ.SERVER.PING.CONNZ`
 *   as `$SYS.REQ.ACCOUNT.<itself>.CONNZ`, and `$SYS.REQ.ACCOUNT.PING.STATZ` as its STATZ
 *   (`server/SystemImports`), so its users ask about their own account.
 *
 * A request's body, when not empty, is a JSON object of the endpoint's options (nats-server's
 * `ConnzEventOptions` and so on: `{"subscriptions":true}`, `{"sort":"msgs_to","limit":5}`,
 * `{"state":1}`), plus the event filter (`server_name`, `cluster`, `host` — substrings — `tags`
 * and `domain`): a server the filter does not select stays silent. A body Go could not decode
 * is answered `{"server":…,"error":{"code":400,…}}`; options the endpoint refuses
 * `{"server":…,"data":null,"error":{"code":500,…}}`. `SUBSZ` always answers the whole `Subsz`
 * document (with `server_id`, `now`, `total`, …), also where `/subsz` shows only the statistics.
 *
 * Requests arrive inside the router's delivery loop, which is not re-entrant: a responder decodes
 * the body there and answers once the batch is done (a microtask). Requests are rare, so the
 * answers are plain code with no Effect.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { Cluster, type ClusterState } from "../cluster/Cluster.js"
import { fromBytes, fromText, toText } from "../protocol/ByteString.js"
import { ServerCore } from "../server/ServerCore.js"
import type { ServerState } from "../server/ServerState.js"
import { LocalSubscription, type Subscriber } from "../server/Subscription.js"
import { statszEventSubject } from "../server/SystemEvents.js"
import { accountInfo, accountz, accstatz } from "./Accountz.js"
import { checkConnzOptions, connz } from "./Connz.js"
import { goTime } from "./format.js"
import { decodeRoutezOptions, routez } from "./Routez.js"
import { CpuSampler, monitorRuntime } from "./Runtime.js"
import { decodeSubszOptions, subsz } from "./Subsz.js"
import * as SystemTimers from "./SystemTimers.js"
import * as Unserved from "./Unserved.js"
import { varz, type VarzRuntime } from "./Varz.js"

/** What a request asks for (the last token of its subject). */
export type RequestKind = "STATSZ" | "VARZ" | "CONNZ" | "ROUTEZ" | "SUBSZ" | "HEALTHZ" | "JSZ" | "LEAFZ" | "GATEWAYZ" | "ACCOUNTZ"

export const REQUEST_KINDS: ReadonlyArray<RequestKind> = ["STATSZ", "VARZ", "CONNZ", "ROUTEZ", "SUBSZ", "HEALTHZ", "JSZ", "LEAFZ", "GATEWAYZ", "ACCOUNTZ"]

/** What an account-scoped request asks for (`$SYS.REQ.ACCOUNT.<acc>.<KIND>`). */
export type AccountRequestKind = "CONNZ" | "SUBSZ" | "LEAFZ" | "JSZ" | "INFO" | "STATZ" | "CONNS"

export const ACCOUNT_REQUEST_KINDS: ReadonlyArray<AccountRequestKind> = ["SUBSZ", "CONNZ", "LEAFZ", "JSZ", "INFO", "STATZ", "CONNS"]

/** `$SYS.REQ.ACCOUNT.<acc>.<KIND>`. */
export const accountRequestSubject = (account: string, kind: AccountRequestKind): string => `$SYS.REQ.ACCOUNT.${account}.${kind}`

export const ACCOUNT_PING_STATZ_SUBJECT = "$SYS.REQ.ACCOUNT.PING.STATZ"

/** The options structs by what decodes them: the server kinds, and the account kinds of their own. */
type OptionsKind = RequestKind | "INFO" | "ACCSTATZ"

export const PING_SUBJECT = "$SYS.REQ.SERVER.PING"

/** `$SYS.REQ.SERVER.<id>.<KIND>`: one server's answer. */
export const serverRequestSubject = (serverId: string, kind: RequestKind): string => `$SYS.REQ.SERVER.${serverId}.${kind}`

// --- options, decoded as Go's encoding/json decodes them --------------------------------------

/** The Go type of one option field, as Go's decode errors name it. */
type FieldType = "bool" | "int" | "uint64" | "string" | "[]string" | "server.SortOpt" | "server.ConnState"

/** nats-server's `EventFilterOptions`, embedded in every request's options. */
const FILTER_FIELDS: Readonly<Record<string, FieldType>> = {
  server_name: "string",
  cluster: "string",
  host: "string",
  tags: "[]string",
  domain: "string"
}

/** The Go options struct of each request kind (its name, for errors) and its own fields. */
const OPTIONS: Readonly<Record<OptionsKind, { readonly struct: string; readonly fields: Readonly<Record<string, FieldType>> }>> = {
  STATSZ: { struct: "StatszEventOptions", fields: {} },
  VARZ: { struct: "VarzEventOptions", fields: {} },
  CONNZ: {
    struct: "ConnzEventOptions",
    fields: {
      sort: "server.SortOpt",
      auth: "bool",
      subscriptions: "bool",
      subscriptions_detail: "bool",
      offset: "int",
      limit: "int",
      cid: "uint64",
      mqtt_client: "string",
      state: "server.ConnState",
      user: "string",
      acc: "string"
    }
  },
  ROUTEZ: { struct: "RoutezEventOptions", fields: { subscriptions: "bool", subscriptions_detail: "bool" } },
  SUBSZ: { struct: "SubszEventOptions", fields: { offset: "int", limit: "int", subscriptions: "bool", account: "string", test: "string" } },
  HEALTHZ: { struct: "HealthzEventOptions", fields: { "js-enabled": "bool", "js-enabled-only": "bool", "js-server-only": "bool" } },
  JSZ: { struct: "JszEventOptions", fields: {} },
  LEAFZ: { struct: "LeafzEventOptions", fields: { subscriptions: "bool", account: "string" } },
  GATEWAYZ: { struct: "GatewayzEventOptions", fields: {} },
  ACCOUNTZ: { struct: "AccountzEventOptions", fields: { account: "string" } },
  INFO: { struct: "AccInfoEventOptions", fields: {} },
  ACCSTATZ: { struct: "AccountStatzEventOptions", fields: { accounts: "[]string", include_unused: "bool" } }
}

/** Decoded options: field name → value (absent and `null` fields left out). */
type Options = Readonly<Record<string, unknown>>

/** The JSON kind of a value, as Go's `UnmarshalTypeError` names it. */
const jsonKind = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v === "number" ? "number" : "string"

/** Why `v` does not decode into `type` (Go's `UnmarshalTypeError.Value`), undefined when it does. */
const mismatch = (type: FieldType, v: unknown): string | undefined => {
  switch (type) {
    case "bool":
      return typeof v === "boolean" ? undefined : jsonKind(v)
    case "string":
    case "server.SortOpt":
      return typeof v === "string" ? undefined : jsonKind(v)
    case "int":
    case "server.ConnState":
      if (typeof v !== "number") return jsonKind(v)
      return Number.isSafeInteger(v) ? undefined : `number ${v}`
    case "uint64":
      if (typeof v !== "number") return jsonKind(v)
      return Number.isSafeInteger(v) && v >= 0 ? undefined : `number ${v}`
    case "[]string":
      return Array.isArray(v) ? undefined : jsonKind(v)
  }
}

/** A request body Go could not decode: the text of its error. */
export class DecodeError {
  constructor(readonly description: string) {}
}

/**
 * Decode a request body into `kind`'s options as Go's `json.Unmarshal` would: an empty body is
 * no options; keys match case-insensitively; unknown keys are ignored; `null` leaves a field
 * unset. Syntax errors are reported with JavaScript's text (Go's differs).
 */
export const decodeOptions = (kind: OptionsKind, body: string): Options | DecodeError => {
  if (body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (e) {
    return new DecodeError(body.trim() === "" ? "unexpected end of JSON input" : String((e as Error).message))
  }
  const spec = OPTIONS[kind]
  if (value === null) return {}
  if (typeof value !== "object" || Array.isArray(value)) {
    return new DecodeError(`json: cannot unmarshal ${jsonKind(value)} into Go value of type server.${spec.struct}`)
  }
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const name = fieldName(spec.fields, key) ?? fieldName(FILTER_FIELDS, key)
    if (name === undefined || v === null) continue
    const type = spec.fields[name] ?? FILTER_FIELDS[name]!
    const bad = mismatch(type, v)
    if (bad !== undefined) return new DecodeError(`json: cannot unmarshal ${bad} into Go struct field ${spec.struct}.${name} of type ${type}`)
    if (type === "[]string") {
      for (const item of v as Array<unknown>) {
        if (item !== null && typeof item !== "string") {
          return new DecodeError(`json: cannot unmarshal ${jsonKind(item)} into Go struct field ${spec.struct}.${name} of type string`)
        }
      }
    }
    out[name] = v
  }
  return out
}

/** The field `key` names: exactly, else case-insensitively (Go's rule). */
const fieldName = (fields: Readonly<Record<string, FieldType>>, key: string): string | undefined => {
  if (Object.hasOwn(fields, key)) return key
  const lower = key.toLowerCase()
  for (const name of Object.keys(fields)) if (name.toLowerCase() === lower) return name
  return undefined
}

/** nats-server's `filterRequest`: true when this server is not one the request selects. */
export const filteredOut = (server: ServerState, options: Options): boolean => {
  const name = options["server_name"] as string | undefined
  if (name !== undefined && name !== "" && !server.serverName.includes(name)) return true
  const host = options["host"] as string | undefined
  if (host !== undefined && host !== "" && !(server.listen?.host ?? server.options.host).includes(host)) return true
  const cluster = options["cluster"] as string | undefined
  if (cluster !== undefined && cluster !== "" && !(server.clusterName ?? "").includes(cluster)) return true
  const tags = options["tags"] as ReadonlyArray<string | null> | undefined
  if (tags !== undefined && tags.length > 0) {
    const own = server.options.serverTags ?? []
    for (const tag of tags) if (tag !== null && !own.some((t) => t.toLowerCase() === tag.toLowerCase())) return true
  }
  // No JetStream here, so no JetStream domain: a domain selects other servers.
  const domain = options["domain"] as string | undefined
  return domain !== undefined && domain !== ""
}

// --- the documents --------------------------------------------------------------------------

/** Logical CPUs, as Go's `runtime.NumCPU()`. */
const cores = (): number => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length)

/** Connection states by nats-server's `ConnState` numbers. */
const CONN_STATES = ["open", "closed", "all"] as const

/** A document the endpoint refused to build from these options (nats-server: code 500). */
export class EndpointError {
  constructor(readonly description: string) {}
}

export class SystemResponder {
  private readonly cpu = new CpuSampler()

  constructor(
    readonly server: ServerState,
    readonly cluster: ClusterState | undefined
  ) {}

  /** `/varz`'s runtime numbers: the HTTP monitor's while it runs, else without a monitor. */
  private varzRuntime(): VarzRuntime {
    const o = this.server.options
    return monitorRuntime(this.server) ?? { httpHost: o.httpHost ?? o.host, httpPort: 0, reqStats: new Map(), cpu: this.cpu.read() }
  }

  /** nats-server's `ServerStats` (statsz) of this server. */
  statsz(): Record<string, unknown> {
    const server = this.server
    const router = server.router
    const stats = router.stats
    const routes = this.cluster === undefined ? [] : [...this.cluster.routes.values()].sort((a, b) => a.rid - b.rid)
    let activeAccounts = 0
    for (const acc of router.accounts.values()) if (acc.connections > 0 || hasRemoteInterest(acc.index.all())) activeAccounts++
    return {
      start: goTime(server.start),
      mem: process.memoryUsage.rss(),
      cores: cores(),
      cpu: this.varzRuntime().cpu,
      connections: server.clients.size,
      total_connections: server.totalConnections,
      active_accounts: activeAccounts,
      subscriptions: router.subscriptionCount(),
      sent: { msgs: stats.outMsgs, bytes: stats.outBytes },
      received: { msgs: stats.inMsgs, bytes: stats.inBytes },
      slow_consumers: stats.slowConsumers,
      routes: routes.length === 0 ? undefined : routes.map((r) => ({
        rid: r.rid,
        name: r.peer?.server_name ?? r.remoteId ?? "",
        sent: { msgs: r.outMsgs, bytes: r.outBytes },
        received: { msgs: r.inMsgs, bytes: r.inBytes },
        pending: r.out.size + r.inFlight
      })),
      // Every member this server has a route to, and itself.
      active_servers: 1 + routes.length
    }
  }

  /** The `data` of a request of `kind` with `options`. */
  private data(kind: RequestKind, options: Options): Record<string, unknown> | EndpointError {
    const server = this.server
    switch (kind) {
      case "STATSZ":
        return this.statsz()
      case "VARZ":
        return varz(server, this.cluster, this.varzRuntime())
      case "CONNZ": {
        const checked = checkConnzOptions({
          sort: (options["sort"] as string | undefined) ?? "",
          auth: options["auth"] === true,
          subs: options["subscriptions"] === true,
          subsDetail: options["subscriptions_detail"] === true,
          offset: (options["offset"] as number | undefined) ?? 0,
          limit: (options["limit"] as number | undefined) ?? 0,
          cid: (options["cid"] as number | undefined) ?? 0,
          state: CONN_STATES[(options["state"] as number | undefined) ?? 0] ?? "open",
          user: (options["user"] as string | undefined) ?? "",
          account: (options["acc"] as string | undefined) ?? ""
        })
        return Result.isFailure(checked) ? new EndpointError(checked.failure.message) : connz(server, checked.success)
      }
      case "ROUTEZ": {
        const query = new URLSearchParams()
        if (options["subscriptions_detail"] === true) query.set("subs", "detail")
        else if (options["subscriptions"] === true) query.set("subs", "1")
        const decoded = decodeRoutezOptions(query)
        return Result.isFailure(decoded) ? new EndpointError(decoded.failure.message) : routez(server, this.cluster, decoded.success)
      }
      case "SUBSZ": {
        const query = new URLSearchParams()
        if (options["subscriptions"] === true) query.set("subs", "1")
        if (options["offset"] !== undefined) query.set("offset", String(options["offset"]))
        if (options["limit"] !== undefined) query.set("limit", String(options["limit"]))
        if (options["account"] !== undefined) query.set("acc", options["account"] as string)
        if (options["test"] !== undefined) query.set("test", options["test"] as string)
        const decoded = decodeSubszOptions(query)
        if (Result.isFailure(decoded)) return new EndpointError(decoded.failure.message)
        const now = Date.now()
        const doc = subsz(server, decoded.success, now)
        if (doc["server_id"] !== undefined) return doc
        // `/subsz` without a list shows the statistics only; the request gets the whole document.
        return { server_id: server.serverId, now: goTime(now), ...doc, total: 0, offset: decoded.success.offset, limit: decoded.success.limit }
      }
      case "HEALTHZ":
        return server.listen === undefined ? { status: "unavailable", error: "server not ready" } : { status: "ok" }
      case "JSZ":
        return Unserved.jsz(server)
      case "LEAFZ":
        return Unserved.leafz(server)
      case "GATEWAYZ":
        return Unserved.gatewayz(server)
      case "ACCOUNTZ": {
        const doc = accountz(server, { account: (options["account"] as string | undefined) ?? "" })
        return Result.isFailure(doc) ? new EndpointError(doc.failure.message) : doc.success
      }
    }
  }

  /** `{"server":…,"data":…}`, or the error shapes of nats-server's `zReq`; undefined: stay silent. */
  private envelope(
    kind: OptionsKind,
    body: string,
    build: (options: Options) => Record<string, unknown> | EndpointError | undefined
  ): Record<string, unknown> | undefined {
    const system = this.server.system
    const options = decodeOptions(kind, body)
    if (options instanceof DecodeError) return { server: system.stamp(), error: { code: 400, description: options.description } }
    if (filteredOut(this.server, options)) return undefined
    const data = build(options)
    if (data === undefined) return undefined
    if (data instanceof EndpointError) return { server: system.stamp(), data: null, error: { code: 500, description: data.description } }
    return { server: system.stamp(), data }
  }

  /** The answer to `$SYS.REQ.ACCOUNT.<account>.<kind>` (not CONNS: see `accountConnections`). */
  accountAnswer(kind: Exclude<AccountRequestKind, "CONNS">, account: string, body: string): Record<string, unknown> | undefined {
    const server = this.server
    switch (kind) {
      case "CONNZ":
        return this.envelope("CONNZ", body, (options) => this.data("CONNZ", { ...options, acc: account }))
      case "SUBSZ":
        return this.envelope("SUBSZ", body, (options) => this.data("SUBSZ", { ...options, subscriptions: true, account }))
      case "LEAFZ":
        return this.envelope("LEAFZ", body, () => Unserved.leafz(server))
      case "JSZ":
        return this.envelope("JSZ", body, () => new EndpointError("jetstream not enabled"))
      case "INFO":
        return this.envelope("INFO", body, () => {
          const acc = server.router.lookup(account)
          return acc === undefined ? new EndpointError(`Account ${account} does not exist`) : accountInfo(server, acc)
        })
      case "STATZ":
        // `$SYS.REQ.ACCOUNT.PING.STATZ` is the ping's (nats-server filters PING here too).
        if (account === "PING") return undefined
        return this.envelope("ACCSTATZ", body, (options) => this.accountStatz(options, [account]))
    }
  }

  /** `$SYS.REQ.ACCOUNT.PING.STATZ`: `/accstatz` of the accounts asked for, else of all. */
  accountPingStatz(body: string): Record<string, unknown> | undefined {
    return this.envelope("ACCSTATZ", body, (options) => this.accountStatz(options, (options["accounts"] as ReadonlyArray<string> | undefined) ?? []))
  }

  /** nats-server's `AccountStatz` for a request: nothing to say (silence) when no account is listed. */
  private accountStatz(options: Options, accounts: ReadonlyArray<string>): Record<string, unknown> | undefined {
    const unused = options["include_unused"] === true
    const doc = accstatz(this.server, { unused, accounts })
    return (doc["account_statz"] as ReadonlyArray<unknown>).length === 0 && !unused ? undefined : doc
  }

  /**
   * `$SYS.REQ.ACCOUNT.<account>.CONNS` (nats-server's `connsRequest`): the account's CONNS event
   * to `reply`, when it has connections here. A body names the account again (`{"acc":…}`); one
   * that does not decode or names another account is ignored.
   */
  accountConnections(account: string, reply: string, body: string): void {
    if (body.length > 0) {
      let named: unknown
      try {
        named = (JSON.parse(body) as { acc?: unknown } | null)?.acc ?? account
      } catch {
        return
      }
      if (named !== account) return
    }
    const acc = this.server.router.lookup(account)
    if (acc !== undefined && acc.connections > 0) this.server.system.accountConnections(acc, reply)
  }

  /** Publish the statsz heartbeat `$SYS.SERVER.<id>.STATSZ` when anybody listens. */
  heartbeat(): void {
    const system = this.server.system
    const subject = statszEventSubject(this.server.serverId)
    if (system.isStopped || !system.hasInterest(subject)) return
    system.publish(fromText(subject), undefined, { server: system.stamp(), statsz: this.statsz() })
  }

  /**
   * The answer to a request of `kind` whose body is `body` (text), as nats-server's `zReq`
   * builds it; undefined when the event filter does not select this server.
   */
  answer(kind: RequestKind, body: string): Record<string, unknown> | undefined {
    const answer = this.envelope(kind, body, (options) => this.data(kind, options))
    if (kind !== "STATSZ" || answer === undefined || !("data" in answer)) return answer
    return { server: answer["server"], statsz: answer["data"] }
  }
}

const hasRemoteInterest = (entries: Iterable<{ readonly remote: boolean }>): boolean => {
  for (const e of entries) if (e.remote) return true
  return false
}

// --- the subscriptions ----------------------------------------------------------------------

/** What a request subscription does with a request (after the delivery batch). */
type Handler = (subject: string, reply: string, body: string) => void

interface Pending {
  readonly handler: Handler
  readonly subject: string
  readonly reply: string
  readonly body: string
}

/** The internal subscriber behind every request subscription: it queues, then answers. */
class RequestSubscriber implements Subscriber {
  readonly cid = -1
  readonly echo = true
  readonly internal = true
  readonly subs: Array<LocalSubscription> = []
  private readonly handlers = new Map<LocalSubscription, Handler>()
  private readonly pending: Array<Pending> = []
  private scheduled = false
  private closed = false

  constructor(private readonly responder: SystemResponder) {}

  /** Subscribe `subject` (text) in the system account, its requests handled by `handler`. */
  add(subject: string, handler: Handler): void {
    const server = this.responder.server
    const sub = new LocalSubscription(this, fromText(subject), undefined, `sys ${this.subs.length + 1}`, server.system.account)
    this.subs.push(sub)
    this.handlers.set(sub, handler)
    server.router.addLocal(sub)
  }

  /** Withdraw every subscription; queued requests stay unanswered. */
  close(): void {
    this.closed = true
    for (const sub of this.subs) this.responder.server.router.removeLocal(sub)
    this.pending.length = 0
  }

  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    const handler = this.handlers.get(sub)
    if (handler === undefined || reply === undefined || this.closed) return true
    // Decoded now: the payload may be a range of a read buffer that is reused.
    const body = toText(fromBytes(buf.subarray(start, end), headerSize > 0 ? headerSize : 0))
    this.pending.push({ handler, subject, reply, body })
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.drain())
    }
    return true
  }

  forget(): void {}

  private drain(): void {
    this.scheduled = false
    while (this.pending.length > 0 && !this.closed) {
      const { body, handler, reply, subject } = this.pending.shift()!
      handler(subject, reply, body)
    }
  }
}

/** Subscribe every request subject of `server` in its system account; the result withdraws them. */
export const install = (server: ServerState, cluster: ClusterState | undefined): { readonly close: () => void; readonly responder: SystemResponder } => {
  const responder = new SystemResponder(server, cluster)
  const subscriber = new RequestSubscriber(responder)
  const answer = (reply: string, doc: Record<string, unknown> | undefined) => {
    if (doc !== undefined) server.system.publish(reply, undefined, doc)
  }
  const serverKind = (kind: RequestKind): Handler => (_subject, reply, body) => answer(reply, responder.answer(kind, body))
  subscriber.add(PING_SUBJECT, serverKind("STATSZ"))
  for (const kind of REQUEST_KINDS) {
    subscriber.add(`${PING_SUBJECT}.${kind}`, serverKind(kind))
    subscriber.add(serverRequestSubject(server.serverId, kind), serverKind(kind))
  }
  for (const kind of ACCOUNT_REQUEST_KINDS) {
    subscriber.add(accountRequestSubject("*", kind), (subject, reply, body) => {
      // `$SYS.REQ.ACCOUNT.<acc>.<KIND>`: the account is the fourth token (subjects are byte strings).
      const tokens = toText(subject).split(".")
      if (tokens.length !== 5) return
      const account = tokens[3]!
      if (kind === "CONNS") responder.accountConnections(account, reply, body)
      else answer(reply, responder.accountAnswer(kind, account, body))
    })
  }
  subscriber.add(ACCOUNT_PING_STATZ_SUBJECT, (_subject, reply, body) => answer(reply, responder.accountPingStatz(body)))
  return { close: () => subscriber.close(), responder }
}

/** The request subscriptions for as long as the layer's scope is open (over `ServerCore`, and the `Cluster` when there is one). */
export const layer: Layer.Layer<never, never, ServerCore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* ServerCore
    const cluster = Option.getOrUndefined(yield* Effect.serviceOption(Cluster))
    const installed = install(server, cluster)
    yield* Effect.addFinalizer(() => Effect.sync(installed.close))
    // The statsz heartbeat and the CONNS repeats, on the layer's clock.
    yield* Effect.forkScoped(SystemTimers.run({
      statsz: () => installed.responder.heartbeat(),
      accountConnections: () => server.system.repeatAccountConnections()
    }))
  })
)
