/**
 * A small Effect-native NATS client, built on this project's own protocol parser and output buffer.
 * It is used by the tests, by applications embedding the broker and by the `pub`/`sub` commands.
 *
 * **Connecting.** `NatsClient.make(options)` (scoped) and `NatsClient.layer(options)` try the
 * `servers` in order until one completes the handshake: TCP connect, the server's `INFO`, our
 * `CONNECT` (with `headers` and `no_responders` when the server supports headers) and a `PING`
 * answered by `PONG`. `connectTimeout` bounds each attempt. Closing the scope closes the connection
 * gracefully: what was already published is written out first, then subscriptions end and pending
 * requests / flushes fail with `ClientClosed`.
 *
 * **Publishing.** `publish` appends the frame to an in-memory `OutBuffer` and wakes one writer fiber
 * that hands everything accumulated since its last write to the socket in one call, so a burst of
 * publishes costs one syscall per batch, not per message. `publish` succeeds once the message is
 * buffered; use `flush()` (a `PING`/`PONG` round trip) to know the server has processed it. When more
 * than `maxPendingBytes` (4 MiB) are waiting for the socket, `publish` waits until the writer caught up.
 *
 * **Subscribing.** `subscribe(subject)` is a `Stream`: `SUB` is sent when the stream starts, `UNSUB`
 * when it ends for any reason (interruption, `Stream.take`, failure). `subscription(subject)` is the
 * scoped form: `SUB` is sent at once, `UNSUB` when the scope closes. With `max`, `UNSUB <sid> <max>`
 * follows the `SUB` and the stream ends after `max` messages.
 *
 * **Overflow policy.** Each subscription buffers at most `pendingLimit` messages (default 65536)
 * that the consumer has not taken yet. Reading the socket is never paused for one slow subscription
 * (that would stall every other subscription, and `PONG`s). Instead, when a message arrives for a
 * full buffer, that subscription is unsubscribed at once and its stream fails with `SlowConsumer`
 * after the consumer has taken the messages already buffered. Messages are never dropped silently,
 * and the connection and the other subscriptions are unaffected.
 *
 * **Requests.** `request` uses one wildcard inbox subscription per connection,
 * `_INBOX.<nuid>.*`, made on the first request; each request gets its own token under it. A `503`
 * status reply (the server's no-responders answer) fails the request with `NoResponders`.
 *
 * **Errors.** A `-ERR` from the server fails everything pending with `ServerError` and closes the
 * connection (this includes errors nats-server considers non-fatal, such as permission violations:
 * this client has no asynchronous error channel). Losing the connection fails everything with
 * `ConnectionLost`; bytes the parser refuses fail everything with `ProtocolError`. After that every
 * operation fails with the error that ended the connection. Subjects, queue names and headers are
 * checked before anything is written (`InvalidArgument`), so a bad argument never costs the
 * connection.
 *
 * **Not implemented:** reconnection (a lost connection stays lost: build a new client), TLS,
 * nkeys/JWT authentication, JetStream, and client-side PINGs (server PINGs are answered).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import { dialTcp } from "../net/Dial.js"
import * as Encoder from "../protocol/Encoder.js"
import type * as Op from "../protocol/Op.js"
import { OutBuffer } from "../protocol/OutBuffer.js"
import * as Parser from "../protocol/Parser.js"
import { isValidQueueName, isValidSubject } from "../subjects/Subject.js"
import { ClientClosed, ConnectError, ConnectionLost, InvalidArgument, NoResponders, type NatsClientError, ProtocolError, RequestTimeout, ServerError, SlowConsumer } from "./Errors.js"
import { decodeInfo, type NatsMessage, type ServerInfo, toMessage } from "./Message.js"
import { encodeHeaders, Headers, validateHeaders } from "../protocol/Headers.js"

export * from "./Errors.js"
export { Message, type NatsMessage, type ServerInfo } from "./Message.js"
export { decodeHeaders, encodeHeaders, Headers, type HeadersInput, validateHeaders } from "../protocol/Headers.js"

// ---------------------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------------------

export interface NatsClientOptions {
  /** `nats://[user:pass@]host[:port]` URLs (port 4222 when absent), tried in order. */
  readonly servers: ReadonlyArray<string>
  /** Sent in CONNECT; shows up in the server's connection list. */
  readonly name?: string
  readonly user?: string
  readonly pass?: string
  readonly token?: string
  /** Bound for each connection attempt (TCP + handshake); a number is milliseconds. Default 2s. */
  readonly connectTimeout?: Duration.Input
  /** Messages a subscription may buffer before it fails with `SlowConsumer` (at least 1). Default 65536. */
  readonly pendingLimit?: number
  /** Receive our own publishes on matching subscriptions (CONNECT `echo`). Default true. */
  readonly echo?: boolean
}

