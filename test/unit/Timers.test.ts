/**
 * Time in the synchronous cores, on `TestClock` (`it.effect`) or a fixed clock: the keepalive loop
 * that sessions run around a connection, the fast-producer stall's bounded wait, a route's
 * PING/PONG round trip and its drain wait, RTT, and permissions that expire. The connections are
 * built with the test's Clock; nothing here sleeps for real (the whole-server timers over the
 * in-memory transport are in test/net/MemoryTransport.test.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import { TestClock } from "effect/testing"
import { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { stallMillis } from "../../src/server/ClientConnection.js"
import { keepalive, KeepaliveTicker } from "../../src/server/Session.js"
import { ClientDriver, drain, FakeIO, makeServer, seededRandom } from "./fakes.js"

const QUIET = 'CONNECT {"verbose":false}\r\n'

/** A client connection whose server reads the test's Clock (TestClock inside `it.effect`). */
const clientOnTestClock = (input: Parameters<typeof makeServer>[0] = {}) =>
  Effect.map(Clock.Clock, (clock) => {
    const { server, log } = makeServer(input, { clock })
    return { server, log, client: new ClientDriver(server) }
  })

const pings = (text: string): number => text.split("PING\r\n").length - 1

describe("keepalive on TestClock", () => {
  it.effect("first PING after `first` + seeded jitter (≤ 20%), then one per interval while unanswered, stale after ping_max", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOnTestClock()
      client.send(QUIET)
      let stale = 0
      // The jitter the loop will draw: the first number of the same seed.
      const jitter = seededRandom("keepalive").nextDoubleUnsafe()
      const first = 2000 + jitter * 2000 * 0.2
      const fiber = yield* keepalive(client.conn, {
        first: 2000,
        interval: () => 10_000,
        pingMax: () => 2,
        due: () => false,
        onStale: () => stale++
      }).pipe(Random.withSeed("keepalive"), Effect.forkChild)
      yield* TestClock.adjust(Math.ceil(first) - 1)
      expect(pings(client.output())).toBe(0)
      yield* TestClock.adjust(1)
      expect(client.output()).toBe("PING\r\n")
      expect(client.conn.pingsOut).toBe(1)
      // Unanswered: the next PING one interval later, even though `due` says the client was busy.
      yield* TestClock.adjust(9_999)
      expect(client.output()).toBe("")
      yield* TestClock.adjust(1)
      expect(client.output()).toBe("PING\r\n")
      // A third would exceed ping_max = 2: -ERR 'Stale Connection' and close.
      yield* TestClock.adjust(10_000)
      expect(client.output()).toBe("-ERR 'Stale Connection'\r\n")
      expect(client.conn.closeReason).toBe("Stale Connection")
      expect(stale).toBe(1)
      expect(fiber.pollUnsafe()).toBeDefined()
    }))

  it.effect("answered PINGs keep the connection; later PINGs only when `due` (idle for a whole interval)", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOnTestClock()
      client.send(QUIET)
      let due = false
      yield* keepalive(client.conn, { first: 1000, interval: () => 5000, pingMax: () => 1, due: () => due, onStale: () => {} }).pipe(
        Random.withSeed("k2"),
        Effect.forkChild
      )
      yield* TestClock.adjust(1200)
      expect(client.output()).toBe("PING\r\n")
      client.send("PONG\r\n")
      for (let i = 0; i < 5; i++) yield* TestClock.adjust(5000)
      expect(client.output()).toBe("")
      due = true
      yield* TestClock.adjust(5000)
      expect(client.output()).toBe("PING\r\n")
      client.send("PONG\r\n")
      yield* TestClock.adjust(5000)
      expect(client.output()).toBe("PING\r\n")
      expect(client.conn.closing).toBe(false)
    }))

  it.effect("RTT is the TestClock time between our PING and the PONG; before one, the time to CONNECT", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOnTestClock()
      yield* TestClock.adjust(25)
      client.send(QUIET)
      expect(client.conn.rtt).toBe(25)
      client.conn.sendPing()
      yield* TestClock.adjust(37)
      client.send("PONG\r\n")
      expect(client.conn.rtt).toBe(37)
      // Activity stamps come from the same clock.
      expect(client.conn.lastActivity.getTime()).toBe(yield* Clock.currentTimeMillis)
    }))
})

