/**
 * From a parsed nats-server config file to {@link ServerOptionsInput} (NATS-REFERENCE.md §3.3), and
 * back: {@link printConfig} writes options as a config file.
 *
 * Keys are case-insensitive. Every key is either applied, refused as "not supported by
 * effect-nats-server" (a nats-server feature outside this project), or refused as an unknown
 * field — unless it only serves as a variable that is referenced elsewhere. Nothing is ignored.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import {
  type ConfigEntry,
  ConfigError,
  configError,
  type ConfigMap,
  type ConfigValue,
  formatPosition,
  parseConfig,
  parseFile,
  type ParseOptions,
  type Position
} from "./ConfigParser.js"
import { goCiphers, goCurves } from "../net/Tls.js"
import { parsePermissions, parseUserEntry, type PermissionsInput, printAuthorization } from "./AuthConfigFile.js"
import { ruleOf } from "./OptionsError.js"
import { checkAccounts, parseAccounts, type ParsedAccounts, parseOperators, parseResolver, parseResolverPreload, printAccounts } from "./AccountsConfigFile.js"
import { ServerOptions, type ServerOptionsInput } from "./ServerOptions.js"
import * as Duration from "../values/Duration.js"
import * as HostPort from "../values/HostPort.js"
import * as Url from "../values/Url.js"

export interface ConfigFileResult {
  readonly options: ServerOptionsInput
  /** `file:line:col: text` lines to print at startup (e.g. an integer used as a duration). */
  readonly warnings: Array<string>
}

// ---------------------------------------------------------------------------------------------
// Go-style durations
// ---------------------------------------------------------------------------------------------

/** Go's `time.ParseDuration` and `Duration.String()` (see `values/Duration`). */
const parseDuration = Duration.parse
const formatDuration = Duration.format

// ---------------------------------------------------------------------------------------------
// Value readers (throw ConfigError; the public functions turn that into a Result / Effect)
// ---------------------------------------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Input = Mutable<ServerOptionsInput>
type AuthInput = Mutable<NonNullable<ServerOptionsInput["authorization"]>>
type UserInput = NonNullable<AuthInput["users"]>[number]
type NkeyInput = NonNullable<AuthInput["nkeys"]>[number]
type ClusterInput = Mutable<NonNullable<ServerOptionsInput["cluster"]>>
type ClusterAuthInput = NonNullable<ClusterInput["authorization"]>
type TlsInput = Mutable<NonNullable<ServerOptionsInput["tls"]>>

interface Ctx {
  readonly warnings: Array<string>
}

const fail = (pos: Position, reason: string): never => {
  throw configError(pos, reason)
}

const describe = (v: ConfigValue): string => {
  switch (v._tag) {
    case "String":
      return `string ${JSON.stringify(v.value)}`
    case "Integer":
      return `integer ${v.raw}`
    case "Float":
      return `float ${v.raw}`
    case "Boolean":
      return `boolean ${v.raw}`
    case "Datetime":
      return `datetime ${v.raw}`
    case "Array":
      return "an array"
    case "Map":
      return "a map"
  }
}

const LOOKS_LIKE_SIZE = /^-?\d+(\.\d+)?\s*[a-zA-Z]*$/

const str = (e: ConfigEntry): string => {
  const v = e.value
  if (v._tag === "String") return v.value
  const hint = v._tag === "Integer" || v._tag === "Float" || v._tag === "Boolean" || v._tag === "Datetime"
    ? ` (put it in quotes: "${v.raw}")`
    : ""
  return fail(v.pos, `${e.key} must be a string, got ${describe(v)}${hint}`)
}

const int = (e: ConfigEntry): number => {
  const v = e.value
  if (v._tag === "Integer") {
    if (!Number.isSafeInteger(v.value)) fail(v.pos, `${e.key}: integer ${v.raw} is too large`)
    return v.value
  }
  const hint = v._tag === "String" && v.quoted && LOOKS_LIKE_SIZE.test(v.value.trim())
    ? ` (write sizes without quotes, e.g. ${e.key}: ${v.value.replace(/\s+/g, "")})`
    : ""
  return fail(v.pos, `${e.key} must be an integer, got ${describe(v)}${hint}`)
}

const nonNegativeInt = (e: ConfigEntry): number => {
  const n = int(e)
  if (n < 0) fail(e.value.pos, `${e.key} must not be negative, got ${n}`)
  return n
}

