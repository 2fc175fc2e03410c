/**
 * Client authentication as nats-server 2.9 does it without accounts or JWTs
 * (`processClientOrLeafAuthentication`): nkey users, then the users list (with `no_auth_user`),
 * then a token, then the single user/password.
 *
 * `AuthConfig` is compiled from `authorization` when the server starts and on every reload: users
 * by name (the list stays addressable by `user`, e.g. for certificate mapping), nkey users by
 * public key, each with its compiled permissions (`default_permissions` for those without).
 * `authenticate` is synchronous unless a bcrypt hash is involved; then it returns a `Promise` that
 * settles off the event loop (see `Secrets`).
 *
 * @since 0.1.0
 */
import type * as Options from "../../config/ServerOptions.js"
import { AUTH_TIMEOUT_MS } from "../../config/AuthTimeout.js"
import { CompiledPermissions } from "./Permissions.js"
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
  /** The account the connection binds to (its name; for JWT users the account's public key); undefined = `$G`. */
  readonly account?: string | undefined
}

/** The credentials a CONNECT carries. */
export interface Credentials {
  readonly user?: string | undefined
  readonly pass?: string | undefined
  readonly auth_token?: string | undefined
  readonly nkey?: string | undefined
  readonly sig?: string | undefined
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
  private readonly token: string | undefined
  private readonly single: { readonly user: string; readonly password: string } | undefined

  /**
   * `accounts`: the users and nkeys of configured accounts join the lists (nats-server merges
   * them; names are unique across both, which the config checks), bound to their account, with
   * the account's `default_permissions` for those without their own.
   */
  constructor(
    auth: Options.Authorization | undefined,
    timeout: number,
    onWarning: (text: string) => void = () => {},
    accounts: ReadonlyArray<Options.AccountOptions> = []
  ) {
    this.timeout = timeout
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
    this.nonceRequired = nkeys.size > 0
    this.required = (auth !== undefined && (auth.user !== undefined || auth.token !== undefined)) || users.size > 0 || nkeys.size > 0
  }

  /** The `no_auth_user`, when it is configured and exists (ops before CONNECT may then pass). */
  noAuthUserEntry(): AuthUser | undefined {
    return this.noAuthUser === undefined ? undefined : this.users.get(this.noAuthUser)?.user
  }

  /** Check a CONNECT's credentials against the configuration (the nonce the client was sent). */
  authenticate(c: Credentials, nonce: string | undefined): Verdict | Promise<Verdict> {
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
    if (this.nkeys.size > 0) return `authentication error - Nkey "${c.nkey ?? ""}"`
    if (this.users.size > 0) return `authentication error - User "${c.user ?? ""}"`
    return "authentication error"
  }
}

/** nats-server's `getAuthUser`, as permission violation log lines name the client. */
export const describeUser = (c: Credentials): string => {
  if (c.nkey !== undefined && c.nkey !== "") return `Nkey "${c.nkey}"`
  if (c.user !== undefined && c.user !== "") return `User "${c.user}"`
  return `User "N/A"`
}
