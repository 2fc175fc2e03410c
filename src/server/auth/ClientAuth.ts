/**
 * One client connection's authentication and authorization state: the credentials its CONNECT
 * carried (kept for reloads and log lines), the INFO nonce, who it authenticated as, the
 * permissions that come with that user, and the per-connection parts of them (the delivery deny
 * filter, the responses it may send).
 *
 * A CONNECT whose verdict is a `Promise` (bcrypt) leaves the connection *pending*: the connection
 * stops its batch and hands the rest to `hold`; the session waits for `pending` (one Promise per
 * login, none per message) and then resumes the held ops in order.
 *
 * In operator mode the CONNECT's user JWT is checked (`OperatorAuth`), the reason of a refusal
 * logged as nats-server does, and a JWT user's account limits applied when it registers: the
 * account's connection count on this server (`Account.connections`), the connection's
 * subscription and payload limits (`maxSubscriptions`, `payloadLimit`).
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import type * as Op from "../../protocol/Op.js"
import type { Parsed } from "../../protocol/Parser.js"
import type { LogShape } from "../../log/Log.js"
import type { CertNames } from "../../net/CertNames.js"
import type { ServerOptions } from "../../config/ServerOptions.js"
import { certificateUser, mapsCertificates } from "../TlsMap.js"
import type { ConnectOptions } from "../ConnectOptions.js"
import { type CloseReason, ErrText, maxPayload as payloadError } from "../../protocol/ProtocolError.js"
import type { SubLimitLog } from "./AccountLimits.js"
import { type AuthConfig, type AuthUser, type Credentials, describeUser, jwtUser, type Verdict } from "./Auth.js"
import { connectionLimits } from "./OperatorAuth.js"
import { type CompiledPermissions, DenyFilter, ResponseTracker } from "./Permissions.js"
import { makeNonce } from "../../crypto/Secrets.js"

/** Go's `%q` for the texts nats-server formats with it (subjects, sids, queue names). */
export const quoted = (s: string): string => JSON.stringify(s)

/** What the auth state reads and sets on its connection (a `ClientConnection`). */
export interface AuthenticatedConnection {
  readonly server: {
    readonly auth: AuthConfig
    readonly options: ServerOptions
    readonly log: LogShape
    readonly random: Random.Random
    readonly subLimitLog: SubLimitLog
    /** The accounts, for their connection counts (`limits.conn`). */
    readonly router: { lookup(name: string): { readonly connections: number } | undefined }
  }
  readonly peerCert: CertNames | undefined
  /** The connection's clock (Effect's `Clock` of the server), in epoch milliseconds. */
  now(): number
  readonly prefix: string
  /** The client's IP address. */
  readonly ip: string
  user: string | undefined
  connected: boolean
  sendErr(text: string): void
  /** Bind the connection to its user's account (`undefined` = the global account). */
  bindAccount(name: string | undefined): void
  close(reason: CloseReason, errText?: string): void
}

export class ClientAuth {
  credentials: Credentials = {}
  /** The nonce of our INFO (only when nkey users are configured, or in operator mode). */
  readonly nonce: string | undefined
  /**
   * The largest PUB payload this connection may send when account or user JWT limits lower it
   * below the server's (`Infinity` otherwise: the parser enforces `max_payload`).
   */
  payloadLimit = Infinity
  /** The account whose connection count includes this connection. */
  private countedAccount: string | undefined = undefined
  /** A JWT user's subscription limit (undefined = none); only read when `jwtLimits` is set. */
  private jwtSubscriptions: number | undefined = undefined
  private jwtLimits = false
  /**
   * Operator mode: when the login expires (epoch ms) and what the client is told then, once a user
   * whose JWT or account JWT has an `exp` registered.
   */
  private readonly expiresAt: Deferred.Deferred<{ readonly at: number; readonly text: string }> | undefined
  user: AuthUser | undefined = undefined
  permissions: CompiledPermissions | undefined = undefined
  denyFilter: DenyFilter | undefined = undefined
  responses: ResponseTracker | undefined = undefined
  /** A CONNECT arrived (the auth timer no longer applies). */
  connectReceived = false
  /** Set while a CONNECT's verdict is being computed off the event loop. */
  pending: Promise<void> | undefined = undefined
  private verdict: Verdict = undefined
  private connect: ConnectOptions | undefined = undefined
  private held: { readonly parsed: Parsed; readonly from: number } | undefined = undefined

  constructor(private readonly conn: AuthenticatedConnection) {
    this.nonce = conn.server.auth.nonceRequired ? makeNonce(conn.server.random) : undefined
    this.expiresAt = conn.server.auth.operator !== undefined ? Deferred.makeUnsafe() : undefined
  }

