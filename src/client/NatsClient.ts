/**
 * A small Effect-native NATS client, built on this project's own protocol parser and output buffer.
 * It is used by the tests, by applications embedding the broker and by the `pub`/`sub` commands.
 *
 * **Connecting.** `NatsClient.make(options)` (scoped) and `NatsClient.layer(options)` try the
 * `servers` in order until one completes the handshake: TCP connect, the server's `INFO`, our
 * `CONNECT` (with `headers` and `no_responders` when the server supports headers) and a `PING`
 * answered by `PONG`. `connectTimeout` bounds each attempt. Closing the scope closes the connection
 * gracefully: what was already published is written out first (while reconnecting there is no
 * socket: what is buffered is dropped), then subscriptions end and pending requests / flushes fail
 * with `ClientClosed`. `drain` first unsubscribes everything and lets the
 * subscriptions end after the messages the server sent before the `UNSUB`s, then closes.
 *
 * **Cluster-aware.** The servers a cluster announces in INFO `connect_urls` join the given ones as
 * fail-over candidates (and leave again when no longer announced; the given ones always stay). When the connection is lost (the server or network dropped it, or a fatal
 * `-ERR`), the client reconnects on the `reconnect` `Schedule` (default: every 2 s, 60 times, like
 * nats.go): each recurrence is one round over every known server, the lost one last. Subscriptions
 * survive: after the handshake on the new server they are sent again (with what is left of a
 * `max`), before anything else. Publishes made while reconnecting are kept (at most
 * `reconnectBufferSize` bytes, default 8 MiB; beyond that `publish` fails with
 * `ReconnectBufferFull`) and written after the subscriptions. What was handed to the lost socket
 * and not processed by the server is lost, as with every NATS client; flushes in flight then fail
 * with `ConnectionLost`, and a flush started while reconnecting waits for the new connection. When
 * the schedule gives up, the client is over (`ConnectionLost`). `reconnect: false` ends the client
 * with the first lost connection.
 *
 * **Status.** `status` is a `Stream` of what happens to the connection: `Disconnected`,
 * `Reconnecting` (each round), `Reconnected`, `ServersDiscovered`, `LameDuck` (the server announced
 * lame-duck mode: it will close us soon), `Error` (an asynchronous `-ERR`; non-fatal ones such as
 * permissions violations leave the connection up) and `Closed`, the last one. A stream sees the
 * events after it started.
 *
 * **Publishing.** `publish` appends the frame to an in-memory `OutBuffer` and wakes one writer fiber
 * that hands everything accumulated since its last write to the socket in one call, so a burst of
 * publishes costs one syscall per batch, not per message. `publish` succeeds once the message is
 * buffered; use `flush()` (a `PING`/`PONG` round trip) to know the server has processed it. When more
 * than `maxPendingBytes` (4 MiB) are waiting for the socket, `publish` waits until the writer caught up.
 * Headers are a `Headers`, `[name, value]` pairs or a `{ name: value | values }` record.
 *
 * **Subscribing.** `subscribe(subject)` is a `Stream`: `SUB` is sent when the stream starts, `UNSUB`
 * when it ends for any reason (interruption, `Stream.take`, failure). `subscription(subject)` is the
 * scoped form: `SUB` is sent at once, `UNSUB` when the scope closes. With `max`, `UNSUB <sid> <max>`
 * follows the `SUB` and the stream ends after `max` messages. A received message's `respond`
 * publishes to its reply subject on this client.
 *
 * **Overflow policy.** Each subscription buffers at most `pendingLimit` messages (default 65536)
 * that the consumer has not taken yet. Reading the socket is never paused for one slow subscription
 * (that would stall every other subscription, and `PONG`s). Instead, when a message arrives for a
 * full buffer, that subscription is unsubscribed at once and its stream fails with `SlowConsumer`
 * after the consumer has taken the messages already buffered. Messages are never dropped silently,
 * and the connection and the other subscriptions are unaffected.
 *
 * **Requests.** `request` uses one wildcard inbox subscription per client, `_INBOX.<nuid>.*`,
 * made on the first request; each request gets its own token under it. A `503` status reply (the
 * server's no-responders answer) fails the request with `NoResponders`.
 *
 * **Errors.** Subjects, queue names, headers and payloads are checked before anything is written
 * (`InvalidArgument`), so a bad argument never costs the connection. Once the client is over
 * (closed, reconnect given up, or the connection lost with `reconnect: false`) every operation fails
 * with the error that ended it: `ClientClosed`, `ConnectionLost`, `ServerError` (a fatal `-ERR`),
 * `ProtocolError` (bytes the parser refuses).
 *
 * The per-message path (parse, route to a subscription's queue, encode a publish) is plain
 * synchronous code over each read batch; Effect drives the fibers, the schedule and the handshake.
 *
 * **Authentication.** `user`/`pass` and `token` (or in the URL); `creds` / `credsFile` log in with a
 * user JWT and its seed (`.creds`), signing the server's INFO nonce (see `Creds`), for servers in
 * operator mode.
 *
 * **Not implemented:** TLS, plain nkey authentication, JetStream, and client-side PINGs (server
 * PINGs are answered).
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
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import { Transport } from "../net/Transport.js"
import { credsConnectFields } from "./Creds.js"
import * as Encoder from "../protocol/Encoder.js"
import type * as Op from "../protocol/Op.js"
import { OutBuffer } from "../protocol/OutBuffer.js"
import * as Parser from "../protocol/Parser.js"
import { isValidQueueName, isValidSubject } from "../subjects/Subject.js"
import { headersArgument } from "../message/Arguments.js"
import {
  ClientClosed,
  ConnectError,
  ConnectionLost,
  InvalidArgument,
  NoResponders,
  type NatsClientError,
  ProtocolError,
  ReconnectBufferFull,
  RequestTimeout,
  ServerError,
  SlowConsumer
} from "../message/Errors.js"
import { newInbox, nuid } from "../message/Inbox.js"
import { decodeInfo, type NatsMessage, type Replier, type ServerInfo, toMessage } from "../message/Message.js"
import { encodeHeaders, type HeadersInput } from "../protocol/Headers.js"

export * from "../message/Errors.js"
export { Message, type NatsMessage, type RespondOptions, type ServerInfo } from "../message/Message.js"
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
  /** A `.creds` file's contents: the user JWT and its nkey seed (signs the INFO nonce). */
  readonly creds?: string | Uint8Array
  /** The path of a `.creds` file, read at every connection attempt. */
  readonly credsFile?: string
  /** Bound for each connection attempt (TCP + handshake); a number is milliseconds. Default 2s. */
  readonly connectTimeout?: Duration.Input
  /** Messages a subscription may buffer before it fails with `SlowConsumer` (at least 1). Default 65536. */
  readonly pendingLimit?: number
  /** Receive our own publishes on matching subscriptions (CONNECT `echo`). Default true. */
  readonly echo?: boolean
  /**
   * When the connection is lost: the schedule of reconnect rounds (one round tries every known
   * server once; the first round starts at once), or `false` for none. Default: every 2 s, 60 times.
   */
  readonly reconnect?: Schedule.Schedule<unknown, ConnectError> | false
  /** Bytes of publishes kept while reconnecting (default 8 MiB). */
  readonly reconnectBufferSize?: number
  /** Add the servers announced in INFO `connect_urls` to the fail-over candidates. Default true. */
  readonly discoverServers?: boolean
}