export interface PublishOptions {
  readonly reply?: string
  readonly headers?: Headers
}

export interface SubscribeOptions {
  readonly queue?: string
  /** End the subscription after this many messages (the server is told with `UNSUB <sid> <max>`). */
  readonly max?: number
}

export interface RequestOptions {
  /** How long to wait for the reply; a number is milliseconds. Default 2s. */
  readonly timeout?: Duration.Input
  readonly headers?: Headers
}

/** A live subscription (see `NatsClient.subscription`). */
export interface Subscription {
  readonly sid: string
  readonly subject: string
  readonly queue: string | undefined
  /** The messages; ends when the subscription ends. Consume it once. */
  readonly messages: Stream.Stream<NatsMessage, NatsClientError>
  /** Send `UNSUB` now and end `messages` (also done when the scope closes). */
  readonly unsubscribe: Effect.Effect<void>
}

const DEFAULT_PORT = 4222
const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(2)
const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(2)
const DEFAULT_PENDING_LIMIT = 65_536
const pendingLimitOf = (options: NatsClientOptions): number =>
  Math.max(1, Math.floor(options.pendingLimit ?? DEFAULT_PENDING_LIMIT))
/** Publishers wait when this many bytes are buffered and not yet handed to the socket. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024
/** How long `close` waits for buffered output to reach the socket. */
const CLOSE_DRAIN = Duration.seconds(2)
const CLIENT_VERSION = "0.1.0"

interface ServerTarget {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly user: string | undefined
  readonly pass: string | undefined
  readonly token: string | undefined
}

const parseServer = (raw: string): ServerTarget | string => {
  const text = raw.trim()
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `nats://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return "invalid server URL"
  }
  if (url.protocol !== "nats:") return `unsupported scheme "${url.protocol.slice(0, -1)}" (only nats://)`
  if (url.hostname === "") return "invalid server URL: no host"
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port)
  const user = url.username === "" ? undefined : decodeURIComponent(url.username)
  const pass = url.password === "" ? undefined : decodeURIComponent(url.password)
  return {
    url: text,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    // `nats://token@host` carries a token, `nats://user:pass@host` a user and password.
    user: pass === undefined ? undefined : user,
    pass,
    token: pass === undefined ? user : undefined
  }
}

const NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** A random 22-character base62 identifier, as NATS clients use for inboxes. */
export const nuid = (): string => {
  const bytes = randomBytes(22)
  let out = ""
  for (const b of bytes) out += NUID_ALPHABET[b % 62]
  return out
}

/** A unique inbox subject, `_INBOX.<nuid>`. */
export const newInbox = (): string => `_INBOX.${nuid()}`

// ---------------------------------------------------------------------------------------------------------
// The connection (plain state, driven by the reader and writer fibers)
// ---------------------------------------------------------------------------------------------------------

interface Sub {
  readonly sid: string
  readonly subject: string
  readonly queue: string | undefined
  readonly max: number | undefined
  /** Undefined for the request inbox. */
  readonly queueOut: Queue.Queue<NatsMessage, NatsClientError | Cause.Done> | undefined
  received: number
}

type Reply = Deferred.Deferred<NatsMessage, NatsClientError | NoResponders>

const CRLF = Buffer.from("\r\n")
const PARSER_LIMITS: Parser.ParserLimits = { maxControlLine: 1024 * 1024, maxPayload: Infinity }

