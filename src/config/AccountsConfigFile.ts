/**
 * The multi-tenancy parts of a nats-server config file, as nats-server 2.9.10's `parseAccounts`,
 * `parseAccountExports` / `parseAccountImports` and the `operator`, `resolver` and
 * `resolver_preload` keys read them: the `accounts` block (a list of names, or a map of accounts
 * with `users`, `nkey`, `default_permissions`, `exports` and `imports`), then the whole account
 * graph checked as nats-server checks it on load (`accounts/Accounts.compileAccounts`), with its
 * error texts. Errors are `ConfigError`s, like the rest of `ConfigFile`.
 *
 * Accounts are parsed and checked (`-t` accepts or refuses a config as nats-server does);
 * {@link accountsStartupError} makes the server refuse to start with config-file accounts (not
 * served yet), after the start-up checks nats-server makes itself. Operator mode is served.
 *
 * Deliberate differences: nats-server reads an export or import map's keys in Go's random map
 * order, so some errors (`Stream import can not have a 'prefix' and a 'to' property`) appear only
 * for some orders; here they always do. An export or import with neither `stream` nor `service`
 * is refused (nats-server drops it silently).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { type Accounts, compileAccounts, GLOBAL_ACCOUNT } from "../accounts/Accounts.js"
import { decodeAccountClaims, isPublicKey } from "../accounts/Jwt.js"
import { readOperator } from "../accounts/Resolver.js"
import { parsePermissions, parseUserEntry, type DurationParser } from "./AuthConfigFile.js"
import { type ConfigEntry, configError, type ConfigMap, type ConfigValue, type Position } from "./ConfigParser.js"
import type { ServerOptionsInput } from "./ServerOptions.js"

type AccountInput = NonNullable<ServerOptionsInput["accounts"]>[number]
type ExportInput = NonNullable<AccountInput["exports"]>[number]
type ImportInput = NonNullable<AccountInput["imports"]>[number]
type UserInput = NonNullable<AccountInput["users"]>[number]
type NkeyInput = NonNullable<AccountInput["nkeys"]>[number]
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const fail = (pos: Position, reason: string): never => {
  throw configError(pos, reason)
}

/** The Go type name nats-server prints with `%T` for a config value. */
const goType = (v: ConfigValue): string => {
  switch (v._tag) {
    case "String":
      return "string"
    case "Integer":
      return "int64"
    case "Float":
      return "float64"
    case "Boolean":
      return "bool"
    case "Datetime":
      return "time.Time"
    case "Array":
      return "[]interface {}"
    case "Map":
      return "map[string]interface {}"
  }
}

const goValue = (v: ConfigValue): string => (v._tag === "String" ? v.value : v._tag === "Map" || v._tag === "Array" ? goType(v) : v.raw)

const unsupported = (f: ConfigEntry, where: string): never => fail(f.pos, `${f.key} in ${where} is not supported by effect-nats-server`)

const string = (f: ConfigEntry, what: string): string =>
  f.value._tag === "String" ? f.value.value : fail(f.value.pos, `Expected ${what} to be string, got ${goType(f.value)}`)

const strings = (f: ConfigEntry): Array<string> => {
  const v = f.value
  if (v._tag !== "Array") return fail(v.pos, `${f.key} must be an array of account names, got ${goType(v)}`)
  return v.items.map((i) => (i._tag === "String" ? i.value : fail(i.pos, `${f.key} must be an array of account names, got ${goType(i)}`)))
}

// ---------------------------------------------------------------------------------------------
// Exports and imports
// ---------------------------------------------------------------------------------------------

const RESPONSE_TYPES: Record<string, ExportInput["responseType"]> = {
  single: "singleton",
  singleton: "singleton",
  stream: "stream",
  chunk: "chunked",
  chunked: "chunked"
}

