/**
 * The authorization parts of a nats-server config file that have structure of their own: a user
 * entry of `users: [...]` (`user`/`password` or `nkey`, with `permissions`) and a `permissions`
 * block (`publish`/`subscribe` as a subject, a list or `{ allow, deny }`, and `allow_responses` as
 * `true` or `{ max, expires }`), as nats-server 2.9's `parseUsers` / `parseUserPermissions` read
 * them. Errors are `ConfigError`s at the offending value, like the rest of `ConfigFile`.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import type { InvalidValue } from "../values/InvalidValue.js"
import { nkeyVerifier } from "../crypto/Secrets.js"
import { isValidSubject } from "../subjects/Subject.js"
import { type ConfigEntry, configError, type ConfigMap, type ConfigValue, type Position } from "./ConfigParser.js"
import type { ServerOptionsInput } from "./ServerOptions.js"

type AuthInput = NonNullable<ServerOptionsInput["authorization"]>
export type PermissionsInput = NonNullable<AuthInput["defaultPermissions"]>
type SubjectPermissionInput = NonNullable<PermissionsInput["publish"]>
type UserInput = NonNullable<AuthInput["users"]>[number]
type NkeyInput = NonNullable<AuthInput["nkeys"]>[number]
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const fail = (pos: Position, reason: string): never => {
  throw configError(pos, reason)
}

const kind = (v: ConfigValue): string =>
  v._tag === "String" ? `string ${JSON.stringify(v.value)}` : v._tag === "Map" ? "a map" : v._tag === "Array" ? "an array" : `${v._tag.toLowerCase()} ${v.raw}`

const str = (e: ConfigEntry): string =>
  e.value._tag === "String" ? e.value.value : fail(e.value.pos, `${e.key} must be a string, got ${kind(e.value)}`)

/** nats-server's `checkPermSubjectArray`: a subject, or `subject queue`. */
const checkSubject = (pos: Position, s: string): void => {
  if (isValidSubject(s)) return
  const parts = s.trim().split(/\s+/)
  if (parts.length !== 2) fail(pos, `subject "${s}" is not a valid subject`)
  if (!isValidSubject(parts[0]!)) fail(pos, `subject "${parts[0]}" is not a valid subject`)
}

/** A subject or a list of subjects; an empty list is no list (Go's nil), as in nats-server. */
const subjects = (v: ConfigValue): Array<string> | undefined => {
  const items = v._tag === "Array" ? v.items : [v]
  const out = items.map((item) => {
    if (item._tag !== "String") return fail(item.pos, `subject in permissions must be a string, got ${kind(item)}`)
    checkSubject(item.pos, item.value)
    return item.value
  })
  return out.length === 0 ? undefined : out
}

/** `publish:` / `subscribe:` — old style (a subject or list = allow) or `{ allow, deny }`. */
const subjectPermission = (e: ConfigEntry): SubjectPermissionInput | undefined => {
  const v = e.value
  if (v._tag !== "Map") {
    const allow = subjects(v)
    return allow === undefined ? {} : { allow }
  }
  if (v.entries.length === 0) return undefined
  const p: Mutable<SubjectPermissionInput> = {}
  for (const f of v.entries) {
    const k = f.key.toLowerCase()
    if (k === "allow") {
      const list = subjects(f.value)
      if (list !== undefined) p.allow = list
    } else if (k === "deny") {
      const list = subjects(f.value)
      if (list !== undefined) p.deny = list
    } else if (!f.referenced) {
      fail(f.pos, `Unknown field name "${f.key}" parsing subject permissions, only 'allow' or 'deny' are permitted`)
    }
  }
  return p
}

/** `allow_responses: true` or `{ max, expires }` (0 = the default; negative = unlimited). */
const responses = (e: ConfigEntry, parseDuration: DurationParser): PermissionsInput["allowResponses"] | false => {
  const v = e.value
  if (v._tag === "Boolean") return v.value ? {} : false
  if (v._tag !== "Map") return fail(v.pos, "error parsing response permissions, expected a boolean or a map")
  const r: { max?: number; expires?: number } = {}
  for (const f of v.entries) {
    const k = f.key.toLowerCase()
    if (k === "max" || k === "max_msgs" || k === "max_messages" || k === "max_responses") {
      if (f.value._tag !== "Integer") return fail(f.value.pos, `${f.key} must be an integer, got ${kind(f.value)}`)
      if (f.value.value !== 0) r.max = f.value.value
    } else if (k === "expires" || k === "expiration" || k === "ttl") {
      if (f.value._tag !== "String") return fail(f.value.pos, "error parsing expires, not a duration string")
      const ms = parseDuration(f.value.value)
      if (Result.isFailure(ms)) return fail(f.value.pos, `error parsing expires: ${ms.failure.message}`)
      if (ms.success !== 0) r.expires = ms.success
    } else if (!f.referenced) {
      fail(f.pos, `Unknown field "${f.key}" parsing permissions`)
    }
  }
  return r
}