class Connection {
  readonly out = new OutBuffer()
  /** Opened when there is output for the writer. */
  readonly wake = Latch.makeUnsafe(false)
  /** Open while the writer has nothing left to write. */
  readonly idle = Latch.makeUnsafe(true)
  /** Completed with the first INFO (or the error that ended the handshake). */
  readonly greeted = Deferred.makeUnsafe<ServerInfo, NatsClientError>()
  /** Completed once the connection is over, for whatever reason. */
  readonly ended = Deferred.makeUnsafe<NatsClientError>()
  info: ServerInfo | undefined
  /** Set once the connection is over: every operation fails with it. */
  terminal: NatsClientError | undefined
  /** `close` has started: no new operations. */
  closing = false
  private pongs: Array<Deferred.Deferred<void, NatsClientError>> = []
  private readonly subs = new Map<string, Sub>()
  private nextSid = 1
  private inbox: { readonly prefix: string; readonly sub: Sub } | undefined
  private readonly replies = new Map<string, Reply>()
  private nextToken = 1

  constructor(readonly target: ServerTarget, readonly scope: Scope.Closeable, readonly pendingLimit: number) {}

  /** Why nothing new may start, or undefined. */
  check(): NatsClientError | undefined {
    if (this.terminal !== undefined) return this.terminal
    if (this.closing) return new ClientClosed({ message: "the client is closing" })
    return undefined
  }

  private wakePending = false
  private readonly wakeNow = (): void => {
    this.wakePending = false
    this.wake.openUnsafe()
  }

  /**
   * New output: wake the writer once the current fiber gives up the thread (a microtask), not at
   * once. Opening the latch resumes the writer synchronously, which would write every publish on
   * its own; deferring lets a burst of publishes go out in one write.
   */
  private kick(): void {
    this.idle.closeUnsafe()
    if (!this.wakePending) {
      this.wakePending = true
      queueMicrotask(this.wakeNow)
    }
  }

  /** Output waiting for the writer beyond the limit: callers should wait for `idle`. */
  get congested(): boolean {
    return this.out.size > MAX_PENDING_BYTES
  }

  sendBytes(bytes: Uint8Array): void {
    this.out.appendBytes(bytes)
    this.kick()
  }

  ping(): Deferred.Deferred<void, NatsClientError> {
    const d = Deferred.makeUnsafe<void, NatsClientError>()
    this.pongs.push(d)
    this.sendBytes(Encoder.PING_BYTES)
    return d
  }

  /** Append a PUB/HPUB; returns why it was refused, or undefined. */
  publish(subject: string, payload: Uint8Array | string, reply: string | undefined, headers: Headers | undefined): NatsClientError | undefined {
    const refused = this.check()
    if (refused !== undefined) return refused
    if (!isValidSubject(subject)) return new InvalidArgument({ message: `invalid subject ${JSON.stringify(subject)}` })
    if (reply !== undefined && !isValidSubject(reply)) {
      return new InvalidArgument({ message: `invalid reply subject ${JSON.stringify(reply)}` })
    }
    const size = typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length
    const max = this.info?.max_payload ?? Infinity
    const out = this.out
    if (headers === undefined) {
      if (size > max) return new InvalidArgument({ message: `payload of ${size} bytes exceeds the server's max_payload of ${max}` })
      out.appendString(reply === undefined ? `PUB ${subject} ${size}\r\n` : `PUB ${subject} ${reply} ${size}\r\n`)
    } else {
      if (this.info?.headers !== true) return new InvalidArgument({ message: "the server does not support headers" })
      const bad = validateHeaders(headers)
      if (bad !== undefined) return new InvalidArgument({ message: bad })
      const block = encodeHeaders(headers)
      const total = block.length + size
      if (total > max) return new InvalidArgument({ message: `message of ${total} bytes exceeds the server's max_payload of ${max}` })
      out.appendString(reply === undefined ? `HPUB ${subject} ${block.length} ${total}\r\n` : `HPUB ${subject} ${reply} ${block.length} ${total}\r\n`)
      out.appendBytes(block)
    }
    if (typeof payload === "string") out.appendString(payload)
    else out.appendBytes(payload)
    out.appendBytes(CRLF)
    this.kick()
    return undefined
  }