/** `{ stream: subj }` / `{ service: subj, response_type, response_threshold }`, with `accounts`. */
const parseExport = (v: ConfigValue, parseDuration: DurationParser): ExportInput => {
  if (v._tag !== "Map") return fail(v.pos, `Export Items should be a map with type entry, got ${goType(v)}`)
  let kind: "stream" | "service" | undefined
  let subject = ""
  let accounts: Array<string> | undefined
  let responseType: ExportInput["responseType"]
  let responseTypePos: Position | undefined
  let threshold: number | undefined
  let thresholdPos: Position | undefined
  for (const f of v.entries) {
    const k = f.key.toLowerCase()
    if (k === "stream" || k === "service") {
      if (kind !== undefined) fail(f.value.pos, `Detected ${k} ${JSON.stringify(goValue(f.value))} but already saw a ${kind}`)
      kind = k
      subject = string(f, `${k} name`)
    } else if (k === "response" || k === "response_type") {
      if (responseTypePos !== undefined) fail(f.value.pos, "Duplicate response type definition")
      responseTypePos = f.value.pos
      const t = string(f, "response type")
      responseType = RESPONSE_TYPES[t.toLowerCase()]
      if (responseType === undefined) fail(f.value.pos, `Unknown response type: ${JSON.stringify(t)}`)
    } else if (k === "threshold" || k === "response_threshold" || k === "response_max_time" || k === "response_time") {
      if (thresholdPos !== undefined) fail(f.value.pos, "Duplicate response threshold detected")
      thresholdPos = f.value.pos
      if (f.value._tag !== "String") fail(f.value.pos, `Expected response threshold to be a parseable time duration, got ${goType(f.value)}`)
      const ms = parseDuration((f.value as { value: string }).value)
      if (Result.isFailure(ms)) fail(f.value.pos, `Expected response threshold to be a parseable time duration, got ${JSON.stringify((f.value as { value: string }).value)}`)
      else threshold = ms.success
    } else if (k === "accounts") {
      accounts = strings(f)
    } else if (k === "latency" || k === "account_token_position") {
      unsupported(f, "an export")
    } else if (!f.referenced) fail(f.pos, `unknown field "${f.key}"`)
  }
  if (kind === undefined) return fail(v.pos, "an export needs a stream or a service subject")
  if (kind === "stream" && (responseTypePos !== undefined || thresholdPos !== undefined)) {
    fail(responseTypePos ?? thresholdPos!, "Detected response directive on non-service")
  }
  return {
    kind,
    subject,
    // An empty list is Go's nil: public.
    ...(accounts !== undefined && accounts.length > 0 ? { accounts } : {}),
    ...(responseType !== undefined ? { responseType } : {}),
    ...(threshold !== undefined ? { responseThreshold: threshold } : {})
  }
}

/** `{ account, subject }` of an import. */
const parseImportAccount = (f: ConfigEntry): { account: string; subject: string } => {
  const v = f.value
  if (v._tag !== "Map") {
    return fail(v.pos, `${f.key === "stream" ? "Stream" : "Service"} entry should be an account map, got ${goType(v)}`)
  }
  let account = ""
  let subject = ""
  for (const g of v.entries) {
    const k = g.key.toLowerCase()
    if (k === "account") account = string(g, "account name")
    else if (k === "subject") subject = string(g, "subject")
    else if (!g.referenced) fail(g.pos, `unknown field "${g.key}"`)
  }
  if (account === "" || subject === "") fail(v.pos, "Expect an account name and a subject")
  return { account, subject }
}

