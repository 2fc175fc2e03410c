/**
 * Accounts across a simulated three-node cluster (in-memory network, TestClock, seeded): the
 * broker's in-process API in named accounts. A stream import's shadow interest crosses the routes
 * in the exporter's account, a request through a service import is answered by a responder on
 * another node (the `_R_` wildcard is announced in the exporter), two accounts using the same
 * subjects never see each other's messages, and an unknown account is refused.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { SimulatedCluster } from "../../src/testing/index.js"

const ACCOUNTS = {
  accounts: [
    {
      name: "E",
      exports: [{ kind: "stream" as const, subject: "events.>" }, { kind: "service" as const, subject: "svc.>" }]
    },
    {
      name: "I",
      imports: [
        { kind: "stream" as const, account: "E", subject: "events.>", prefix: "e" },
        { kind: "service" as const, account: "E", subject: "svc.>" }
      ]
    },
    { name: "O" }
  ]
}

describe("SimulatedCluster with accounts", () => {
  it.effect("stream and service imports across routes; accounts stay apart", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedCluster.make({ seed: "accounts", nodes: 3, server: () => ACCOUNTS })
      expect(yield* sim.awaitMesh()).toBe(true)
      const n1 = sim.node("n1").broker!
      const n2 = sim.node("n2").broker!
      const n3 = sim.node("n3").broker!

      // I on n1 imports E's events; O on n3 uses the same subject names in its own space.
      const imported = yield* n1.subscription("e.events.>", { account: "I" })
      const other = yield* n3.subscription(">", { account: "O" })
      yield* sim.await(imported.propagated)
      yield* sim.await(other.propagated)
      // The shadow's interest reached n2 in E's account, not in I's.
      const e2 = sim.node("n2").internals!.core.router.lookup("E")!
      expect(e2.index.match("events.x").plain.length).toBe(1)
      expect(sim.node("n2").internals!.core.router.lookup("I")!.index.match("e.events.x").plain.length).toBe(1)

      yield* n2.publish("events.x", "hello", { account: "E" })
      yield* n2.publish("events.x", "not for I", { account: "O" })
      const got = yield* sim.await(Stream.runHead(imported.messages))
      expect(got._tag === "Some" && [got.value.subject, got.value.text()]).toEqual(["e.events.x", "hello"])

      // A responder in E on n3 answers I's requests made on n2.
      const responder = yield* n3.subscription("svc.>", { account: "E" })
      yield* sim.await(responder.propagated)
      const serving = yield* Effect.forkScoped(
        responder.messages.pipe(Stream.runForEach((m) => m.respond(`reply to ${m.subject} via ${m.reply!.slice(0, 4)}`)))
      )
      const answer = yield* sim.await(n2.request("svc.price", "tea", { account: "I", timeout: 5000 }))
      expect(answer.text()).toBe("reply to svc.price via _R_.")
      yield* Fiber.interrupt(serving)

      // O saw only its own message; a publish in $G reached nobody above.
      yield* n1.publish("events.x", "global")
      yield* sim.advance(100)
      yield* imported.unsubscribe
      yield* other.unsubscribe
      const seen = yield* Stream.runCollect(other.messages)
      expect(seen.map((m) => m.text())).toEqual(["not for I"])

      const refused = yield* Effect.exit(n1.publish("x", "y", { account: "nope" }))
      expect(Exit.isFailure(refused)).toBe(true)
    }).pipe(Effect.scoped))
})