export interface PublishOptions {
  readonly reply?: string
  /** A `Headers`, `[name, value]` pairs or a `{ name: value | values }` record. */
  readonly headers?: HeadersInput
}

export interface SubscribeOptions {
  readonly queue?: string
  /** End the subscription after this many messages (the server is told with `UNSUB <sid> <max>`). */
  readonly max?: number
}

export interface RequestOptions {
  /** How long to wait for the reply; a number is milliseconds. Default 2s. */
  readonly timeout?: Duration.Input
  readonly headers?: HeadersInput
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

/** What happens to a client's connection, in order (see `NatsClientShape.status`). */
export type ClientStatus =
  | { readonly _tag: "Disconnected"; readonly server: string; readonly error: NatsClientError }
  | { readonly _tag: "Reconnecting"; readonly attempt: number }
  | { readonly _tag: "Reconnected"; readonly server: string }
  | { readonly _tag: "ServersDiscovered"; readonly servers: ReadonlyArray<string> }
  | { readonly _tag: "LameDuck"; readonly server: string }
  | { readonly _tag: "Error"; readonly server: string; readonly error: ServerError }
  | { readonly _tag: "Closed"; readonly error: NatsClientError }

const DEFAULT_PORT = 4222
const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(2)
const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(2)
const DEFAULT_PENDING_LIMIT = 65_536
const DEFAULT_RECONNECT_BUFFER = 8 * 1024 * 1024
/** nats.go's defaults: ReconnectWait 2s, MaxReconnect 60. */
const DEFAULT_RECONNECT: Schedule.Schedule<unknown, ConnectError> = Schedule.spaced(Duration.seconds(2)).pipe(Schedule.upTo({ times: 60 }))
const pendingLimitOf = (options: NatsClientOptions): number =>
  Math.max(1, Math.floor(options.pendingLimit ?? DEFAULT_PENDING_LIMIT))
/** Publishers wait when this many bytes are buffered and not yet handed to the socket. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024
/** How long `close` waits for buffered output to reach the socket. */
const CLOSE_DRAIN = Duration.seconds(2)
const CLIENT_VERSION = "0.1.0"
/** `-ERR`s after which nats-server keeps the connection open. */
const NON_FATAL_ERR = /^(permissions violation|invalid (publish )?subject)/i

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

const targetKey = (t: ServerTarget): string => `${t.host.toLowerCase()}:${t.port}`

export { newInbox, nuid } from "../message/Inbox.js"

// ---------------------------------------------------------------------------------------------------------
// The client state (plain, driven by the reader and writer fibers of the current link)
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

/** One TCP connection to one server: from the dial to its loss. */
class Link {
  /** Opened when there is output for this link's writer. */
  readonly wake = Latch.makeUnsafe(false)
  /** The first INFO, or why the handshake failed. */
  readonly greeted = Deferred.makeUnsafe<ServerInfo, string>()
  /** The PONG to the handshake's PING, or why the handshake failed. */
  readonly handshakeDone = Deferred.makeUnsafe<void, string>()
  info: ServerInfo | undefined
  /** Until the handshake PONG: PONGs belong to the handshake. */
  handshaking = true
  /** The client's current link (after the handshake). */
  established = false
  /** Lost or abandoned: its reader's ops are ignored. */
  dead = false
  constructor(readonly target: ServerTarget, readonly scope: Scope.Closeable) {}
}

class Client {
  readonly out = new OutBuffer()
  /** Open while the writer has nothing left to write (always open while disconnected). */
  readonly idle = Latch.makeUnsafe(true)
  /** Open while a link is established. */
  readonly connected = Latch.makeUnsafe(false)
  /** Opened when the link was lost and the supervisor should reconnect. */
  readonly lost = Latch.makeUnsafe(false)
  /** Completed once the client is over, for whatever reason. */
  readonly ended = Deferred.makeUnsafe<NatsClientError>()
  info: ServerInfo | undefined
  link: Link | undefined
  /** The server of the current (or last) link. */
  current: ServerTarget | undefined
  /** Links lost and not yet released (their scopes are closed by the supervisor). */
  readonly lostLinks: Array<Link> = []
  /** Set once the client is over: every operation fails with it. */
  terminal: NatsClientError | undefined
  /** `close` has started: no new operations. */
  closing = false
  /** `drain` has started: no new publishes or subscriptions. */
  draining = false
  /** Known servers: the given ones, then the discovered ones. */
  readonly pool: Array<ServerTarget> = []
  private readonly poolKeys = new Set<string>()
  /** Keys of the servers that were learned, not given. */
  private readonly discovered = new Set<string>()
  /** Set by the service: how messages `respond`. */
  replier: Replier | undefined
  private pongs: Array<Deferred.Deferred<void, NatsClientError>> = []
  readonly subs = new Map<string, Sub>()
  private nextSid = 1
  private inbox: { readonly prefix: string; readonly sub: Sub } | undefined
  private readonly replies = new Map<string, Reply>()
  private nextToken = 1

