/**
 * The command line, in the style of nats-server (Go's `flag` package): every long flag takes one or two
 * dashes (`-routes`, `--routes`), values come as `--flag=value` or `--flag value`, boolean flags are
 * `-D`, `--debug`, `--debug=false`, and parsing stops at the first argument that is not a flag (or at `--`).
 *
 * `parseFlags` is pure: it returns what was given on the command line (as a partial `ServerOptionsInput`),
 * the config file path and the command to run, or a `FlagError` whose message is ready to print.
 * The caller reads the config file, merges with `mergeOptions(fromFile, fromFlags)` (flags win) and then
 * runs `validateFlags(merged)` before decoding with `decodeServerOptions`.
 *
 * nats-server features that effect-nats-server does not implement (JetStream, syslog, profiling,
 * leafnodes, gateways, websocket, mqtt) are refused with one line each, never ignored.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { clusterDefaults, type ServerOptionsInput } from "./ServerOptions.js"
import * as Duration from "../values/Duration.js"
import * as Size from "../values/Size.js"
import * as Url from "../values/Url.js"

// ---------------------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------------------

/** A command-line problem; `message` is one line per problem, printable as is. */
export class FlagError extends Data.TaggedError("FlagError")<{ readonly message: string }> {}

/** Commands accepted by `--signal` / `-sl`. */
export const signalCommands = ["ldm", "stop", "quit", "term", "reopen", "reload"] as const
export type SignalCommand = (typeof signalCommands)[number]

/** `--signal <cmd>[=<pid or pid file>]`: send a signal to a running server and exit. */
export interface SignalRequest {
  readonly signal: SignalCommand
  /** A process id or the path of a pid file; absent → the caller must find the server process. */
  readonly pid?: string
}

/** `effect-nats-server pub|sub [-s url,url] [--count n] <subject> [payload]`. */
export interface ClientCommand {
  readonly client: "pub" | "sub"
  readonly servers: ReadonlyArray<string>
  readonly subject: string
  /** `pub` only; absent → empty message. */
  readonly payload?: string
  /** pub: how many messages to send; sub: exit after this many messages. Absent → pub 1, sub forever. */
  readonly count?: number
}

export type Command = "run" | "help" | "version" | "test-config" | SignalRequest | ClientCommand

export interface ParsedFlags {
  /** Only what was given on the command line. */
  readonly options: ServerOptionsInput
  readonly configFile?: string
  readonly command: Command
}

/** Servers used by `pub`/`sub` when `-s` is not given. */
export const defaultClientServers: ReadonlyArray<string> = ["nats://127.0.0.1:4222"]

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type ClusterInput = NonNullable<ServerOptionsInput["cluster"]>
type AuthorizationInput = NonNullable<ServerOptionsInput["authorization"]>
type ClusterAuthorizationInput = NonNullable<ClusterInput["authorization"]>

// ---------------------------------------------------------------------------------------------------------
// Value parsers (return the value or an error reason)
// ---------------------------------------------------------------------------------------------------------

type Parsed<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly reason: string }
const ok = <A>(value: A): Parsed<A> => ({ ok: true, value })
const bad = (reason: string): Parsed<never> => ({ ok: false, reason })

/** Go's `strconv.ParseBool` spellings. */
export const parseBool = (text: string): boolean | undefined => {
  switch (text) {
    case "1": case "t": case "T": case "true": case "TRUE": case "True":
      return true
    case "0": case "f": case "F": case "false": case "FALSE": case "False":
      return false
    default:
      return undefined
  }
}

const parseInteger = (text: string): Parsed<number> => {
  if (!/^[+-]?\d+$/.test(text)) return bad("parse error")
  const n = Number(text)
  return Number.isSafeInteger(n) ? ok(n) : bad("value out of range")
}

const parsePort = (text: string): Parsed<number> => {
  const n = parseInteger(text)
  if (!n.ok) return n
  return n.value >= -1 && n.value <= 65535 ? n : bad("port must be between -1 (random) and 65535")
}

const parseNonNegative = (text: string): Parsed<number> => {
  const n = parseInteger(text)
  if (!n.ok) return n
  return n.value >= 0 ? n : bad("must not be negative")
}

