/**
 * Example: a three-node cluster in one process, composed from Layers.
 *
 * Each node is a `NatsServer.layer` with its own ports, built into one scope; B and C know only
 * A's route URL and find each other by gossip, exactly as separate processes would. A subscriber
 * on A receives what is published on C, one hop away. Closing the scope stops all three.
 *
 *   node dist/examples/cluster-in-one-process.js
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Broker, NatsServer } from "../src/index.js"

/** One node as a Layer: client port, route port, and the seed it dials (if any). */
export const nodeLayer = (name: string, port: number, clusterPort: number, seed?: number) =>
  NatsServer.layer({
    serverName: name,
    host: "127.0.0.1",
    port,
    cluster: { name: "example", host: "127.0.0.1", port: clusterPort, routes: seed === undefined ? [] : [`nats://127.0.0.1:${seed}`] }
  })

/** Build a node in the current scope and hand back its broker. */
const start = (layer: Layer.Layer<Broker, unknown>) => Effect.map(Layer.build(layer), Context.get(Broker))

export const main = (ports = { a: 4301, b: 4302, c: 4303, ca: 6301, cb: 6302, cc: 6303 }) =>
  Effect.scoped(
    Effect.gen(function*() {
      const a = yield* start(nodeLayer("A", ports.a, ports.ca))
      const b = yield* start(nodeLayer("B", ports.b, ports.cb, ports.ca))
      const c = yield* start(nodeLayer("C", ports.c, ports.cc, ports.ca))
      const received = yield* a.subscribe("demo.hello").pipe(Stream.take(1), Stream.runCollect, Effect.forkScoped)
      // The mesh forms and A's interest reaches C over the route; publish until it has.
      while (received.pollUnsafe() === undefined) {
        yield* c.publish("demo.hello", "from C")
        yield* Effect.sleep("10 millis")
      }
      const [message] = yield* Fiber.join(received)
      yield* Effect.log(`A received "${message!.text()}" published on C`)
      return message!.text()
    })
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(main()).then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
