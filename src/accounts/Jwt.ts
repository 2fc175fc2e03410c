/**
 * NATS JWT v2 (`github.com/nats-io/jwt/v2` 2.3.0, as nats-server 2.9.10 uses it): decoding and
 * verifying operator, account and user JWTs, the operator → account → user issuer chain, and the
 * checks of a client login with a user JWT and a nonce signature (nats-server's
 * `processClientOrLeafAuthentication`, JWT branch).
 *
 * - A JWT is `header.claims.signature`, base64url; the header is `{"typ":"JWT","alg":"ed25519-nkey"}`
 *   and the signature is Ed25519 over `header.claims` by the claims' `iss` nkey. Keys are decoded
 *   with `@nats-io/nkeys` (prefix and CRC checked); signatures are verified with `node:crypto`'s
 *   native Ed25519 (as `server/auth/Secrets`: tweetnacl's verify costs milliseconds per call).
 * - Errors carry nats-server's / the jwt library's texts: {@link JwtError} for a token that does
 *   not decode (`expected 3 chunks`, `claim failed V2 signature verification`, `not account
 *   claim`, …), {@link JwtAuthError} for a refused login with the reason nats-server logs at debug
 *   level (`User JWT issuer is not known`, `Signature not verified`, `User authentication
 *   revoked`, …). The client is told `Authorization Violation` in every case
 *   ({@link AUTHORIZATION_VIOLATION}), as nats-server does.
 * - Account claims map to the same {@link AccountSpec} as config accounts (exports, imports) plus
 *   {@link AccountLimits}.
 *
 * Pure apart from the clock, which is passed in (seconds since the epoch, as JWTs count).
 * Client logins use it through `server/auth/OperatorAuth` (docs/DESIGN.md, "Accounts").
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import * as net from "node:net"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { decodePublicKey, NkeyPrefix } from "../crypto/Nkey.js"
import { isValidSubject } from "../subjects/Subject.js"
import type { AccountSpec, ExportSpec, ImportSpec, ResponseType } from "./Accounts.js"

/** What nats-server sends a client whose JWT login fails, whatever the reason. */
export const AUTHORIZATION_VIOLATION = "Authorization Violation"