// ---------------------------------------------------------------------------------------------------------
// The flag table
// ---------------------------------------------------------------------------------------------------------

interface ParseState {
  readonly options: Mutable<ServerOptionsInput>
  cluster: Mutable<ClusterInput> | undefined
  authorization: Mutable<AuthorizationInput> | undefined
  configFile: string | undefined
  help: boolean
  version: boolean
  testConfig: boolean
  signal: SignalRequest | undefined
  /** --tls, --tlsverify, --tlscert, --tlskey, --tlscacert (any of them turns TLS on, as nats-server). */
  tls: { cert?: string; key?: string; ca?: string; verify?: boolean; disabled?: boolean } | undefined
}

type Kind = "bool" | "value"

interface FlagSpec {
  readonly kind: Kind
  /** Returns an error reason (printed as `invalid value "<v>" for flag -<name>: <reason>`), or undefined. */
  readonly apply: (state: ParseState, value: string, asBool: boolean) => string | undefined
}

const cluster = (state: ParseState): Mutable<ClusterInput> => (state.cluster ??= {})
const authorization = (state: ParseState): Mutable<AuthorizationInput> => (state.authorization ??= {})
const tlsFlags = (state: ParseState): NonNullable<ParseState["tls"]> => (state.tls ??= {})

const stringFlag = (set: (state: ParseState, value: string) => void): FlagSpec => ({
  kind: "value",
  apply: (state, value) => {
    set(state, value)
    return undefined
  }
})

const numberFlag = (parse: (text: string) => Parsed<number>, set: (state: ParseState, value: number) => void): FlagSpec => ({
  kind: "value",
  apply: (state, value) => {
    const n = parse(value)
    if (!n.ok) return n.reason
    set(state, n.value)
    return undefined
  }
})

const sizeFlag = (set: (state: ParseState, value: number) => void): FlagSpec =>
  numberFlag((text) => {
    const n = Size.parse(text)
    return Result.isFailure(n) ? bad("expected a size such as 1048576, 512k or 1MB") : ok(n.success)
  }, set)

const boolFlag = (set: (state: ParseState, value: boolean) => void): FlagSpec => ({
  kind: "bool",
  apply: (state, _value, asBool) => {
    set(state, asBool)
    return undefined
  }
})

const parseClusterUrl = (state: ParseState, value: string): string | undefined => {
  const parsed = Url.parse(value)
  if (Result.isFailure(parsed)) return parsed.failure.message
  const url = parsed.success
  if (url.port === undefined) return "missing port (use -1 for a random port)"
  const c = cluster(state)
  c.host = url.host === "" ? clusterDefaults.host : url.host
  c.port = url.port
  if (url.user !== undefined) {
    if (url.password === undefined) return "expected cluster password to be set"
    const auth: Mutable<ClusterAuthorizationInput> = { ...(c.authorization ?? {}), user: url.user, password: url.password }
    c.authorization = auth
  }
  return undefined
}

const routeSchemes = new Set(["nats-route", "nats"])

const parseRoutes = (state: ParseState, value: string): string | undefined => {
  const routes = value.split(",").map((r) => r.trim()).filter((r) => r !== "")
  for (const route of routes) {
    const parsed = Url.parse(route)
    if (Result.isFailure(parsed)) return `route URL "${route}": ${parsed.failure.message}`
    const url = parsed.success
    if (!routeSchemes.has(url.scheme)) {
      return `route URL "${route}": scheme must be nats-route:// or nats:// (route TLS comes from the cluster tls block)`
    }
    if (url.host === "") return `route URL "${route}": missing host`
    if (url.port === undefined || url.port <= 0) return `route URL "${route}": missing or invalid port`
  }
  cluster(state).routes = routes
  return undefined
}

const parseSignal = (state: ParseState, value: string): string | undefined => {
  const eq = value.indexOf("=")
  const name = eq >= 0 ? value.slice(0, eq) : value
  const pid = eq >= 0 ? value.slice(eq + 1).trim() : undefined
  if (!(signalCommands as ReadonlyArray<string>).includes(name)) {
    return `unknown signal "${name}" (expected one of ${signalCommands.join(", ")})`
  }
  if (pid === "") return "expected <signal>=<pid or pid file>"
  state.signal = { signal: name as SignalCommand, ...(pid !== undefined ? { pid } : {}) }
  return undefined
}

