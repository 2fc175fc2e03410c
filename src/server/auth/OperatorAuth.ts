/**
 * Client logins in operator mode (`operator` + `resolver: MEMORY`), as nats-server 2.9.10's JWT
 * branch of `processClientOrLeafAuthentication`: the CONNECT's user JWT and nonce signature are
 * checked by `accounts/Jwt.authenticateJwt` against the trusted operators and the preloaded account
 * JWTs; a user that passes becomes an {@link AuthUser} bound to its account (the account's public
 * key), with the JWT's permissions (`buildPermissionsFromJwt`, else the account's
 * `default_permissions`) and the limits nats-server's `applyAccountLimits` computes from the
 * user JWT, the account JWT and the server's own `max_payload` / `max_subscriptions`.
 *
 * What a refused login logs is the caller's (`ClientAuth`): nats-server logs the reason at debug
 * level (`User JWT no longer valid: &{Issues:[claim is expired]}`, `Account JWT lookup error:
 * account missing`, `User authentication revoked`, `Signature not verified`, …), then
 * `authentication error`; the client gets `-ERR 'Authorization Violation'`.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import type * as Options from "../../config/ServerOptions.js"
import { type AccountLimits, authenticateJwt, decodeAccountClaims, type JwtLogin, timeIssues, type UserPermissionsClaim } from "../../accounts/Jwt.js"
import type { OperatorMode } from "../../accounts/Resolver.js"
import { CompiledPermissions } from "./Permissions.js"

/** The limits in effect for one JWT connection; `undefined` = no limit. */
export interface ConnectionLimits {
  readonly maxSubscriptions: number | undefined
  readonly maxPayload: number | undefined
  /** The account's connection limit on this server. */
  readonly maxConnections: number | undefined
  /** nats-server's `Max Payload set to N from server overrides account or user config` (and subs). */
  readonly overrides: ReadonlyArray<string>
}

/** nats-server's `DEFAULT_ALLOW_RESPONSE_MAX_MSGS` / `DEFAULT_ALLOW_RESPONSE_EXPIRATION` (ms). */
const RESPONSE_MAX = 1
const RESPONSE_EXPIRES_MS = 2 * 60 * 1000

const nonEmpty = (l: ReadonlyArray<string> | undefined): boolean => l !== undefined && l.length > 0

/** nats-server's `buildPermissionsFromJwt` (with `validateResponsePermissions`); undefined = none. */
export const permissionsFromJwt = (p: UserPermissionsClaim | undefined): Options.Permissions | undefined => {
  if (p === undefined) return undefined
  let out: { publish?: Options.SubjectPermission; subscribe?: Options.SubjectPermission; allowResponses?: Options.ResponsePermission } | undefined
  if (nonEmpty(p.pub?.allow) || nonEmpty(p.pub?.deny)) {
    out = { publish: { ...(p.pub?.allow !== undefined ? { allow: p.pub.allow } : {}), ...(p.pub?.deny !== undefined ? { deny: p.pub.deny } : {}) } }
  }
  if (nonEmpty(p.sub?.allow) || nonEmpty(p.sub?.deny)) {
    out = { ...out, subscribe: { ...(p.sub?.allow !== undefined ? { allow: p.sub.allow } : {}), ...(p.sub?.deny !== undefined ? { deny: p.sub.deny } : {}) } }
  }
  if (p.resp !== undefined && p.resp !== null) {
    const max = p.resp.max ?? 0
    const ttl = p.resp.ttl ?? 0
    out = {
      ...out,
      // A response permission turns the blanket publish allow off.
      publish: { ...out?.publish, allow: out?.publish?.allow ?? [] },
      allowResponses: { max: max === 0 ? RESPONSE_MAX : max, expires: ttl === 0 ? RESPONSE_EXPIRES_MS : ttl / 1e6 }
    }
  }
  return out
}

/** Go's `minLimit` over JWT limits (undefined = no limit). */
const minLimit = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b)

/** nats-server's `applyAccountLimits` for a JWT user, with the server's limits (0 = none for subs). */
export const connectionLimits = (login: JwtLogin, server: { readonly maxPayload: number; readonly maxSubscriptions: number }): ConnectionLimits => {
  const account: AccountLimits = login.account.limits
  const overrides: Array<string> = []
  let maxPayload = minLimit(login.limits.maxPayload, account.maxPayload)
  const serverPayload = server.maxPayload > 0 ? server.maxPayload : undefined
  if (maxPayload !== undefined && serverPayload !== undefined && serverPayload < maxPayload) {
    overrides.push(`Max Payload set to ${server.maxPayload} from server overrides account or user config`)
  }
  maxPayload = minLimit(maxPayload, serverPayload)
  let maxSubscriptions = minLimit(login.limits.maxSubscriptions, account.maxSubscriptions)
  const serverSubs = server.maxSubscriptions > 0 ? server.maxSubscriptions : undefined
  if (maxSubscriptions !== undefined && serverSubs !== undefined && serverSubs < maxSubscriptions) {
    overrides.push(`Max Subscriptions set to ${server.maxSubscriptions} from server overrides account or user config`)
  }
  maxSubscriptions = minLimit(maxSubscriptions, serverSubs)
  return { maxSubscriptions, maxPayload, maxConnections: account.maxConnections, overrides }
}

