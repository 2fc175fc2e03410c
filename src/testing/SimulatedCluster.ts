/**
 * `SimulatedCluster`: N brokers in one process on the in-memory network (`MemoryTransport`), a
 * full mesh of routes, with seeded link latency, lost writes, partitions, node kill and restart —
 * all on `TestClock`, so a test replays exactly from its seed.
 *
 * Run it inside `it.effect` (or anything with `TestClock.layer()`): time only moves when the test
 * calls `advance` (or `TestClock.adjust`), and everything random — server ids, nonces, keepalive
 * and route-retry jitter, queue-member choice, link latencies and losses — comes from `seed`.
 *
 * Nodes are named `n1`…`nN`; node `nI` is host `nI`, clients on port 4222 and routes on 6222, and
 * it lists every other node as a configured route (`nats-route://nJ:6222`). Applications use a
 * node's in-process API (`node(name).broker.publish/subscribe/request`) or connect the project's
 * `NatsClient` over the same network (`client`), whose link can be cut like any other.
 *
 * Fault model (TCP-faithful; see `MemoryTransport`): latency delays a write, never reorders a
 * stream; a lost write resets its connection (TCP never loses bytes mid-stream, so loss shows as
 * a reset and whatever was in flight on it); `cut(a, b)` resets the connections between a and b
 * and refuses dials between them until `heal(a, b)`; `blackhole(a, b)` keeps them open but
 * delivers nothing until healed (only keepalive notices), and dials time out; `kill(a)` resets every connection of a
 * (nothing more gets out, as with `kill -9`) and then shuts it down; `restart(a)` starts it again
 * with the same options and a new server id.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as NatsClient from "../client/NatsClient.js"
import { decodeServerOptions, type ServerOptionsInput } from "../config/ServerOptions.js"
import { Log, LogLines } from "../log/Log.js"
import * as MemoryTransport from "../net/MemoryTransport.js"
import { Transport } from "../net/Transport.js"
import * as Option from "effect/Option"
import { Cluster, type ClusterState } from "../cluster/Cluster.js"
import type * as NatsServer from "../NatsServer.js"
import * as ServerLayers from "../ServerLayers.js"
import { ServerCore } from "../server/ServerCore.js"
import { Broker } from "../server/Broker.js"
import type { ServerState } from "../server/ServerState.js"

export interface SimulatedClusterOptions {
  /** Number of servers (default 3). */
  readonly nodes?: number | undefined
  /** Everything random derives from it. */
  readonly seed: number | string
  /** Each directed link's base latency is drawn once from [min, max] ms (default 1–5). */
  readonly latency?: { readonly min: number; readonly max: number } | undefined
  /** Extra latency per write, uniform in [0, jitter) ms (default 2); never reorders. */
  readonly jitter?: number | undefined
  /** Probability that a write is lost — which resets its connection (default 0). */
  readonly dropRate?: number | undefined
  /** More server options for node `name` (merged over the simulation's own). */
  readonly server?: ((name: string) => ServerOptionsInput) | undefined
}

/** One node; `broker` is its current incarnation (undefined while it is down). */
export interface SimulatedNode {
  readonly name: string
  readonly broker: Broker["Service"] | undefined
  /** The current incarnation's internal state (server id, router, routes), for assertions. */
  readonly internals: { readonly core: ServerState; readonly cluster: ClusterState | undefined } | undefined
  readonly up: boolean
  /** Restarts so far (0 for the first start). */
  readonly incarnation: number
  /** `nats://nI:4222` — reachable over `network` only. */
  readonly url: string
  /** The scope of the current incarnation: fork what should die with the node into it. */
  readonly scope: Scope.Scope | undefined
  /** The log lines of the current incarnation. */
  readonly logs: () => ReadonlyArray<string>
}