const serverFlags: ReadonlyMap<string, FlagSpec> = (() => {
  const table = new Map<string, FlagSpec>()
  const def = (names: ReadonlyArray<string>, spec: FlagSpec) => {
    for (const name of names) table.set(name, spec)
  }
  // Server
  def(["a", "addr", "net"], stringFlag((s, v) => (s.options.host = v)))
  def(["p", "port"], numberFlag(parsePort, (s, v) => (s.options.port = v)))
  def(["n", "name", "server_name"], stringFlag((s, v) => (s.options.serverName = v)))
  def(["P", "pid"], stringFlag((s, v) => (s.options.pidFile = v)))
  def(["m", "http_port"], numberFlag(parsePort, (s, v) => (s.options.httpPort = v)))
  def(["c", "config"], stringFlag((s, v) => (s.configFile = v)))
  def(["t"], boolFlag((s, v) => (s.testConfig = v)))
  def(["sl", "signal"], { kind: "value", apply: parseSignal })
  def(["client_advertise"], stringFlag((s, v) => (s.options.clientAdvertise = v)))
  def(["ports_file_dir"], stringFlag((s, v) => (s.options.portsFileDir = v)))
  // Logging
  def(["l", "log"], stringFlag((s, v) => (s.options.logFile = v)))
  def(["T", "logtime"], boolFlag((s, v) => (s.options.logtime = v)))
  def(["D", "debug"], boolFlag((s, v) => (s.options.debug = v)))
  def(["V", "trace"], boolFlag((s, v) => (s.options.trace = v)))
  // -VV also traces the system account in nats-server; here it is the same as -V.
  def(["VV"], boolFlag((s, v) => { if (v) s.options.trace = true }))
  def(["DV", "DVV"], boolFlag((s, v) => { if (v) { s.options.debug = true; s.options.trace = true } }))
  // Limits
  def(["max_payload"], sizeFlag((s, v) => (s.options.maxPayload = v)))
  def(["max_pending"], sizeFlag((s, v) => (s.options.maxPending = v)))
  def(["max_control_line"], sizeFlag((s, v) => (s.options.maxControlLine = v)))
  def(["max_connections", "max_conn"], numberFlag(parseNonNegative, (s, v) => (s.options.maxConnections = v)))
  def(["ping_interval"], numberFlag((text) => {
    const ms = Duration.parseSecondsOrGo(text)
    return Result.isFailure(ms) || ms.success <= 0
      ? bad("expected a positive duration such as 2m, 30s or 1m30s (a bare number means seconds)")
      : ok(ms.success)
  }, (s, v) => (s.options.pingInterval = v)))
  // Authorization
  def(["user"], stringFlag((s, v) => (authorization(s).user = v)))
  def(["pass"], stringFlag((s, v) => (authorization(s).password = v)))
  def(["auth"], stringFlag((s, v) => (authorization(s).token = v)))
  // Cluster
  def(["routes"], { kind: "value", apply: parseRoutes })
  def(["cluster", "cluster_listen"], { kind: "value", apply: parseClusterUrl })
  def(["cluster_name"], stringFlag((s, v) => (cluster(s).name = v)))
  def(["no_advertise"], boolFlag((s, v) => (cluster(s).noAdvertise = v)))
  def(["cluster_advertise"], stringFlag((s, v) => (cluster(s).advertise = v)))
  def(["connect_retries"], numberFlag(parseNonNegative, (s, v) => (cluster(s).connectRetries = v)))
  // TLS
  def(["tls"], boolFlag((s, v) => { if (!v) tlsFlags(s).disabled = true; else tlsFlags(s) }))
  def(["tlsverify"], boolFlag((s, v) => (tlsFlags(s).verify = v)))
  def(["tlscert"], stringFlag((s, v) => (tlsFlags(s).cert = v)))
  def(["tlskey"], stringFlag((s, v) => (tlsFlags(s).key = v)))
  def(["tlscacert"], stringFlag((s, v) => (tlsFlags(s).ca = v)))
  def(["ms", "https_port"], numberFlag(parsePort, (s, v) => (s.options.httpsPort = v)))
  // Common
  def(["h", "help"], boolFlag((s, v) => (s.help = v)))
  def(["v", "version"], boolFlag((s, v) => (s.version = v)))
  return table
})()

