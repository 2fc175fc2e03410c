/**
 * Example: a service that embeds the broker and answers requests.
 *
 * The broker listens on 4222 for ordinary NATS clients; the service itself subscribes in-process
 * (no TCP hop) and answers `greet` requests. Try it with `effect-nats-server pub` or any client:
 *
 *   node dist/examples/embedded-service.js
 *   nats req greet Ada          # → hello, Ada
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Broker, NatsServer } from "../src/index.js"

/** The application's handler: pure, so it can be property-tested (see handler-property.test.ts). */
export const greet = (name: string): string => (name.trim() === "" ? "hello, stranger" : `hello, ${name.trim()}`)

/**
 * Answer every `greet` request with `greet(payload)`. `broker.subscription` registers the interest
 * before it returns, so the service answers as soon as the layer is built.
 */
export const GreetService = Layer.effectDiscard(
  Effect.gen(function*() {
    const broker = yield* Broker
    const requests = yield* broker.subscription("greet", { queue: "greeters" })
    yield* requests.messages.pipe(
      Stream.runForEach((msg) => (msg.reply === undefined ? Effect.void : msg.respond(greet(msg.text())))),
      Effect.forkScoped
    )
  })
)

const port = Number(process.env["PORT"] ?? 4222)

if (import.meta.url === `file://${process.argv[1]}`) {
  NodeRuntime.runMain(Layer.launch(GreetService.pipe(Layer.provide(NatsServer.layer({ port })))))
}
