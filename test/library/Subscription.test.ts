/**
 * In-process subscriptions are live when `subscription` returns: the README's service answers the
 * very first request after its layer is built, locally and over TCP; `propagated` waits until the
 * cluster's routes have the interest, so a request through another member right after it succeeds.
 * Nothing here waits on the broker's internals.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { greet, GreetService } from "../../examples/embedded-service.js"
import { nodeLayer } from "../../examples/cluster-in-one-process.js"
import { Cluster } from "../../src/cluster/Cluster.js"
import { Broker, NatsClient, NatsServer } from "../../src/index.js"
import { freePort } from "../support/servers.js"

describe("in-process subscriptions are live when they return", () => {
  it.live("the greeting service answers the first request made right after its layer is built", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 5; round++) {
        yield* Effect.gen(function*() {
          const context = yield* Layer.build(GreetService.pipe(Layer.provideMerge(NatsServer.layer({ host: "127.0.0.1", port: -1 }))))
          const broker = Context.get(context, Broker)
          // No waiting of any kind between the layer and the requests.
          const local = yield* broker.request("greet", "Ada", { timeout: 2000 })
          expect(local.text()).toBe(greet("Ada"))
          const client = yield* NatsClient.make({ servers: [`nats://127.0.0.1:${broker.address.port}`] })
          const remote = yield* client.request("greet", "Bob", { timeout: 2000 })
          expect(remote.text()).toBe(greet("Bob"))
        }).pipe(Effect.scoped)
      }
    }), 30_000)

  it.live("a publish right after subscription returns is received; unsubscribe ends the stream", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(NatsServer.layer({ host: "127.0.0.1", port: -1 }))
      const broker = Context.get(context, Broker)
      const sub = yield* broker.subscription("now.*")
      yield* broker.publish("now.1", "one", { headers: { "X-N": "1" } })
      yield* sub.unsubscribe
      yield* broker.publish("now.2", "two")
      const got = yield* sub.messages.pipe(Stream.runCollect)
      expect(got.map((m) => [m.subject, m.text(), m.headers?.get("X-N")])).toEqual([["now.1", "one", "1"]])
      // Bad arguments fail with InvalidArgument, also when they bypass the types.
      const bad = yield* Effect.exit(broker.publish("now.x", "x", { headers: { "X-N": 1 } as never }))
      expect(Exit.isFailure(bad) && JSON.stringify(bad.cause)).toContain("InvalidArgument")
      const badSub = yield* Effect.flip(broker.subscription("a..b"))
      expect(badSub._tag).toBe("InvalidArgument")
    }).pipe(Effect.scoped))

  it.live("propagated: once it returns, a request through another cluster member reaches the subscriber", () =>
    Effect.gen(function*() {
      const [a, b, ca, cb] = yield* Effect.promise(() => Promise.all(Array.from({ length: 4 }, freePort)))
      const contextA = yield* Layer.build(nodeLayer("A", a!, ca!))
      const A = Context.get(contextA, Broker)
      // Internal: A's own view of its routes.
      const clusterA = Option.getOrThrow(Context.getOption(contextA, Cluster))
      const B = Context.get(yield* Layer.build(nodeLayer("B", b!, cb!, ca)), Broker)
      const client = yield* NatsClient.make({ servers: [`nats://127.0.0.1:${b}`] })
      // Wait for the route (what "once routes are up" means), through the public client API:
      // B announces A's client URL once the route is registered.
      while (!((yield* client.info).connect_urls ?? []).includes(`127.0.0.1:${a}`)) yield* Effect.sleep("20 millis")
      while (clusterA.routes.size < 1) yield* Effect.sleep("20 millis")
      for (let i = 0; i < 20; i++) {
        yield* Effect.gen(function*() {
          const sub = yield* A.subscription(`svc.${i}`)
          yield* sub.messages.pipe(Stream.runForEach((m) => m.respond(`ok ${i}`)), Effect.forkScoped)
          yield* sub.propagated
          // In-process on B: without `propagated` this would be NoResponders (the RS+ still travelling).
          const onB = yield* B.request(`svc.${i}`, "?", { timeout: 2000 })
          expect(onB.text()).toBe(`ok ${i}`)
          const reply = yield* client.request(`svc.${i}`, "?", { timeout: 2000 })
          expect(reply.text()).toBe(`ok ${i}`)
        }).pipe(Effect.scoped)
      }
    }).pipe(Effect.scoped), 30_000)
})