interface Unsupported {
  readonly kind: Kind
  readonly reason: string
}

const tlsReason = "this TLS option is not supported by effect-nats-server (use --tls, --tlsverify, --tlscert, --tlskey, --tlscacert or a tls block)"

/** nats-server flags (and feature families) that we refuse with one line each. */
const unsupportedFlags: ReadonlyMap<string, Unsupported> = (() => {
  const table = new Map<string, Unsupported>()
  const def = (names: ReadonlyArray<string>, kind: Kind, reason: string) => {
    for (const name of names) table.set(name, { kind, reason })
  }
  def(["s", "syslog"], "bool", "syslog is not supported by effect-nats-server (use -l/--log <file> or stderr)")
  def(["r", "remote_syslog"], "value", "remote syslog is not supported by effect-nats-server (use -l/--log <file> or stderr)")
  def(["log_size_limit"], "value", "log file rotation by size is not supported by effect-nats-server")
  def(["max_traced_msg_len"], "value", "max_traced_msg_len is not supported by effect-nats-server")
  def(["js", "jetstream"], "bool", "JetStream is not supported by effect-nats-server")
  def(["sd", "store_dir"], "value", "JetStream (store_dir) is not supported by effect-nats-server")
  def(["help_tls"], "bool", "--help_tls is not supported by effect-nats-server (see the TLS section of the README)")
  def(["profile"], "value", "the profiling port is not supported by effect-nats-server")
  return table
})()

const featureFamilies: ReadonlyArray<readonly [RegExp, string]> = [
  [/^tls/, tlsReason],
  [/^(leaf|leafnode|leafnodes)(_|$)/, "leafnodes are not supported by effect-nats-server"],
  [/^(gateway|gateways)(_|$)/, "gateways (superclusters) are not supported by effect-nats-server"],
  [/^(websocket|ws)(_|$)/, "websocket is not supported by effect-nats-server"],
  [/^mqtt(_|$)/, "MQTT is not supported by effect-nats-server"]
]

const findUnsupported = (name: string): Unsupported | undefined => {
  const known = unsupportedFlags.get(name)
  if (known !== undefined) return known
  for (const [re, reason] of featureFamilies) {
    if (re.test(name)) return { kind: "value", reason }
  }
  return undefined
}

/** How a flag was written on the command line (`-p`, `--routes`), for refusal lines. */
const written = (arg: string, name: string): string => (arg.startsWith("--") ? `--${name}` : `-${name}`)

// ---------------------------------------------------------------------------------------------------------
// The Go-style scanner
// ---------------------------------------------------------------------------------------------------------

interface ScanHandlers {
  /** A flag's kind and action, a refusal (unsupported feature), or undefined (unknown flag). */
  readonly lookup: (name: string) => { readonly kind: Kind; readonly apply: (value: string, asBool: boolean) => string | undefined } | { readonly refused: string; readonly kind: Kind } | undefined
}

interface ScanResult {
  readonly positionals: ReadonlyArray<string>
  readonly refusals: ReadonlyArray<string>
}

