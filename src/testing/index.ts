/**
 * `effect-nats-server/testing`: property-test NATS protocols and applications — fast-check
 * arbitraries for subjects, queues, headers and protocol ops (and arbitrarily chunked byte streams
 * of them), a reference model of delivery, and a server on an ephemeral port for a test scope.
 *
 * @since 0.1.0
 */
export * as Arbitraries from "./Arbitraries.js"
export * as Model from "./Model.js"
export { TestServer, type TestServerShape } from "./TestServer.js"
