/**
 * The library side: `NatsServer.layer` composed into a test Layer, the in-process `Broker` API
 * talking to a real `@nats-io/transport-node` client both ways, and shutdown by scope.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { connect, headers as natsHeaders } from "@nats-io/transport-node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Broker, Headers, NatsClient, NatsServer } from "../../src/index.js"
import { ServerCore } from "../../src/server/ServerCore.js"
import { waitUntil } from "../support/wait.js"

const dec = new TextDecoder()
const enc = new TextEncoder()

/** A real nats.js client for the length of the test's scope. */
const natsClient = (url: string) =>
  Effect.acquireRelease(Effect.promise(() => connect({ servers: url })), (nc) => Effect.promise(() => nc.close()))

const urlOf = Effect.map(Effect.service(Broker), (b) => `nats://127.0.0.1:${b.address.port}`)

/** Wait until the broker has `n` subscriptions on `subject` (a stream's SUB is registered when it starts). */
const interest = (subject: string, n: number) =>
  Effect.gen(function*() {
    // Internal: the server's router (the layer's context holds it beside the public Broker).
    const core = Option.getOrThrow(yield* Effect.serviceOption(ServerCore))
    yield* Effect.promise(() => waitUntil(`${n} subscriptions on ${subject}`, () => core.router.index.match(subject).plain.length === n))
  })

layer(NatsServer.layer({ host: "127.0.0.1", port: -1 }))("an embedded broker", (it) => {
  it.effect("an in-process subscriber receives what a real client publishes", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const nc = yield* natsClient(yield* urlOf)
      const got = yield* broker.subscribe("orders.*").pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* interest("orders.new", 1)
      const h = natsHeaders()
      h.set("X-Id", "7")
      nc.publish("orders.new", enc.encode("first"), { headers: h })
      nc.publish("orders.old", enc.encode("second"))
      const msgs = yield* Fiber.join(got)
      expect(msgs.map((m) => [m.subject, m.text()])).toEqual([["orders.new", "first"], ["orders.old", "second"]])
      expect(msgs[0]!.headers?.get("X-Id")).toBe("7")
    }).pipe(Effect.scoped))

  it.effect("a real client receives what the process publishes", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const nc = yield* natsClient(yield* urlOf)
      const sub = nc.subscribe("events.>", { max: 1 })
      yield* Effect.promise(() => nc.flush())
      yield* broker.publish("events.created", "hello", { headers: Headers.make({ "X-Kind": "created" }) })
      const received = yield* Effect.promise(async () => {
        for await (const m of sub) return m
        throw new Error("no message")
      })
      expect(dec.decode(received.data)).toBe("hello")
      expect(received.headers?.get("X-Kind")).toBe("created")
    }).pipe(Effect.scoped))

  it.effect("request/reply both ways, and no-responders from inside", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const nc = yield* natsClient(yield* urlOf)
      // A service in the process, answering a real client.
      yield* broker.subscribe("svc.upper").pipe(
        Stream.runForEach((m) => m.reply === undefined ? Effect.void : broker.publish(m.reply, m.text().toUpperCase())),
        Effect.forkScoped
      )
      yield* interest("svc.upper", 1)
      const r = yield* Effect.promise(() => nc.request("svc.upper", enc.encode("abc"), { timeout: 2000 }))
      expect(dec.decode(r.data)).toBe("ABC")
      // A service in the real client, asked from the process.
      const svc = nc.subscribe("svc.len")
      void (async () => {
        for await (const m of svc) m.respond(enc.encode(String(m.data.length)))
      })()
      yield* Effect.promise(() => nc.flush())
      const answer = yield* broker.request("svc.len", "four", { timeout: 2000 })
      expect(answer.text()).toBe("4")
      const none = yield* Effect.flip(broker.request("svc.nobody", "x"))
      expect(none._tag).toBe("NoResponders")
    }).pipe(Effect.scoped))

  it.effect("bad arguments fail with typed errors", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      expect((yield* Effect.flip(broker.publish("bad..subject", "x")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(broker.publish("wild.*", "x")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(Stream.runDrain(broker.subscribe("a..b"))))._tag).toBe("InvalidArgument")
    }))
})

describe("scope", () => {
  it.effect("closing the server's scope stops the server and ends in-process streams", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(NatsServer.layer({ host: "127.0.0.1", port: -1 }), scope)
      const broker = Context.get(context, Broker)
      const port = broker.address.port
      const stream = yield* broker.subscribe("forever").pipe(Stream.runCollect, Effect.forkChild)
      const core = Option.getOrThrow(Context.getOption(context, ServerCore))
      yield* Effect.promise(() => waitUntil("subscribed", () => core.router.index.match("forever").plain.length === 1))
      yield* Scope.close(scope, Exit.void)
      // The stream ends (it does not hang) and the port no longer accepts clients.
      const collected = yield* Fiber.join(stream)
      expect(collected).toHaveLength(0)
      const refused = yield* Effect.promise(() => connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false, timeout: 1000 }).then(() => false, () => true))
      expect(refused).toBe(true)
    }))
})

describe("the Effect NatsClient against the embedded broker", () => {
  it.effect("talks to NatsServer.layer in the same Layer graph", () =>
    Effect.gen(function*() {
      const broker = yield* Broker
      const client = yield* NatsClient.make({ servers: [`nats://127.0.0.1:${broker.address.port}`] })
      yield* broker.subscribe("tcp.echo").pipe(
        Stream.runForEach((m) => (m.reply === undefined ? Effect.void : broker.publish(m.reply, `echo:${m.text()}`))),
        Effect.forkScoped
      )
      yield* interest("tcp.echo", 1)
      const reply = yield* client.request("tcp.echo", "hi")
      expect(reply.text()).toBe("echo:hi")
    }).pipe(Effect.scoped, Effect.provide(NatsServer.layer({ host: "127.0.0.1", port: -1 }))))
})
