/**
 * The broker from inside the process that runs it: `publish`, `subscribe` (a `Stream`) and
 * `request`, without a TCP hop. In-process subscribers and publishers are full citizens: their
 * interest is announced to routes like any client's, remote clients receive what they publish, and
 * they receive what remote clients publish.
 *
 * **Overflow policy.** A subscription buffers up to `bufferSize` messages (default 8192) that the
 * stream's consumer has not taken. The broker never waits for a consumer (that would stall every
 * publisher): when a message arrives for a full buffer, the subscription is removed and its stream
 * fails with `SlowConsumer` once the consumer has taken what was already buffered. Nothing is
 * dropped silently.
 *
 * Subjects, reply subjects and queue names are text here (UTF-8 on the wire); inside the broker
 * they are byte strings (`ByteString`), converted on the way in and out.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { InvalidArgument, NoResponders, RequestTimeout, SlowConsumer } from "../message/Errors.js"
import { Message, type NatsMessage, type Replier, type RespondOptions } from "../message/Message.js"
import { nuid } from "../message/Inbox.js"
import { headersArgument } from "../message/Arguments.js"
import { fromText, toText } from "../protocol/ByteString.js"
import { decodeHeaders, encodeHeaders, type HeadersInput } from "../protocol/Headers.js"
import { isValidLiteralSubject, isValidQueueName, isValidSubject } from "../subjects/Subject.js"
import type { Account } from "./Subscription.js"
import { type Publisher, StallSignal } from "./Router.js"
import type { ServerState } from "./ServerState.js"
import { LocalSubscription, type Subscriber } from "./Subscription.js"

export interface PublishOptions {
  readonly reply?: string | undefined
  /** A `Headers`, `[name, value]` pairs or a `{ name: value | values }` record. */
  readonly headers?: HeadersInput | undefined
  /** The account to publish in (one the server serves); default the global account `$G`. */
  readonly account?: string | undefined
}

export interface SubscribeOptions {
  readonly queue?: string | undefined
  /** Messages buffered for the consumer before the subscription fails (default 8192). */
  readonly bufferSize?: number | undefined
  /** The account to subscribe in (one the server serves); default the global account `$G`. */
  readonly account?: string | undefined
}

export interface RequestOptions {
  /** Default 2 seconds. */
  readonly timeout?: Duration.Input | undefined
  readonly headers?: HeadersInput | undefined
  /** The account to request in (one the server serves); default the global account `$G`. */
  readonly account?: string | undefined
}

/** The account an in-process operation names, or why not. */
const accountOf = (server: ServerState, name: string | undefined): Account | InvalidArgument => {
  if (name === undefined) return server.router.global
  const acc = typeof name === "string" ? server.router.lookup(name) : undefined
  return acc ?? new InvalidArgument({ message: `unknown account "${name}"` })
}

/** A live in-process subscription (see `Broker.subscription`). */
export interface InProcessSubscription {
  readonly subject: string
  readonly queue: string | undefined
  /** The messages; ends when the subscription ends (scope closed, `unsubscribe`, shutdown). Consume it once. */
  readonly messages: Stream.Stream<NatsMessage, SlowConsumer>
  /** Withdraw the interest now and end `messages` after what it buffered (also done when the scope closes). */
  readonly unsubscribe: Effect.Effect<void>
  /**
   * Wait until every route that is up when this runs has processed this subscription's interest
   * (a PING/PONG round trip on each route; immediate when there are none).
   */
  readonly propagated: Effect.Effect<void>
}

const toBytes = (payload: Uint8Array | string): Uint8Array => (typeof payload === "string" ? Buffer.from(payload, "utf8") : payload)

/** How long `propagated` waits for one route's PONG before giving up on it. */
const PROPAGATION_TIMEOUT = Duration.seconds(5)

/** A message as a subscriber keeps it: the payload is copied out of the publisher's read buffer. */
const toMessage = (subject: string, sid: string, reply: string | undefined, headerSize: number, payload: Uint8Array, replier: Replier | undefined): NatsMessage => {
  const bytes = Uint8Array.prototype.slice.call(payload) as Uint8Array
  subject = toText(subject)
  if (reply !== undefined) reply = toText(reply)
  if (headerSize < 0) return new Message(subject, sid, reply, undefined, undefined, undefined, bytes, replier)
  const h = decodeHeaders(bytes.subarray(0, headerSize))
  return new Message(subject, sid, reply, h.headers, h.status, h.description, bytes.subarray(headerSize), replier)
}

/** Answers messages of a subscription in another account than `$G` in that account. */
class AccountReplier implements Replier {
  constructor(
    private readonly api: InProcess,
    private readonly account: string
  ) {}