describe("the shared keepalive ticker on TestClock", () => {
  it.effect("each client on its own deadlines (first + jitter, then per interval while unanswered or due), stale after ping_max; one fiber for all", () =>
    Effect.gen(function*() {
      const { server } = makeServer({}, { clock: yield* Clock.Clock })
      const a = new ClientDriver(server)
      const b = new ClientDriver(server)
      a.send(QUIET)
      b.send(QUIET)
      const stale: Array<string> = []
      let due = false
      let interval = 10_000
      const ticker = new KeepaliveTicker<typeof a.conn>({
        interval: () => interval,
        pingMax: () => 2,
        due: () => due,
        onStale: (conn) => stale.push(conn.prefix)
      })
      yield* Effect.forkChild(ticker.run)
      yield* Effect.yieldNow
      // a (t = 0): first after 2000 + 0.5 · 20% · 2000 = 2200 ms; b (t = 100): after 1000 + 0, at 1100.
      ticker.add(a.conn, yield* Clock.currentTimeMillis, 2000, 0.5)
      yield* TestClock.adjust(100)
      const eb = ticker.add(b.conn, yield* Clock.currentTimeMillis, 1000, 0)
      yield* TestClock.adjust(999)
      expect(b.output()).toBe("")
      yield* TestClock.adjust(1)
      expect(b.output()).toBe("PING\r\n")
      expect(a.output()).toBe("")
      yield* TestClock.adjust(1099)
      expect(a.output()).toBe("")
      yield* TestClock.adjust(1)
      expect(a.output()).toBe("PING\r\n")
      // b answers: at 11,100 nothing (not due); a unanswered: its second PING at 12,200.
      b.send("PONG\r\n")
      yield* TestClock.adjust(8900)
      expect(b.output()).toBe("")
      expect(a.output()).toBe("")
      yield* TestClock.adjust(1100)
      expect(a.output()).toBe("PING\r\n")
      expect(b.output()).toBe("")
      // A third would exceed ping_max = 2: a is stale at 22,200 and leaves the ticker.
      // b (not due at 21,100) is next at 21,100 + the interval read then (5 s): 26,100.
      interval = 5000
      yield* TestClock.adjust(10_000)
      expect(a.output()).toBe("-ERR 'Stale Connection'\r\n")
      expect(a.conn.closeReason).toBe("Stale Connection")
      expect(stale).toEqual([a.conn.prefix])
      expect(ticker.size).toBe(1)
      expect(b.output()).toBe("")
      // b idle now (due): PINGs at 26,100 and 31,100.
      due = true
      yield* TestClock.adjust(3899)
      expect(b.output()).toBe("")
      yield* TestClock.adjust(1)
      expect(b.output()).toBe("PING\r\n")
      b.send("PONG\r\n")
      yield* TestClock.adjust(5000)
      expect(b.output()).toBe("PING\r\n")
      // Removed (its session ended): no more PINGs.
      ticker.remove(eb)
      expect(ticker.size).toBe(0)
      yield* TestClock.adjust(60_000)
      expect(b.output()).toBe("")
    }))
})

describe("fast-producer stall on TestClock", () => {
  it.each([
    [2049, 4096, 100],
    [2048 + 205, 4096, 200],
    [3000, 4096, 500],
    // Go's integer division: a tenth of 2048 is 204 bytes, and 1020 bytes above half are 5 of them.
    [2048 + 1020, 4096, 600],
    [4000, 4096, 1000],
    // No cap below max_pending: 2047 bytes above half are 10 tenths of 204.
    [4095, 4096, 1100],
    [4096, 4096, 1000],
    [10_000, 4096, 1000]
  ])("stallMillis(%i pending of %i) = %i ms, as nats-server's stallDuration", (pending, max, ms) => {
    expect(stallMillis(pending, max)).toBe(ms)
  })

  it.effect("a backlogged consumer releases its producer once below half of max_pending, else after the stall time", () =>
    Effect.gen(function*() {
      const { server, client: consumer } = yield* clientOnTestClock({ maxPending: 4096, maxPayload: 1024 })
      consumer.send(QUIET + "SUB big 1\r\n")
      const producer = new ClientDriver(server)
      producer.send(QUIET + `PUB big 1000\r\n${"b".repeat(1000)}\r\n`.repeat(3))
      const pending = consumer.conn.pending
      expect(producer.conn.stall.stalledOn).toBe(consumer.conn)
      const waiting = yield* producer.conn.stall.take().pipe(Effect.forkChild)
      const ms = stallMillis(pending, 4096)
      yield* TestClock.adjust(ms - 1)
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(1)
      expect(waiting.pollUnsafe()).toBeDefined()

      // Again, but the writer drains it: released at once, no time passes.
      producer.send(`PUB big 1000\r\n${"b".repeat(1000)}\r\n`)
      expect(producer.conn.stall.stalledOn).toBe(consumer.conn)
      const again = yield* producer.conn.stall.take().pipe(Effect.forkChild)
      yield* Effect.yieldNow
      expect(again.pollUnsafe()).toBeUndefined()
      drain(consumer.conn.out)
      consumer.conn.written()
      yield* Fiber.join(again)
    }))
})