/** `{ stream: { account, subject }, prefix | to }` / `{ service: { account, subject }, to }`. */
const parseImport = (v: ConfigValue): ImportInput & { readonly pos: Position } => {
  if (v._tag !== "Map") return fail(v.pos, `Import Items should be a map with type entry, got ${goType(v)}`)
  let kind: "stream" | "service" | undefined
  let target: { account: string; subject: string } | undefined
  let prefix: ConfigEntry | undefined
  let to: ConfigEntry | undefined
  for (const f of v.entries) {
    const k = f.key.toLowerCase()
    if (k === "stream" || k === "service") {
      if (kind !== undefined) fail(f.value.pos, `Detected ${k} but already saw a ${kind}`)
      kind = k
      target = parseImportAccount(f)
    } else if (k === "prefix") prefix = f
    else if (k === "to") to = f
    else if (k === "share") unsupported(f, "an import")
    else if (!f.referenced) fail(f.pos, `unknown field "${f.key}"`)
  }
  if (kind === undefined || target === undefined) return fail(v.pos, "an import needs a stream or a service")
  if (kind === "stream" && prefix !== undefined && to !== undefined) {
    fail(to.value.pos, "Stream import can not have a 'prefix' and a 'to' property")
  }
  if (kind === "service" && prefix !== undefined) fail(prefix.pos, "prefix is only for stream imports (a service import maps with 'to')")
  return {
    kind,
    ...target,
    ...(prefix !== undefined ? { prefix: string(prefix, "prefix") } : {}),
    ...(to !== undefined ? { to: string(to, "to") } : {}),
    pos: v.pos
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

export interface ParsedAccounts {
  readonly accounts: Array<AccountInput>
  /** Where each account's users were given (for errors that involve them). */
  readonly usersPos: ReadonlyMap<string, Position>
  readonly pos: Position
}

const parseAccount = (name: string, m: ConfigMap, parseDuration: DurationParser, usersPos: Map<string, Position>): AccountInput => {
  const out: Mutable<AccountInput> = { name }
  const users: Array<UserInput> = []
  const nkeys: Array<NkeyInput> = []
  const exports: Array<ExportInput> = []
  const imports: Array<ImportInput> = []
  for (const f of m.entries) {
    const k = f.key.toLowerCase()
    if (k === "nkey") {
      const v = f.value
      if (v._tag !== "String" || !isPublicKey("account", v.value)) fail(v.pos, `Not a valid public nkey for an account: ${JSON.stringify(goValue(v))}`)
      out.nkey = (v as { value: string }).value
    } else if (k === "users") {
      const v = f.value
      if (v._tag !== "Array") fail(v.pos, `Expected users field to be an array, got ${goType(v)}`)
      usersPos.set(name, f.pos)
      for (const item of (v as { items: ReadonlyArray<ConfigValue> }).items) {
        if (item._tag !== "Map") fail(item.pos, `users entries must be maps like { user: name, password: secret }, got ${goType(item)}`)
        const u = parseUserEntry(item as ConfigMap, "users", parseDuration)
        if ("nkey" in u) nkeys.push(u)
        else users.push(u)
      }
    } else if (k === "default_permissions") {
      const p = parsePermissions(f, parseDuration)
      if (p !== undefined) out.defaultPermissions = p
    } else if (k === "exports") {
      const v = f.value
      if (v._tag !== "Array") fail(v.pos, `Exports should be an array, got ${goType(v)}`)
      for (const item of (v as { items: ReadonlyArray<ConfigValue> }).items) exports.push(parseExport(item, parseDuration))
    } else if (k === "imports") {
      const v = f.value
      if (v._tag !== "Array") fail(v.pos, `Imports should be an array, got ${goType(v)}`)
      const services = new Map<string, ImportInput>()
      for (const item of (v as { items: ReadonlyArray<ConfigValue> }).items) {
        const { pos, ...im } = parseImport(item)
        if (im.kind === "service") {
          const local = im.to ?? im.subject
          const dup = services.get(local)
          if (dup !== undefined) {
            fail(pos, `Duplicate service import subject ${JSON.stringify(local)}, previously used in import for account ${JSON.stringify(dup.account)}, subject ${JSON.stringify(dup.subject)}`)
          }
          services.set(local, im)
        }
        imports.push(im)
      }
    } else if (k === "jetstream" || k === "mappings" || k === "maps" || k === "limits") {
      unsupported(f, "an account")
    } else if (!f.referenced) fail(f.pos, `unknown field "${f.key}"`)
  }
  if (users.length > 0) out.users = users
  if (nkeys.length > 0) out.nkeys = nkeys
  if (exports.length > 0) out.exports = exports
  if (imports.length > 0) out.imports = imports
  return out
}

/**
 * The `accounts` block. Checks names (reserved `$G`, duplicates), users unique across accounts
 * (and `others`: the `authorization` block's user names and nkeys), and the export/import graph.
 */
export const parseAccounts = (e: ConfigEntry, parseDuration: DurationParser): ParsedAccounts => {
  const v = e.value
  const accounts: Array<AccountInput> = []
  const usersPos = new Map<string, Position>()
  if (v._tag === "Array") {
    const seen = new Set<string>()
    for (const item of v.items) {
      if (item._tag !== "String") fail(item.pos, `account names must be strings, got ${goType(item)}`)
      const name = (item as { value: string }).value
      if (name === GLOBAL_ACCOUNT) fail(item.pos, `"${name}" is a Reserved Account`)
      if (seen.has(name)) fail(item.pos, `Duplicate Account Entry: ${name}`)
      seen.add(name)
      accounts.push({ name })
    }
  } else if (v._tag === "Map") {
    for (const f of v.entries) {
      if (f.referenced) continue
      if (f.value._tag !== "Map") fail(f.value.pos, "Expected map entries for accounts")
      if (f.key === GLOBAL_ACCOUNT) fail(f.value.pos, `"${f.key}" is a Reserved Account`)
      accounts.push(parseAccount(f.key, f.value as ConfigMap, parseDuration, usersPos))
    }
  } else fail(v.pos, `Expected accounts to be an array or map, got ${goType(v)}`)
  return { accounts, usersPos, pos: e.pos }
}

/**
 * The checks nats-server makes once the whole file is read: users and nkeys unique across the
 * `authorization` block and every account, no single user/password or token next to account
 * users, and the account graph (exports before imports, as nats-server adds them).
 */
export const checkAccounts = (
  parsed: ParsedAccounts,
  authorization: ServerOptionsInput["authorization"]
): void => {
  const seen = new Set<string>([...(authorization?.users ?? []).map((u) => u.user), ...(authorization?.nkeys ?? []).map((n) => n.nkey)])
  for (const a of parsed.accounts) {
    const pos = parsed.usersPos.get(a.name) ?? parsed.pos
    const hasUsers = (a.users ?? []).length > 0 || (a.nkeys ?? []).length > 0
    if (hasUsers && authorization?.user !== undefined) fail(pos, "Can not have a single user/pass and accounts")
    if (hasUsers && authorization?.token !== undefined) fail(pos, "Can not have a token and accounts")
    for (const n of a.nkeys ?? []) {
      if (seen.has(n.nkey)) fail(pos, `Duplicate nkey ${JSON.stringify(n.nkey)} detected`)
      seen.add(n.nkey)
    }
    for (const u of a.users ?? []) {
      if (seen.has(u.user)) fail(pos, `Duplicate user ${JSON.stringify(u.user)} detected`)
      seen.add(u.user)
    }
  }
  const compiled = compileAccounts(parsed.accounts.map((a) => ({ name: a.name, exports: a.exports ?? [], imports: a.imports ?? [] })))
  if (Result.isFailure(compiled)) fail(parsed.pos, compiled.failure.reason)
}

// ---------------------------------------------------------------------------------------------
// Operator mode
// ---------------------------------------------------------------------------------------------

/** nats-server's `jwtPrefix`: what an inline JWT starts with. */
const JWT_PREFIX = "eyJ"

export { readOperator }

/** `operator:` (or `operators`, `root`, …): a string or a list; inline JWTs are checked here, files when the server loads. */
export const parseOperators = (e: ConfigEntry): Array<string> => {
  const v = e.value
  const items = v._tag === "Array" ? v.items : [v]
  const out: Array<string> = []
  for (const item of items) {
    if (item._tag !== "String") return fail(e.pos, `error parsing operators: unsupported type ${goType(v._tag === "Array" ? v : item)}`)
    if (item.value.startsWith(JWT_PREFIX)) {
      const r = readOperator(item.value, () => {
        throw Object.assign(new Error("inline"), { code: "ENOENT" })
      })
      if (Result.isFailure(r)) fail(e.pos, r.failure)
    }
    out.push(item.value)
  }
  return out
}

/** `resolver:` — only `MEMORY` (nats-server's `(?i)(MEM|MEMORY)\s*` match). */
export const parseResolver = (e: ConfigEntry): "MEMORY" => {
  const v = e.value
  if (v._tag === "String") {
    if (/(MEM|MEMORY)\s*/i.test(v.value)) return "MEMORY"
    if (/^\s*URL/i.test(v.value)) return fail(e.pos, "the URL account resolver is not supported by effect-nats-server (only MEMORY)")
    return fail(e.pos, `error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`)
  }
  if (v._tag === "Map") return fail(e.pos, "the full/cache (directory) account resolver is not supported by effect-nats-server (only MEMORY)")
  return fail(e.pos, `error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`)
}

/** `resolver_preload: { <account public key>: <account JWT> }`. */
export const parseResolverPreload = (e: ConfigEntry): Record<string, string> => {
  const v = e.value
  if (v._tag !== "Map") return fail(e.pos, "preload should be a map of account_public_key:account_jwt")
  const out: Record<string, string> = {}
  for (const f of v.entries) {
    if (f.value._tag !== "String") fail(f.value.pos, "preload map value should be a string JWT")
    const token = (f.value as { value: string }).value
    if (Result.isFailure(decodeAccountClaims(token))) fail(f.value.pos, "invalid account JWT")
    out[f.key] = token
  }
  return out
}

// The start-up checks and account graphs of the options live in `AccountsStartup` (the running
// server needs them without this file's parser).
export { AccountsStartupError, accountsStartupError, configAccountGraph, operatorAccountGraph, OperatorJwtError } from "./AccountsStartup.js"

// ---------------------------------------------------------------------------------------------
// Printer
// ---------------------------------------------------------------------------------------------

/** The accounts and operator-mode lines of a config file that reads back to the same options. */
export const printAccounts = (
  o: ServerOptionsInput,
  quote: (s: string) => string,
  duration: (ms: number) => string,
  authorizationLines: (a: NonNullable<ServerOptionsInput["authorization"]>) => Array<string>
): Array<string> => {
  const lines: Array<string> = []
  const list = (xs: ReadonlyArray<string>) => `[${xs.map(quote).join(", ")}]`
  if (o.accounts !== undefined) {
    lines.push("accounts {")
    for (const a of o.accounts) {
      lines.push(`  ${quote(a.name)}: {`)
      if (a.nkey !== undefined) lines.push(`    nkey: ${quote(a.nkey)}`)
      const users = authorizationLines({ ...(a.users !== undefined ? { users: a.users } : {}), ...(a.nkeys !== undefined ? { nkeys: a.nkeys } : {}) })
      for (const l of users) lines.push(`    ${l}`)
      if (a.defaultPermissions !== undefined) {
        const p = authorizationLines({ defaultPermissions: a.defaultPermissions })
        for (const l of p) lines.push(`    ${l}`)
      }
      if (a.exports !== undefined) {
        lines.push("    exports: [")
        for (const e of a.exports) {
          const parts = [`${e.kind}: ${quote(e.subject)}`]
          if (e.accounts !== undefined) parts.push(`accounts: ${list(e.accounts)}`)
          if (e.responseType !== undefined) parts.push(`response_type: ${e.responseType}`)
          if (e.responseThreshold !== undefined) parts.push(`response_threshold: ${quote(duration(e.responseThreshold))}`)
          lines.push(`      { ${parts.join(", ")} }`)
        }
        lines.push("    ]")
      }
      if (a.imports !== undefined) {
        lines.push("    imports: [")
        for (const i of a.imports) {
          const parts = [`${i.kind}: { account: ${quote(i.account)}, subject: ${quote(i.subject)} }`]
          if (i.prefix !== undefined) parts.push(`prefix: ${quote(i.prefix)}`)
          if (i.to !== undefined) parts.push(`to: ${quote(i.to)}`)
          lines.push(`      { ${parts.join(", ")} }`)
        }
        lines.push("    ]")
      }
      lines.push("  }")
    }
    lines.push("}")
  }
  if (o.systemAccount !== undefined) lines.push(`system_account: ${quote(o.systemAccount)}`)
  if (o.operators !== undefined) lines.push(`operator: ${list(o.operators)}`)
  if (o.resolver !== undefined) lines.push(`resolver: ${o.resolver}`)
  if (o.resolverPreload !== undefined) {
    lines.push("resolver_preload: {")
    for (const [k, v] of Object.entries(o.resolverPreload)) lines.push(`  ${quote(k)}: ${quote(v)}`)
    lines.push("}")
  }
  return lines
}