/** Milliseconds, or why the text is not a Go duration (`values/Duration.parse`). */
export type DurationParser = (text: string) => Result.Result<number, InvalidValue>

/** A `permissions` block (also `default_permissions`). */
export const parsePermissions = (e: ConfigEntry, parseDuration: DurationParser): PermissionsInput | undefined => {
  const v = e.value
  if (v._tag !== "Map") return fail(v.pos, `Expected permissions to be a map/struct, got ${kind(v)}`)
  const p: Mutable<PermissionsInput> = {}
  for (const f of v.entries) {
    const k = f.key.toLowerCase()
    if (k === "pub" || k === "publish" || k === "import") {
      const sp = subjectPermission(f)
      if (sp !== undefined) p.publish = sp
      else delete p.publish
    } else if (k === "sub" || k === "subscribe" || k === "export") {
      const sp = subjectPermission(f)
      if (sp !== undefined) p.subscribe = sp
      else delete p.subscribe
    } else if (k === "publish_allow_responses" || k === "allow_responses") {
      const r = responses(f, parseDuration)
      if (r !== false && r !== undefined) p.allowResponses = r
    } else if (!f.referenced) {
      fail(f.pos, `Unknown field "${f.key}" parsing permissions`)
    }
  }
  return p
}

/** One entry of `users: [...]`: a user (`user`, `password`) or an nkey user (`nkey`). */
export const parseUserEntry = (item: ConfigMap, listKey: string, parseDuration: DurationParser): UserInput | NkeyInput => {
  let user: string | undefined
  let password: string | undefined
  let nkey: string | undefined
  let permissions: PermissionsInput | undefined
  for (const f of item.entries) {
    const k = f.key.toLowerCase()
    if (k === "user" || k === "username") user = str(f)
    else if (k === "pass" || k === "password") password = str(f)
    else if (k === "nkey") nkey = str(f)
    else if (k === "permission" || k === "permissions" || k === "authorization") permissions = parsePermissions(f, parseDuration)
    else if (k === "allowed_connection_types" || k === "connection_types" || k === "clients" || k === "account") {
      fail(f.pos, `${f.key} is not supported by effect-nats-server`)
    } else if (!f.referenced) fail(f.pos, `unknown field "${f.key}"`)
  }
  const perms = permissions !== undefined ? { permissions } : {}
  if (nkey !== undefined) {
    if (typeof nkeyVerifier(nkey) === "string") fail(item.pos, "Not a valid public nkey for a user")
    if (user !== undefined || password !== undefined) fail(item.pos, "Nkey users do not take usernames or passwords")
    return { nkey, ...perms }
  }
  if (user === undefined) return fail(item.pos, `${listKey} entry has no user`)
  return { user, ...(password !== undefined ? { password } : {}), ...perms }
}

const printPermissions = (p: PermissionsInput, quote: (s: string) => string, duration: (ms: number) => string): string => {
  const list = (xs: ReadonlyArray<string>) => `[${xs.map(quote).join(", ")}]`
  const sp = (x: SubjectPermissionInput) =>
    `{ ${[x.allow !== undefined ? `allow: ${list(x.allow)}` : "", x.deny !== undefined ? `deny: ${list(x.deny)}` : ""].filter((t) => t !== "").join(", ")} }`
  const parts: Array<string> = []
  if (p.publish !== undefined) parts.push(`publish: ${sp(p.publish)}`)
  if (p.subscribe !== undefined) parts.push(`subscribe: ${sp(p.subscribe)}`)
  const r = p.allowResponses
  if (r !== undefined) {
    const fields = [r.max !== undefined ? `max: ${r.max}` : "", r.expires !== undefined ? `expires: ${quote(duration(r.expires))}` : ""].filter((t) => t !== "")
    parts.push(fields.length === 0 ? "allow_responses: true" : `allow_responses: { ${fields.join(", ")} }`)
  }
  return `{ ${parts.join(", ")} }`
}

/** The `users` (and nkey users) and `default_permissions` lines of an `authorization` block. */
export const printAuthorization = (a: AuthInput, quote: (s: string) => string, duration: (ms: number) => string): Array<string> => {
  const lines: Array<string> = []
  const perms = (p: PermissionsInput | undefined) => (p === undefined ? "" : `, permissions: ${printPermissions(p, quote, duration)}`)
  const users = a.users ?? []
  const nkeys = a.nkeys ?? []
  if (a.users !== undefined || nkeys.length > 0) {
    if (users.length === 0 && nkeys.length === 0) lines.push("users: []")
    else {
      lines.push("users: [")
      for (const u of users) {
        lines.push(`  { user: ${quote(u.user)}${u.password !== undefined ? `, password: ${quote(u.password)}` : ""}${perms(u.permissions)} }`)
      }
      for (const n of nkeys) lines.push(`  { nkey: ${quote(n.nkey)}${perms(n.permissions)} }`)
      lines.push("]")
    }
  }
  if (a.defaultPermissions !== undefined) lines.push(`default_permissions: ${printPermissions(a.defaultPermissions, quote, duration)}`)
  return lines
}
