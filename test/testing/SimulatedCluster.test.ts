/**
 * `SimulatedCluster`: three brokers on the in-memory network, on `TestClock`, faults from a seed.
 *
 * The properties, over random fault schedules (cuts, black holes, heals, kills, restarts, lossy
 * links) and a
 * publishing workload (in-process publishers on every node, a plain and a queue subscriber on
 * every node):
 * - no duplicates: no subscriber gets a message twice; no queue group gets it twice;
 * - no invention: every delivery was published;
 * - no loss outside partitions: a message is *required* at a subscriber on node B when, at the
 *   moment it was published on node A, either A = B, or A had B's interest on an open route to B
 *   — and that route connection is still open, and the subscriber still subscribed, at the end of
 *   the run (so the path was whole from the publish until delivery). Required messages arrive
 *   exactly once;
 * - the mesh re-forms: once everything is healed and restarted, every server routes to every
 *   other within 30 s of simulated time;
 * - replay: the same seed and schedule give the same trace, byte for byte.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import type { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { SimulatedCluster, type SimulatedClusterShape } from "../../src/testing/index.js"

const SUBJECT = "sim.x"

type Step =
  | { readonly _tag: "publish"; readonly node: number; readonly count: number }
  | { readonly _tag: "cut"; readonly a: number; readonly b: number }
  | { readonly _tag: "heal"; readonly a: number; readonly b: number }
  | { readonly _tag: "blackhole"; readonly a: number; readonly b: number }
  | { readonly _tag: "kill"; readonly node: number }
  | { readonly _tag: "restart"; readonly node: number }
  | { readonly _tag: "drops"; readonly rate: number }
  | { readonly _tag: "advance"; readonly ms: number }

const NODES = 3
const node = fc.integer({ min: 1, max: NODES })
const pair = fc.tuple(node, node).filter(([a, b]) => a !== b)
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("publish" as const), node, count: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: pair.map(([a, b]) => ({ _tag: "cut" as const, a, b })) },
  { weight: 2, arbitrary: pair.map(([a, b]) => ({ _tag: "heal" as const, a, b })) },
  { weight: 1, arbitrary: pair.map(([a, b]) => ({ _tag: "blackhole" as const, a, b })) },
  { weight: 1, arbitrary: node.map((n) => ({ _tag: "kill" as const, node: n })) },
  { weight: 1, arbitrary: node.map((n) => ({ _tag: "restart" as const, node: n })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0.02, 0.1).map((rate) => ({ _tag: "drops" as const, rate })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 1500 }).map((ms) => ({ _tag: "advance" as const, ms })) }
)
const schedule = fc.array(step, { minLength: 1, maxLength: 20 })

interface Required {
  readonly msg: string
  readonly sub: string
  /** The route the message left on (undefined: local delivery). */
  readonly route: RouteConnection | undefined
}

interface Outcome {
  readonly trace: string
  readonly published: ReadonlySet<string>
  readonly deliveries: ReadonlyArray<{ readonly sub: string; readonly msg: string }>
  readonly required: ReadonlyArray<Required>
  readonly alive: ReadonlySet<string>
  readonly meshReformed: boolean
}

/** Subscribe on node `name` (this incarnation): a plain and a queue subscriber on `sim.>`. */
const subscribe = (sim: SimulatedClusterShape, name: string, deliveries: Array<{ sub: string; msg: string }>, alive: Set<string>) =>
  Effect.gen(function*() {
    const n = sim.node(name)
    const scope = n.scope!
    for (const queue of [undefined, "workers"]) {
      const id = `${name}#${n.incarnation}${queue === undefined ? "" : `/${queue}`}`
      const sub = yield* n.broker!.subscription("sim.>", queue === undefined ? {} : { queue }).pipe(Effect.provideService(Scope.Scope, scope))
      alive.add(id)
      yield* sub.messages.pipe(
        Stream.runForEach((m) =>
          Effect.gen(function*() {
            deliveries.push({ sub: id, msg: m.text() })
            yield* sim.record(`deliver ${m.text()} -> ${id}`)
          })
        ),
        Effect.ensuring(Effect.sync(() => alive.delete(id))),
        Effect.forkIn(scope)
      )
    }
  })

