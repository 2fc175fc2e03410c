/**
 * effect-nats-server: a NATS-compatible broker on Effect.
 *
 * - `NatsServer.layer(options)` — the broker as a scoped Layer (clients, cluster, monitor).
 * - `Broker` — the running broker, operations only: its client `address`, and `publish`,
 *   `subscription` (scoped, live when it returns), `subscribe` (a Stream) and `request` from inside
 *   the process, as first-class members of the cluster.
 * - `NatsClient` — an Effect-native, cluster-aware NATS client over TCP (`NatsClient.layer`,
 *   `NatsClient.make`), for this broker or any nats-server.
 * - `Parser`, `Encoder`, `Op`, `Subject` — the protocol itself, pure, for property tests.
 * - `effect-nats-server/testing` — arbitraries, a reference model and a test server.
 *
 * @since 0.1.0
 */
export * as NatsServer from "./NatsServer.js"
export { Broker } from "./server/Broker.js"
export type { InProcessSubscription, PublishOptions, RequestOptions, SubscribeOptions } from "./server/InProcess.js"
export { decodeServerOptions, ServerOptions, type ServerOptionsInput } from "./config/ServerOptions.js"
export {
  type ClientStatus,
  NatsClient,
  type NatsClientOptions,
  type NatsClientShape,
  newInbox,
  type PublishOptions as ClientPublishOptions,
  type RequestOptions as ClientRequestOptions,
  type SubscribeOptions as ClientSubscribeOptions,
  type Subscription as ClientSubscription
} from "./client/NatsClient.js"
export type { NatsServerError } from "./NatsServer.js"
export { ListenError } from "./net/Listener.js"
export { DialError } from "./net/Dial.js"
export { type Listener, PeerAddress, Transport, type TransportShape } from "./net/Transport.js"
export { MonitorListenError } from "./monitor/Monitor.js"
export { TlsConfigError } from "./net/Tls.js"
export { LogError } from "./log/Log.js"
export { InvalidOptions } from "./config/OptionsError.js"
export * from "./message/Errors.js"
export { Message, type NatsMessage, type RespondOptions, type ServerInfo } from "./message/Message.js"
export { decodeHeaders, encodeHeaders, Headers, type HeadersInput } from "./protocol/Headers.js"
export { Log } from "./log/Log.js"
export * as Parser from "./protocol/Parser.js"
export * as Encoder from "./protocol/Encoder.js"
export type * as Op from "./protocol/Op.js"
export { ProtocolError as ProtocolViolation, ErrText } from "./protocol/ProtocolError.js"
export * as Subject from "./subjects/Subject.js"
