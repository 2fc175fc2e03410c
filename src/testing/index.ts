/**
 * `effect-nats-server/testing`: property-test NATS protocols and applications — fast-check
 * arbitraries for subjects, queues, headers and protocol ops (and arbitrarily chunked byte streams
 * of them), a reference model of delivery, a server on an ephemeral port for a test scope, and a
 * deterministic simulated cluster (in-memory network, seeded faults, `TestClock`).
 *
 * @since 0.1.0
 */
export * as Arbitraries from "./Arbitraries.js"
export * as Model from "./Model.js"
export { TestServer, type TestServerShape } from "./TestServer.js"
export {
  SimulatedCluster,
  type SimulatedClusterOptions,
  type SimulatedClusterShape,
  type SimulatedNode
} from "./SimulatedCluster.js"
export { type LinkConditions, MemoryNetwork, type MemoryNetworkOptions, type NetworkEvent } from "../net/MemoryTransport.js"
export * as MemoryTransport from "../net/MemoryTransport.js"
export { SimulationStalled } from "./SimulatedCluster.js"