/** Go's `%q` of a `jwt.TagList` (`[]`, `["a" "b"]`). */
const tagList = (tags: unknown): string =>
  `[${Array.isArray(tags) ? tags.map((t) => JSON.stringify(String(t))).join(" ") : ""}]`

/** A login's outcome: the user, or the reason nats-server logs (and a warning it logs first). */
export type OperatorVerdict =
  | { readonly _tag: "Accepted"; readonly login: JwtLogin; readonly permissions: CompiledPermissions | undefined; readonly debug: string }
  | { readonly _tag: "Refused"; readonly reason: string; readonly warning: string | undefined; readonly error: boolean }

export class OperatorAuth {
  constructor(readonly mode: OperatorMode, private readonly onWarning: (text: string) => void = () => {}) {}

  /** Check a CONNECT's `jwt` and `sig` against the nonce we sent (`nowMs`: the server's clock). */
  login(jwt: string | undefined, sig: string | undefined, nonce: string | undefined, nowMs: number, clientIp?: string): OperatorVerdict {
    const r = authenticateJwt(this.mode.trust, this.mode.resolver, { jwt, sig, nonce: nonce ?? "", now: Math.floor(nowMs / 1000), clientIp })
    if (Result.isFailure(r)) {
      const reason = r.failure.reason
      // The memory resolver's fetch failure is logged as a warning before the login's reason.
      const warning = reason === "Account JWT lookup error: account missing" ? "Account fetch failed: account missing" : undefined
      return { _tag: "Refused", reason, warning, error: r.failure.level === "error" }
    }
    const login = r.success
    const perms = permissionsFromJwt(login.permissions) ?? permissionsFromJwt(login.account.claims.nats.default_permissions)
    const u = login.user
    const a = login.account.claims
    const issuer = u.nats.issuer_account !== undefined && u.nats.issuer_account !== "" ? u.nats.issuer_account : u.iss
    const debug = `Authenticated JWT: Client ${JSON.stringify(u.sub)} (claim-name: ${JSON.stringify(u.name ?? "")}, claim-tags: ${tagList((u.nats as { tags?: unknown }).tags)}) ` +
      `signed with ${JSON.stringify(u.iss)} by Account ${JSON.stringify(issuer)} (claim-name: ${JSON.stringify(a.name ?? "")}, claim-tags: ${tagList((a.nats as { tags?: unknown }).tags)}) ` +
      `signed with ${JSON.stringify(a.iss)} has mappings false`
    return { _tag: "Accepted", login, permissions: perms === undefined ? undefined : new CompiledPermissions(perms, this.onWarning), debug }
  }
}

/** Go's `%v` of a `time.Time` in UTC: `2006-01-02 15:04:05 +0000 UTC`. */
const goTime = (seconds: number): string => `${new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ")} +0000 UTC`

/**
 * nats-server's start-up lines for operator mode (`Start`): each trusted operator, then a warning
 * when there is no system account. Empty without operators.
 */
export const operatorBanner = (
  mode: OperatorMode | undefined,
  nowMs: number = Date.now()
): Array<{ readonly level: "info" | "warn" | "error"; readonly text: string }> => {
  if (mode === undefined || mode.trust.operators.length === 0) return []
  const out: Array<{ level: "info" | "warn" | "error"; text: string }> = [{ level: "info", text: "Trusted Operators" }]
  for (const op of mode.trust.operators) {
    out.push({ level: "info", text: `  System  : ${JSON.stringify(op.aud ?? "")}` })
    out.push({ level: "info", text: `  Operator: ${JSON.stringify(op.name ?? "")}` })
    out.push({ level: "info", text: `  Issued  : ${goTime(op.iat ?? 0)}` })
    out.push({ level: "info", text: `  Expires : ${op.exp === undefined || op.exp === 0 ? "Never" : goTime(op.exp)}` })
  }
  if (mode.systemAccount === undefined) out.push({ level: "warn", text: "Trusted Operators should utilize a System Account" })
  // nats-server's `checkResolvePreloads`.
  for (const [key, token] of mode.resolver) {
    const claims = decodeAccountClaims(token)
    if (Result.isFailure(claims)) {
      out.push({ level: "error", text: `Preloaded account [${key}] not valid` })
      continue
    }
    const issues = timeIssues(claims.success, Math.floor(nowMs / 1000))
    if (issues.length > 0) {
      out.push({ level: "warn", text: `Account [${key}] has validation issues:` })
      for (const issue of issues) out.push({ level: "warn", text: `  - ${issue}` })
    }
  }
  return out
}