const checkPort = (pos: Position, key: string, n: number): number => {
  if (!Number.isSafeInteger(n) || n < -1 || n > 65535) {
    fail(pos, `${key}: invalid port ${n}, must be between -1 and 65535`)
  }
  return n
}

const port = (e: ConfigEntry): number => checkPort(e.value.pos, e.key, int(e))

const bool = (e: ConfigEntry): boolean => {
  const v = e.value
  if (v._tag === "Boolean") return v.value
  return fail(v.pos, `${e.key} must be a boolean (true/false, yes/no, on/off), got ${describe(v)}`)
}

const map = (e: ConfigEntry): ConfigMap => {
  const v = e.value
  if (v._tag === "Map") return v
  return fail(v.pos, `${e.key} must be a map ({ … }), got ${describe(v)}`)
}

/** A duration string; with `intSeconds` an integer is taken as seconds, with a warning. */
const duration = (e: ConfigEntry, ctx: Ctx, intSeconds: boolean): number => {
  const v = e.value
  let ms: number
  if (v._tag === "String") {
    const r = parseDuration(v.value)
    if (Result.isFailure(r)) return fail(v.pos, `${e.key}: ${r.failure.message} (expected e.g. "2m", "1m30s", "250ms")`)
    ms = r.success
  } else if (intSeconds && v._tag === "Integer") {
    ms = v.value * 1000
    ctx.warnings.push(
      `${formatPosition(v.pos)}${e.key} should be converted to a duration: integer ${v.raw} is taken as ` +
        `${v.value} seconds; write "${v.value}s" instead`
    )
  } else {
    return fail(v.pos, `${e.key} must be a duration string such as "2m" or "30s", got ${describe(v)}`)
  }
  if (ms < 0) fail(v.pos, `${e.key} must not be negative, got ${formatDuration(ms)}`)
  return ms
}

/** Seconds as an integer, a float or (beyond nats-server 2.9) a duration string → milliseconds. */
const timeoutSeconds = (e: ConfigEntry): number => {
  const v = e.value
  let ms: number
  if (v._tag === "Integer" || v._tag === "Float") ms = Math.round(v.value * 1e6) / 1e3
  else if (v._tag === "String") {
    const r = parseDuration(v.value)
    if (Result.isFailure(r)) return fail(v.pos, `${e.key}: ${r.failure.message}`)
    ms = r.success
  } else return fail(v.pos, `${e.key} must be a number of seconds, got ${describe(v)}`)
  if (!Number.isFinite(ms) || ms < 0) fail(v.pos, `${e.key} must not be negative, got ${v._tag === "String" ? v.value : v.raw}`)
  return ms
}

/** `port`, `"port"`, `host:port`, `[v6]:port`, `:port` (empty host = unchanged). */
const hostPort = (e: ConfigEntry): { readonly host: string | undefined; readonly port: number } => {
  const v = e.value
  if (v._tag === "Integer") return { host: undefined, port: port(e) }
  if (v._tag !== "String") {
    return fail(v.pos, `${e.key} must be a port or a "host:port" string, got ${describe(v)}`)
  }
  const text = v.value
  const bad = (): never => fail(v.pos, `${e.key}: could not parse "${v.value}" as host:port or port`)
  let host: string
  let portText: string
  if (/^-?\d+$/.test(text)) {
    host = ""
    portText = text
  } else {
    const parts = HostPort.split(text)
    if (Result.isFailure(parts)) return bad()
    host = parts.success.host
    portText = parts.success.port
  }
  if (!/^-?\d+$/.test(portText)) return bad()
  return { host: host === "" ? undefined : host, port: checkPort(v.pos, e.key, Number(portText)) }
}

/**
 * `server_tags`: a string or an array of strings, lower-cased, trimmed and de-duplicated as
 * nats-server's `jwt.TagList.Add` does (reported in /varz `tags`).
 */
const serverTags = (e: ConfigEntry): Array<string> => {
  const v = e.value
  const items = v._tag === "Array" ? v.items : [v]
  const out: Array<string> = []
  for (const item of items) {
    if (item._tag !== "String") return fail(item.pos, `error parsing tags: unsupported type ${describe(item)} where string is expected`)
    const tag = item.value.trim().toLowerCase()
    if (tag !== "" && !out.includes(tag)) out.push(tag)
  }
  return out
}