  constructor(
    readonly options: NatsClientOptions,
    readonly scope: Scope.Closeable,
    readonly pendingLimit: number,
    readonly statusHub: PubSub.PubSub<ClientStatus>,
    readonly reconnects: boolean,
    readonly reconnectBufferSize: number
  ) {}

  emit(event: ClientStatus): void {
    PubSub.publishUnsafe(this.statusHub, event)
  }

  /** Add a server to the fail-over candidates; true when it was new. */
  addServer(target: ServerTarget, discovered = false): boolean {
    const key = targetKey(target)
    if (this.poolKeys.has(key)) return false
    this.poolKeys.add(key)
    this.pool.push(target)
    if (discovered) this.discovered.add(key)
    return true
  }

  /** Servers that were only learned from `connect_urls` and are not in `announced` any more. */
  private pruneDiscovered(announced: ReadonlySet<string>, current: ServerTarget): void {
    const keep = targetKey(current)
    for (let i = this.pool.length - 1; i >= 0; i--) {
      const key = targetKey(this.pool[i]!)
      if (!this.discovered.has(key) || announced.has(key) || key === keep) continue
      this.pool.splice(i, 1)
      this.poolKeys.delete(key)
      this.discovered.delete(key)
    }
  }

  /** Servers for a reconnect round: the ones after the lost server, wrapping around, it last. */
  candidates(): Array<ServerTarget> {
    const at = this.current === undefined ? -1 : this.pool.findIndex((t) => targetKey(t) === targetKey(this.current!))
    return [...this.pool.slice(at + 1), ...this.pool.slice(0, at + 1)]
  }

  /** Why nothing new may start, or undefined. */
  check(): NatsClientError | undefined {
    if (this.terminal !== undefined) return this.terminal
    if (this.closing) return new ClientClosed({ message: "the client is closing" })
    if (this.draining) return new ClientClosed({ message: "the client is draining" })
    return undefined
  }

  private wakePending = false
  private readonly wakeNow = (): void => {
    this.wakePending = false
    this.link?.wake.openUnsafe()
  }

  /**
   * New output: wake the writer once the current fiber gives up the thread (a microtask), not at
   * once. Opening the latch resumes the writer synchronously, which would write every publish on
   * its own; deferring lets a burst of publishes go out in one write. While disconnected the
   * output waits for the next link.
   */
  private kick(): void {
    if (this.link === undefined) return
    this.idle.closeUnsafe()
    if (!this.wakePending) {
      this.wakePending = true
      queueMicrotask(this.wakeNow)
    }
  }

  /** Output waiting for the writer beyond the limit: callers should wait for `idle`. */
  get congested(): boolean {
    return this.link !== undefined && this.out.size > MAX_PENDING_BYTES
  }

  sendBytes(bytes: Uint8Array): void {
    this.out.appendBytes(bytes)
    this.kick()
  }