  publish(subject: string, payload: Uint8Array | string, options?: RespondOptions): Effect.Effect<void, InvalidArgument> {
    return this.api.publish(subject, payload, { ...options, account: this.account })
  }
}

/** Delivers into a bounded queue that a Stream reads. */
class StreamSubscriber implements Subscriber {
  readonly echo = true
  constructor(
    readonly cid: number,
    private readonly server: ServerState,
    private readonly replier: Replier,
    private readonly queue: Queue.Queue<NatsMessage, SlowConsumer | Cause.Done>,
    private readonly capacity: number
  ) {
    this.sid = String(cid)
  }

  /** Its subscription's sid (`String(cid)`), kept as a string: `LocalSubscription.sid` makes one per call. */
  private readonly sid: string

  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): void {
    if (Queue.offerUnsafe(this.queue, toMessage(subject, this.sid, reply, headerSize, buf.subarray(start, end), this.replier))) return
    this.server.router.stats.slowConsumers++
    this.server.router.removeLocal(sub)
    Queue.failCauseUnsafe(this.queue, Cause.fail(new SlowConsumer({ subject: toText(sub.subject), sid: sub.sid, pendingLimit: this.capacity })))
  }

  forget(): void {
    Queue.endUnsafe(this.queue)
  }
}

/** Completes a request with the first reply. */
class ReplySubscriber implements Subscriber {
  readonly echo = true
  constructor(
    readonly cid: number,
    private readonly reply: Deferred.Deferred<NatsMessage>
  ) {}

  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): void {
    Deferred.doneUnsafe(this.reply, Effect.succeed(toMessage(subject, sub.sid, reply, headerSize, buf.subarray(start, end), undefined)))
  }

  forget(): void {}
}

const checkPublish = (server: ServerState, subject: string, payload: Uint8Array, options: PublishOptions | undefined) => {
  if (typeof subject !== "string" || !isValidLiteralSubject(subject)) return new InvalidArgument({ message: `invalid publish subject "${subject}"` })
  if (options?.reply !== undefined && (typeof options.reply !== "string" || !isValidLiteralSubject(options.reply))) {
    return new InvalidArgument({ message: `invalid reply subject "${options.reply}"` })
  }
  if (typeof payload !== "object" || !(payload instanceof Uint8Array)) {
    return new InvalidArgument({ message: "payload must be a string or a Uint8Array" })
  }
  if (payload.length > server.options.maxPayload) {
    return new InvalidArgument({ message: `payload of ${payload.length} bytes exceeds max_payload ${server.options.maxPayload}` })
  }
  return undefined
}

/** The in-process API of one broker (the `Broker` service's operations). */
export class InProcess implements Replier {
  private readonly publisher: Publisher
  /** The in-process publisher's stall (see `StallSignal`), taken right after the batch that set it. */
  private readonly stall = new StallSignal()
  /** Open subscription streams, ended when the broker shuts down. */
  private readonly open = new Set<Queue.Queue<NatsMessage, SlowConsumer | Cause.Done>>()

  constructor(private readonly server: ServerState) {
    this.publisher = { cid: server.nextId(), echo: true }
  }

  /** Publish one message; returns once every local subscriber has it in its buffer. */
  publish(subject: string, payload: Uint8Array | string, options?: PublishOptions): Effect.Effect<void, InvalidArgument> {
    return Effect.suspend(() => {
      const delivered = this.route(subject, toBytes(payload), options)
      if (typeof delivered !== "number") return Effect.fail(delivered)
      // Like a client, an in-process publisher waits while a connection it feeds is backlogged.
      return this.stall.take()
    })
  }

  /** Route a message; the number of deliveries (local + routes), or why it was refused. */
  private route(subject: string, body: Uint8Array, options: PublishOptions | undefined): number | InvalidArgument {
    const bad = checkPublish(this.server, subject, body, options)
    if (bad !== undefined) return bad
    const account = accountOf(this.server, options?.account)
    if (account instanceof InvalidArgument) return account
    const headers = headersArgument(options?.headers)
    if (headers instanceof InvalidArgument) return headers
    let payload = body
    let headerSize = -1
    if (headers !== undefined) {
      const block = encodeHeaders(headers)
      headerSize = block.length
      payload = Buffer.concat([block, body])
    }
    const router = this.server.router
    const reply = options?.reply === undefined ? undefined : fromText(options.reply)
    const delivered = router.publishLocal(this.publisher, fromText(subject), reply, headerSize, payload, account)
    router.flush(this.stall)
    return delivered
  }

