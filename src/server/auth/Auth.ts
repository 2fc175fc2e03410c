/**
 * Client authentication as nats-server 2.9 does it without accounts or JWTs
 * (`processClientOrLeafAuthentication`): nkey users, then the users list (with `no_auth_user`),
 * then a token, then the single user/password.
 *
 * `AuthConfig` is compiled from `authorization` when the server starts and on every reload: users
 * by name (the list stays addressable by `user`, e.g. for certificate mapping), nkey users by
 * public key, each with its compiled permissions (`default_permissions` for those without).
 * `authenticate` is synchronous unless a bcrypt hash is involved; then it returns a `Promise` that
 * settles off the event loop (see `Secrets`). With `operator` configured (operator mode), every
 * client must log in with a user JWT (`OperatorAuth`) and nothing else is consulted.
 *
 * @since 0.1.0
 */
import type * as Options from "../../config/ServerOptions.js"
import * as Result from "effect/Result"
import { AUTH_TIMEOUT_MS } from "../../config/AuthTimeout.js"
import type { JwtLogin } from "../../accounts/Jwt.js"
import { operatorMode } from "../../accounts/Resolver.js"
import { CompiledPermissions } from "./Permissions.js"
import { OperatorAuth } from "./OperatorAuth.js"
import { compareSecret, type NkeyVerifier, nkeyVerifier } from "../../crypto/Secrets.js"

/**
 * The client auth timeout in milliseconds: `authorization.timeout` when set, else nats-server
 * 2.9's default — the TLS handshake timeout plus one second with client TLS, two seconds without
 * (`getDefaultAuthTimeout`; checked live: `/varz` `auth_timeout` 3 with a default `tls {}` block).
 */
export const authTimeout = (o: Pick<Options.ServerOptions, "authorization" | "tls">): number =>
  o.authorization?.timeout ?? (o.tls !== undefined ? o.tls.timeout + 1000 : AUTH_TIMEOUT_MS)

/** Who a connection authenticated as. */
export interface AuthUser {
  /** The user name (users list, single user, no_auth_user); undefined for token and anonymous. */
  readonly name: string | undefined
  readonly nkey: string | undefined
  readonly permissions: CompiledPermissions | undefined
  /**
   * The account the connection binds to: for JWT users the account's public key; undefined =
   * the global account `$G`.
   */
  readonly account?: string | undefined
  /** Operator mode: the user JWT login (claims, account, limits) this user comes from. */
  readonly jwt?: JwtLogin | undefined
}

/** The credentials a CONNECT carries. */
export interface Credentials {
  readonly user?: string | undefined
  readonly pass?: string | undefined
  readonly auth_token?: string | undefined
  readonly nkey?: string | undefined
  readonly sig?: string | undefined
  /** The user JWT (operator mode). */
  readonly jwt?: string | undefined
  /** The authenticated JWT user's public key, for log lines (`JWT User "U…"`). */
  readonly jwtUser?: string | undefined
}

/** A verdict: the user, or undefined when authentication failed. */
export type Verdict = AuthUser | undefined

const ANONYMOUS: AuthUser = { name: undefined, nkey: undefined, permissions: undefined }

interface UserEntry {
  readonly password: string | undefined
  readonly user: AuthUser
}

interface NkeyEntry {
  readonly verifier: NkeyVerifier
  readonly user: AuthUser
}

const withUser = (user: AuthUser) => (ok: boolean): Verdict => (ok ? user : undefined)

const settle = (result: boolean | Promise<boolean>, user: AuthUser): Verdict | Promise<Verdict> =>
  typeof result === "boolean" ? (result ? user : undefined) : result.then(withUser(user))

export class AuthConfig {
  /** Clients must authenticate (INFO `auth_required`). */
  readonly required: boolean
  /** Nkey users are configured: every client gets an INFO `nonce`. */
  readonly nonceRequired: boolean
  /** Milliseconds a client has to send CONNECT. */
  readonly timeout: number
  readonly users: ReadonlyMap<string, UserEntry>
  readonly nkeys: ReadonlyMap<string, NkeyEntry>
  readonly noAuthUser: string | undefined
  /** Operator mode: user JWT logins (then nothing else is consulted). */
  readonly operator: OperatorAuth | undefined
  private readonly token: string | undefined
  private readonly single: { readonly user: string; readonly password: string } | undefined

  /** The authentication of these options (operator mode when `operators` are configured). */
  static of(options: Options.ServerOptions, onWarning: (text: string) => void = () => {}): AuthConfig {
    let operator: OperatorAuth | undefined
    if ((options.operators ?? []).length > 0) {
      const mode = operatorMode(options)
      if (Result.isFailure(mode)) onWarning(mode.failure)
      // A mode that does not set up (start-up refuses it first) trusts nobody.
      const m = Result.isSuccess(mode) ? mode.success : undefined
      operator = new OperatorAuth(m ?? { trust: { operators: [], keys: new Set() }, resolver: new Map(), systemAccount: undefined }, onWarning)
    }
    return new AuthConfig(options.authorization, authTimeout(options), onWarning, operator, options.accounts)
  }