  /** A PING whose PONG completes the deferred; only while connected. */
  ping(): Deferred.Deferred<void, NatsClientError> {
    const d = Deferred.makeUnsafe<void, NatsClientError>()
    this.pongs.push(d)
    this.sendBytes(Encoder.PING_BYTES)
    return d
  }

  /** Append a PUB/HPUB; returns why it was refused, or undefined. */
  publish(subject: string, payload: Uint8Array | string, reply: string | undefined, headersInput: HeadersInput | undefined): NatsClientError | undefined {
    const refused = this.check()
    if (refused !== undefined) return refused
    if (typeof subject !== "string" || !isValidSubject(subject)) return new InvalidArgument({ message: `invalid subject ${JSON.stringify(subject)}` })
    if (reply !== undefined && (typeof reply !== "string" || !isValidSubject(reply))) {
      return new InvalidArgument({ message: `invalid reply subject ${JSON.stringify(reply)}` })
    }
    if (typeof payload !== "string" && !(payload instanceof Uint8Array)) {
      return new InvalidArgument({ message: "payload must be a string or a Uint8Array" })
    }
    const headers = headersArgument(headersInput)
    if (headers instanceof InvalidArgument) return headers
    const size = typeof payload === "string" ? Buffer.byteLength(payload, "utf8") : payload.length
    const max = this.info?.max_payload ?? Infinity
    const out = this.out
    let block: Uint8Array | undefined
    if (headers === undefined) {
      if (size > max) return new InvalidArgument({ message: `payload of ${size} bytes exceeds the server's max_payload of ${max}` })
    } else {
      if (this.info?.headers !== true) return new InvalidArgument({ message: "the server does not support headers" })
      block = encodeHeaders(headers)
      const total = block.length + size
      if (total > max) return new InvalidArgument({ message: `message of ${total} bytes exceeds the server's max_payload of ${max}` })
    }
    if (this.link === undefined) {
      // Reconnecting: keep it for the next connection, up to the bound.
      const frame = 40 + subject.length + (reply?.length ?? 0) + (block?.length ?? 0) + size
      if (out.size + frame > this.reconnectBufferSize) return new ReconnectBufferFull({ limit: this.reconnectBufferSize })
    }
    if (block === undefined) {
      out.appendString(reply === undefined ? `PUB ${subject} ${size}\r\n` : `PUB ${subject} ${reply} ${size}\r\n`)
    } else {
      const total = block.length + size
      out.appendString(reply === undefined ? `HPUB ${subject} ${block.length} ${total}\r\n` : `HPUB ${subject} ${reply} ${block.length} ${total}\r\n`)
      out.appendBytes(block)
    }
    if (typeof payload === "string") out.appendString(payload)
    else out.appendBytes(payload)
    out.appendBytes(CRLF)
    this.kick()
    return undefined
  }

  private subLines(sub: Sub): string {
    let text = sub.queue === undefined ? `SUB ${sub.subject} ${sub.sid}\r\n` : `SUB ${sub.subject} ${sub.queue} ${sub.sid}\r\n`
    if (sub.max !== undefined) text += `UNSUB ${sub.sid} ${sub.max - sub.received}\r\n`
    return text
  }

  private sendSub(sub: Sub): void {
    // While disconnected the subscription is sent with the others after the next handshake.
    if (this.link === undefined) return
    this.out.appendString(this.subLines(sub))
    this.kick()
  }

