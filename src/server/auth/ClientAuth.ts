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
 * @since 0.1.0
 */
import type * as Random from "effect/Random"
import type * as Op from "../../protocol/Op.js"
import type { Parsed } from "../../protocol/Parser.js"
import type { LogShape } from "../../log/Log.js"
import type { CertNames } from "../../net/CertNames.js"
import type { ServerOptions } from "../../config/ServerOptions.js"
import { certificateUser, mapsCertificates } from "../TlsMap.js"
import type { ConnectOptions } from "../ConnectOptions.js"
import { type AuthConfig, type AuthUser, type Credentials, describeUser, type Verdict } from "./Auth.js"
import { type CompiledPermissions, DenyFilter, ResponseTracker } from "./Permissions.js"
import { makeNonce } from "../../crypto/Secrets.js"

/** Go's `%q` for the texts nats-server formats with it (subjects, sids, queue names). */
export const quoted = (s: string): string => JSON.stringify(s)

/** What the auth state reads and sets on its connection (a `ClientConnection`). */
export interface AuthenticatedConnection {
  readonly server: { readonly auth: AuthConfig; readonly options: ServerOptions; readonly log: LogShape; readonly random: Random.Random }
  readonly peerCert: CertNames | undefined
  /** The connection's clock (Effect's `Clock` of the server), in epoch milliseconds. */
  now(): number
  readonly prefix: string
  user: string | undefined
  connected: boolean
  sendErr(text: string): void
  /** Bind the connection to its user's account (`undefined` = the global account). */
  bindAccount(name: string | undefined): void
}

export class ClientAuth {
  credentials: Credentials = {}
  /** The nonce of our INFO (only when nkey users are configured). */
  readonly nonce: string | undefined
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
  }

  /** Check a CONNECT's credentials (synchronously, or a Promise for bcrypt). */
  authenticate(c: ConnectOptions): Verdict | Promise<Verdict> {
    this.connectReceived = true
    this.credentials = { user: c.user, pass: c.pass, auth_token: c.auth_token, nkey: c.nkey, sig: c.sig }
    const server = this.conn.server
    // nats-server's users branch with verify_and_map: the certificate names the user (nkey users,
    // checked first, are unaffected).
    if (mapsCertificates(server.options) && !(server.auth.nkeys.size > 0 && c.nkey !== undefined && c.nkey !== "")) {
      const name = certificateUser(server.options, this.conn.peerCert, c, server.log, this.conn.prefix)
      return name === undefined ? undefined : server.auth.users.get(name)?.user
    }
    return server.auth.authenticate(this.credentials, this.nonce)
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

  /** Take on an authenticated user (nats-server's `RegisterUser`). */
  register(user: AuthUser): void {
    this.user = user
    if (user.name !== undefined) this.conn.user = user.name
    this.conn.bindAccount(user.account)
    this.setPermissions(user.permissions)
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