const noSpaces = (e: ConfigEntry, what: string): string => {
  const s = str(e)
  if (s.includes(" ")) fail(e.value.pos, `${what} "${s}" cannot contain spaces`)
  return s
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

type Handler<T> = (e: ConfigEntry, target: T, ctx: Ctx) => void

interface Section<T> {
  readonly keys: ReadonlyMap<string, Handler<T>>
  readonly unsupported: ReadonlySet<string>
  /** Keys nats-server reads as another key of the section (`alias → key`). */
  readonly aliases?: ReadonlyMap<string, string>
}

const section = <T>(
  keys: ReadonlyArray<readonly [ReadonlyArray<string>, Handler<T>]>,
  unsupported: ReadonlyArray<string>,
  aliases?: Record<string, string>
): Section<T> => {
  const m = new Map<string, Handler<T>>()
  for (const [names, h] of keys) for (const n of names) m.set(n, h)
  return { keys: m, unsupported: new Set(unsupported), ...(aliases !== undefined ? { aliases: new Map(Object.entries(aliases)) } : {}) }
}

const walk = <T>(m: ConfigMap, s: Section<T>, target: T, ctx: Ctx): void => {
  for (const e of m.entries) {
    const k = s.aliases?.get(e.key.toLowerCase()) ?? e.key.toLowerCase()
    const h = s.keys.get(k)
    if (h !== undefined) h(e, target, ctx)
    else if (s.unsupported.has(k)) fail(e.pos, `${e.key} is not supported by effect-nats-server`)
    else if (!e.referenced) fail(e.pos, `unknown field "${e.key}"`)
  }
}

/** `users: [...]`: user/password entries and nkey entries, each with optional permissions. */
const parseUsers = (e: ConfigEntry, ctx: Ctx): { users: Array<UserInput>; nkeys: Array<NkeyInput> } => {
  const v = e.value
  if (v._tag !== "Array") return fail(v.pos, `${e.key} must be an array of { user, password } maps, got ${describe(v)}`)
  const seen = new Set<string>()
  const users: Array<UserInput> = []
  const nkeys: Array<NkeyInput> = []
  for (const item of v.items) {
    if (item._tag !== "Map") {
      return fail(item.pos, `${e.key} entries must be maps like { user: name, password: secret }, got ${describe(item)}`)
    }
    const u = parseUserEntry(item, e.key, parseDuration)
    if ("nkey" in u) {
      if (seen.has(u.nkey)) fail(item.pos, `duplicate nkey "${u.nkey}" in ${e.key}`)
      seen.add(u.nkey)
      nkeys.push(u)
    } else {
      if (seen.has(u.user)) fail(item.pos, `duplicate user "${u.user}" in ${e.key}`)
      seen.add(u.user)
      users.push(u)
    }
  }
  return { users, nkeys }
}

interface AuthState {
  readonly out: AuthInput
  singleUserPos?: Position
  tokenPos?: Position
  usersPos?: Position
  defaultPermissions?: PermissionsInput
}

const authSection = section<AuthState>(
  [
    [["user", "username"], (e, t) => { t.out.user = str(e); t.singleUserPos = e.pos }],
    [["pass", "password"], (e, t) => { t.out.password = str(e); t.singleUserPos ??= e.pos }],
    [["token"], (e, t) => { t.out.token = str(e); t.tokenPos = e.pos }],
    [["timeout"], (e, t) => { t.out.timeout = timeoutSeconds(e) }],
    [["users"], (e, t, ctx) => {
      const { users, nkeys } = parseUsers(e, ctx)
      t.out.users = users
      if (nkeys.length > 0) t.out.nkeys = nkeys
      t.usersPos = e.pos
    }],
    [["default_permission", "default_permissions", "permissions"], (e, t, ctx) => {
      const p = parsePermissions(e, parseDuration)
      if (p !== undefined) t.out.defaultPermissions = p
    }]
  ],
  ["nkeys", "auth_callout", "accounts"]
)

const parseAuthorization = (e: ConfigEntry, ctx: Ctx): AuthInput => {
  const state: AuthState = { out: {} }
  walk(map(e), authSection, state, ctx)
  if (state.usersPos !== undefined && state.singleUserPos !== undefined) {
    fail(state.usersPos, "can not have a single user/password and a users array")
  }
  if (state.usersPos !== undefined && state.tokenPos !== undefined) {
    fail(state.usersPos, "can not have a token and a users array")
  }
  return state.out
}

const clusterAuthSection = section<{ user?: string; password?: string; timeout?: number }>(
  [
    [["user", "username"], (e, t) => { t.user = str(e) }],
    [["pass", "password"], (e, t) => { t.password = str(e) }],
    [["timeout"], (e, t) => { t.timeout = timeoutSeconds(e) }],
    [["token"], (e) => fail(e.pos, "cluster authorization does not support tokens")],
    [["users"], (e) => fail(e.pos, "cluster authorization does not allow multiple users")]
  ],
  ["permissions", "default_permissions", "nkeys", "auth_callout", "accounts"]
)

const parseClusterAuthorization = (e: ConfigEntry, ctx: Ctx): ClusterAuthInput | undefined => {
  const m = map(e)
  const t: { user?: string; password?: string; timeout?: number } = {}
  walk(m, clusterAuthSection, t, ctx)
  if (m.entries.length === 0) return undefined
  if (t.user === undefined || t.password === undefined) {
    return fail(m.pos, "cluster authorization needs both a user and a password")
  }
  return t.timeout === undefined
    ? { user: t.user, password: t.password }
    : { user: t.user, password: t.password, timeout: t.timeout }
}

const parseRoutes = (e: ConfigEntry): Array<string> => {
  const v = e.value
  const items = v._tag === "Array" ? v.items : [v]
  return items.map((item) => {
    if (item._tag !== "String") return fail(item.pos, `${e.key} must be route URLs, got ${describe(item)}`)
    const url = item.value.trim()
    const parsed = Url.parse(url, { ignorePath: true })
    if (Result.isFailure(parsed) || parsed.success.host === "") {
      fail(item.pos, `${e.key}: invalid route URL "${item.value}" (expected e.g. nats-route://host:6222)`)
    }
    return url
  })
}

/** Go names only (nats-server's cipher and curve maps). */
const goNames = (e: ConfigEntry, known: ReadonlyMap<string, unknown>, what: string): Array<string> => {
  const v = e.value
  if (v._tag !== "Array") return fail(v.pos, `error parsing tls config, '${e.key}' must be an array`)
  if (v.items.length === 0) return fail(v.pos, `error parsing tls config, '${e.key}' cannot be empty`)
  return v.items.map((item) => {
    if (item._tag !== "String") return fail(item.pos, `error parsing tls config, '${e.key}' entries must be strings`)
    if (!known.has(item.value)) fail(item.pos, `unrecognized ${what} ${item.value}`)
    return item.value
  })
}

const tlsSection = section<TlsInput>(
  [
    [["cert_file"], (e, t) => { t.certFile = str(e) }],
    [["key_file"], (e, t) => { t.keyFile = str(e) }],
    [["ca_file"], (e, t) => { t.caFile = str(e) }],
    [["verify"], (e, t) => { t.verify = bool(e) }],
    [["verify_and_map"], (e, t) => {
      const v = bool(e)
      if (v) t.verify = true
      t.verifyAndMap = v
    }],
    [["timeout"], (e, t) => { t.timeout = timeoutSeconds(e) }],
    [["cipher_suites"], (e, t) => { t.cipherSuites = goNames(e, goCiphers, "cipher") }],
    [["curve_preferences"], (e, t) => { t.curvePreferences = goNames(e, goCurves, "curve preference") }]
  ],
  // nats-server 2.9 fields we do not implement; anything else (handshake_first is 2.10) is unknown.
  ["insecure", "pinned_certs", "connection_rate_limit", "verify_cert_and_check_known_urls", "cert_store", "cert_match_by", "cert_match"]
)

/** A `tls { … }` block: a certificate and its key are required (we only serve TLS with one). */
const parseTls = (e: ConfigEntry, ctx: Ctx): TlsInput => {
  const m = map(e)
  const t: Partial<TlsInput> = {}
  walk(m, tlsSection, t as TlsInput, ctx)
  if (t.certFile !== undefined && t.keyFile === undefined) fail(m.pos, "missing 'key_file' in TLS configuration")
  if (t.certFile === undefined) fail(m.pos, "missing 'cert_file' in TLS configuration")
  return t as TlsInput
}

const clusterSection = section<ClusterInput>(
  [
    [["name"], (e, t) => { t.name = noSpaces(e, "cluster name") }],
    [["listen"], (e, t) => {
      const hp = hostPort(e)
      if (hp.host !== undefined) t.host = hp.host
      t.port = hp.port
    }],
    [["host", "net"], (e, t) => { t.host = str(e) }],
    [["port"], (e, t) => { t.port = port(e) }],
    [["authorization"], (e, t, ctx) => {
      const a = parseClusterAuthorization(e, ctx)
      if (a !== undefined) t.authorization = a
      else delete t.authorization
    }],
    [["routes"], (e, t) => { t.routes = parseRoutes(e) }],
    [["advertise", "cluster_advertise"], (e, t) => { t.advertise = str(e) }],
    [["no_advertise"], (e, t) => { t.noAdvertise = bool(e) }],
    [["connect_retries"], (e, t) => { t.connectRetries = nonNegativeInt(e) }],
    [["tls"], (e, t, ctx) => {
      const tls = parseTls(e, ctx)
      if (tls.verifyAndMap === true) fail(e.pos, "verify_and_map in the cluster tls block (route users from certificates) is not supported by effect-nats-server")
      t.tls = tls
    }]
  ],
  ["permissions", "pool_size", "compression", "accounts", "pinned_certs"]
)

interface TopState {
  readonly out: Input
  readonly pos: Map<string, Position>
  noAuthUser?: string
  accounts?: ParsedAccounts
}

const at = (t: TopState, field: string, e: ConfigEntry): void => {
  t.pos.set(field, e.pos)
}

const topSection = section<TopState>(
  [
    [["listen"], (e, t) => {
      const hp = hostPort(e)
      if (hp.host !== undefined) t.out.host = hp.host
      t.out.port = hp.port
    }],
    [["host", "net"], (e, t) => { t.out.host = str(e) }],
    [["port"], (e, t) => { t.out.port = port(e) }],
    [["server_name"], (e, t) => { t.out.serverName = noSpaces(e, "server_name") }],
    [["server_tags"], (e, t) => { t.out.serverTags = serverTags(e) }],
    [["client_advertise"], (e, t) => { t.out.clientAdvertise = str(e) }],
    [["debug"], (e, t) => { t.out.debug = bool(e) }],
    [["trace"], (e, t) => { t.out.trace = bool(e) }],
    [["logtime"], (e, t) => { t.out.logtime = bool(e) }],
    [["logfile", "log_file"], (e, t) => { t.out.logFile = str(e) }],
    [["pidfile", "pid_file"], (e, t) => { t.out.pidFile = str(e) }],
    [["ports_file_dir"], (e, t) => { t.out.portsFileDir = str(e) }],
    [["http"], (e, t) => {
      const hp = hostPort(e)
      if (hp.host !== undefined) t.out.httpHost = hp.host
      t.out.httpPort = hp.port
    }],
    [["http_port", "monitor_port"], (e, t) => { t.out.httpPort = port(e) }],
    [["https"], (e, t) => {
      const hp = hostPort(e)
      if (hp.host !== undefined) t.out.httpHost = hp.host
      t.out.httpsPort = hp.port
    }],
    [["https_port"], (e, t) => { t.out.httpsPort = port(e) }],
    [["tls"], (e, t, ctx) => { t.out.tls = parseTls(e, ctx) }],
    [["max_connections", "max_conn"], (e, t) => { t.out.maxConnections = nonNegativeInt(e) }],
    [["max_control_line"], (e, t) => { t.out.maxControlLine = nonNegativeInt(e) }],
    [["max_payload"], (e, t) => { t.out.maxPayload = nonNegativeInt(e); at(t, "maxPayload", e) }],
    [["max_pending"], (e, t) => { t.out.maxPending = nonNegativeInt(e); at(t, "maxPending", e) }],
    [["max_subscriptions", "max_subs"], (e, t) => { t.out.maxSubscriptions = nonNegativeInt(e) }],
    [["ping_interval"], (e, t, ctx) => { t.out.pingInterval = duration(e, ctx, true) }],
    [["ping_max"], (e, t) => { t.out.pingMax = nonNegativeInt(e) }],
    [["write_deadline"], (e, t, ctx) => { t.out.writeDeadline = duration(e, ctx, true) }],
    [["lame_duck_duration"], (e, t, ctx) => {
      const ms = duration(e, ctx, false)
      if (ms < 30_000) fail(e.value.pos, `invalid lame_duck_duration of ${formatDuration(ms)}, minimum is 30 seconds`)
      t.out.lameDuckDuration = ms
      at(t, "lameDuckDuration", e)
    }],
    [["lame_duck_grace_period"], (e, t, ctx) => {
      t.out.lameDuckGracePeriod = duration(e, ctx, true)
      at(t, "lameDuckGracePeriod", e)
    }],
    [["no_header_support"], (e, t) => { t.out.noHeaderSupport = bool(e) }],
    [["authorization"], (e, t, ctx) => {
      t.out.authorization = { ...parseAuthorization(e, ctx), ...(t.noAuthUser !== undefined ? { noAuthUser: t.noAuthUser } : {}) }
    }],
    [["no_auth_user"], (e, t) => {
      t.noAuthUser = str(e)
      at(t, "noAuthUser", e)
      if (t.out.authorization !== undefined) t.out.authorization = { ...t.out.authorization, noAuthUser: t.noAuthUser }
    }],
    [["cluster"], (e, t, ctx) => {
      const c: ClusterInput = {}
      walk(map(e), clusterSection, c, ctx)
      t.out.cluster = c
    }],
    [["accounts"], (e, t) => {
      t.accounts = parseAccounts(e, parseDuration)
      t.out.accounts = t.accounts.accounts
    }],
    [["system_account", "system"], (e, t) => { t.out.systemAccount = str(e) }],
    [["operator", "operators", "root", "roots", "root_operator", "root_operators"], (e, t) => { t.out.operators = parseOperators(e) }],
    [["resolver", "account_resolver", "accounts_resolver"], (e, t) => { t.out.resolver = parseResolver(e) }],
    [["resolver_preload"], (e, t) => { t.out.resolverPreload = parseResolverPreload(e) }]
  ],
  [
    "trace_verbose", "logfile_size_limit", "log_size_limit", "logfile_max_num", "log_max_num", "syslog",
    "remote_syslog", "prof_port", "http_base_path", "max_sub_tokens", "max_subscription_tokens",
    "max_traced_msg_len", "max_closed_clients", "disable_sublist_cache", "no_sublist_cache",
    "connect_error_reports", "reconnect_error_reports", "ocsp", "ocsp_cache", "allow_non_tls",
    "no_system_account", "no_system", "no_sys_acc", "mappings", "maps", "resolver_tls",
    "resolver_pinned_accounts", "trusted", "trusted_keys", "gateway", "leafnodes", "leaf", "websocket",
    "ws", "mqtt", "jetstream", "store_dir", "storedir", "default_js_domain", "nkey"
  ]
)

const decode = Schema.decodeUnknownResult(ServerOptions)

const toOptions = (tree: ConfigMap): ConfigFileResult => {
  const ctx: Ctx = { warnings: [] }
  const state: TopState = { out: {}, pos: new Map() }
  walk(tree, topSection, state, ctx)
  const o = state.out
  // The rules between fields are the schema's (`ServerOptions`); reported at the field's position.
  const decoded = decode(o)
  if (Result.isFailure(decoded)) {
    const rule = ruleOf(decoded.failure.issue)
    if (rule !== undefined) {
      const other = rule.field === "maxPayload" ? "maxPending" : rule.field === "lameDuckGracePeriod" ? "lameDuckDuration" : rule.field
      fail(state.pos.get(rule.field) ?? state.pos.get(other) ?? tree.pos, rule.message)
    }
  }
  if (state.accounts !== undefined) checkAccounts(state.accounts, o.authorization)
  // no_auth_user may name an account's user without any authorization block.
  if (state.noAuthUser !== undefined && o.authorization === undefined && state.accounts !== undefined) {
    o.authorization = { noAuthUser: state.noAuthUser }
  }
  const noAuth = o.authorization?.noAuthUser ?? state.noAuthUser
  const accountUsers = (o.accounts ?? []).flatMap((a) => a.users ?? [])
  if (noAuth !== undefined && o.operators === undefined && ![...(o.authorization?.users ?? []), ...accountUsers].some((u) => u.user === noAuth)) {
    fail(
      state.pos.get("noAuthUser") ?? tree.pos,
      o.authorization?.users === undefined && accountUsers.length === 0
        ? `no_auth_user: "${noAuth}" present, but users are not defined`
        : `no_auth_user: "${noAuth}" not present as user in authorization block or account configuration`
    )
  }
  if (Result.isFailure(decoded)) fail(tree.pos, `invalid configuration: ${decoded.failure.message}`)
  return { options: o, warnings: ctx.warnings }
}

const catchConfig = <A>(f: () => A): Result.Result<A, ConfigError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    if (e instanceof ConfigError) return Result.fail(e)
    throw e
  }
}

