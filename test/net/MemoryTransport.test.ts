/**
 * Time through `Clock`, the network through `Transport`: the broker on the in-memory transport,
 * its keepalive (PING, stale connection), auth timeout and route retry driven by `TestClock` —
 * no real waiting anywhere in this file — and the in-memory transport's own TCP model (latency
 * keeps order, a lost write resets, a cut link refuses dials until healed).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { decodeServerOptions, type ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { Log, LogLines } from "../../src/log/Log.js"
import * as ServerLayers from "../../src/ServerLayers.js"
import { ServerCore } from "../../src/server/ServerCore.js"
import * as MemoryTransport from "../../src/net/MemoryTransport.js"
import { Transport } from "../../src/net/Transport.js"
import { makeCerts } from "../support/certs.js"

const text = new TextDecoder()

/** A broker on `network` (host 127.0.0.1, a port the network hands out), in the test's scope. */
const memoryServer = (network: MemoryTransport.MemoryNetwork, options: ServerOptionsInput = {}) =>
  Effect.gen(function*() {
    const decoded = decodeServerOptions({ host: "127.0.0.1", port: -1, ...options })
    const context = yield* Layer.build(
      ServerLayers.layer(decoded).pipe(
        Layer.provideMerge(Log.layerTestWith({ debug: true, trace: false })),
        Layer.provide(MemoryTransport.layer(network, "127.0.0.1"))
      )
    )
    const broker = Context.get(context, ServerCore)
    return { broker, port: broker.listen!.port, logs: () => Context.get(context, LogLines).lines }
  })

/** A raw protocol client over the in-memory network: what it read so far, and whether it ended. */
const rawClient = (network: MemoryTransport.MemoryNetwork, port: number, host = "client") =>
  Effect.gen(function*() {
    const state = { received: "", ended: false }
    const writer = Latch.makeUnsafe(false)
    let write: Socket.Writer | undefined
    const fiber = yield* network.transport(host).dial("127.0.0.1", port, (socket) =>
      Effect.gen(function*() {
        const pull = yield* Socket.readerBytes(socket)
        write = yield* socket.writer
        yield* writer.open
        yield* Stream.fromPull(Effect.succeed(pull)).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => (state.received += text.decode(chunk)))),
          Effect.ignore
        )
        state.ended = true
      }).pipe(Effect.scoped)
    ).pipe(Effect.forkScoped)
    yield* writer.await
    return {
      state,
      fiber,
      send: (line: string) => write!.write(new TextEncoder().encode(line)).pipe(Effect.orDie)
    }
  })