  subscribe(
    subject: string,
    options: SubscribeOptions | undefined,
    queueOut: Queue.Queue<NatsMessage, NatsClientError | Cause.Done>
  ): Sub | NatsClientError {
    const refused = this.check()
    if (refused !== undefined) return refused
    if (typeof subject !== "string" || !isValidSubject(subject)) return new InvalidArgument({ message: `invalid subject ${JSON.stringify(subject)}` })
    const queue = options?.queue
    if (queue !== undefined && (typeof queue !== "string" || !isValidQueueName(queue))) {
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

  /** Drop a subscription: `UNSUB` (if connected) and end its stream. */
  unsubscribe(sub: Sub): void {
    if (this.subs.get(sub.sid) === sub) {
      this.subs.delete(sub.sid)
      if (this.terminal === undefined && this.link !== undefined) {
        this.out.appendString(`UNSUB ${sub.sid}\r\n`)
        this.kick()
      }
    }
    if (sub.queueOut !== undefined) Queue.endUnsafe(sub.queueOut)
  }

  /** Drain: UNSUB every subscription (they stay registered until `endDrained`). */
  unsubscribeAll(): void {
    if (this.link === undefined) return
    let text = ""
    for (const sub of this.subs.values()) if (sub.queueOut !== undefined) text += `UNSUB ${sub.sid}\r\n`
    if (text !== "") {
      this.out.appendString(text)
      this.kick()
    }
  }

  /** Drain: the server will send nothing more; the streams end after what they buffered. */
  endDrained(): void {
    for (const sub of [...this.subs.values()]) {
      if (sub.queueOut === undefined) continue
      this.subs.delete(sub.sid)
      Queue.endUnsafe(sub.queueOut)
    }
  }

  /** Register a request and publish it; returns the reply's deferred and its token. */
  request(subject: string, payload: Uint8Array | string, headers: HeadersInput | undefined): [Reply, string] | NatsClientError {
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

  // --- links ---------------------------------------------------------------------------------------------

  /**
   * The handshake on `link` succeeded: make it current. The subscriptions go first, then what was
   * published while reconnecting, all in the writer's first write.
   */
  establish(link: Link): void {
    let resub = ""
    for (const sub of this.subs.values()) resub += this.subLines(sub)
    if (resub !== "") {
      const kept: Array<Uint8Array> = []
      for (let chunk = this.out.take(); chunk !== undefined; chunk = this.out.take()) kept.push(chunk)
      this.out.appendString(resub)
      for (const chunk of kept) this.out.appendBytes(chunk)
    }
    link.established = true
    this.link = link
    this.current = link.target
    this.info = link.info
    this.connected.openUnsafe()
    if (this.out.size > 0) this.kick()
  }

  /** The reader or writer of `link` ended with `error`. */
  linkEnded(link: Link, error: NatsClientError): void {
    if (!link.established) {
      Deferred.doneUnsafe(link.greeted, Effect.fail(error.message))
      Deferred.doneUnsafe(link.handshakeDone, Effect.fail(error.message))
      link.dead = true
      return
    }
    this.lose(link, error)
  }

  /** The current link is gone: reconnect (or end the client). */
  private lose(link: Link, error: NatsClientError): void {
    if (link.dead) return
    link.dead = true
    if (this.terminal !== undefined || this.link !== link) return
    this.link = undefined
    this.connected.closeUnsafe()
    this.lostLinks.push(link)
    if (!this.reconnects || this.closing) {
      this.terminate(error)
      return
    }
    // Output not yet handed to the socket is lost with it, like what the socket had not sent.
    this.out.clear()
    const pongs = this.pongs
    this.pongs = []
    const lostFlush = new ConnectionLost({ message: `the connection was lost during a flush (${error.message})` })
    for (const d of pongs) Deferred.doneUnsafe(d, Effect.fail(lostFlush))
    this.idle.openUnsafe()
    this.emit({ _tag: "Disconnected", server: link.target.url, error })
    // Opening the latch resumes the supervisor synchronously: let the reader's batch finish first.
    queueMicrotask(this.wakeSupervisor)
  }

  private readonly wakeSupervisor = (): void => {
    this.lost.openUnsafe()
  }

  // --- inbound -------------------------------------------------------------------------------------------

  /** One parsed batch from `link`'s reader fiber. */
  onParsed(link: Link, parsed: Parser.Parsed): void {
    for (const op of parsed.ops) {
      if (this.terminal !== undefined || link.dead) return
      this.onOp(link, op)
    }
    if (parsed.error !== undefined && !link.dead) this.linkEnded(link, new ProtocolError({ message: parsed.error.detail }))
  }

  private onOp(link: Link, op: Op.Op): void {
    if (link.info === undefined && op._tag !== "Info") {
      this.linkEnded(link, new ProtocolError({ message: `expected INFO from the server, got ${op._tag.toUpperCase()}` }))
      return
    }
    switch (op._tag) {
      case "Msg":
        return this.onMsg(op)
      case "Ping":
        return this.sendBytes(Encoder.PONG_BYTES)
      case "Pong": {
        if (link.handshaking) {
          link.handshaking = false
          Deferred.doneUnsafe(link.handshakeDone, Effect.void)
          return
        }
        const d = this.pongs.shift()
        if (d !== undefined) Deferred.doneUnsafe(d, Effect.void)
        return
      }
      case "Info":
        return this.onInfo(link, op.json)
      case "Err": {
        const error = new ServerError({ message: op.message.trim().replace(/^'(.*)'$/s, "$1") })
        if (!link.established) {
          Deferred.doneUnsafe(link.greeted, Effect.fail(error.message))
          Deferred.doneUnsafe(link.handshakeDone, Effect.fail(error.message))
          return
        }
        this.emit({ _tag: "Error", server: link.target.url, error })
        // Permissions violations and the like leave the connection up; the rest end it.
        if (!NON_FATAL_ERR.test(error.message)) this.lose(link, error)
        return
      }
      case "Ok":
        return
      default:
        return this.linkEnded(link, new ProtocolError({ message: `unexpected ${op._tag} from the server` }))
    }
  }

  private onInfo(link: Link, json: string): void {
    const info = decodeInfo(json)
    if (info instanceof ProtocolError) return this.linkEnded(link, info)
    const first = link.info === undefined
    link.info = info
    if (link.established) this.info = info
    if (first) Deferred.doneUnsafe(link.greeted, Effect.succeed(info))
    if (this.options.discoverServers !== false && info.connect_urls !== undefined) {
      const learned: Array<string> = []
      const announced = new Set<string>()
      const creds = this.pool[0]
      for (const hostPort of info.connect_urls) {
        const parsed = parseServer(hostPort)
        if (typeof parsed === "string") continue
        const target = { ...parsed, url: `nats://${hostPort}`, user: creds?.user, pass: creds?.pass, token: creds?.token }
        announced.add(targetKey(target))
        if (this.addServer(target, true)) learned.push(target.url)
      }
      // Learned servers the cluster no longer announces are dropped (as nats.go does), not the current one.
      this.pruneDiscovered(announced, link.target)
      if (learned.length > 0) this.emit({ _tag: "ServersDiscovered", servers: learned })
    }
    if (info.ldm === true && link.established) this.emit({ _tag: "LameDuck", server: link.target.url })
  }

  private onMsg(op: Op.Msg): void {
    const sub = this.subs.get(op.sid)
    if (sub === undefined) return // raced with our UNSUB
    const msg = toMessage(op, this.replier)
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
   * The client is over. `graceful` (our own close) ends subscriptions normally; otherwise they
   * fail with `error`. Pending flushes and requests fail with `error` either way.
   */
  terminate(error: NatsClientError, graceful = false): void {
    if (this.terminal !== undefined) return
    this.terminal = error
    if (!graceful) this.out.clear()
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
    // Release anybody waiting for the writer or for a connection.
    this.idle.openUnsafe()
    this.connected.openUnsafe()
    this.emit({ _tag: "Closed", error })
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
const writerLoop = (client: Client, link: Link, writer: Socket.Writer) =>
  Effect.gen(function*() {
    while (true) {
      yield* link.wake.await
      link.wake.closeUnsafe()
      let chunk = client.out.take()
      while (chunk !== undefined) {
        yield* writer.write(chunk)
        chunk = client.out.take()
      }
      client.idle.openUnsafe()
    }
  }).pipe(
    Effect.catch((e) => Effect.sync(() => client.linkEnded(link, new ConnectionLost({ message: `write failed: ${describeSocketError(e)}` }))))
  )

/** Dial, read INFO, send CONNECT + PING and wait for the PONG, then make the link current. */
const handshake = (client: Client, link: Link) =>
  Effect.gen(function*() {
    const t = link.target
    const options = client.options
    const transport = yield* Transport
    const socket = yield* transport.dial(t.host, t.port, Effect.succeed).pipe(Effect.mapError((e) => e.message))
    const pull = yield* Socket.readerBytes(socket).pipe(Effect.mapError(describeSocketError))
    const writer = yield* socket.writer
    yield* Stream.fromPull(Effect.succeed(pull)).pipe(
      Parser.stream("server", PARSER_LIMITS),
      Stream.runForEach((parsed) => Effect.sync(() => client.onParsed(link, parsed))),
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => client.linkEnded(link, new ConnectionLost({ message: "connection closed by the server" }))),
        onFailure: (e) => Effect.sync(() => client.linkEnded(link, new ConnectionLost({ message: describeSocketError(e) })))
      }),
      Effect.forkScoped
    )

    const info = yield* Deferred.await(link.greeted)
    const headers = info.headers === true
    const user = options.user ?? t.user
    const pass = options.pass ?? t.pass
    const token = options.token ?? t.token
    const source = options.creds !== undefined ? { creds: options.creds } : options.credsFile !== undefined ? { credsFile: options.credsFile } : undefined
    let jwtFields: { readonly jwt?: string; readonly sig?: string } = {}
    if (source !== undefined) {
      const fields = credsConnectFields(source, typeof info.nonce === "string" ? info.nonce : undefined)
      if (Result.isFailure(fields)) return yield* Effect.fail(fields.failure)
      jwtFields = fields.success
    }
    const connect = Encoder.connect({
      verbose: false,
      pedantic: false,
      ...(user !== undefined ? { user } : {}),
      ...(pass !== undefined ? { pass } : {}),
      ...(token !== undefined ? { auth_token: token } : {}),
      ...jwtFields,
      tls_required: false,
      ...(options.name !== undefined ? { name: options.name } : {}),
      lang: "effect-ts",
      version: CLIENT_VERSION,
      protocol: 1,
      echo: options.echo ?? true,
      headers,
      no_responders: headers
    })
    yield* writer.write(Buffer.concat([connect, Encoder.PING_BYTES])).pipe(Effect.mapError(describeSocketError))
    yield* Deferred.await(link.handshakeDone)
    if (client.terminal !== undefined) return yield* Effect.fail("the client was closed")
    // Current and with its writer, or neither (the attempt's timeout cannot cut in between).
    yield* Effect.uninterruptible(Effect.suspend(() => {
      if (link.dead) return Effect.fail("connection closed by the server")
      client.establish(link)
      return writerLoop(client, link, writer).pipe(Effect.forkScoped, Effect.asVoid)
    }))
  })

/** Try one server; on failure everything it opened is closed again. */
const attempt = (client: Client, target: ServerTarget) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(client.scope)
    const link = new Link(target, scope)
    const timeout = Duration.fromInputUnsafe(client.options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const result = yield* handshake(client, link).pipe(
      Scope.provide(scope),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(`no connection within ${Duration.format(timeout)}`)
      }),
      Effect.exit
    )
    if (Exit.isSuccess(result)) return link
    link.dead = true
    yield* Scope.close(scope, Exit.void)
    // A reason to try the next server, or (interruption, defect) the end of this round.
    const reason = Cause.findError(result.cause)
    return yield* (reason._tag === "Success" ? Effect.fail(reason.success) : Effect.failCause(reason.failure))
  })

/** Try `targets` in order until one connects; `ConnectError` says why each one did not. */
const connectRound = (client: Client, targets: ReadonlyArray<ServerTarget | { readonly raw: string; readonly reason: string }>) =>
  Effect.gen(function*() {
    const attempts: Array<{ server: string; reason: string }> = []
    for (const target of targets) {
      if ("raw" in target) {
        attempts.push({ server: target.raw, reason: target.reason })
        continue
      }
      const result = yield* Effect.result(attempt(client, target))
      if (result._tag === "Success") return result.success
      attempts.push({ server: target.url, reason: result.failure })
    }
    const detail = attempts.length === 0 ? "no servers given" : attempts.map((a) => `${a.server}: ${a.reason}`).join("; ")
    return yield* Effect.fail(new ConnectError({ message: `could not connect to any server (${detail})`, attempts }))
  })

/** Reconnects after every lost link, on the schedule; ends the client when the schedule gives up. */
const supervise = (client: Client, schedule: Schedule.Schedule<unknown, ConnectError>) =>
  Effect.gen(function*() {
    while (true) {
      yield* client.lost.await
      client.lost.closeUnsafe()
      for (const link of client.lostLinks.splice(0)) yield* Scope.close(link.scope, Exit.void)
      if (client.terminal !== undefined) return
      let round = 0
      const oneRound = Effect.suspend(() => {
        if (client.terminal !== undefined || client.closing) return Effect.fail(new ConnectError({ message: "the client was closed", attempts: [] }))
        client.emit({ _tag: "Reconnecting", attempt: ++round })
        return connectRound(client, client.candidates())
      })
      const result = yield* Effect.exit(Effect.retry(oneRound, {
        schedule,
        while: () => client.terminal === undefined && !client.closing
      }))
      if (client.terminal !== undefined) return
      if (Exit.isSuccess(result)) {
        client.emit({ _tag: "Reconnected", server: result.value.target.url })
        continue
      }
      const reason = Cause.findErrorOption(result.cause)
      const detail = reason._tag === "Some" ? reason.value.message : "interrupted"
      client.terminate(new ConnectionLost({ message: `the connection was lost and reconnecting gave up: ${detail}` }))
      return
    }
  })

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

/** What a connected client offers. */
export interface NatsClientShape {
  /** The URL of the server this client is connected to (or was, while reconnecting). */
  readonly server: string
  /** The server's latest INFO (servers send updated INFOs, e.g. when the cluster changes). */
  readonly info: Effect.Effect<ServerInfo>
  /** Every server this client may fail over to: the given ones, then those it learned. */
  readonly servers: Effect.Effect<ReadonlyArray<string>>
  /** Whether a connection is up now. */
  readonly isConnected: Effect.Effect<boolean>
  /** What happens to the connection, from when the stream starts (see `ClientStatus`). */
  readonly status: Stream.Stream<ClientStatus>
  /** Buffer a message for `subject`; see the module doc for batching, backpressure and reconnects. */
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
  /**
   * Unsubscribe everything, let the subscription streams end after the messages the server sent
   * before that, write out what was published, then close. Idempotent.
   */
  readonly drain: Effect.Effect<void>
  /** Close the connection gracefully (also done when the scope closes); idempotent. */
  readonly close: Effect.Effect<void>
  /** Wait until the client is over; succeeds with the reason (`ClientClosed` after `close`). */
  readonly closed: Effect.Effect<NatsClientError>
}

const fromClient = (client: Client): NatsClientShape => {
  const afterPublish = (): Effect.Effect<void> => (client.congested ? client.idle.await : Effect.void)

  const publish: NatsClientShape["publish"] = (subject, payload, options) =>
    Effect.suspend(() => {
      const refused = client.publish(subject, payload, options?.reply, options?.headers)
      return refused === undefined ? afterPublish() : Effect.fail(refused)
    })

  const subscription: NatsClientShape["subscription"] = (subject, options) =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<NatsMessage, NatsClientError | Cause.Done>(client.pendingLimit)
      const sub = client.subscribe(subject, options, queue)
      if ("_tag" in sub) return yield* Effect.fail(sub)
      const unsubscribe = Effect.sync(() => client.unsubscribe(sub))
      yield* Effect.addFinalizer(() => unsubscribe)
      return { sid: sub.sid, subject, queue: sub.queue, messages: Stream.fromQueue(queue), unsubscribe }
    })

  const subscribe: NatsClientShape["subscribe"] = (subject, options) =>
    Stream.unwrap(Effect.map(subscription(subject, options), (s) => s.messages))

  const request: NatsClientShape["request"] = (subject, payload, options) =>
    Effect.suspend(() => {
      const started = client.request(subject, payload, options?.headers)
      if (!Array.isArray(started)) return Effect.fail(started as NatsClientError)
      const [reply, token] = started
      const timeout = Duration.fromInputUnsafe(options?.timeout ?? DEFAULT_REQUEST_TIMEOUT)
      return Deferred.await(reply).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new RequestTimeout({ subject, timeout }))
        }),
        Effect.ensuring(Effect.sync(() => client.forgetRequest(token)))
      )
    })

  /** PING/PONG on the current connection; while reconnecting, on the next one. */
  const roundTrip = (allowDraining: boolean): Effect.Effect<void, NatsClientError> =>
    Effect.suspend(() => {
      const refused = allowDraining ? client.terminal : client.check()
      if (refused !== undefined) return Effect.fail(refused)
      if (client.link === undefined) return Effect.andThen(client.connected.await, roundTrip(allowDraining))
      return Deferred.await(client.ping())
    })

  const flush: NatsClientShape["flush"] = () => roundTrip(false)

  // Graceful close, once: stop new work, let the writer send what is buffered, then end everything.
  const closeDone = Latch.makeUnsafe(false)
  const close: Effect.Effect<void> = Effect.suspend(() => {
    if (client.closing) return closeDone.await
    client.closing = true
    return Effect.gen(function*() {
      if (client.terminal === undefined) {
        if (client.link !== undefined) {
          client.link.wake.openUnsafe()
          yield* client.idle.await.pipe(Effect.timeoutOption(CLOSE_DRAIN))
        }
        client.terminate(new ClientClosed({ message: "the client was closed" }), true)
      }
      yield* Scope.close(client.scope, Exit.void)
    }).pipe(Effect.ensuring(closeDone.open), Effect.uninterruptible)
  })

  const drain: Effect.Effect<void> = Effect.suspend(() => {
    if (client.closing || client.draining || client.terminal !== undefined) return close
    client.draining = true
    client.unsubscribeAll()
    // After the PONG the server sends nothing more for the subscriptions; bounded by CLOSE_DRAIN.
    return roundTrip(true).pipe(
      Effect.timeoutOption(CLOSE_DRAIN),
      Effect.ignore,
      Effect.andThen(Effect.sync(() => client.endDrained())),
      Effect.andThen(close)
    )
  })

  const shape: NatsClientShape = {
    get server() {
      return client.current?.url ?? ""
    },
    info: Effect.sync(() => client.info!),
    servers: Effect.sync(() => client.pool.map((t) => t.url)),
    isConnected: Effect.sync(() => client.link !== undefined),
    // Ends with the `Closed` event (at once when the client is already over).
    status: Stream.unwrap(Effect.sync(() =>
      client.terminal === undefined
        ? Stream.fromPubSub(client.statusHub).pipe(Stream.takeUntil((e: ClientStatus) => e._tag === "Closed"))
        : Stream.make({ _tag: "Closed", error: client.terminal } as ClientStatus)
    )),
    publish,
    subscribe,
    subscription,
    request,
    flush,
    drain,
    close,
    closed: Deferred.await(client.ended)
  }
  client.replier = shape
  return shape
}