/**
 * Maps a parsed config tree to {@link ServerOptionsInput}, validated against the
 * {@link ServerOptions} schema (the returned options are the undecoded input, so command-line
 * flags can still be laid over them). Pure.
 */
export const configToOptions = (tree: ConfigMap): Result.Result<ConfigFileResult, ConfigError> =>
  catchConfig(() => toOptions(tree))

/** Parses config text and maps it to options. Pure (includes and env come from `options`). */
export const configFromString = (
  text: string,
  options: ParseOptions = {}
): Result.Result<ConfigFileResult, ConfigError> =>
  Result.flatMap(parseConfig(text, options), configToOptions)

/**
 * Reads, parses, maps and validates a config file (and its includes) from disk. `env` defaults to
 * `process.env`.
 */
export const loadConfigFile = (
  path: string,
  options: { readonly env?: Readonly<Record<string, string | undefined>> } = {}
): Effect.Effect<ConfigFileResult, ConfigError> =>
  parseFile(path, options).pipe(Effect.flatMap((tree) => Effect.fromResult(configToOptions(tree))))

// ---------------------------------------------------------------------------------------------
// Printer
// ---------------------------------------------------------------------------------------------

/** A double-quoted config string; only escapes every NATS-style parser knows. */
export const quote = (s: string): string => {
  let out = "\""
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    const code = s.charCodeAt(i)
    if (c === "\"") out += "\\\""
    else if (c === "\\") out += "\\\\"
    else if (c === "\n") out += "\\n"
    else if (c === "\t") out += "\\t"
    else if (c === "\r") out += "\\r"
    else if (code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff && !isPairedSurrogate(s, i))) {
      out += "\\u" + code.toString(16).padStart(4, "0")
    } else out += c
  }
  return out + "\""
}