/** Let every fiber that can run, run (no time passes). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1

describe("keepalive and auth timers on TestClock over the in-memory transport", () => {
  it.effect("a client that never answers PINGs is closed as stale after ping_max unanswered PINGs", () =>
    Effect.gen(function*() {
      const network = new MemoryTransport.MemoryNetwork()
      const server = yield* memoryServer(network, { pingInterval: 10_000, pingMax: 2 })
      const client = yield* rawClient(network, server.port)
      yield* client.send("CONNECT {\"verbose\":false}\r\n")
      yield* settle
      expect(client.state.received).toMatch(/^INFO /)
      // First PING: after min(ping_interval, 2 s) plus up to 20% jitter — not before 2 s.
      yield* TestClock.adjust(1_999)
      expect(count(client.state.received, "PING\r\n")).toBe(0)
      yield* TestClock.adjust(401)
      expect(count(client.state.received, "PING\r\n")).toBe(1)
      // Then every ping_interval while a PING is outstanding.
      yield* TestClock.adjust(10_000)
      expect(count(client.state.received, "PING\r\n")).toBe(2)
      expect(client.state.ended).toBe(false)
      yield* TestClock.adjust(10_000)
      yield* settle
      expect(client.state.received).toContain("-ERR 'Stale Connection'\r\n")
      expect(client.state.ended).toBe(true)
      expect(server.broker.clients.size).toBe(0)
      expect(server.logs().some((l) => l.includes("Stale Client Connection - Closing"))).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("a client that answers PINGs stays; an active one is not even pinged after the first", () =>
    Effect.gen(function*() {
      const network = new MemoryTransport.MemoryNetwork()
      const server = yield* memoryServer(network, { pingInterval: 10_000, pingMax: 2 })
      const client = yield* rawClient(network, server.port)
      yield* client.send("CONNECT {\"verbose\":false}\r\n")
      yield* TestClock.adjust(2_400)
      expect(count(client.state.received, "PING\r\n")).toBe(1)
      for (let i = 0; i < 10; i++) {
        yield* client.send("PONG\r\nPUB x 1\r\na\r\n")
        yield* TestClock.adjust(5_000)
      }
      // Active the whole time: no PING is due (nats-server skips it when the client spoke recently).
      expect(count(client.state.received, "PING\r\n")).toBe(1)
      expect(client.state.ended).toBe(false)
      expect(server.broker.clients.size).toBe(1)
      // Idle now: PINGs resume; each answered (at once) keeps it alive far past ping_max intervals.
      let answered = 1
      for (let i = 0; i < 8; i++) {
        yield* TestClock.adjust(10_000)
        const pings = count(client.state.received, "PING\r\n")
        if (pings > answered) {
          answered = pings
          yield* client.send("PONG\r\n")
        }
      }
      yield* settle
      // A PONG is activity, so an answered PING skips the next interval: 1 + 8 / 2.
      expect(answered).toBe(5)
      expect(client.state.ended).toBe(false)
      // RTT in TestClock time: each PING left at a tick (2000 ms + jitter ≤ 400 ms, + k · 10 s), its
      // PONG at the end of that adjust (2400 ms + k · 10 s) — the same offset every time.
      const conn = [...server.broker.clients.values()][0] as unknown as { rtt: number | undefined; pingSentAt: number }
      expect(conn.rtt).toBeGreaterThan(0)
      expect(conn.rtt).toBeLessThanOrEqual(400)
      expect(conn.pingSentAt % 10_000 + conn.rtt!).toBeCloseTo(2400, 6)
    }).pipe(Effect.scoped))

  it.effect("no CONNECT within the auth timeout: -ERR 'Authentication Timeout', closed; not a moment before", () =>
    Effect.gen(function*() {
      const network = new MemoryTransport.MemoryNetwork()
      const server = yield* memoryServer(network, { authorization: { user: "u", password: "p", timeout: 500 } })
      const slow = yield* rawClient(network, server.port, "slow")
      const quick = yield* rawClient(network, server.port, "quick")
      yield* quick.send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n")
      yield* TestClock.adjust(499)
      expect(slow.state.ended).toBe(false)
      expect(slow.state.received).not.toContain("-ERR")
      yield* TestClock.adjust(1)
      yield* settle
      expect(slow.state.received).toContain("-ERR 'Authentication Timeout'\r\n")
      expect(slow.state.ended).toBe(true)
      expect(quick.state.received).toContain("PONG\r\n")
      expect(quick.state.ended).toBe(false)
      expect(server.broker.clients.size).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("route retry: a configured route to nobody is redialed about every second (1000–1100 ms: Random jitter)", () =>
    Effect.gen(function*() {
      const network = new MemoryTransport.MemoryNetwork()
      const clock = yield* Clock.Clock
      const refused: Array<number> = []
      network.onEvent = (e) => {
        if (e._tag === "Refused") refused.push(clock.currentTimeMillisUnsafe())
      }
      yield* memoryServer(network, { cluster: { name: "c", host: "127.0.0.1", port: 6222, routes: ["nats-route://127.0.0.1:6333"] } })
      yield* TestClock.adjust(10_000)
      // The first dial at once, then one every 1000 ms + 0–100 ms of jitter.
      expect(refused[0]).toBe(0)
      expect(refused.length).toBeGreaterThanOrEqual(9)
      for (let i = 1; i < refused.length; i++) {
        const gap = refused[i]! - refused[i - 1]!
        expect(gap).toBeGreaterThanOrEqual(1000)
        expect(gap).toBeLessThan(1100)
      }
    }).pipe(Effect.scoped))
})

describe("the in-memory transport's TCP model", () => {
  const echoServer = (network: MemoryTransport.MemoryNetwork, host: string) =>
    network.transport(host).listen("server", 1, (socket) =>
      Effect.gen(function*() {
        const pull = yield* Socket.readerBytes(socket)
        const w = yield* socket.writer
        yield* Stream.fromPull(Effect.succeed(pull)).pipe(Stream.runForEach((c) => w.write(c)), Effect.ignore)
      }).pipe(Effect.scoped))

  it.effect("latency delays delivery on the TestClock and never reorders a stream", () =>
    Effect.gen(function*() {
      let n = 0
      // Decreasing latencies: a later write must still arrive after an earlier one.
      const network = new MemoryTransport.MemoryNetwork({ conditions: () => ({ latency: () => 100 - 10 * (n++ % 10), drop: () => false }) })
      yield* echoServer(network, "s")
      const got: Array<string> = []
      const fiber = yield* network.transport("c").dial("server", 1, (socket) =>
        Effect.gen(function*() {
          const pull = yield* Socket.readerBytes(socket)
          const w = yield* socket.writer
          for (let i = 0; i < 10; i++) yield* w.write(new TextEncoder().encode(`${i},`))
          while (got.join("").split(",").length <= 10) {
            const chunks = yield* pull
            for (const c of chunks) got.push(text.decode(c))
          }
        }).pipe(Effect.scoped)).pipe(Effect.forkScoped)
      yield* TestClock.adjust(150)
      expect(got.join("")).toBe("")
      yield* TestClock.adjust(100)
      yield* Fiber.join(fiber)
      expect(got.join("")).toBe("0,1,2,3,4,5,6,7,8,9,")
    }).pipe(Effect.scoped))

  it.effect("a lost write resets the connection on both ends; a cut link resets and refuses until healed", () =>
    Effect.gen(function*() {
      let drop = false
      const network = new MemoryTransport.MemoryNetwork({ conditions: () => ({ latency: () => 0, drop: () => drop }) })
      yield* echoServer(network, "s")
      const t = network.transport("c")
      const ended = yield* t.dial("server", 1, (socket) =>
        Effect.gen(function*() {
          const pull = yield* Socket.readerBytes(socket)
          const w = yield* socket.writer
          drop = true
          const wrote = yield* Effect.result(w.write(new Uint8Array([1])))
          const read = yield* Effect.result(pull)
          return { wrote: wrote._tag, read: read._tag }
        }).pipe(Effect.scoped))
      expect(ended).toEqual({ wrote: "Failure", read: "Failure" })
      expect(network.events.some((e) => e._tag === "Reset" && e.reason === "write lost")).toBe(true)
      drop = false
      network.cut("c", "s")
      const refused = yield* Effect.result(t.dial("server", 1, () => Effect.void))
      expect(refused._tag).toBe("Failure")
      if (refused._tag === "Failure") expect(refused.failure.message).toBe("dial tcp server:1: connect: no route to host")
      network.heal("c", "s")
      const ok = yield* Effect.result(t.dial("server", 1, () => Effect.void))
      expect(ok._tag).toBe("Success")
      // Nobody at that port: refused as TCP refuses.
      const none = yield* Effect.result(t.dial("server", 2, () => Effect.void))
      expect(none._tag === "Failure" && none.failure.message).toBe("dial tcp server:2: connect: connection refused")
    }).pipe(Effect.scoped))

  it.effect("TLS over the in-memory transport is refused with a clear error", () =>
    Effect.gen(function*() {
      const network = new MemoryTransport.MemoryNetwork()
      const certs = makeCerts()
      const exit = yield* Effect.exit(memoryServer(network, { tls: { certFile: certs.server.cert, keyFile: certs.server.key } }))
      expect(exit._tag === "Failure" && String(exit.cause)).toContain("TLS is not supported over the memory transport")
      const t = yield* Transport
      expect(t.kind).toBe("tcp")
    }).pipe(Effect.scoped))
})
