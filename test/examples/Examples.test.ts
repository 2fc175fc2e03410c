/**
 * The examples run as tests: the embedded greeting service answers real clients, the three-node
 * cluster in one process delivers across routes, and a property test of the example's handler —
 * the pattern the testing kit is for: generate inputs with the kit's arbitraries, drive the app
 * through a real broker, compare with a model.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { connect } from "@nats-io/transport-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import { greet, GreetService } from "../../examples/embedded-service.js"
import { main as clusterExample } from "../../examples/cluster-in-one-process.js"
import { Broker, NatsClient, NatsServer } from "../../src/index.js"
import { Arbitraries } from "../../src/testing/index.js"
import { freePort } from "../support/servers.js"

const app = GreetService.pipe(Layer.provideMerge(NatsServer.layer({ host: "127.0.0.1", port: -1 })))

layer(app)("the embedded greeting service", (it) => {
  it.effect("answers a real nats.js client", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const nc = yield* Effect.acquireRelease(
        Effect.promise(() => connect({ servers: `nats://127.0.0.1:${broker.address.port}` })),
        (nc) => Effect.promise(() => nc.close())
      )
      const reply = yield* Effect.promise(() => nc.request("greet", new TextEncoder().encode("Ada"), { timeout: 2000 }))
      expect(new TextDecoder().decode(reply.data)).toBe("hello, Ada")
    }).pipe(Effect.scoped))

  it.effect("property: for any name, a request over TCP gets exactly greet(name)", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const client = yield* NatsClient.make({ servers: [`nats://127.0.0.1:${broker.address.port}`] })
      // Names: any unicode text, including what the kit generates for subjects and headers.
      const name = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), Arbitraries.subject, fc.constant("   "))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(name, async (n) => {
            const reply = await Effect.runPromise(client.request("greet", n, { timeout: 2000 }))
            expect(reply.text()).toBe(greet(n))
            expect(reply.text().startsWith("hello, ")).toBe(true)
          }),
          { numRuns: 100 }
        )
      )
    }).pipe(Effect.scoped))
})

describe("the three-node cluster in one process", () => {
  it.live("delivers a message published on C to a subscriber on A", () =>
    Effect.gen(function*() {
      const [a, b, c, ca, cb, cc] = yield* Effect.promise(() => Promise.all(Array.from({ length: 6 }, freePort)))
      const text = yield* clusterExample({ a: a!, b: b!, c: c!, ca: ca!, cb: cb!, cc: cc! })
      expect(text).toBe("from C")
    }), 20_000)
})