  private sendSub(sub: Sub): void {
    this.out.appendString(sub.queue === undefined ? `SUB ${sub.subject} ${sub.sid}\r\n` : `SUB ${sub.subject} ${sub.queue} ${sub.sid}\r\n`)
    if (sub.max !== undefined) this.out.appendString(`UNSUB ${sub.sid} ${sub.max}\r\n`)
    this.kick()
  }

  subscribe(
    subject: string,
    options: SubscribeOptions | undefined,
    queueOut: Queue.Queue<NatsMessage, NatsClientError | Cause.Done>
  ): Sub | NatsClientError {
    const refused = this.check()
    if (refused !== undefined) return refused
    if (!isValidSubject(subject)) return new InvalidArgument({ message: `invalid subject ${JSON.stringify(subject)}` })
    const queue = options?.queue
    if (queue !== undefined && !isValidQueueName(queue)) {
      return new InvalidArgument({ message: `invalid queue group ${JSON.stringify(queue)}` })
    }
    const max = options?.max
    if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
      return new InvalidArgument({ message: `max must be a positive integer, got ${max}` })
    }
    const sub: Sub = { sid: String(this.nextSid++), subject, queue, max, queueOut, received: 0 }
    this.subs.set(sub.sid, sub)
    this.sendSub(sub)
    return sub
  }

  /** Drop a subscription: `UNSUB` (if the connection is still up) and end its stream. */
  unsubscribe(sub: Sub): void {
    if (this.subs.get(sub.sid) === sub) {
      this.subs.delete(sub.sid)
      if (this.terminal === undefined) {
        this.out.appendString(`UNSUB ${sub.sid}\r\n`)
        this.kick()
      }
    }
    if (sub.queueOut !== undefined) Queue.endUnsafe(sub.queueOut)
  }

  /** Register a request and publish it; returns the reply's deferred and its token. */
  request(subject: string, payload: Uint8Array | string, headers: Headers | undefined): [Reply, string] | NatsClientError {
    const refused = this.check()
    if (refused !== undefined) return refused
    if (this.inbox === undefined) {
      const prefix = newInbox()
      const sub: Sub = { sid: String(this.nextSid++), subject: `${prefix}.*`, queue: undefined, max: undefined, queueOut: undefined, received: 0 }
      this.subs.set(sub.sid, sub)
      this.sendSub(sub)
      this.inbox = { prefix, sub }
    }
    const token = (this.nextToken++).toString(36)
    const reply: Reply = Deferred.makeUnsafe()
    const failed = this.publish(subject, payload, `${this.inbox.prefix}.${token}`, headers)
    if (failed !== undefined) return failed
    this.replies.set(token, reply)
    return [reply, token]
  }

  forgetRequest(token: string): void {
    this.replies.delete(token)
  }

  // --- inbound -------------------------------------------------------------------------------------------

  /** One parsed batch from the reader fiber. */
  onParsed(parsed: Parser.Parsed): void {
    for (const op of parsed.ops) {
      if (this.terminal !== undefined) return
      this.onOp(op)
    }
    if (parsed.error !== undefined) this.terminate(new ProtocolError({ message: parsed.error.detail }))
  }

  private onOp(op: Op.Op): void {
    if (this.info === undefined && op._tag !== "Info") {
      this.terminate(new ProtocolError({ message: `expected INFO from the server, got ${op._tag.toUpperCase()}` }))
      return
    }
    switch (op._tag) {
      case "Msg":
        return this.onMsg(op)
      case "Ping":
        return this.sendBytes(Encoder.PONG_BYTES)
      case "Pong": {
        const d = this.pongs.shift()
        if (d !== undefined) Deferred.doneUnsafe(d, Effect.void)
        return
      }
      case "Info": {
        const info = decodeInfo(op.json)
        if (info instanceof ProtocolError) return this.terminate(info)
        const first = this.info === undefined
        this.info = info
        if (first) Deferred.doneUnsafe(this.greeted, Effect.succeed(info))
        return
      }
      case "Err":
        return this.terminate(new ServerError({ message: op.message.trim().replace(/^'(.*)'$/s, "$1") }))
      case "Ok":
        return
      default:
        return this.terminate(new ProtocolError({ message: `unexpected ${op._tag} from the server` }))
    }
  }

  private onMsg(op: Op.Msg): void {
    const sub = this.subs.get(op.sid)
    if (sub === undefined) return // raced with our UNSUB
    const msg = toMessage(op)
    if (sub.queueOut === undefined) {
      // The request inbox: `<prefix>.<token>`.
      const prefix = this.inbox!.prefix
      const token = op.subject.startsWith(prefix) ? op.subject.slice(prefix.length + 1) : ""
      const reply = this.replies.get(token)
      if (reply === undefined) return // late reply: the request timed out or was interrupted
      this.replies.delete(token)
      if (msg.status === 503 && msg.data.length === 0) {
        Deferred.doneUnsafe(reply, Effect.fail(new NoResponders({ subject: op.subject })))
      } else {
        Deferred.doneUnsafe(reply, Effect.succeed(msg))
      }
      return
    }
    sub.received++
    if (!Queue.offerUnsafe(sub.queueOut, msg)) {
      Queue.failCauseUnsafe(sub.queueOut, Cause.fail(new SlowConsumer({ subject: sub.subject, sid: sub.sid, pendingLimit: this.pendingLimit })))
      this.unsubscribe(sub)
      return
    }
    if (sub.max !== undefined && sub.received >= sub.max) {
      // The server removed it after `max` deliveries (UNSUB <sid> <max>): no UNSUB needed.
      this.subs.delete(sub.sid)
      Queue.endUnsafe(sub.queueOut)
    }
  }

  /**
   * The connection is over. `graceful` (our own close) ends subscriptions normally; otherwise they
   * fail with `error`. Pending flushes and requests fail with `error` either way.
   */
  terminate(error: NatsClientError, graceful = false): void {
    if (this.terminal !== undefined) return
    this.terminal = error
    if (!graceful) this.out.clear()
    Deferred.doneUnsafe(this.greeted, Effect.fail(error))
    for (const d of this.pongs) Deferred.doneUnsafe(d, Effect.fail(error))
    this.pongs = []
    for (const reply of this.replies.values()) Deferred.doneUnsafe(reply, Effect.fail(error))
    this.replies.clear()
    for (const sub of this.subs.values()) {
      if (sub.queueOut === undefined) continue
      if (graceful) Queue.endUnsafe(sub.queueOut)
      else Queue.failCauseUnsafe(sub.queueOut, Cause.fail(error))
    }
    this.subs.clear()
    this.inbox = undefined
    // Release anybody waiting for the writer.
    this.idle.openUnsafe()
    Deferred.doneUnsafe(this.ended, Effect.succeed(error))
  }
}

