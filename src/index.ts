/**
 * effect-nats-server: a NATS-compatible broker on Effect.
 *
 * - `NatsServer.layer(options)` — the broker as a scoped Layer (clients, cluster, monitor).
 * - `Broker` — the running broker; `publish`, `subscribe` (a Stream) and `request` from inside the
 *   process, as first-class members of the cluster.
 * - `NatsClient` — a small Effect-native NATS client over TCP, for this broker or any nats-server.
 * - `Parser`, `Encoder`, `Op`, `Subject` — the protocol itself, pure, for property tests.
 * - `effect-nats-server/testing` — arbitraries, a reference model and a test server.
 *
 * @since 0.1.0
 */
export * as NatsServer from "./NatsServer.js"
export { Broker } from "./server/Broker.js"
export type { ServerState } from "./server/ServerState.js"
export type { InProcessSubscription, PublishOptions, RequestOptions, SubscribeOptions } from "./server/InProcess.js"
export { decodeServerOptions, ServerOptions, type ServerOptionsInput } from "./config/ServerOptions.js"
export * as NatsClient from "./client/NatsClient.js"
export * from "./client/Errors.js"
export { Message, type NatsMessage, type ServerInfo } from "./client/Message.js"
export { decodeHeaders, encodeHeaders, Headers, type HeadersInput } from "./protocol/Headers.js"
export { Log } from "./log/Log.js"
export * as Parser from "./protocol/Parser.js"
export * as Encoder from "./protocol/Encoder.js"
export type * as Op from "./protocol/Op.js"
export { ProtocolError as ProtocolViolation, ErrText } from "./protocol/ProtocolError.js"
export * as Subject from "./subjects/Subject.js"