const isPairedSurrogate = (s: string, i: number): boolean => {
  const code = s.charCodeAt(i)
  if (code >= 0xd800 && code <= 0xdbff) {
    const next = s.charCodeAt(i + 1)
    return next >= 0xdc00 && next <= 0xdfff
  }
  const prev = s.charCodeAt(i - 1)
  return prev >= 0xd800 && prev <= 0xdbff
}

/** A number without exponent notation. */
const plainNumber = (n: number): string => {
  const s = String(n)
  if (!/e/i.test(s)) return s
  return Number.isInteger(n) ? BigInt(n).toString() : n.toFixed(20).replace(/\.?0+$/, "")
}

const seconds = (ms: number): string => plainNumber(ms / 1000)

const hostPortString = (host: string, port: number): string => HostPort.format(host, port)

const printTls = (
  indent: number,
  t: NonNullable<ServerOptionsInput["tls"]>,
  line: (indent: number, text: string) => void,
  kv: (indent: number, key: string, value: string | number | boolean | undefined) => void
) => {
  line(indent, "tls {")
  kv(indent + 1, "cert_file", t.certFile)
  kv(indent + 1, "key_file", t.keyFile)
  kv(indent + 1, "ca_file", t.caFile)
  kv(indent + 1, "verify", t.verify)
  if (t.verifyAndMap !== undefined) kv(indent + 1, "verify_and_map", t.verifyAndMap)
  if (t.timeout !== undefined) line(indent + 1, `timeout: ${seconds(t.timeout)}`)
  if (t.cipherSuites !== undefined) line(indent + 1, `cipher_suites: [${t.cipherSuites.map(quote).join(", ")}]`)
  if (t.curvePreferences !== undefined) line(indent + 1, `curve_preferences: [${t.curvePreferences.map(quote).join(", ")}]`)
  line(indent, "}")
}