  /**
   * `accounts`: the users and nkeys of configured accounts join the lists (nats-server merges
   * them; names are unique across both, which the config checks), bound to their account, with
   * the account's `default_permissions` for those without their own.
   */
  constructor(
    auth: Options.Authorization | undefined,
    timeout: number,
    onWarning: (text: string) => void = () => {},
    operator?: OperatorAuth,
    accounts: ReadonlyArray<Options.AccountOptions> = []
  ) {
    this.timeout = timeout
    this.operator = operator
    this.token = auth?.token
    this.single = auth?.user !== undefined ? { user: auth.user, password: auth.password ?? "" } : undefined
    const compile = (p: Options.Permissions | undefined, defaults = auth?.defaultPermissions): CompiledPermissions | undefined => {
      const perms = p ?? defaults
      return perms === undefined ? undefined : new CompiledPermissions(perms, onWarning)
    }
    const users = new Map<string, UserEntry>()
    const nkeys = new Map<string, NkeyEntry>()
    const add = (
      list: { readonly users: ReadonlyArray<Options.User>; readonly nkeys: ReadonlyArray<Options.NkeyUser> },
      account: string | undefined,
      defaults: Options.Permissions | undefined
    ) => {
      for (const u of list.users) {
        users.set(u.user, { password: u.password, user: { name: u.user, nkey: undefined, permissions: compile(u.permissions, defaults), account } })
      }
      for (const n of list.nkeys) {
        const verifier = nkeyVerifier(n.nkey)
        if (typeof verifier === "string") {
          onWarning(`${verifier}: ${n.nkey}`)
          continue
        }
        nkeys.set(n.nkey, { verifier, user: { name: undefined, nkey: n.nkey, permissions: compile(n.permissions, defaults), account } })
      }
    }
    if (auth !== undefined) add(auth, undefined, auth.defaultPermissions)
    for (const a of accounts) add(a, a.name, a.defaultPermissions ?? auth?.defaultPermissions)
    this.users = users
    this.nkeys = nkeys
    this.noAuthUser = auth?.noAuthUser
    // Operator mode: every INFO has auth_required and a nonce (live, nats-server 2.9.10).
    this.nonceRequired = nkeys.size > 0 || operator !== undefined
    this.required = operator !== undefined || (auth !== undefined && (auth.user !== undefined || auth.token !== undefined)) ||
      users.size > 0 || nkeys.size > 0
  }

  /** The `no_auth_user`, when it is configured and exists (ops before CONNECT may then pass). */
  noAuthUserEntry(): AuthUser | undefined {
    return this.noAuthUser === undefined ? undefined : this.users.get(this.noAuthUser)?.user
  }

  /**
   * Check a CONNECT's credentials against the configuration (the nonce the client was sent; `nowMs`
   * the server's clock, for JWT times; the client's IP for a JWT's `src`).
   */
  authenticate(c: Credentials, nonce: string | undefined, nowMs: number = Date.now(), clientIp?: string): Verdict | Promise<Verdict> {
    if (this.operator !== undefined) return jwtUser(this.operator.login(c.jwt, c.sig, nonce, nowMs, clientIp))
    if (!this.required) return ANONYMOUS
    if (this.nkeys.size > 0 && c.nkey !== undefined && c.nkey !== "") {
      const entry = this.nkeys.get(c.nkey)
      if (entry === undefined || nonce === undefined) return undefined
      return entry.verifier.verify(nonce, c.sig) ? entry.user : undefined
    }
    if (this.users.size > 0) {
      const noCredentials = !c.user && !c.pass && !c.auth_token
      if (noCredentials && this.noAuthUser !== undefined) {
        // nats-server copies the user's own password in as the presented one and compares: a
        // plain password matches itself, a bcrypt hash does not verify against itself (live: a
        // CONNECT without credentials is refused for a bcrypt no_auth_user).
        const entry = this.users.get(this.noAuthUser)
        if (entry !== undefined) return settle(compareSecret(entry.password ?? "", entry.password), entry.user)
      }
      if (c.user !== undefined && c.user !== "") {
        const entry = this.users.get(c.user)
        if (entry === undefined) return undefined
        return settle(compareSecret(entry.password ?? "", c.pass), entry.user)
      }
    }
    if (this.token !== undefined) return settle(compareSecret(this.token, c.auth_token), ANONYMOUS)
    if (this.single !== undefined) {
      if (c.user !== this.single.user) return undefined
      return settle(compareSecret(this.single.password, c.pass), { name: this.single.user, nkey: undefined, permissions: undefined })
    }
    return undefined
  }

  /** nats-server's `authViolation` log line for credentials that failed (or a pre-CONNECT op). */
  failureLog(c: Credentials): string {
    if (this.operator !== undefined) return "authentication error"
    if (this.nkeys.size > 0) return `authentication error - Nkey "${c.nkey ?? ""}"`
    if (this.users.size > 0) return `authentication error - User "${c.user ?? ""}"`
    return "authentication error"
  }
}

/** nats-server's `getAuthUser`, as permission violation log lines name the client. */
export const describeUser = (c: Credentials): string => {
  if (c.nkey !== undefined && c.nkey !== "") return `Nkey "${c.nkey}"`
  if (c.user !== undefined && c.user !== "") return `User "${c.user}"`
  if (c.jwt !== undefined && c.jwt !== "") return `JWT User "${c.jwtUser ?? ""}"`
  return `User "N/A"`
}

/** The user an operator-mode verdict makes (undefined when refused). */
export const jwtUser = (v: ReturnType<OperatorAuth["login"]>): Verdict =>
  v._tag === "Refused"
    ? undefined
    : { name: undefined, nkey: undefined, permissions: v.permissions, account: v.login.account.claims.sub, jwt: v.login }