/** A token that does not decode or verify; `reason` is the jwt library's text. */
export class JwtError extends Data.TaggedError("JwtError")<{
  readonly reason: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** A refused JWT login; `reason` is what nats-server logs for it (debug, unless `level` says error). */
export class JwtAuthError extends Data.TaggedError("JwtAuthError")<{
  readonly reason: string
  readonly message: string
  readonly cause?: unknown
  readonly level?: "error"
}> {}

const jwtError = (reason: string, cause?: unknown) => new JwtError({ reason, message: reason, ...(cause !== undefined ? { cause } : {}) })
const authError = (reason: string, cause?: unknown) => new JwtAuthError({ reason, message: reason, ...(cause !== undefined ? { cause } : {}) })

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

export type KeyKind = "operator" | "account" | "user"
const PREFIX: Record<KeyKind, number> = { operator: NkeyPrefix.operator, account: NkeyPrefix.account, user: NkeyPrefix.user }
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")
const keyCache = new Map<string, crypto.KeyObject>()

/** The raw Ed25519 key of a public nkey of `kind`, or undefined when it is not one. */
const publicKey = (kind: KeyKind, nkey: string): crypto.KeyObject | undefined => {
  const cached = keyCache.get(kind + nkey)
  if (cached !== undefined) return cached
  const raw = decodePublicKey(PREFIX[kind], nkey)
  if (raw === undefined) return undefined
  const key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" })
  if (keyCache.size > 10_000) keyCache.clear()
  keyCache.set(kind + nkey, key)
  return key
}

const kindOf = (nkey: string): KeyKind | undefined =>
  nkey.startsWith("O") ? "operator" : nkey.startsWith("A") ? "account" : nkey.startsWith("U") ? "user" : undefined

/** A valid public nkey of `kind` (prefix and checksum). */
export const isPublicKey = (kind: KeyKind, nkey: string): boolean => kindOf(nkey) === kind && publicKey(kind, nkey) !== undefined

/** Ed25519 signature check of `data` by the public nkey `nkey` (any of the three kinds). */
export const verifySignature = (nkey: string, data: Uint8Array, signature: Uint8Array): boolean => {
  const kind = kindOf(nkey)
  const key = kind === undefined ? undefined : publicKey(kind, nkey)
  if (key === undefined || signature.length !== 64) return false
  try {
    return crypto.verify(null, data, key, signature)
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------------

/** The fields every claim has (`ClaimsData`). Times are seconds since the epoch. */
export interface ClaimsData {
  readonly jti?: string
  readonly iat?: number
  readonly iss: string
  readonly sub: string
  readonly name?: string
  readonly aud?: string
  readonly exp?: number
  readonly nbf?: number
}

export interface OperatorClaims extends ClaimsData {
  readonly nats: {
    readonly type: "operator"
    readonly version?: number
    readonly signing_keys?: ReadonlyArray<string>
    readonly system_account?: string
    readonly account_server_url?: string
  }
}

/** An account signing key: a plain key, or a scoped one whose users get `template`. */
export type SigningKey = string | { readonly kind: "user_scope"; readonly key: string; readonly role?: string; readonly template?: UserPermissionsClaim }

export interface JwtExport {
  readonly name?: string
  readonly subject: string
  readonly type: "stream" | "service"
  readonly token_req?: boolean
  readonly response_type?: "Singleton" | "Stream" | "Chunked"
  /** Nanoseconds. */
  readonly response_threshold?: number
  readonly account_token_position?: number
}

export interface JwtImport {
  readonly name?: string
  readonly subject: string
  readonly account: string
  readonly token?: string
  /** Deprecated in v2: a stream import's prefix, a service import's remote subject. */
  readonly to?: string
  readonly local_subject?: string
  readonly type: "stream" | "service"
}

export interface JwtLimits {
  readonly subs?: number
  readonly conn?: number
  readonly payload?: number
  readonly data?: number
  readonly imports?: number
  readonly exports?: number
  readonly leaf?: number
  readonly wildcards?: boolean
  readonly disallow_bearer?: boolean
}

export interface AccountClaims extends ClaimsData {
  readonly nats: {
    readonly type: "account"
    readonly version?: number
    readonly imports?: ReadonlyArray<JwtImport>
    readonly exports?: ReadonlyArray<JwtExport>
    readonly limits?: JwtLimits
    readonly signing_keys?: ReadonlyArray<SigningKey>
    /** User public key (or `*`) → revoked when issued at or before this time. */
    readonly revocations?: Readonly<Record<string, number>>
    /** Permissions of the account's users whose JWT has none. */
    readonly default_permissions?: UserPermissionsClaim
  }
}

interface JwtPermission {
  readonly allow?: ReadonlyArray<string>
  readonly deny?: ReadonlyArray<string>
}

export interface UserPermissionsClaim {
  readonly pub?: JwtPermission
  readonly sub?: JwtPermission
  /** `ttl` in nanoseconds. */
  readonly resp?: { readonly max?: number; readonly ttl?: number }
  readonly subs?: number
  readonly data?: number
  readonly payload?: number
}

export interface UserClaims extends ClaimsData {
  readonly nats: UserPermissionsClaim & {
    readonly type: "user"
    readonly version?: number
    readonly issuer_account?: string
    readonly bearer_token?: boolean
    readonly allowed_connection_types?: ReadonlyArray<string>
    readonly src?: ReadonlyArray<string> | string
    readonly times?: ReadonlyArray<unknown>
  }
}

export type Claims = OperatorClaims | AccountClaims | UserClaims

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

const decodeSegment = (s: string): Buffer => {
  // Go's decodeString: raw URL encoding, padded URL encoding accepted too.
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) throw new Error("illegal base64 data")
  return Buffer.from(s, "base64url")
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Decodes and verifies any JWT (jwt library's `Decode`): header, claims, signature by `iss`, issuer kind. */
export const decodeJwt = (token: string): Result.Result<Claims, JwtError> => {
  const chunks = token.split(".")
  if (chunks.length !== 3) return Result.fail(jwtError("expected 3 chunks"))
  let header: unknown
  let claims: unknown
  let sig: Buffer
  try {
    header = JSON.parse(decodeSegment(chunks[0]!).toString("utf8"))
    claims = JSON.parse(decodeSegment(chunks[1]!).toString("utf8"))
    sig = decodeSegment(chunks[2]!)
  } catch (e) {
    return Result.fail(jwtError(String((e as Error).message ?? e), e))
  }
  if (!isObject(header)) return Result.fail(jwtError("json: cannot unmarshal header"))
  const typ = typeof header["typ"] === "string" ? header["typ"] : ""
  const alg = typeof header["alg"] === "string" ? header["alg"] : ""
  if (typ.toUpperCase() !== "JWT") return Result.fail(jwtError(`not supported type "${typ}"`))
  if (alg.toLowerCase() !== "ed25519-nkey" && alg.toLowerCase() !== "ed25519") return Result.fail(jwtError(`unexpected "${alg}" algorithm`))
  if (!isObject(claims) || typeof claims["iss"] !== "string" || typeof claims["sub"] !== "string" || !isObject(claims["nats"])) {
    return Result.fail(jwtError("json: claims without iss, sub or nats"))
  }
  const nats = claims["nats"]
  const version = typeof nats["version"] === "number" ? nats["version"] : 1
  if (version > 2) return Result.fail(jwtError("JWT was generated by a newer version "))
  if (version < 2) return Result.fail(jwtError("JWT version 1 claims are not supported by effect-nats-server"))
  const type = nats["type"]
  if (type === "cluster") return Result.fail(jwtError("ClusterClaims are not supported"))
  if (type === "server") return Result.fail(jwtError("ServerClaims are not supported"))
  if (type !== "operator" && type !== "account" && type !== "user") return Result.fail(jwtError(`unknown claim type "${String(type)}"`))
  const signed = Buffer.from(token.slice(0, chunks[0]!.length + chunks[1]!.length + 1), "latin1")
  if (!verifySignature(claims["iss"], signed, sig)) return Result.fail(jwtError("claim failed V2 signature verification"))
  // ExpectedPrefixes: operators (self-signed or by a signing key) and accounts are issued by
  // operator keys, users by account keys.
  const expected: KeyKind = type === "user" ? "account" : "operator"
  if (!isPublicKey(expected, claims["iss"])) return Result.fail(jwtError(`unable to validate expected prefixes - [${expected}]`))
  return Result.succeed(claims as unknown as Claims)
}

const decodeAs = <C extends Claims>(type: C["nats"]["type"]) => (token: string): Result.Result<C, JwtError> =>
  Result.flatMap(decodeJwt(token), (c) => (c.nats.type === type ? Result.succeed(c as C) : Result.fail(jwtError(`not ${type} claim`))))

export const decodeOperatorClaims: (token: string) => Result.Result<OperatorClaims, JwtError> = decodeAs<OperatorClaims>("operator")
export const decodeAccountClaims: (token: string) => Result.Result<AccountClaims, JwtError> = decodeAs<AccountClaims>("account")
export const decodeUserClaims: (token: string) => Result.Result<UserClaims, JwtError> = decodeAs<UserClaims>("user")

/** The jwt library's `ClaimsData.Validate`: the time checks (`now` in seconds). */
export const timeIssues = (c: ClaimsData, now: number): Array<string> => {
  const issues: Array<string> = []
  if (c.exp !== undefined && c.exp > 0 && now > c.exp) issues.push("claim is expired")
  if (c.nbf !== undefined && c.nbf > 0 && c.nbf > now) issues.push("claim is not yet valid")
  return issues
}

// ---------------------------------------------------------------------------------------------
// The chain: operators, resolver, accounts
// ---------------------------------------------------------------------------------------------

/** The trusted operators (`operator:` in the config): their keys and signing keys. */
export interface Trust {
  readonly operators: ReadonlyArray<OperatorClaims>
  /** nats-server's `trustedKeys`: every operator's subject and signing keys. */
  readonly keys: ReadonlySet<string>
}

export const makeTrust = (operators: ReadonlyArray<OperatorClaims>): Trust => ({
  operators,
  keys: new Set(operators.flatMap((o) => [o.sub, ...(o.nats.signing_keys ?? [])]))
})

/** A resolved account: its claims and what the server needs from them. */
export interface ResolvedAccount {
  readonly claims: AccountClaims
  readonly spec: AccountSpec
  readonly limits: AccountLimits
  /**
   * Clock seconds now past `exp`: always false from {@link resolveAccount} (an account JWT outside
   * its times does not resolve); for an account held while it expires.
   */
  readonly expired: boolean
}

/**
 * Account JWT limits; `undefined` = unlimited (the JWT's `-1`). A limit the JWT leaves out is `0`,
 * as Go decodes it (nats-server 2.9.10, live: an account JWT without `limits` takes no connection,
 * `maximum account active connections exceeded`); `nsc` and nats.js's jwt library write `-1`.
 */
export interface AccountLimits {
  readonly maxConnections: number | undefined
  readonly maxSubscriptions: number | undefined
  readonly maxPayload: number | undefined
  readonly maxLeafNodes: number | undefined
  readonly maxImports: number | undefined
  readonly maxExports: number | undefined
  readonly wildcardExports: boolean
  /** `limits.disallow_bearer`: users with `bearer_token` are refused. */
  readonly disallowBearer: boolean
}

/** Go's view of a JWT limit: absent is `0`, negative (`-1`) is no limit. */
const limit = (n: number | undefined): number | undefined => (n === undefined ? 0 : n < 0 ? undefined : n)

export const accountLimits = (c: AccountClaims): AccountLimits => {
  const l = c.nats.limits ?? {}
  return {
    maxConnections: limit(l.conn),
    maxSubscriptions: limit(l.subs),
    maxPayload: limit(l.payload),
    maxLeafNodes: limit(l.leaf),
    maxImports: limit(l.imports),
    maxExports: limit(l.exports),
    wildcardExports: l.wildcards ?? false,
    disallowBearer: l.disallow_bearer ?? false
  }
}

/** A user's own limits (`subs`, `payload`); `undefined` = unlimited. */
export interface UserLimits {
  readonly maxSubscriptions: number | undefined
  readonly maxPayload: number | undefined
}

const RESPONSE_TYPES: Record<string, ResponseType> = { Singleton: "singleton", Stream: "stream", Chunked: "chunked" }

/**
 * An account JWT's exports and imports as an {@link AccountSpec} named by the account's public
 * key, read as nats-server's `updateAccountClaimsWithRefresh` does: a stream import's
 * `local_subject` is its `to`, else its (deprecated) `to` is a prefix; a service import's
 * `local_subject` is the importer's subject, else `subject` is (and `to` the exporter's).
 * An export with `token_req` is approved for no account (activation tokens are not read yet).
 */
export const accountSpecFromClaims = (c: AccountClaims): AccountSpec => {
  const exports: Array<ExportSpec> = (c.nats.exports ?? []).map((e) => ({
    kind: e.type,
    subject: e.subject,
    ...(e.token_req === true ? { accounts: [] } : {}),
    ...(e.type === "service" && e.response_type !== undefined ? { responseType: RESPONSE_TYPES[e.response_type] ?? "singleton" } : {}),
    ...(e.type === "service" && e.response_threshold !== undefined && e.response_threshold > 0 ? { responseThreshold: e.response_threshold / 1e6 } : {})
  }))
  const imports: Array<ImportSpec> = (c.nats.imports ?? []).map((i): ImportSpec => {
    if (i.type === "stream") {
      if (i.local_subject !== undefined && i.local_subject !== "") return { kind: "stream", account: i.account, subject: i.subject, to: i.local_subject }
      return { kind: "stream", account: i.account, subject: i.subject, ...(i.to !== undefined && i.to !== "" ? { prefix: i.to } : {}) }
    }
    if (i.local_subject !== undefined && i.local_subject !== "") return { kind: "service", account: i.account, subject: i.subject, to: i.local_subject }
    return { kind: "service", account: i.account, subject: i.to !== undefined && i.to !== "" ? i.to : i.subject, to: i.subject }
  })
  return { name: c.sub, exports, imports }
}

/** Account public key → account JWT: nats-server's `MEMORY` resolver (filled by `resolver_preload`). */
export type MemoryResolver = ReadonlyMap<string, string>

/** nats-server's `LookupAccount` + `isTrustedIssuer` for one account key. */
export const resolveAccount = (
  trust: Trust,
  resolver: MemoryResolver,
  account: string,
  now: number
): Result.Result<ResolvedAccount, JwtAuthError> => {
  const token = resolver.get(account)
  if (token === undefined) return Result.fail(authError("Account JWT lookup error: account missing"))
  const claims = decodeAccountClaims(token)
  if (Result.isFailure(claims)) return Result.fail(authError(`Account JWT lookup error: ${claims.failure.reason}`, claims.failure))
  const c = claims.success
  if (c.sub !== account) return Result.fail(authError("Account JWT lookup error: account missing"))
  // nats-server validates the issuer when it fetches the account (`account validation failed`);
  // its later "Account JWT not signed by trusted operator" check is reached only by accounts it
  // already holds.
  if (!trust.keys.has(c.iss)) return Result.fail(authError("Account JWT lookup error: account validation failed"))
  // The fetch's validation counts the times too (live: a preloaded account JWT past its exp gives
  // `Account JWT lookup error: account validation failed`).
  if (timeIssues(c, now).length > 0) return Result.fail(authError("Account JWT lookup error: account validation failed"))
  return Result.succeed({ claims: c, spec: accountSpecFromClaims(c), limits: accountLimits(c), expired: false })
}

/** `{{…}}` tokens of a template subject. */
const isTemplateToken = (t: string): boolean => t.startsWith("{{") && t.endsWith("}}")

/** Every combination of one value per list, the last list varying fastest (Go's `nArrayCartesianProduct`). */
const cartesian = (lists: ReadonlyArray<ReadonlyArray<string>>): Array<Array<string>> =>
  lists.reduce<Array<Array<string>>>((acc, l) => acc.flatMap((p) => l.map((v) => [...p, v])), [[]])

const tagsOf = (nats: object): ReadonlyArray<string> => {
  const tags = (nats as { tags?: unknown }).tags
  return Array.isArray(tags) ? tags.map(String) : []
}

/**
 * nats-server's `processUserPermissionsTemplate` for one list: `{{name()}}`, `{{subject()}}`,
 * `{{account-name()}}`, `{{account-subject()}}`, `{{tag(x)}}` / `{{account-tag(x)}}` (every value
 * of the `x:` tags, one subject per combination). A subject that comes out invalid is dropped from
 * an allow list and fails a deny list (undefined).
 */
const templateList = (
  list: ReadonlyArray<string> | undefined,
  user: UserClaims,
  account: AccountClaims,
  failOnBad: boolean
): ReadonlyArray<string> | undefined | "invalid" => {
  if (list === undefined || !list.some((s) => s.split(".").some(isTemplateToken))) return list
  const out: Array<string> = []
  for (const entry of list) {
    const tokens = entry.split(".")
    const values: Array<Array<string>> = []
    const fixed = tokens.map((tk) => {
      if (!isTemplateToken(tk)) return tk
      const op = tk.slice(2, -2).toLowerCase()
      if (op === "name()") return user.name ?? ""
      if (op === "subject()") return user.sub
      if (op === "account-name()") return account.name ?? ""
      if (op === "account-subject()") return user.nats.issuer_account ?? ""
      const tagFn = op.startsWith("account-tag(") ? "account-tag(" : op.startsWith("tag(") ? "tag(" : undefined
      if (tagFn !== undefined && op.endsWith(")")) {
        const prefix = `${op.slice(tagFn.length, -1).toLowerCase()}:`
        const found = tagsOf(tagFn === "tag(" ? user.nats : account.nats).filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length))
        if (found.length > 0) values.push(found)
        // An empty token: filled from the tag values, or it makes the subject invalid.
        return ""
      }
      // An unknown function makes the subject invalid on purpose.
      return " "
    })
    const subjects = values.length === 0
      ? [fixed.join(".")]
      : cartesian(values).map((combo) => {
        let k = 0
        return fixed.map((t) => (t === "" ? combo[k++] ?? "" : t)).join(".")
      })
    for (const subject of subjects) {
      if (isValidSubject(subject)) out.push(subject)
      else if (failOnBad) return "invalid"
    }
  }
  return out
}

/** A scoped signing key's template made concrete for one user; undefined when it generates an invalid deny subject. */
export const applyTemplate = (template: UserPermissionsClaim, user: UserClaims, account: AccountClaims): UserPermissionsClaim | undefined => {
  const subAllow = templateList(template.sub?.allow, user, account, false)
  const subDeny = templateList(template.sub?.deny, user, account, true)
  const pubAllow = templateList(template.pub?.allow, user, account, false)
  const pubDeny = templateList(template.pub?.deny, user, account, true)
  if (subAllow === "invalid" || subDeny === "invalid" || pubAllow === "invalid" || pubDeny === "invalid") return undefined
  // An allow list that templating emptied denies everything instead.
  const deny = (was: ReadonlyArray<string> | undefined, now: ReadonlyArray<string> | undefined, d: ReadonlyArray<string> | undefined) =>
    (was?.length ?? 0) > 0 && (now?.length ?? 0) === 0 ? [...(d ?? []), ">"] : d
  const sub = { ...(subAllow !== undefined ? { allow: subAllow } : {}), ...(deny(template.sub?.allow, subAllow, subDeny) !== undefined ? { deny: deny(template.sub?.allow, subAllow, subDeny)! } : {}) }
  const pub = { ...(pubAllow !== undefined ? { allow: pubAllow } : {}), ...(deny(template.pub?.allow, pubAllow, pubDeny) !== undefined ? { deny: deny(template.pub?.allow, pubAllow, pubDeny)! } : {}) }
  return { ...template, sub, pub }
}

/** A scoped signing key's template limit: absent (the jwt library's default) is no limit. */
const unlimitedUnlessSet = (n: number | undefined): number | undefined => (n === undefined || n < 0 ? undefined : n)

/** nats-server's `isRevoked`: revoked for a user issued at or before its (or `*`'s) revocation time. */
export const isRevoked = (revocations: Readonly<Record<string, number>> | undefined, user: string, issuedAt: number): boolean => {
  if (revocations === undefined) return false
  const t = revocations[user]
  if (t !== undefined && t >= issuedAt) return true
  const all = revocations["*"]
  return all !== undefined && all >= issuedAt
}

/** What a successful JWT login gives the connection. */
export interface JwtLogin {
  readonly user: UserClaims
  readonly account: ResolvedAccount
  /** The permissions and limits in effect (a scoped signing key's template replaces the JWT's). */
  readonly permissions: UserPermissionsClaim
  /**
   * The user's `subs`/`payload` limits as nats-server's `applyAccountLimits` reads them: a scoped
   * signing key's template (absent there = unlimited: live, a scoped user gets the account's
   * limits) when `issuer_account` names another key, else the user JWT's own (absent = `0`).
   */
  readonly limits: UserLimits
}

export interface JwtLoginInput {
  /** CONNECT `jwt` / `sig`. */
  readonly jwt: string | undefined
  readonly sig: string | undefined
  /** The nonce of our INFO. */
  readonly nonce: string
  /** Clock seconds. */
  readonly now: number
  /** The client's IP address (for a user JWT's `src` restriction). */
  readonly clientIp?: string | undefined
}

/** A user JWT's `src`: a list of CIDRs, or (as the jwt library also reads it) one comma-separated string. */
const cidrs = (src: ReadonlyArray<string> | string | undefined): Array<string> =>
  src === undefined ? [] : (typeof src === "string" ? src.split(",") : [...src]).map((c) => c.trim()).filter((c) => c !== "")

/** nats-server's `validateSrc`: no `src`, or the client's IP is in one of its CIDRs. */
export const sourceAllowed = (src: ReadonlyArray<string> | string | undefined, ip: string | undefined): boolean => {
  const list = cidrs(src)
  if (list.length === 0) return true
  if (ip === undefined || ip === "" || net.isIP(ip) === 0) return false
  const type = net.isIPv6(ip) ? "ipv6" : "ipv4"
  for (const cidr of list) {
    const slash = cidr.lastIndexOf("/")
    if (slash < 0) return false
    const addr = cidr.slice(0, slash)
    const prefix = Number(cidr.slice(slash + 1))
    const kind = net.isIPv6(addr) ? "ipv6" : net.isIPv4(addr) ? "ipv4" : undefined
    if (kind === undefined || !Number.isInteger(prefix)) return false
    if (kind !== type) continue
    const block = new net.BlockList()
    block.addSubnet(addr, prefix, kind)
    if (block.check(ip, type)) return true
  }
  return false
}

/**
 * The jwt library's `HasEmptyPermissions` (Go's `reflect.DeepEqual` with the zero value): any
 * permission, limit (even `-1`), bearer flag or connection type list present counts.
 */
const hasPermissionsOrLimits = (u: UserClaims["nats"]): boolean => {
  const set = (v: unknown): boolean =>
    v === undefined || v === null ? false : typeof v === "number" ? v !== 0 : typeof v === "boolean" ? v : typeof v === "string" ? v !== "" : Array.isArray(v) ? true : Object.values(v as object).some(set)
  const fields = u as unknown as Record<string, unknown>
  return ["pub", "sub", "resp", "src", "times", "times_location", "subs", "data", "payload", "bearer_token", "allowed_connection_types"].some((k) => set(fields[k]))
}

/**
 * A client login in operator mode, in nats-server 2.9's order: user JWT present and valid (time),
 * connection type, account found through the resolver and issued by a trusted operator, user issued
 * by the account or one of its signing keys (scoped: no permissions of its own), account not expired,
 * bearer tokens, nonce signature, revocation.
 */
export const authenticateJwt = (trust: Trust, resolver: MemoryResolver, input: JwtLoginInput): Result.Result<JwtLogin, JwtAuthError> => {
  if (input.jwt === undefined || input.jwt === "") return Result.fail(authError("Authentication requires a user JWT"))
  const decoded = decodeUserClaims(input.jwt)
  if (Result.isFailure(decoded)) return Result.fail(authError(`User JWT not valid: ${decoded.failure.reason}`, decoded.failure))
  const user = decoded.success
  const issues = timeIssues(user, input.now)
  // Go's `%+v` of the *ValidationResults, as nats-server logs it.
  if (issues.length > 0) return Result.fail(authError(`User JWT no longer valid: &{Issues:[${issues.join(" ")}]}`))
  const types = user.nats.allowed_connection_types
  if (types !== undefined && types.length > 0 && !types.some((t) => t.toUpperCase() === "STANDARD")) {
    return Result.fail(authError("Connection type not allowed"))
  }
  const issuer = user.nats.issuer_account !== undefined && user.nats.issuer_account !== "" ? user.nats.issuer_account : user.iss
  const resolved = resolveAccount(trust, resolver, issuer, input.now)
  if (Result.isFailure(resolved)) return Result.fail(resolved.failure)
  const account = resolved.success
  let permissions: UserPermissionsClaim = user.nats
  let limits: UserLimits = { maxSubscriptions: limit(user.nats.subs), maxPayload: limit(user.nats.payload) }
  if (user.iss !== account.claims.sub) {
    const key = (account.claims.nats.signing_keys ?? []).find((k) => (typeof k === "string" ? k : k.key) === user.iss)
    if (key === undefined) return Result.fail(authError("User JWT issuer is not known"))
    if (typeof key !== "string") {
      if (hasPermissionsOrLimits(user.nats)) {
        return Result.fail(authError("User JWT is not valid: scoped users require no permissions or limits set"))
      }
      const applied = applyTemplate(key.template ?? {}, user, account.claims)
      if (applied === undefined) return Result.fail(authError("User JWT generated invalid permissions"))
      permissions = applied
      if (user.nats.issuer_account !== undefined && user.nats.issuer_account !== "" && user.nats.issuer_account !== user.iss) {
        limits = { maxSubscriptions: unlimitedUnlessSet(permissions.subs), maxPayload: unlimitedUnlessSet(permissions.payload) }
      }
    }
  }
  if (account.expired) return Result.fail(authError("Account JWT has expired"))
  if (user.nats.bearer_token === true && account.limits.disallowBearer) {
    return Result.fail(authError("Account does not allow bearer token"))
  }
  if (user.nats.bearer_token !== true) {
    if (input.sig === undefined || input.sig === "") return Result.fail(authError("Signature missing"))
    if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(input.sig)) return Result.fail(authError("Signature not valid base64"))
    const sig = Buffer.from(input.sig, "base64")
    if (!isPublicKey("user", user.sub)) return Result.fail(authError("User nkey not valid: nkeys: invalid public key"))
    if (!verifySignature(user.sub, Buffer.from(input.nonce, "latin1"), sig)) return Result.fail(authError("Signature not verified"))
  }
  if (isRevoked(account.claims.nats.revocations, user.sub, user.iat ?? 0)) return Result.fail(authError("User authentication revoked"))
  // A scoped signing key's template carries the restrictions of its users.
  const restrictions = permissions as UserClaims["nats"]
  if (!sourceAllowed(restrictions.src, input.clientIp)) {
    return Result.fail(new JwtAuthError({ reason: `Bad src Ip ${input.clientIp ?? ""}`, message: `Bad src Ip ${input.clientIp ?? ""}`, level: "error" }))
  }
  if (restrictions.times !== undefined && restrictions.times.length > 0) {
    return Result.fail(authError("User JWT times restrictions are not supported by effect-nats-server yet"))
  }
  return Result.succeed({ user, account, permissions, limits })
}

// ---------------------------------------------------------------------------------------------
// .creds files
// ---------------------------------------------------------------------------------------------

/** A `.creds` file that does not hold a user JWT and a seed. */
export class CredsError extends Data.TaggedError("CredsError")<{ readonly message: string }> {}

// The jwt library's userConfigRE.
const DECORATED = /\s*(?:(?:-{3,}.*-{3,}\r?\n)([\w\-.=]+)(?:\r?\n-{3,}.*-{3,}(?:\r?\n|$)))/g

/**
 * Reads a `.creds` file (`-----BEGIN NATS USER JWT-----` … `------END NATS USER JWT------`, then
 * `-----BEGIN USER NKEY SEED-----` …): the first decorated block is the JWT, the second the seed
 * (the jwt library's `ParseDecoratedJWT` / `ParseDecoratedNKey`).
 */
export const parseCreds = (text: string): Result.Result<{ readonly jwt: string; readonly seed: string }, CredsError> => {
  const blocks = [...text.matchAll(DECORATED)].map((m) => m[1]!)
  const jwt = blocks[0]
  if (jwt === undefined) return Result.fail(new CredsError({ message: "no JWT found in creds" }))
  let seed = blocks[1]
  if (seed === undefined) {
    seed = text.split("\n").map((l) => l.trim()).find((l) => l.startsWith("SO") || l.startsWith("SA") || l.startsWith("SU"))
  }
  if (seed === undefined) return Result.fail(new CredsError({ message: "no nkey seed found" }))
  if (!seed.startsWith("SO") && !seed.startsWith("SA") && !seed.startsWith("SU")) {
    return Result.fail(new CredsError({ message: "doesn't contain a seed nkey" }))
  }
  return Result.succeed({ jwt, seed })
}