export interface SimulatedClusterShape {
  readonly seed: number | string
  readonly names: ReadonlyArray<string>
  readonly network: MemoryTransport.MemoryNetwork
  node(name: string): SimulatedNode
  /** Cut the link between two hosts (servers or clients) until `heal`. */
  cut(a: string, b: string): Effect.Effect<void>
  heal(a: string, b: string): Effect.Effect<void>
  /**
   * Black-hole the link between two hosts until `heal`: connections stay open, nothing arrives
   * (keepalive must find them stale), dials time out; `heal` delivers what was held.
   */
  blackhole(a: string, b: string): Effect.Effect<void>
  /** Cut every link between the groups (hosts in no group keep their links). */
  partition(...groups: ReadonlyArray<ReadonlyArray<string>>): Effect.Effect<void>
  /** Heal every cut link. */
  healAll(): Effect.Effect<void>
  /** Change the probability that a write is lost. */
  setDropRate(rate: number): void
  /** Crash node `name`: its connections reset, then it shuts down. */
  kill(name: string): Effect.Effect<void>
  /** Start a killed node again: same options, a new server id. */
  restart(name: string): Effect.Effect<void, NatsServer.NatsServerError>
  /** Move `TestClock` forward by `ms` and let every fiber that can run, run. */
  advance(ms: number): Effect.Effect<void>
  /** Every up node has a route to every other up node that it is not cut off from. */
  meshComplete(): boolean
  /** Advance in 100 ms steps until `meshComplete()`; false if not within `withinMs` (default 30 s). */
  awaitMesh(withinMs?: number): Effect.Effect<boolean>
  /** A `NatsClient` on host `host` (its own link to the servers) connected to `servers`. */
  client(host: string, options: NatsClient.NatsClientOptions): Effect.Effect<NatsClient.NatsClientShape, NatsClient.ConnectError, Scope.Scope>
  /**
   * Run `app` (a Layer over the node's `Broker`, e.g. an application's service) on `nodes`
   * (default: all), now and again after every restart; it dies with the node.
   */
  deploy<E>(app: Layer.Layer<never, E, Broker>, nodes?: ReadonlyArray<string>): Effect.Effect<void, E>
  /**
   * Run `effect` while advancing `TestClock` in `stepMs` steps (default 10) until it completes,
   * or fail with `SimulationStalled` after `withinMs` of simulated time (default 60 s).
   */
  await<A, E, R>(effect: Effect.Effect<A, E, R>, options?: { readonly withinMs?: number; readonly stepMs?: number }): Effect.Effect<A, E | SimulationStalled, R>
  /** The trace so far: one line per event, `<ms> <event>`; same seed, same trace. */
  readonly trace: ReadonlyArray<string>
  /** Add an application event to the trace (stamped with the TestClock time). */
  record(event: string): Effect.Effect<void>
}

/** `SimulatedCluster.await` gave up: the effect did not complete within the simulated time given. */
export class SimulationStalled extends Data.TaggedError("SimulationStalled")<{ readonly withinMs: number }> {}

/** A seeded `Random` (Effect's ISAAC generator). */
const seeded = (seed: string): Effect.Effect<Random.Random> => Effect.service(Random.Random).pipe(Random.withSeed(seed))