/** Scans flags until the first non-flag argument or `--`; hard errors fail, refusals are collected. */
const scan = (argv: ReadonlyArray<string>, handlers: ScanHandlers): Result.Result<ScanResult, FlagError> => {
  const refusals: Array<string> = []
  let i = 0
  while (i < argv.length) {
    const arg = argv[i] ?? ""
    if (arg.length < 2 || arg[0] !== "-") break
    if (arg === "--") {
      i++
      break
    }
    const dashes = arg[1] === "-" ? 2 : 1
    let name = arg.slice(dashes)
    if (name.length === 0 || name[0] === "-" || name[0] === "=") {
      return Result.fail(new FlagError({ message: `bad flag syntax: ${arg}` }))
    }
    i++
    let value: string | undefined
    const eq = name.indexOf("=")
    if (eq >= 0) {
      value = name.slice(eq + 1)
      name = name.slice(0, eq)
    }
    const spec = handlers.lookup(name)
    if (spec === undefined) {
      return Result.fail(new FlagError({ message: `flag provided but not defined: -${name}` }))
    }
    if ("refused" in spec) {
      // Skip its value (if it takes one) and keep scanning, so every refused flag gets its line.
      if (spec.kind === "value" && value === undefined && i < argv.length) i++
      refusals.push(`${written(arg, name)}: ${spec.refused}`)
      continue
    }
    if (spec.kind === "bool") {
      let asBool = true
      if (value !== undefined) {
        const b = parseBool(value)
        if (b === undefined) {
          return Result.fail(new FlagError({ message: `invalid boolean value "${value}" for -${name}: parse error` }))
        }
        asBool = b
      }
      const err = spec.apply(value ?? "true", asBool)
      if (err !== undefined) {
        return Result.fail(new FlagError({ message: `invalid value "${value ?? "true"}" for flag -${name}: ${err}` }))
      }
      continue
    }
    if (value === undefined) {
      if (i >= argv.length) return Result.fail(new FlagError({ message: `flag needs an argument: -${name}` }))
      value = argv[i] ?? ""
      i++
    }
    const err = spec.apply(value, false)
    if (err !== undefined) {
      return Result.fail(new FlagError({ message: `invalid value "${value}" for flag -${name}: ${err}` }))
    }
  }
  return Result.succeed({ positionals: argv.slice(i), refusals })
}

// ---------------------------------------------------------------------------------------------------------
// parseFlags
// ---------------------------------------------------------------------------------------------------------

const parseClientCommand = (client: "pub" | "sub", argv: ReadonlyArray<string>): Result.Result<ParsedFlags, FlagError> => {
  let servers: ReadonlyArray<string> = defaultClientServers
  let count: number | undefined
  let help = false
  const usageLine = client === "pub"
    ? "usage: effect-nats-server pub [-s url[,url...]] [--count n] <subject> [payload]"
    : "usage: effect-nats-server sub [-s url[,url...]] [--count n] <subject>"
  const specs: ReadonlyMap<string, { readonly kind: Kind; readonly apply: (value: string, asBool: boolean) => string | undefined }> = new Map([
    ["s", { kind: "value" as Kind, apply: (v: string) => {
      const list = v.split(",").map((x) => x.trim()).filter((x) => x !== "")
      if (list.length === 0) return "expected a comma-separated list of server URLs"
      servers = list
      return undefined
    } }],
    ["count", { kind: "value" as Kind, apply: (v: string) => {
      const n = parseInteger(v)
      if (!n.ok) return n.reason
      if (n.value < 1) return "must be at least 1"
      count = n.value
      return undefined
    } }],
    ["h", { kind: "bool" as Kind, apply: (_: string, b: boolean) => { help = b; return undefined } }]
  ])
  const lookup = (name: string) => specs.get(name === "server" ? "s" : name === "help" ? "h" : name)
  const scanned = scan(argv, { lookup })
  if (Result.isFailure(scanned)) return Result.fail(scanned.failure)
  if (help) return Result.succeed({ options: {}, command: "help" })
  const args = scanned.success.positionals
  const max = client === "pub" ? 2 : 1
  const subject = args[0]
  if (subject === undefined || subject === "") {
    return Result.fail(new FlagError({ message: `${client}: missing subject (${usageLine})` }))
  }
  if (args.length > max) {
    return Result.fail(new FlagError({ message: `${client}: unexpected argument "${args[max] ?? ""}" (${usageLine})` }))
  }
  const payload = client === "pub" ? args[1] : undefined
  return Result.succeed({
    options: {},
    command: {
      client,
      servers,
      subject,
      ...(payload !== undefined ? { payload } : {}),
      ...(count !== undefined ? { count } : {})
    }
  })
}