const runSchedule = (seed: number, steps: ReadonlyArray<Step>) =>
  // ping_interval 2 s, so that a black hole is found stale within a schedule (3 unanswered PINGs).
  SimulatedCluster.runPromise({ seed, nodes: NODES, server: () => ({ pingInterval: 2_000 }) }, (sim) =>
    Effect.gen(function*() {
      const deliveries: Array<{ sub: string; msg: string }> = []
      const alive = new Set<string>()
      const published = new Set<string>()
      const required: Array<Required> = []
      const name = (i: number) => sim.names[i - 1]!
      for (const n of sim.names) yield* subscribe(sim, n, deliveries, alive)
      expect(yield* sim.awaitMesh()).toBe(true)
      yield* sim.advance(50)

      let next = 0
      for (const s of steps) {
        switch (s._tag) {
          case "publish": {
            const from = sim.node(name(s.node))
            if (from.broker === undefined) break
            for (let k = 0; k < s.count; k++) {
              const msg = `m${next++}`
              // What the path looks like now: which remote nodes' interest A has, on which route.
              for (const b of sim.names) {
                const to = sim.node(b)
                if (to.broker === undefined || !alive.has(`${b}#${to.incarnation}`)) continue
                const sub = `${b}#${to.incarnation}`
                if (b === from.name) {
                  required.push({ msg, sub, route: undefined })
                  continue
                }
                const interest = from.internals!.core.router.index.match(SUBJECT).plain.find((i) =>
                  i.remote && (i.route as RouteConnection).remoteId === to.internals!.core.serverId && !(i.route as RouteConnection).closing
                )
                if (interest !== undefined && interest.remote) required.push({ msg, sub, route: interest.route as RouteConnection })
              }
              published.add(msg)
              yield* sim.record(`publish ${msg} at ${from.name}`)
              yield* from.broker.publish(SUBJECT, msg)
            }
            break
          }
          case "cut":
            yield* sim.cut(name(s.a), name(s.b))
            break
          case "heal":
            yield* sim.heal(name(s.a), name(s.b))
            break
          case "blackhole":
            yield* sim.blackhole(name(s.a), name(s.b))
            break
          case "kill":
            yield* sim.kill(name(s.node))
            break
          case "restart":
            if (!sim.node(name(s.node)).up) {
              yield* sim.restart(name(s.node))
              yield* subscribe(sim, name(s.node), deliveries, alive)
            }
            break
          case "drops":
            sim.setDropRate(s.rate)
            break
          case "advance":
            yield* sim.advance(s.ms)
            break
        }
      }
      // Calm: no more faults; everything in flight arrives; the mesh must re-form.
      sim.setDropRate(0)
      yield* sim.healAll()
      for (const n of sim.names) {
        if (!sim.node(n).up) {
          yield* sim.restart(n)
          yield* subscribe(sim, n, deliveries, alive)
        }
      }
      const meshReformed = yield* sim.awaitMesh(30_000)
      yield* sim.advance(1000)
      const outcome: Outcome = {
        trace: sim.trace.join("\n"),
        published,
        deliveries: [...deliveries],
        required: required.filter((r) => (r.route === undefined || !r.route.closing) && alive.has(r.sub)),
        alive: new Set(alive),
        meshReformed
      }
      return outcome
    }))

const check = (o: Outcome) => {
  const seen = new Map<string, number>()
  const byGroup = new Map<string, number>()
  for (const d of o.deliveries) {
    expect(o.published.has(d.msg), `delivered but never published: ${d.msg}`).toBe(true)
    const k = `${d.sub} ${d.msg}`
    seen.set(k, (seen.get(k) ?? 0) + 1)
    if (d.sub.endsWith("/workers")) byGroup.set(d.msg, (byGroup.get(d.msg) ?? 0) + 1)
  }
  for (const [k, n] of seen) expect(n, `duplicate delivery ${k}`).toBe(1)
  for (const [m, n] of byGroup) expect(n, `queue group got ${m} ${n} times`).toBe(1)
  for (const r of o.required) expect(seen.get(`${r.sub} ${r.msg}`), `lost ${r.msg} -> ${r.sub} (path whole)`).toBe(1)
  expect(o.meshReformed, "the mesh re-formed after heal").toBe(true)
}