const describeSocketError = (e: Socket.SocketError): string => {
  const reason = e.reason
  if (reason._tag === "SocketCloseError") return "connection closed by the server"
  const cause = (reason as { readonly cause?: unknown }).cause
  return cause instanceof Error ? cause.message : String(e.message)
}

/** Hands buffered output to the socket, one write per batch. */
const writerLoop = (conn: Connection, writer: Socket.Writer) =>
  Effect.gen(function*() {
    while (true) {
      yield* conn.wake.await
      conn.wake.closeUnsafe()
      let chunk = conn.out.take()
      while (chunk !== undefined) {
        yield* writer.write(chunk)
        chunk = conn.out.take()
      }
      conn.idle.openUnsafe()
    }
  }).pipe(
    Effect.catch((e) => Effect.sync(() => conn.terminate(new ConnectionLost({ message: `write failed: ${describeSocketError(e)}` }))))
  )

/** Dial, read INFO, send CONNECT + PING and wait for the PONG. Runs in the connection's scope. */
const handshake = (conn: Connection, options: NatsClientOptions) =>
  Effect.gen(function*() {
    const t = conn.target
    const socket = yield* dialTcp(t.host, t.port).pipe(Effect.mapError((e) => e.message))
    const pull = yield* Socket.readerBytes(socket).pipe(Effect.mapError(describeSocketError))
    const writer = yield* socket.writer
    yield* Stream.fromPull(Effect.succeed(pull)).pipe(
      Parser.stream("server", PARSER_LIMITS),
      Stream.runForEach((parsed) => Effect.sync(() => conn.onParsed(parsed))),
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => conn.terminate(new ConnectionLost({ message: "connection closed by the server" }))),
        onFailure: (e) => Effect.sync(() => conn.terminate(new ConnectionLost({ message: describeSocketError(e) })))
      }),
      Effect.forkScoped
    )
    yield* writerLoop(conn, writer).pipe(Effect.forkScoped)

    const info = yield* Deferred.await(conn.greeted).pipe(Effect.mapError((e) => e.message))
    const headers = info.headers === true
    const fields: Record<string, unknown> = {
      verbose: false,
      pedantic: false,
      tls_required: false,
      lang: "effect-ts",
      version: CLIENT_VERSION,
      protocol: 1,
      echo: options.echo ?? true,
      headers,
      no_responders: headers
    }
    if (options.name !== undefined) fields["name"] = options.name
    const user = options.user ?? t.user
    const pass = options.pass ?? t.pass
    const token = options.token ?? t.token
    if (user !== undefined) fields["user"] = user
    if (pass !== undefined) fields["pass"] = pass
    if (token !== undefined) fields["auth_token"] = token
    conn.sendBytes(Encoder.connect(fields))
    yield* Deferred.await(conn.ping()).pipe(Effect.mapError((e) => e.message))
  })