  /** Check a CONNECT's credentials (synchronously, or a Promise for bcrypt). */
  authenticate(c: ConnectOptions): Verdict | Promise<Verdict> {
    this.connectReceived = true
    this.credentials = { user: c.user, pass: c.pass, auth_token: c.auth_token, nkey: c.nkey, sig: c.sig, jwt: c.jwt }
    const server = this.conn.server
    if (server.auth.operator !== undefined) return this.jwtLogin()
    // nats-server's users branch with verify_and_map: the certificate names the user (nkey users,
    // checked first, are unaffected).
    if (mapsCertificates(server.options) && !(server.auth.nkeys.size > 0 && c.nkey !== undefined && c.nkey !== "")) {
      const name = certificateUser(server.options, this.conn.peerCert, c, server.log, this.conn.prefix)
      return name === undefined ? undefined : server.auth.users.get(name)?.user
    }
    return server.auth.authenticate(this.credentials, this.nonce)
  }

  /** Operator mode: the user JWT login, its reason logged (debug) when refused, as nats-server. */
  private jwtLogin(): Verdict {
    const log = this.conn.server.log
    const v = this.conn.server.auth.operator!.login(this.credentials.jwt, this.credentials.sig, this.nonce, this.conn.now(), this.conn.ip)
    if (v._tag === "Refused") {
      if (v.warning !== undefined) log.warn(v.warning)
      if (v.error) log.error(`${this.conn.prefix}${v.reason}`)
      else log.debug(`${this.conn.prefix}${v.reason}`)
    } else {
      this.credentials = { ...this.credentials, jwtUser: v.login.user.sub }
      log.debug(`${this.conn.prefix}${v.debug}`)
    }
    return jwtUser(v)
  }

  /** Wait for an asynchronous verdict; the connection stops its batch (see `hold`). */
  wait(verdict: Promise<Verdict>, c: ConnectOptions): void {
    this.connect = c
    this.pending = verdict.then((v) => {
      this.verdict = v
    })
  }

  /** The ops of the batch after the pending CONNECT. */
  hold(parsed: Parsed, from: number): void {
    this.held = { parsed, from }
  }

  /** The verdict arrived: what the connection needs to carry on. */
  release(): { readonly verdict: Verdict; readonly connect: ConnectOptions; readonly held: { readonly parsed: Parsed; readonly from: number } | undefined } {
    const out = { verdict: this.verdict, connect: this.connect!, held: this.held }
    this.pending = undefined
    this.verdict = undefined
    this.connect = undefined
    this.held = undefined
    return out
  }

  /**
   * Take on an authenticated user (nats-server's `RegisterUser` / `RegisterNkeyUser`). A JWT user
   * is counted in its account, whose connection limit may refuse it: then the client is told
   * `maximum account active connections exceeded` and closed, and this returns false.
   */
  register(user: AuthUser): boolean {
    if (user.jwt !== undefined && !this.applyJwtLimits(user)) return false
    this.user = user
    if (user.name !== undefined) this.conn.user = user.name
    this.conn.bindAccount(user.account)
    this.setPermissions(user.permissions)
    return true
  }

  /** nats-server's `registerWithAccount` + `applyAccountLimits` for a JWT user. */
  private applyJwtLimits(user: AuthUser): boolean {
    const server = this.conn.server
    const login = user.jwt!
    const account = user.account!
    const limits = connectionLimits(login, server.options)
    // Counted once bound (`bindAccount`, right after this); a reload re-registering the same
    // account is counted already.
    if (this.countedAccount !== account) {
      this.countedAccount = undefined
      const connections = server.router.lookup(account)?.connections ?? 0
      if (limits.maxConnections !== undefined && connections >= limits.maxConnections) {
        // nats-server's `maxAccountConnExceeded` (sendErrAndErr), then its CONNECT error, logged again.
        this.conn.sendErr(ErrText.maxAccountConnections)
        server.log.error(`${this.conn.prefix}${ErrText.maxAccountConnections}`)
        server.log.error(`${this.conn.prefix}${ErrText.maxAccountConnections}`)
        this.conn.close("Maximum Account Connections Exceeded")
        return false
      }
      this.countedAccount = account
    }
    for (const text of limits.overrides) server.log.error(`${this.conn.prefix}${text}`)
    // nats-server: the user's own timer (`setExpiration`), and the account's (`checkExpiration`),
    // which expires every client of the account.
    const userExp = login.user.exp !== undefined && login.user.exp > 0 ? login.user.exp : Infinity
    const accountExp = login.account.claims.exp !== undefined && login.account.claims.exp > 0 ? login.account.claims.exp : Infinity
    if (this.expiresAt !== undefined && Math.min(userExp, accountExp) < Infinity) {
      const expiry = accountExp < userExp
        ? { at: accountExp * 1000, text: ErrText.accountAuthExpired }
        : { at: userExp * 1000, text: ErrText.userAuthExpired }
      Deferred.doneUnsafe(this.expiresAt, Effect.succeed(expiry))
    }
    this.jwtLimits = true
    this.jwtSubscriptions = limits.maxSubscriptions
    this.payloadLimit = limits.maxPayload ?? Infinity
    if (limits.maxSubscriptions === 0) {
      // Already at its limit: nats-server tells it and closes it (`subsAtLimit` on registering).
      this.subscriptionLimit()
      this.conn.close("Maximum Subscriptions Exceeded")
      return false
    }
    return true
  }