/**
 * Writes options as a nats-server config file that {@link configFromString} reads back to the same
 * options. Durations are written as Go duration strings, timeouts as seconds. An `httpHost` without
 * an `httpPort` can not be expressed in the NATS syntax and is written as a comment only.
 */
export const printConfig = (o: ServerOptionsInput): string => {
  const lines: Array<string> = []
  const line = (indent: number, text: string) => lines.push("  ".repeat(indent) + text)
  const kv = (indent: number, key: string, value: string | number | boolean | undefined) => {
    if (value === undefined) return
    const text = typeof value === "string" ? quote(value) : typeof value === "number" ? plainNumber(value) : String(value)
    line(indent, `${key}: ${text}`)
  }
  const dur = (key: string, ms: number | undefined) => {
    if (ms !== undefined) line(0, `${key}: ${quote(formatDuration(ms))}`)
  }

  kv(0, "server_name", o.serverName)
  kv(0, "host", o.host)
  kv(0, "port", o.port)
  kv(0, "client_advertise", o.clientAdvertise)
  kv(0, "max_payload", o.maxPayload)
  kv(0, "max_pending", o.maxPending)
  kv(0, "max_control_line", o.maxControlLine)
  kv(0, "max_connections", o.maxConnections)
  kv(0, "max_subscriptions", o.maxSubscriptions)
  dur("ping_interval", o.pingInterval)
  kv(0, "ping_max", o.pingMax)
  dur("write_deadline", o.writeDeadline)
  dur("lame_duck_duration", o.lameDuckDuration)
  dur("lame_duck_grace_period", o.lameDuckGracePeriod)
  kv(0, "no_header_support", o.noHeaderSupport)
  kv(0, "debug", o.debug)
  kv(0, "trace", o.trace)
  kv(0, "logtime", o.logtime)
  kv(0, "logfile", o.logFile)
  kv(0, "pidfile", o.pidFile)
  kv(0, "ports_file_dir", o.portsFileDir)
  if (o.httpPort !== undefined) {
    if (o.httpHost !== undefined && o.httpHost !== "") kv(0, "http", hostPortString(o.httpHost, o.httpPort))
    else kv(0, "http_port", o.httpPort)
  } else if (o.httpsPort !== undefined) {
    if (o.httpHost !== undefined && o.httpHost !== "") kv(0, "https", hostPortString(o.httpHost, o.httpsPort))
    else kv(0, "https_port", o.httpsPort)
  } else if (o.httpHost !== undefined) {
    line(0, `# http host ${quote(o.httpHost)} is not written: the config syntax needs a port with it`)
  }

  if (o.httpsPort !== undefined && o.httpPort !== undefined) kv(0, "https_port", o.httpsPort)
  if (o.tls !== undefined) printTls(0, o.tls, line, kv)

  const a = o.authorization
  if (a !== undefined) {
    line(0, "authorization {")
    kv(1, "user", a.user)
    kv(1, "password", a.password)
    kv(1, "token", a.token)
    if (a.timeout !== undefined) line(1, `timeout: ${seconds(a.timeout)}`)
    for (const l of printAuthorization(a, quote, formatDuration)) line(1, l)
    line(0, "}")
  }
  if (a?.noAuthUser !== undefined) kv(0, "no_auth_user", a.noAuthUser)
  for (const l of printAccounts(o, quote, formatDuration, (x) => printAuthorization(x, quote, formatDuration))) line(0, l)

  const c = o.cluster
  if (c !== undefined) {
    line(0, "cluster {")
    kv(1, "name", c.name)
    kv(1, "host", c.host)
    kv(1, "port", c.port)
    kv(1, "advertise", c.advertise)
    kv(1, "no_advertise", c.noAdvertise)
    kv(1, "connect_retries", c.connectRetries)
    if (c.routes !== undefined) {
      if (c.routes.length === 0) line(1, "routes: []")
      else {
        line(1, "routes: [")
        for (const r of c.routes) line(2, quote(r))
        line(1, "]")
      }
    }
    if (c.tls !== undefined) printTls(1, c.tls, line, kv)
    const ca = c.authorization
    if (ca !== undefined) {
      line(1, "authorization {")
      kv(2, "user", ca.user)
      kv(2, "password", ca.password)
      if (ca.timeout !== undefined) line(2, `timeout: ${seconds(ca.timeout)}`)
      line(1, "}")
    }
    line(0, "}")
  }
  return lines.join("\n") + "\n"
}