/** Let every fiber that can run, run; no time passes. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

interface NodeState {
  readonly name: string
  broker: Broker["Service"] | undefined
  internals: { readonly core: ServerState; readonly cluster: ClusterState | undefined } | undefined
  scope: Scope.Closeable | undefined
  incarnation: number
  lines: () => ReadonlyArray<string>
}

interface Deployed {
  readonly app: Layer.Layer<never, unknown, Broker>
  readonly nodes: ReadonlySet<string>
}

/** Build the simulated cluster in the caller's scope (which must run on `TestClock`). */
export const make = (options: SimulatedClusterOptions): Effect.Effect<SimulatedClusterShape, NatsServer.NatsServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const seed = String(options.seed)
    const count = options.nodes ?? 3
    const names = Array.from({ length: count }, (_, i) => `n${i + 1}`)
    const latency = options.latency ?? { min: 1, max: 5 }
    const jitter = options.jitter ?? 2
    let dropRate = options.dropRate ?? 0
    const trace: Array<string> = []
    const clock = yield* Clock.Clock
    const stamp = (event: string) => trace.push(`${clock.currentTimeMillisUnsafe()} ${event}`)

    // One generator per directed link, created on first use from the seed and the link's name:
    // what one link draws never shifts another's.
    const links = new Map<string, MemoryTransport.LinkConditions>()
    const linkRandoms = new Map<string, Random.Random>()
    for (const a of names) {
      for (const b of names) linkRandoms.set(`${a}>${b}`, yield* seeded(`${seed}/link/${a}>${b}`))
    }
    const linkRandom = (key: string) => {
      let r = linkRandoms.get(key)
      if (r === undefined) {
        // Client hosts: derived from the seed too (created synchronously, the seed fixes it).
        r = Effect.runSync(seeded(`${seed}/link/${key}`))
        linkRandoms.set(key, r)
      }
      return r
    }
    const conditions = (from: string, to: string): MemoryTransport.LinkConditions => {
      const key = `${from}>${to}`
      let c = links.get(key)
      if (c === undefined) {
        const r = linkRandom(key)
        const base = latency.min + Math.floor(r.nextDoubleUnsafe() * (latency.max - latency.min + 1))
        c = { latency: () => base + r.nextDoubleUnsafe() * jitter, drop: () => dropRate > 0 && r.nextDoubleUnsafe() < dropRate }
        links.set(key, c)
      }
      return c
    }
    const network = new MemoryTransport.MemoryNetwork({ conditions })
    network.onEvent = (e) => {
      switch (e._tag) {
        case "Connected":
          return stamp(`connect #${e.id} ${e.from}->${e.to}:${e.port}`)
        case "Refused":
          return stamp(`refused ${e.from}->${e.to} (${e.reason})`)
        case "Reset":
          return stamp(`reset #${e.id} ${e.from}-${e.to} (${e.reason})`)
        case "Closed":
          return stamp(`closed #${e.id} ${e.from}-${e.to}`)
      }
    }

    const parent = yield* Effect.scope
    const nodes = new Map<string, NodeState>(names.map((name) => [name, { name, broker: undefined, internals: undefined, scope: undefined, incarnation: -1, lines: () => [] }]))
    const get = (name: string): NodeState => {
      const n = nodes.get(name)
      if (n === undefined) throw new Error(`no node ${name} in this simulated cluster`)
      return n
    }

    const deployed: Array<Deployed> = []
    const deployOn = (state: NodeState, app: Layer.Layer<never, unknown, Broker>) =>
      Layer.buildWithScope(app.pipe(Layer.provide(Layer.succeed(Broker, state.broker!))), state.scope!).pipe(Effect.asVoid)

    const start = (state: NodeState) =>
      Effect.gen(function*() {
        state.incarnation++
        const name = state.name
        const decoded = decodeServerOptions({
          serverName: name,
          host: name,
          port: 4222,
          cluster: { name: "sim", host: name, port: 6222, routes: names.filter((n) => n !== name).map((n) => `nats-route://${n}:6222`) },
          ...options.server?.(name)
        })
        const random = yield* seeded(`${seed}/node/${name}/${state.incarnation}`)
        const scope = yield* Scope.fork(parent)
        const context = yield* Layer.buildWithScope(
          ServerLayers.layer(decoded).pipe(
            Layer.provideMerge(Log.layerTestWith({ debug: decoded.debug, trace: decoded.trace })),
            Layer.provide(Layer.mergeAll(Layer.succeed(Transport, network.transport(name)), Layer.succeed(Random.Random, random)))
          ),
          scope
        ).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
        const broker = Context.get(context, Broker)
        const core = Context.get(context, ServerCore)
        const lines = Context.get(context, LogLines)
        state.broker = broker
        state.internals = { core, cluster: Option.getOrUndefined(Context.getOption(context, Cluster)) }
        state.scope = scope
        state.lines = () => lines.lines
        stamp(`start ${name}#${state.incarnation} ${core.serverId}`)
        for (const d of deployed) {
          if (d.nodes.has(name)) yield* deployOn(state, d.app).pipe(Effect.orDie)
        }
      })

    const view = (state: NodeState): SimulatedNode => ({
      name: state.name,
      broker: state.broker,
      internals: state.internals,
      up: state.broker !== undefined,
      incarnation: state.incarnation,
      url: `nats://${state.name}:4222`,
      scope: state.scope,
      logs: state.lines
    })

    const advance = (ms: number) =>
      Effect.gen(function*() {
        yield* settle
        yield* TestClock.adjust(ms)
        yield* settle
      })

    const meshComplete = () => {
      const up = [...nodes.values()].filter((n) => n.broker !== undefined)
      for (const a of up) {
        for (const b of up) {
          if (a === b || network.isCut(a.name, b.name)) continue
          if (a.internals!.cluster?.routes.has(b.internals!.core.serverId) !== true) return false
        }
      }
      return true
    }

    for (const name of names) yield* start(get(name))

    const shape: SimulatedClusterShape = {
      seed: options.seed,
      names,
      network,
      trace,
      node: (name) => view(get(name)),
      cut: (a, b) =>
        Effect.sync(() => {
          stamp(`cut ${a}-${b}`)
          network.cut(a, b)
        }),
      blackhole: (a, b) =>
        Effect.sync(() => {
          stamp(`blackhole ${a}-${b}`)
          network.blackhole(a, b)
        }),
      heal: (a, b) =>
        Effect.sync(() => {
          stamp(`heal ${a}-${b}`)
          network.heal(a, b)
        }),
      partition: (...groups) =>
        Effect.sync(() => {
          stamp(`partition ${groups.map((g) => g.join(",")).join(" | ")}`)
          for (let i = 0; i < groups.length; i++) {
            for (let j = i + 1; j < groups.length; j++) {
              for (const a of groups[i]!) for (const b of groups[j]!) network.cut(a, b)
            }
          }
        }),
      healAll: () =>
        Effect.sync(() => {
          stamp("heal all")
          network.healAll()
        }),
      setDropRate: (rate) => {
        stamp(`drop rate ${rate}`)
        dropRate = rate
      },
      kill: (name) =>
        Effect.gen(function*() {
          const state = get(name)
          if (state.scope === undefined) return
          stamp(`kill ${name}#${state.incarnation}`)
          network.resetHost(name, "node killed")
          const scope = state.scope
          state.broker = undefined
          state.internals = undefined
          state.scope = undefined
          yield* Scope.close(scope, Exit.void)
        }),
      restart: (name) =>
        Effect.suspend(() => {
          const state = get(name)
          return state.scope !== undefined ? Effect.void : start(state)
        }),
      advance,
      meshComplete,
      awaitMesh: (withinMs = 30_000) =>
        Effect.gen(function*() {
          for (let waited = 0; waited <= withinMs; waited += 100) {
            yield* settle
            if (meshComplete()) return true
            yield* advance(100)
          }
          return meshComplete()
        }),
      deploy: (app, on) =>
        Effect.gen(function*() {
          const d: Deployed = { app, nodes: new Set(on ?? names) }
          deployed.push(d)
          for (const state of nodes.values()) {
            if (d.nodes.has(state.name) && state.broker !== undefined) yield* deployOn(state, app) as Effect.Effect<void, never>
          }
        }),
      await: <A, E, R>(effect: Effect.Effect<A, E, R>, o?: { readonly withinMs?: number; readonly stepMs?: number }) =>
        Effect.gen(function*() {
          const withinMs = o?.withinMs ?? 60_000
          const step = o?.stepMs ?? 10
          const fiber = yield* Effect.forkChild(effect)
          for (let waited = 0; waited < withinMs; waited += step) {
            yield* settle
            if (fiber.pollUnsafe() !== undefined) break
            yield* advance(step)
          }
          if (fiber.pollUnsafe() === undefined) {
            yield* Fiber.interrupt(fiber)
            return yield* Effect.fail(new SimulationStalled({ withinMs }))
          }
          return yield* Fiber.join(fiber)
        }),
      client: (host, clientOptions) => NatsClient.make(clientOptions).pipe(Effect.provideService(Transport, network.transport(host))),
      record: (event) => Effect.sync(() => stamp(event))
    }
    return shape
  })

/** `SimulatedCluster` as a service, for tests that compose layers. */
export class SimulatedCluster extends Context.Service<SimulatedCluster, SimulatedClusterShape>()("effect-nats-server/testing/SimulatedCluster") {
  static readonly make = make
  /**
   * Build a simulated cluster on a fresh `TestClock`, run `body` with it, shut it down: a Promise,
   * for fast-check's `asyncProperty`.
   */
  static readonly runPromise = <A, E>(
    options: SimulatedClusterOptions,
    body: (sim: SimulatedClusterShape) => Effect.Effect<A, E, Scope.Scope>
  ): Promise<A> => Effect.runPromise(make(options).pipe(Effect.flatMap(body), Effect.scoped, Effect.provide(TestClock.layer())))
  static readonly layer = (options: SimulatedClusterOptions): Layer.Layer<SimulatedCluster, NatsServer.NatsServerError> =>
    Layer.effect(SimulatedCluster, make(options))
}