  /**
   * The session's timer for a user JWT or account JWT with an `exp` (operator mode): when it passes,
   * nats-server's `authExpired` / `accountAuthExpired` — `-ERR 'User Authentication Expired'` (or
   * `'Account Authentication Expired'`), logged at debug level, and the close.
   */
  expiry(): Effect.Effect<void> {
    const expiresAt = this.expiresAt
    if (expiresAt === undefined) return Effect.void
    return Deferred.await(expiresAt).pipe(
      Effect.flatMap(({ at, text }) =>
        Effect.sleep(Duration.millis(Math.max(0, at - this.conn.now()))).pipe(
          Effect.andThen(Effect.sync(() => {
            const prefix = this.conn.prefix
            this.conn.close("Authentication Expired", text)
            this.conn.server.log.debug(`${prefix}${text}`)
          }))
        ))
    )
  }


  /** Subscriptions this connection may hold; 0 = no limit (as `max_subscriptions`). */
  get maxSubscriptions(): number {
    return this.jwtLimits ? (this.jwtSubscriptions ?? 0) : this.conn.server.options.maxSubscriptions
  }

  /** The `max_payload` this client's INFO announces. */
  get maxPayload(): number {
    return this.payloadLimit === Infinity ? this.conn.server.options.maxPayload : this.payloadLimit
  }

  /**
   * A SUB over the limit: `-ERR 'maximum subscriptions exceeded'`; logged at most once per 2 s per
   * JWT account (nats-server's `shouldLogMaxSubErr`), every time otherwise.
   */
  subscriptionLimit(): void {
    const account = this.countedAccount
    if (account === undefined || this.conn.server.subLimitLog.shouldLog(account, this.conn.now())) {
      this.conn.server.log.error(`${this.conn.prefix}${ErrText.maxSubscriptions}`)
    }
    this.conn.sendErr(ErrText.maxSubscriptions)
  }

  /** A PUB over the JWT payload limit: nats-server's `maxPayloadViolation`. */
  payloadViolation(size: number): void {
    const e = payloadError(size, this.payloadLimit)
    this.conn.server.log.error(`${this.conn.prefix}${e.detail}`)
    this.conn.close(e.reason, e.errText)
  }

  /** The credentials as log lines name the client: the registered user's name once known. */
  describeCredentials(): Credentials {
    return this.user?.name !== undefined ? { ...this.credentials, user: this.user.name } : this.credentials
  }

  /** New permissions (login or reload): the per-connection parts start afresh. */
  setPermissions(permissions: CompiledPermissions | undefined): void {
    this.permissions = permissions
    this.denyFilter = undefined
    this.responses = permissions?.response !== undefined ? new ResponseTracker(permissions.response, () => this.conn.now()) : undefined
  }

  /**
   * A first op other than CONNECT with auth on: allowed as the `no_auth_user` when there is one
   * (nats-server lets e.g. telnet sessions in that way).
   */
  noAuthUserFirstOp(): boolean {
    const user = this.conn.server.auth.noAuthUserEntry()
    if (user === undefined) return false
    this.connectReceived = true
    this.conn.connected = true
    this.register(user)
    return true
  }

  mayPublish(perms: CompiledPermissions, subject: string): boolean {
    if (perms.publishAllowed(subject)) return true
    return this.responses !== undefined && this.responses.respond(subject)
  }

  publishViolation(subject: string): void {
    this.conn.sendErr(`Permissions Violation for Publish to ${quoted(subject)}`)
    this.conn.server.log.error(`${this.conn.prefix}Publish Violation - ${describeUser(this.describeCredentials())}, Subject ${quoted(subject)}`)
  }

  /** May this SUB be made? Sends the violation when not; turns the delivery filter on when needed. */
  maySubscribe(perms: CompiledPermissions, op: Op.Sub): boolean {
    if (!perms.canSubscribeOp(op.subject, op.queue)) {
      const who = describeUser(this.describeCredentials())
      if (op.queue === undefined) {
        this.conn.sendErr(`Permissions Violation for Subscription to ${quoted(op.subject)}`)
        this.conn.server.log.error(`${this.conn.prefix}Subscription Violation - ${who}, Subject ${quoted(op.subject)}, SID ${op.sid}`)
      } else {
        this.conn.sendErr(`Permissions Violation for Subscription to ${quoted(op.subject)} using queue ${quoted(op.queue)}`)
        this.conn.server.log.error(`${this.conn.prefix}Subscription Violation - ${who}, Subject ${quoted(op.subject)}, Queue: ${quoted(op.queue)}, SID ${op.sid}`)
      }
      return false
    }
    this.noteSubscription(perms, op.subject)
    return true
  }

  /** A subscription was made (or kept on reload): a wildcard covering a deny entry turns the filter on. */
  noteSubscription(perms: CompiledPermissions, subject: string): void {
    if (this.denyFilter === undefined && perms.coversDeny(subject)) this.denyFilter = new DenyFilter(perms.denySubjects)
  }
}