/**
 * Parses the command line (without the `node` and script entries, i.e. `process.argv.slice(2)`).
 *
 * Command precedence: help, version, signal, test-config, run. Positional `help` and `version` are
 * accepted like nats-server; `pub` and `sub` as the first argument select the client commands.
 * Unsupported nats-server flags are all reported (one line each) in a single `FlagError`.
 */
export const parseFlags = (argv: ReadonlyArray<string>): Result.Result<ParsedFlags, FlagError> => {
  const first = argv[0]
  if (first === "pub" || first === "sub") return parseClientCommand(first, argv.slice(1))

  const state: ParseState = {
    options: {},
    cluster: undefined,
    authorization: undefined,
    configFile: undefined,
    help: false,
    version: false,
    testConfig: false,
    signal: undefined,
    tls: undefined
  }
  const scanned = scan(argv, {
    lookup: (name) => {
      const spec = serverFlags.get(name)
      if (spec !== undefined) return { kind: spec.kind, apply: (value, asBool) => spec.apply(state, value, asBool) }
      const refused = findUnsupported(name)
      return refused === undefined ? undefined : { refused: refused.reason, kind: refused.kind }
    }
  })
  if (Result.isFailure(scanned)) return Result.fail(scanned.failure)
  const { positionals, refusals } = scanned.success
  if (refusals.length > 0) return Result.fail(new FlagError({ message: refusals.join("\n") }))

  for (const arg of positionals) {
    if (arg === "version") state.version = true
    else if (arg === "help") state.help = true
    else {
      const hint = arg === "pub" || arg === "sub" ? ` (${arg} must be the first argument)` : ""
      return Result.fail(new FlagError({ message: `unrecognized command: "${arg}"${hint}` }))
    }
  }

  const options: Mutable<ServerOptionsInput> = state.options
  if (state.tls !== undefined) {
    // nats-server's overrideTLS: the flags replace the config file's tls block.
    const t = state.tls
    if (t.disabled === true) {
      return Result.fail(new FlagError({ message: "--tls=false: turning off the config file's TLS from the command line is not supported by effect-nats-server" }))
    }
    if (t.cert === undefined) return Result.fail(new FlagError({ message: "TLS Server certificate must be present and valid" }))
    if (t.key === undefined) return Result.fail(new FlagError({ message: "TLS Server private key must be present and valid" }))
    options.tls = { certFile: t.cert, keyFile: t.key, ...(t.ca !== undefined ? { caFile: t.ca } : {}), verify: t.verify ?? false }
  }
  if (state.authorization !== undefined) options.authorization = state.authorization
  if (state.cluster !== undefined) options.cluster = state.cluster

  const command: Command = state.help
    ? "help"
    : state.version
    ? "version"
    : state.signal !== undefined
    ? state.signal
    : state.testConfig
    ? "test-config"
    : "run"
  return Result.succeed({
    options,
    ...(state.configFile !== undefined ? { configFile: state.configFile } : {}),
    command
  })
}

// ---------------------------------------------------------------------------------------------------------
// Merge and validation
// ---------------------------------------------------------------------------------------------------------

/** `{...base, ...over}` without letting `undefined` values in `over` erase `base`. */
const overlay = <T extends object>(base: T, over: T): T => {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [key, value] of Object.entries(over)) {
    if (value !== undefined) out[key] = value
  }
  return out as T
}

/**
 * Command-line options override the config file's, key by key; `cluster`, `cluster.authorization` and
 * `authorization` are merged field by field (so `--cluster_name X` keeps the file's cluster listen and
 * routes). Arrays (routes, users) are replaced, not concatenated.
 */
export const mergeOptions = (fromFile: ServerOptionsInput, fromFlags: ServerOptionsInput): ServerOptionsInput => {
  const merged: Mutable<ServerOptionsInput> = overlay(fromFile, fromFlags)
  if (fromFile.authorization !== undefined && fromFlags.authorization !== undefined) {
    merged.authorization = overlay(fromFile.authorization, fromFlags.authorization)
  }
  if (fromFile.cluster !== undefined && fromFlags.cluster !== undefined) {
    const c: Mutable<ClusterInput> = overlay(fromFile.cluster, fromFlags.cluster)
    if (fromFile.cluster.authorization !== undefined && fromFlags.cluster.authorization !== undefined) {
      c.authorization = overlay(fromFile.cluster.authorization, fromFlags.cluster.authorization)
    }
    merged.cluster = c
  }
  return merged
}