/** Try one server; on failure everything it opened is closed again. */
const attempt = (target: ServerTarget, options: NatsClientOptions, parent: Scope.Scope) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent)
    const conn = new Connection(target, scope, pendingLimitOf(options))
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const result = yield* handshake(conn, options).pipe(
      Scope.provide(scope),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(`no connection within ${Duration.format(timeout)}`)
      }),
      Effect.exit
    )
    if (Exit.isSuccess(result)) return conn
    yield* Scope.close(scope, Exit.void)
    // A reason to try the next server, or (interruption, defect) the end of `make`.
    const reason = Cause.findError(result.cause)
    return yield* (reason._tag === "Success" ? Effect.fail(reason.success) : Effect.failCause(reason.failure))
  })

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

/** What a connected client offers. */
export interface NatsClientShape {
  /** The server URL this client is connected to (as given in `servers`). */
  readonly server: string
  /** The server's latest INFO (servers send updated INFOs, e.g. when the cluster changes). */
  readonly info: Effect.Effect<ServerInfo>
  /** Buffer a message for `subject`; see the module doc for batching and backpressure. */
  readonly publish: (
    subject: string,
    payload: Uint8Array | string,
    options?: PublishOptions
  ) => Effect.Effect<void, NatsClientError>
  /** Messages on `subject` while the stream runs: SUB when it starts, UNSUB when it ends. */
  readonly subscribe: (subject: string, options?: SubscribeOptions) => Stream.Stream<NatsMessage, NatsClientError>
  /** Subscribe now (the SUB is buffered before this returns); UNSUB when the scope closes. */
  readonly subscription: (
    subject: string,
    options?: SubscribeOptions
  ) => Effect.Effect<Subscription, NatsClientError, Scope.Scope>
  /** Publish with a reply subject in the shared inbox and wait for the first reply. */
  readonly request: (
    subject: string,
    payload: Uint8Array | string,
    options?: RequestOptions
  ) => Effect.Effect<NatsMessage, NatsClientError | RequestTimeout | NoResponders>
  /** A PING/PONG round trip: everything sent before it has been processed by the server. */
  readonly flush: () => Effect.Effect<void, NatsClientError>
  /** Close the connection gracefully (also done when the scope closes); idempotent. */
  readonly close: Effect.Effect<void>
  /** Wait until the connection is over; succeeds with the reason (`ClientClosed` after `close`). */
  readonly closed: Effect.Effect<NatsClientError>
}