describe("SimulatedCluster", () => {
  it.effect("three nodes form a full mesh; a message crosses it; kill and restart: a new server id, the mesh re-forms", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedCluster.make({ seed: "example", nodes: 3 })
      expect(yield* sim.awaitMesh()).toBe(true)
      const sub = yield* sim.node("n3").broker!.subscription("greet.>")
      yield* sim.advance(50)
      yield* sim.node("n1").broker!.publish("greet.a", "hello")
      const got = yield* sim.await(Stream.runHead(sub.messages))
      expect(got._tag === "Some" && got.value.text()).toBe("hello")

      const before = sim.node("n2").internals!.core.serverId
      yield* sim.kill("n2")
      expect(sim.node("n2").up).toBe(false)
      expect(sim.meshComplete()).toBe(true) // n1–n3 still routed
      expect(sim.node("n1").internals!.cluster!.routes.has(before)).toBe(false)
      yield* sim.restart("n2")
      const after = sim.node("n2").internals!.core.serverId
      expect(after).not.toBe(before)
      expect(yield* sim.awaitMesh(10_000)).toBe(true)
      expect(sim.node("n1").internals!.cluster!.routes.has(after)).toBe(true)
      expect(sim.node("n3").internals!.cluster!.routes.has(after)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("a cut link drops its route and the interest over it; dials fail until healed; then it re-forms", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedCluster.make({ seed: 7, nodes: 2 })
      expect(yield* sim.awaitMesh()).toBe(true)
      const n1 = sim.node("n1").broker!
      const n2 = sim.node("n2").broker!
      const sub = yield* n2.subscription("cut.x")
      yield* sim.advance(50)
      expect(sim.node("n1").internals!.core.router.index.match("cut.x").plain.length).toBe(1)
      yield* sim.cut("n1", "n2")
      yield* sim.advance(50)
      expect(sim.node("n1").internals!.cluster!.routes.size).toBe(0)
      expect(sim.node("n1").internals!.core.router.index.match("cut.x").plain.length).toBe(0)
      yield* sim.advance(5_000)
      // Both sides keep redialing and are refused while cut.
      expect(sim.trace.filter((l) => l.includes("refused n1->n2 (connect: no route to host)")).length).toBeGreaterThanOrEqual(4)
      yield* sim.heal("n1", "n2")
      expect(yield* sim.awaitMesh(5_000)).toBe(true)
      yield* sim.advance(50)
      yield* n1.publish("cut.x", "after heal")
      const got = yield* sim.await(Stream.runHead(sub.messages))
      expect(got._tag === "Some" && got.value.text()).toBe("after heal")
    }).pipe(Effect.scoped))

  it.effect("a black-holed link: the route stays until keepalive finds it stale (ping_max unanswered PINGs), then re-forms after heal", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedCluster.make({ seed: 11, nodes: 2, server: () => ({ pingInterval: 2_000, pingMax: 2 }) })
      expect(yield* sim.awaitMesh()).toBe(true)
      const n1 = sim.node("n1").broker!
      const n2 = sim.node("n2").broker!
      yield* sim.advance(3_000)
      yield* sim.blackhole("n1", "n2")
      // Writes still succeed and nothing resets: only the PINGs going unanswered can tell.
      yield* sim.advance(3_900)
      expect(sim.node("n1").internals!.cluster!.routes.has(sim.node("n2").internals!.core.serverId)).toBe(true)
      expect(sim.trace.some((l) => l.includes(" reset #"))).toBe(false)
      // Three more PING ticks at most (2 s apart, the third over ping_max): both sides give up.
      yield* sim.advance(3_000)
      expect(sim.node("n1").internals!.cluster!.routes.size).toBe(0)
      expect(sim.node("n2").internals!.cluster!.routes.size).toBe(0)
      expect([...sim.node("n1").logs(), ...sim.node("n2").logs()].some((l) => l.includes("Router connection closed: Stale Connection"))).toBe(true)
      expect(sim.trace.some((l) => l.includes("refused n1->n2 (i/o timeout)") || l.includes("refused n2->n1 (i/o timeout)"))).toBe(true)
      yield* sim.heal("n1", "n2")
      expect(yield* sim.awaitMesh(5_000)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("the project's NatsClient over the simulated network: reconnects to another node when its link is cut", () =>
    Effect.gen(function*() {
      const sim = yield* SimulatedCluster.make({ seed: 3, nodes: 2 })
      expect(yield* sim.awaitMesh()).toBe(true)
      const sub = yield* sim.node("n2").broker!.subscription("c.>")
      yield* sim.advance(50)
      const client = yield* sim.await(sim.client("app", { servers: ["nats://n1:4222", "nats://n2:4222"] }))
      yield* client.publish("c.1", "via n1")
      const first = yield* sim.await(Stream.runHead(sub.messages))
      expect(first._tag === "Some" && first.value.text()).toBe("via n1")
      yield* sim.cut("app", "n1")
      yield* sim.advance(5_000)
      yield* client.publish("c.2", "via n2")
      const second = yield* sim.await(Stream.runHead(sub.messages))
      expect(second._tag === "Some" && second.value.text()).toBe("via n2")
      expect(sim.trace.some((l) => /connect #\d+ app->n2:4222/.test(l))).toBe(true)
    }).pipe(Effect.scoped))

  it("property: random fault schedules over a publishing workload — no duplicates, no loss outside partitions, the mesh re-forms", async () => {
    const totals = { required: 0, delivered: 0, resets: 0, refused: 0, restarts: 0, blackholes: 0, notRequired: 0 }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), schedule, async (seed, steps) => {
        const o = await runSchedule(seed, steps)
        check(o)
        totals.required += o.required.length
        totals.delivered += o.deliveries.length
        totals.resets += (o.trace.match(/ reset #/g) ?? []).length
        totals.refused += (o.trace.match(/ refused /g) ?? []).length
        totals.restarts += (o.trace.match(/ start n\d#[1-9]/g) ?? []).length
        totals.blackholes += (o.trace.match(/ blackhole n/g) ?? []).length
        totals.notRequired += o.deliveries.filter((d) => !d.sub.includes("/") && !o.required.some((r) => r.msg === d.msg && r.sub === d.sub)).length
      }),
      { seed: 20261202, numRuns: 25, endOnFailure: true }
    )
    // The schedules did exercise faults, and most messages were required (the check is not vacuous).
    expect(totals.resets).toBeGreaterThan(5)
    expect(totals.refused).toBeGreaterThan(5)
    expect(totals.restarts).toBeGreaterThan(0)
    expect(totals.blackholes).toBeGreaterThan(0)
    expect(totals.required).toBeGreaterThan(50)
    console.log("fault-schedule totals", JSON.stringify(totals))
  }, 120_000)

  it("property: the same seed and schedule replay the same trace, byte for byte", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), schedule, async (seed, steps) => {
        const a = await runSchedule(seed, steps)
        const b = await runSchedule(seed, steps)
        expect(b.trace).toBe(a.trace)
        expect(a.trace).toMatch(/start n1#0 N[A-Z2-7]{55}/)
      }),
      { seed: 4242, numRuns: 4, endOnFailure: true }
    )
  }, 120_000)

  it("different seeds give different server ids and latencies (the seed is what varies)", async () => {
    const a = await runSchedule(1, [{ _tag: "publish", node: 1, count: 3 }])
    const b = await runSchedule(2, [{ _tag: "publish", node: 1, count: 3 }])
    expect(a.trace).not.toBe(b.trace)
    check(a)
    check(b)
    // Nothing was faulty: all 3 messages are required at all 3 nodes' plain subscribers.
    expect(a.required.length).toBe(9)
  }, 60_000)
})