/**
 * Checks that need the merged options (config file + flags); run it before decoding.
 * - `--routes` (or any cluster setting) without a cluster listen address (`--cluster`, or `listen`/`port`
 *   in the file's `cluster {}` block) is an error: nats-server would not open a cluster port and the
 *   routes would silently do nothing.
 */
export const validateFlags = (merged: ServerOptionsInput): Result.Result<ServerOptionsInput, FlagError> => {
  const c = merged.cluster
  if (c !== undefined && c.host === undefined && c.port === undefined) {
    const message = c.routes !== undefined && c.routes.length > 0
      ? "--routes requires a cluster listen address: add --cluster nats://<host>:<port> " +
        "(or listen in the config file's cluster block)"
      : "cluster settings need a cluster listen address: add --cluster nats://<host>:<port> " +
        "(or listen in the config file's cluster block)"
    return Result.fail(new FlagError({ message }))
  }
  return Result.succeed(merged)
}

// ---------------------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------------------

/** The `--help` text. */
export const usage = (): string => `Usage: effect-nats-server [options]
       effect-nats-server pub [-s <url>[,<url>...]] [--count <n>] <subject> [payload]
       effect-nats-server sub [-s <url>[,<url>...]] [--count <n>] <subject>

Every long option also works with a single dash (-routes), and takes its value as
--option=value or --option value.

Server Options:
    -a, --addr, --net <host>         Listen for clients on this host (default: 0.0.0.0)
    -p, --port <port>                Client port (default: 4222, -1 for a random port)
    -n, --name, --server_name <name> Server name (default: the server id)
    -P, --pid <file>                 Write the process id to this file
    -m, --http_port <port>           Serve the HTTP monitoring endpoints on this port
    -ms, --https_port <port>         Serve them over HTTPS (with the TLS certificate) instead
    -c, --config <file>              Read options from this configuration file
    -t                               Check the configuration file and exit
    -sl, --signal <cmd>[=<pid>]      Send a signal to a running server and exit:
                                     ldm, stop, quit, term, reopen, reload
                                     (<pid> is a process id or a pid file path)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Write a ports file into this directory

Logging Options:
    -l, --log <file>                 Append the log to this file (reopened on SIGUSR1)
    -T, --logtime                    Timestamp log lines (default: true, -T=false to omit)
    -D, --debug                      Enable debug logging
    -V, --trace                      Trace the raw protocol
    -VV                              Same as -V
    -DV                              Debug and trace
    -DVV                             Debug and trace

Limits:
        --max_payload <size>         Largest message payload (default: 1MB; units: KB, MB, ...)
        --max_pending <size>         Outbound buffer per connection (default: 64MB)
        --max_control_line <size>    Longest protocol line (default: 4096)
        --max_connections <n>        Most client connections (default: 65536)
        --ping_interval <duration>   Interval between server PINGs (default: 2m)

Authorization Options:
        --user <user>                User required for client connections
        --pass <password>            Password required for client connections
        --auth <token>               Token required for client connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect to
        --cluster <cluster-url>      Listen for routes: nats://[user:pass@]host:port
                                     (port -1 for a random port; user:pass sets route auth)
        --cluster_listen <url>       Same as --cluster
        --cluster_name <name>        Cluster name (default: generated and negotiated)
        --no_advertise <bool>        Do not advertise known cluster URLs to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <n>        Connection attempts for implicit routes

Client Commands:
    pub                              Publish a message (or --count <n> messages) and exit
    sub                              Print messages received on a subject
    -s, --server <url>[,<url>...]    Servers to connect to (default: nats://127.0.0.1:4222)
        --count <n>                  pub: messages to send; sub: exit after n messages

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show the version

Not supported (refused at startup): JetStream (-js, -sd), syslog (-s, -r), --help_tls,
--profile, leafnodes, gateways, websocket, MQTT.
`
