/**
 * The `Broker` service: a running broker as an application sees it — publish, subscribe and
 * request from inside the process (as first-class members of the cluster), and the address
 * clients reach it on. Nothing in it is mutable; the server's state stays internal
 * (`ServerCore`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { InvalidArgument, NoResponders, RequestTimeout, SlowConsumer } from "../message/Errors.js"
import type { NatsMessage } from "../message/Message.js"
import { type InProcessSubscription, InProcessApi, type PublishOptions, type RequestOptions, type SubscribeOptions } from "./InProcess.js"
import { ServerCore } from "./ServerCore.js"

export class Broker extends Context.Service<Broker, {
  /** The bound client listener address (`host` as configured, `port` as bound). */
  readonly address: { readonly host: string; readonly port: number }
  /** Publish from inside the process: local subscribers, remote clients and routes get it. */
  readonly publish: (subject: string, payload: Uint8Array | string, options?: PublishOptions) => Effect.Effect<void, InvalidArgument>
  /** Subscribe from inside the process; the interest lasts as long as the stream runs. */
  readonly subscribe: (subject: string, options?: SubscribeOptions) => Stream.Stream<NatsMessage, InvalidArgument | SlowConsumer>
  /**
   * Subscribe now: the interest is registered when this succeeds (and withdrawn with the scope);
   * `propagated` waits until the routes that are up have processed it.
   */
  readonly subscription: (subject: string, options?: SubscribeOptions) => Effect.Effect<InProcessSubscription, InvalidArgument, Scope.Scope>
  /** Request/reply from inside the process, with no-responders and a timeout. */
  readonly request: (
    subject: string,
    payload: Uint8Array | string,
    options?: RequestOptions
  ) => Effect.Effect<NatsMessage, InvalidArgument | NoResponders | RequestTimeout>
}>()("effect-nats-server/Broker") {
  /** The broker's operations over a server whose client listener is bound (build it after `ClientListener.layer`). */
  static readonly make: Effect.Effect<(typeof Broker)["Service"], never, ServerCore | InProcessApi> = Effect.gen(function*() {
    const core = yield* ServerCore
    const api = yield* InProcessApi
    const bound = core.listen
    if (bound === undefined) return yield* Effect.die(new Error("Broker.make: the client listener is not bound yet"))
    const address = { host: bound.host, port: bound.port } as const
    return Broker.of({
      address,
      publish: (subject, payload, options) => api.publish(subject, payload, options),
      subscribe: (subject, options) => api.subscribe(subject, options),
      subscription: (subject, options) => api.subscription(subject, options),
      request: (subject, payload, options) => api.request(subject, payload, options)
    })
  })

  static readonly layer: Layer.Layer<Broker, never, ServerCore | InProcessApi> = Layer.effect(Broker, Broker.make)
}