  /**
   * Messages on `subject` (wildcards allowed) for as long as the stream runs; the interest is
   * withdrawn when it ends. With `queue`, one member of the group across the cluster gets each.
   */
  subscribe(subject: string, options?: SubscribeOptions): Stream.Stream<NatsMessage, InvalidArgument | SlowConsumer> {
    return Stream.unwrap(Effect.map(this.subscription(subject, options), (s) => s.messages))
  }

  /**
   * Subscribe now: when this Effect succeeds the interest is registered — local publishers and
   * clients reach it, and the RS+ for it has been handed to every route that is up (await
   * `propagated` to know the peers processed it). The interest is withdrawn when the scope closes.
   */
  subscription(subject: string, options?: SubscribeOptions): Effect.Effect<InProcessSubscription, InvalidArgument, Scope.Scope> {
    const server = this.server
    const open = this.open
    const self = this
    return Effect.gen(function*() {
      if (typeof subject !== "string" || !isValidSubject(subject)) return yield* Effect.fail(new InvalidArgument({ message: `invalid subject "${subject}"` }))
      if (options?.queue !== undefined && (typeof options.queue !== "string" || !isValidQueueName(options.queue))) {
        return yield* Effect.fail(new InvalidArgument({ message: `invalid queue name "${options.queue}"` }))
      }
      const account = accountOf(server, options?.account)
      if (account instanceof InvalidArgument) return yield* Effect.fail(account)
      const capacity = Math.max(1, options?.bufferSize ?? 8192)
      const queue = yield* Queue.bounded<NatsMessage, SlowConsumer | Cause.Done>(capacity)
      const cid = server.nextId()
      const group = options?.queue === undefined ? undefined : fromText(options.queue)
      const sub = new LocalSubscription(
        new StreamSubscriber(cid, server, account === server.router.global ? self : new AccountReplier(self, account.name), queue, capacity),
        fromText(subject),
        group,
        String(cid),
        account
      )
      const remove = Effect.sync(() => {
        open.delete(queue)
        server.router.removeLocal(sub) // idempotent
        server.router.flush()
        Queue.endUnsafe(queue)
      })
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          server.router.addLocal(sub)
          // The RS+ (if any) goes out now, not with some later batch.
          server.router.flush()
          open.add(queue)
        }),
        () => remove
      )
      const propagated = Effect.suspend(() => server.cluster?.roundTrip(PROPAGATION_TIMEOUT) ?? Effect.void)
      return { subject, queue: options?.queue, messages: Stream.fromQueue(queue), unsubscribe: remove, propagated }
    })
  }

  /** The broker is shutting down: every subscription stream ends (after what it buffered). */
  shutdown(): void {
    for (const queue of this.open) Queue.endUnsafe(queue)
    this.open.clear()
  }

  /**
   * Send a request and wait for the first reply. Fails with `NoResponders` at once when nothing in
   * the cluster is interested, and with `RequestTimeout` when no reply comes in time.
   */
  request(
    subject: string,
    payload: Uint8Array | string,
    options?: RequestOptions
  ): Effect.Effect<NatsMessage, InvalidArgument | NoResponders | RequestTimeout> {
    const timeout = Duration.fromInputUnsafe(options?.timeout ?? 2000)
    const server = this.server
    const self = this
    return Effect.gen(function*() {
      const account = accountOf(server, options?.account)
      if (account instanceof InvalidArgument) return yield* Effect.fail(account)
      const inbox = `_INBOX.${nuid()}`
      const reply = Deferred.makeUnsafe<NatsMessage>()
      const sub = new LocalSubscription(new ReplySubscriber(server.nextId(), reply), inbox, undefined, "1", account)
      sub.max = 1
      yield* Effect.acquireRelease(
        Effect.sync(() => server.router.addLocal(sub)),
        () => Effect.sync(() => server.router.removeLocal(sub))
      )
      const delivered = self.route(subject, toBytes(payload), { reply: inbox, headers: options?.headers, account: options?.account })
      if (typeof delivered !== "number") return yield* Effect.fail(delivered)
      if (delivered === 0) return yield* Effect.fail(new NoResponders({ subject }))
      // Like `publish`: wait while a connection the request fed is backlogged.
      yield* self.stall.take()
      return yield* Deferred.await(reply).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () => Effect.fail(new RequestTimeout({ subject, timeout }))
        })
      )
    }).pipe(Effect.scoped)
  }
}

/** The in-process API of the running broker (internal; the public face is `Broker`). */
export class InProcessApi extends Context.Service<InProcessApi, InProcess>()("effect-nats-server/InProcessApi") {}