/**
 * Connect to the first server of `options.servers` that accepts us. The client lives in the
 * current scope and is closed gracefully with it.
 *
 * @since 0.1.0
 */
export const make = (options: NatsClientOptions): Effect.Effect<NatsClientShape, ConnectError, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const scope = yield* Scope.fork(parent)
    const statusHub = yield* PubSub.unbounded<ClientStatus>()
    const reconnect = options.reconnect ?? DEFAULT_RECONNECT
    const client = new Client(
      options,
      scope,
      pendingLimitOf(options),
      statusHub,
      reconnect !== false,
      Math.max(0, options.reconnectBufferSize ?? DEFAULT_RECONNECT_BUFFER)
    )
    const targets: Array<ServerTarget | { raw: string; reason: string }> = []
    for (const raw of options.servers) {
      const target = parseServer(raw)
      if (typeof target === "string") targets.push({ raw, reason: target })
      else if (client.addServer(target)) targets.push(target)
    }
    yield* connectRound(client, targets).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
    const shape = fromClient(client)
    if (reconnect !== false) yield* supervise(client, reconnect).pipe(Effect.forkIn(scope))
    // When the client is over (not by `close`), release the sockets and fibers at once.
    yield* Deferred.await(client.ended).pipe(
      Effect.andThen(Effect.suspend(() => client.closing ? Effect.void : Scope.close(scope, Exit.void))),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => shape.close)
    return shape
  })

/**
 * The client as a service: `NatsClient.layer(options)` connects when the layer is built and closes
 * when it is released; `NatsClient.make(options)` is the scoped constructor.
 *
 * @since 0.1.0
 */
export class NatsClient extends Context.Service<NatsClient, NatsClientShape>()("effect-nats-server/NatsClient") {
  /** Connects when the layer is built, closes when it is released. */
  static readonly layer = (options: NatsClientOptions): Layer.Layer<NatsClient, ConnectError> =>
    Layer.effect(NatsClient, make(options))
  /** Connect in the current scope (see the module doc). */
  static readonly make = make
}

/** The client's types, under the service's name (`NatsClient.Options`, …). */
export declare namespace NatsClient {
  export type Options = NatsClientOptions
  export type Shape = NatsClientShape
  export type Status = ClientStatus
  export type Sub = Subscription
  export type Publish = PublishOptions
  export type Subscribe = SubscribeOptions
  export type Request = RequestOptions
}