describe("route round trip and drain on TestClock", () => {
  const route = (clock: Clock.Clock) => {
    const { server } = makeServer({}, { clock })
    return new RouteConnection(server.nextId(), server, "127.0.0.1", 1, undefined, false, new FakeIO())
  }

  it.effect("roundTrip succeeds on the PONG to its PING (keepalive PINGs counted), else after its timeout", () =>
    Effect.gen(function*() {
      const r = route(yield* Clock.Clock)
      r.sendPing()
      const trip = yield* r.roundTrip(Duration.seconds(5)).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      expect(drain(r.out)).toBe("PING\r\nPING\r\n")
      // The keepalive's PONG is not the round trip's.
      r.pong()
      yield* Effect.yieldNow
      expect(trip.pollUnsafe()).toBeUndefined()
      r.pong()
      yield* Fiber.join(trip)

      const silent = yield* r.roundTrip(Duration.seconds(5)).pipe(Effect.forkChild)
      yield* TestClock.adjust(4_999)
      expect(silent.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(1)
      expect(silent.pollUnsafe()).toBeDefined()
    }))

  it.effect("a backlogged route holds a producer at most 1 s", () =>
    Effect.gen(function*() {
      const r = route(yield* Clock.Clock)
      r.inFlight = 9 * 1024 * 1024
      const waiting = yield* r.awaitDrain().pipe(Effect.forkChild)
      yield* TestClock.adjust(999)
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(1)
      expect(waiting.pollUnsafe()).toBeDefined()
    }))
})

describe("permissions that expire (fixed clock)", () => {
  it("allow_responses: one reply to a received request within `expires`, measured on the server's clock", () => {
    const { server, clock } = makeServer({
      authorization: {
        users: [
          { user: "svc", password: "p", permissions: { publish: { deny: [">"] }, subscribe: { allow: ["req"] }, allowResponses: { max: 1, expires: 1000 } } },
          { user: "cli", password: "p" }
        ]
      }
    })
    const svc = new ClientDriver(server)
    const cli = new ClientDriver(server)
    svc.send('CONNECT {"verbose":false,"user":"svc","pass":"p"}\r\nSUB req 1\r\n')
    cli.send('CONNECT {"verbose":false,"user":"cli","pass":"p"}\r\nSUB r.* 1\r\nPUB req r.1 1\r\nq\r\nPUB req r.2 1\r\nq\r\n')
    expect(svc.output()).toBe("MSG req 1 r.1 1\r\nq\r\nMSG req 1 r.2 1\r\nq\r\n")
    // Within the window: the reply goes; a second reply to the same request does not.
    clock.advance(999)
    expect(svc.send("PUB r.1 1\r\na\r\nPUB r.1 1\r\nb\r\n")).toBe("-ERR 'Permissions Violation for Publish to \"r.1\"'\r\n")
    expect(cli.output()).toBe("MSG r.1 1 1\r\na\r\n")
    // Past it: refused.
    clock.advance(2)
    expect(svc.send("PUB r.2 1\r\nc\r\n")).toBe("-ERR 'Permissions Violation for Publish to \"r.2\"'\r\n")
    expect(cli.output()).toBe("")
  })
})