const fromConnection = (conn: Connection, pendingLimit: number): NatsClientShape => {
  const afterPublish = (): Effect.Effect<void> => (conn.congested ? conn.idle.await : Effect.void)

  const publish: NatsClientShape["publish"] = (subject, payload, options) =>
    Effect.suspend(() => {
      const refused = conn.publish(subject, payload, options?.reply, options?.headers)
      return refused === undefined ? afterPublish() : Effect.fail(refused)
    })

  const subscription: NatsClientShape["subscription"] = (subject, options) =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<NatsMessage, NatsClientError | Cause.Done>(pendingLimit)
      const sub = conn.subscribe(subject, options, queue)
      if ("_tag" in sub) return yield* Effect.fail(sub)
      const unsubscribe = Effect.sync(() => conn.unsubscribe(sub))
      yield* Effect.addFinalizer(() => unsubscribe)
      return { sid: sub.sid, subject, queue: sub.queue, messages: Stream.fromQueue(queue), unsubscribe }
    })

  const subscribe: NatsClientShape["subscribe"] = (subject, options) =>
    Stream.unwrap(Effect.map(subscription(subject, options), (s) => s.messages))

  const request: NatsClientShape["request"] = (subject, payload, options) =>
    Effect.suspend(() => {
      const started = conn.request(subject, payload, options?.headers)
      if (!Array.isArray(started)) return Effect.fail(started as NatsClientError)
      const [reply, token] = started
      const timeout = Duration.fromInputUnsafe(options?.timeout ?? DEFAULT_REQUEST_TIMEOUT)
      return Deferred.await(reply).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new RequestTimeout({ subject, timeout }))
        }),
        Effect.ensuring(Effect.sync(() => conn.forgetRequest(token)))
      )
    })

  const flush: NatsClientShape["flush"] = () =>
    Effect.suspend(() => {
      const refused = conn.check()
      return refused === undefined ? Deferred.await(conn.ping()) : Effect.fail(refused)
    })

  // Graceful close, once: stop new work, let the writer send what is buffered, then end everything.
  const closeDone = Latch.makeUnsafe(false)
  const close: Effect.Effect<void> = Effect.suspend(() => {
    if (conn.closing) return closeDone.await
    conn.closing = true
    return Effect.gen(function*() {
      if (conn.terminal === undefined) {
        conn.wake.openUnsafe()
        yield* conn.idle.await.pipe(Effect.timeoutOption(CLOSE_DRAIN))
        conn.terminate(new ClientClosed({ message: "the client was closed" }), true)
      }
      yield* Scope.close(conn.scope, Exit.void)
    }).pipe(Effect.ensuring(closeDone.open), Effect.uninterruptible)
  })

  return {
    server: conn.target.url,
    info: Effect.sync(() => conn.info!),
    publish,
    subscribe,
    subscription,
    request,
    flush,
    close,
    closed: Deferred.await(conn.ended)
  }
}

/**
 * Connect to the first server of `options.servers` that accepts us. The connection lives in the
 * current scope and is closed gracefully with it.
 *
 * @since 0.1.0
 */
export const make = (options: NatsClientOptions): Effect.Effect<NatsClientShape, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const attempts: Array<{ server: string; reason: string }> = []
    let conn: Connection | undefined
    for (const raw of options.servers) {
      const target = parseServer(raw)
      if (typeof target === "string") {
        attempts.push({ server: raw, reason: target })
        continue
      }
      const result = yield* Effect.result(attempt(target, options, parent))
      if (result._tag === "Success") {
        conn = result.success
        break
      }
      attempts.push({ server: raw, reason: result.failure })
    }
    if (conn === undefined) {
      const detail = attempts.length === 0 ? "no servers given" : attempts.map((a) => `${a.server}: ${a.reason}`).join("; ")
      return yield* Effect.fail(new ConnectError({ message: `could not connect to any server (${detail})`, attempts }))
    }
    const client = fromConnection(conn, pendingLimitOf(options))
    const live = conn
    // When the server or the network ends the connection, release the socket and fibers at once.
    yield* Deferred.await(live.ended).pipe(
      Effect.andThen(Scope.close(live.scope, Exit.void)),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => client.close)
    return client
  })

/**
 * The client as a service.
 *
 * @since 0.1.0
 */
export class NatsClient extends Context.Service<NatsClient, NatsClientShape>()("effect-nats-server/NatsClient") {
  /** Connects when the layer is built, closes when it is released. */
  static readonly layer = (options: NatsClientOptions): Layer.Layer<NatsClient, ConnectError> =>
    Layer.effect(NatsClient, make(options))
}
