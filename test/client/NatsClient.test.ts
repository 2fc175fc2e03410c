/**
 * The Effect NATS client: one suite run against our server (in-process) and against real
 * nats-server 2.9 (skipped when it is not installed), plus a scripted fake server for what a real
 * server does not do on demand (-ERR mid-connection, a flood into a slow subscription, server PINGs).
 *
 * Tests wait on events (messages, replies, PONGs); where they need "the server has processed X" they
 * use a flush (PING/PONG) on the connection that sent X.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import * as NatsClient from "../../src/client/NatsClient.js"
import { Headers } from "../../src/client/NatsClient.js"
import { freePort, natsServerPath, startNatsServer, startServer } from "../support/servers.js"

interface Target {
  readonly url: string
  readonly stop: () => Promise<void>
  /** Client connections the server has now, when we can see inside it. */
  readonly clientCount?: () => number
}

const targets: ReadonlyArray<{ readonly name: string; readonly skip: boolean; readonly start: (auth?: boolean) => Promise<Target> }> = [
  {
    name: "effect-nats-server",
    skip: false,
    start: async (auth) => {
      const s = await startServer(auth === true ? { authorization: { user: "alice", password: "s3cret" } } : {})
      return { url: s.url, stop: s.stop, clientCount: () => s.broker.clients.size }
    }
  },
  {
    name: "nats-server",
    skip: natsServerPath === undefined,
    start: async (auth) => {
      const s = await startNatsServer(["-a", "127.0.0.1", "-p", "-1", ...(auth === true ? ["--user", "alice", "--pass", "s3cret"] : [])])
      return { url: s.url, stop: s.stop }
    }
  }
]

const waitUntilTrue = async (pred: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** Retry `effect` until `done` holds for its result (each try is a server round trip), at most ~5s. */
const eventually = <A, E>(effect: Effect.Effect<A, E>, done: (r: Exit.Exit<A, E>) => boolean) =>
  Effect.exit(effect).pipe(
    Effect.repeat({ until: done, schedule: Schedule.spaced("20 millis"), times: 250 })
  )

/** The `_tag` of a typed failure, "other" for a defect or interruption, undefined for a success. */
const failureTag = <A, E extends { readonly _tag: string }>(exit: Exit.Exit<A, E>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) ? error.value._tag : "other"
}

for (const target of targets) {
  describe.skipIf(target.skip)(`NatsClient against ${target.name}`, () => {
    let server: Target
    beforeAll(async () => {
      server = await target.start()
    })
    afterAll(async () => {
      await server?.stop()
    })

    const connect = (name: string, extra: Partial<NatsClient.NatsClientOptions> = {}) =>
      NatsClient.make({ servers: [server.url], name, ...extra })

    it.live("publish / subscribe: order, payloads, reply subjects, json", () =>
      Effect.gen(function*() {
        const a = yield* connect("pub")
        const b = yield* connect("sub")
        const sub = yield* b.subscription("greet.*")
        yield* b.flush()
        yield* a.publish("greet.one", "hello")
        yield* a.publish("greet.two", new Uint8Array([1, 2, 3]), { reply: "answer.here" })
        yield* a.publish("greet.three", JSON.stringify({ n: 42 }))
        yield* a.publish("other", "not for us")
        const got = yield* sub.messages.pipe(Stream.take(3), Stream.runCollect)
        expect(got.map((m) => m.subject)).toEqual(["greet.one", "greet.two", "greet.three"])
        expect(got[0]!.text()).toBe("hello")
        expect(got[0]!.reply).toBeUndefined()
        expect(got[0]!.headers).toBeUndefined()
        expect([...got[1]!.data]).toEqual([1, 2, 3])
        expect(got[1]!.reply).toBe("answer.here")
        expect(got[2]!.json()).toEqual({ n: 42 })
        expect((yield* a.info).max_payload).toBeGreaterThan(0)
      }))

    it.live("many publishes are batched and all arrive, in order", () =>
      Effect.gen(function*() {
        const a = yield* connect("pub")
        const b = yield* connect("sub")
        const n = 20_000
        const sub = yield* b.subscription("bulk")
        yield* b.flush()
        yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => a.publish("bulk", `m${i}`), { discard: true })
        yield* a.flush()
        const got = yield* sub.messages.pipe(Stream.take(n), Stream.map((m) => m.text()), Stream.runCollect)
        expect(got.length).toBe(n)
        expect(got[0]).toBe("m0")
        expect(got[n - 1]).toBe(`m${n - 1}`)
      }))

    it.live("queue subscribers share the messages; a plain subscriber gets them all", () =>
      Effect.gen(function*() {
        const a = yield* connect("pub")
        const b = yield* connect("workers-1")
        const c = yield* connect("workers-2")
        const n = 60
        const counts = [0, 0, 0]
        const allIn = yield* Deferred.make<void>()
        const check = () => {
          if (counts[0]! + counts[1]! === n && counts[2] === n) Deferred.doneUnsafe(allIn, Effect.void)
        }
        const run = (s: NatsClient.Subscription, i: number) =>
          s.messages.pipe(Stream.runForEach(() => Effect.sync(() => {
            counts[i]!++
            check()
          })), Effect.forkScoped)
        yield* run(yield* b.subscription("jobs", { queue: "workers" }), 0)
        yield* run(yield* c.subscription("jobs", { queue: "workers" }), 1)
        yield* run(yield* c.subscription("jobs"), 2)
        yield* b.flush()
        yield* c.flush()
        for (let i = 0; i < n; i++) yield* a.publish("jobs", `job ${i}`)
        yield* a.flush()
        yield* Deferred.await(allIn)
        // Nothing beyond: after round trips on every connection the totals are unchanged.
        yield* a.flush()
        yield* b.flush()
        yield* c.flush()
        expect(counts[0]! + counts[1]!).toBe(n)
        expect(counts[2]).toBe(n)
      }))

    it.live("request / reply through the shared inbox, concurrent requests", () =>
      Effect.gen(function*() {
        const a = yield* connect("requester")
        const b = yield* connect("responder")
        const service = yield* b.subscription("svc.upper")
        yield* service.messages.pipe(
          Stream.runForEach((m) => b.publish(m.reply!, m.text().toUpperCase())),
          Effect.forkScoped
        )
        yield* b.flush()
        const reply = yield* a.request("svc.upper", "hello")
        expect(reply.text()).toBe("HELLO")
        expect(reply.subject.startsWith("_INBOX.")).toBe(true)
        const many = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => `r${i}`),
          (body) => Effect.map(a.request("svc.upper", body), (m) => m.text()),
          { concurrency: "unbounded" }
        )
        expect(many).toEqual(Array.from({ length: 50 }, (_, i) => `R${i}`))
      }))

    it.live("headers round trip (multi-valued, case kept on the wire, case-insensitive lookup)", () =>
      Effect.gen(function*() {
        const a = yield* connect("requester")
        const b = yield* connect("responder")
        const sub = yield* b.subscription("with.headers")
        yield* b.flush()
        const headers = Headers.make({ "X-Trace": "abc-123", Multi: ["one", "two"] }).append("lower-case", "v: with colon")
        yield* a.publish("with.headers", "body", { headers })
        const [m] = yield* sub.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(m!.text()).toBe("body")
        expect(m!.status).toBeUndefined()
        expect(m!.headers!.get("x-trace")).toBe("abc-123")
        expect(m!.headers!.getAll("MULTI")).toEqual(["one", "two"])
        expect(m!.headers!.get("lower-case")).toBe("v: with colon")
        expect(m!.headers!.keys()).toEqual(["X-Trace", "Multi", "lower-case"])

        // Headers on a request and on its reply.
        const echo = yield* b.subscription("echo.headers")
        yield* echo.messages.pipe(
          Stream.runForEach((q) => b.publish(q.reply!, "", { headers: Headers.make({ Got: q.headers?.get("Ask") ?? "none" }) })),
          Effect.forkScoped
        )
        yield* b.flush()
        const reply = yield* a.request("echo.headers", "", { headers: Headers.make({ Ask: "42" }) })
        expect(reply.headers?.get("got")).toBe("42")
        expect(reply.data.length).toBe(0)
      }))

    it.live("a request nobody listens to fails fast with NoResponders", () =>
      Effect.gen(function*() {
        const a = yield* connect("requester")
        const started = Date.now()
        const error = yield* Effect.flip(a.request("nobody.home", "hi", { timeout: "10 seconds" }))
        expect(error._tag).toBe("NoResponders")
        expect(Date.now() - started).toBeLessThan(5000)
      }))

    it.live("a request that gets no reply fails with RequestTimeout", () =>
      Effect.gen(function*() {
        const a = yield* connect("requester")
        const b = yield* connect("silent")
        const seen = yield* Deferred.make<void>()
        const sub = yield* b.subscription("svc.silent")
        yield* sub.messages.pipe(Stream.runForEach(() => Deferred.succeed(seen, undefined)), Effect.forkScoped)
        yield* b.flush()
        const error = yield* Effect.flip(a.request("svc.silent", "anyone?", { timeout: 150 }))
        expect(error._tag).toBe("RequestTimeout")
        yield* Deferred.await(seen) // the request did reach the (silent) subscriber
        // The connection is still fine afterwards.
        yield* a.flush()
      }))

    it.live("when a subscription stream ends or is interrupted, the server loses the interest (UNSUB)", () =>
      Effect.gen(function*() {
        const a = yield* connect("requester")
        const b = yield* connect("subscriber")

        // Stream.take: the stream ends by itself after one message.
        const taking = yield* b.subscribe("gone.take").pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.forkScoped({ startImmediately: true })
        )
        yield* b.flush()
        yield* a.publish("gone.take", "only one")
        const got = yield* Fiber.join(taking)
        expect(got.map((m) => m.text())).toEqual(["only one"])
        yield* b.flush()
        expect((yield* Effect.flip(a.request("gone.take", "x")))._tag).toBe("NoResponders")

        // Interruption: a responder proves the interest, interrupting it removes it.
        const responder = yield* b.subscribe("gone.interrupt").pipe(
          Stream.runForEach((m) => b.publish(m.reply!, "here")),
          Effect.forkScoped({ startImmediately: true })
        )
        yield* b.flush()
        expect((yield* a.request("gone.interrupt", "x")).text()).toBe("here")
        yield* Fiber.interrupt(responder)
        yield* b.flush()
        expect((yield* Effect.flip(a.request("gone.interrupt", "x")))._tag).toBe("NoResponders")

        // max: the server unsubscribes after max messages, the stream ends after them.
        const maxed = yield* b.subscription("gone.max", { max: 2 })
        yield* b.flush()
        for (const body of ["1", "2", "3"]) yield* a.publish("gone.max", body)
        const two = yield* maxed.messages.pipe(Stream.runCollect)
        expect(two.map((m) => m.text())).toEqual(["1", "2"])
        yield* a.flush()
        expect((yield* Effect.flip(a.request("gone.max", "x")))._tag).toBe("NoResponders")
      }))

    it.live("closing the scope closes the connection (interest gone, operations fail with ClientClosed)", () =>
      Effect.gen(function*() {
        const a = yield* connect("observer")
        const before = server.clientCount?.()
        const scope = yield* Scope.make()
        const c = yield* connect("scoped").pipe(Scope.provide(scope))
        const sub = yield* c.subscription("scoped.svc").pipe(Scope.provide(scope))
        const serving = yield* sub.messages.pipe(
          Stream.runForEach((m) => c.publish(m.reply!, "up")),
          Effect.forkChild
        )
        yield* c.flush()
        expect((yield* a.request("scoped.svc", "?")).text()).toBe("up")
        if (before !== undefined) expect(server.clientCount!()).toBe(before + 1)

        yield* c.publish("scoped.last", "written before the close")
        yield* Scope.close(scope, Exit.void)
        // The subscription stream ended normally with the close.
        expect(Exit.isSuccess(yield* Fiber.await(serving))).toBe(true)
        expect((yield* Effect.flip(c.publish("scoped.svc", "x")))._tag).toBe("ClientClosed")
        expect((yield* Effect.flip(c.flush()))._tag).toBe("ClientClosed")
        expect((yield* c.closed)._tag).toBe("ClientClosed")
        // The server notices the close (asynchronously): the interest goes away.
        const last = yield* eventually(a.request("scoped.svc", "?", { timeout: 200 }), (e) => failureTag(e) === "NoResponders")
        expect(failureTag(last)).toBe("NoResponders")
        if (before !== undefined) {
          const count = server.clientCount!
          yield* eventually(Effect.sync(count), (e) => Exit.isSuccess(e) && e.value === before)
          expect(count()).toBe(before)
        }
      }))

    it.live("servers are tried in order until one connects", () =>
      Effect.gen(function*() {
        const closedPort = yield* Effect.promise(() => freePort())
        const c = yield* NatsClient.make({ servers: ["not a url at all::", `nats://127.0.0.1:${closedPort}`, server.url] })
        expect(c.server).toBe(server.url)
        yield* c.flush()
        const error = yield* Effect.flip(NatsClient.make({ servers: [`nats://127.0.0.1:${closedPort}`] }))
        expect(error._tag).toBe("ConnectError")
        expect(error.attempts).toHaveLength(1)
        expect(error.message).toContain("connection refused")
      }))

    it.live("arguments the server would refuse are rejected before anything is sent", () =>
      Effect.gen(function*() {
        const a = yield* connect("validating")
        expect((yield* Effect.flip(a.publish("bad subject", "x")))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(a.publish("", "x")))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(a.publish("ok", "x", { headers: Headers.make({ "bad key": "v" }) })))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(a.publish("ok", "x", { headers: Headers.make({ k: "a\r\nb" }) })))._tag).toBe("InvalidArgument")
        const max = (yield* a.info).max_payload
        expect((yield* Effect.flip(a.publish("ok", new Uint8Array(max + 1))))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(Effect.scoped(a.subscription("a..b"))))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(Effect.scoped(a.subscription("ok", { queue: "q q" }))))._tag).toBe("InvalidArgument")
        // The connection survived all of it.
        yield* a.flush()
      }))

    it.live("the layer connects on build and closes on release", () =>
      Effect.gen(function*() {
        const observer = yield* connect("observer")
        const program = Effect.gen(function*() {
          const client = yield* NatsClient.NatsClient
          const sub = yield* client.subscription("layer.svc")
          yield* sub.messages.pipe(Stream.runForEach((m) => client.publish(m.reply!, "from layer")), Effect.forkScoped)
          yield* client.flush()
          return (yield* observer.request("layer.svc", "?")).text()
        })
        const text = yield* Effect.scoped(program).pipe(Effect.provide(NatsClient.NatsClient.layer({ servers: [server.url], name: "layer" })))
        expect(text).toBe("from layer")
        const last = yield* eventually(observer.request("layer.svc", "?", { timeout: 200 }), (e) => failureTag(e) === "NoResponders")
        expect(failureTag(last)).toBe("NoResponders")
      }))
  })

  describe.skipIf(target.skip)(`NatsClient authentication against ${target.name}`, () => {
    let server: Target
    beforeAll(async () => {
      server = await target.start(true)
    })
    afterAll(async () => {
      await server?.stop()
    })

    it.live("good credentials connect (options or URL); bad ones fail with the server's -ERR", () =>
      Effect.gen(function*() {
        const ok = yield* NatsClient.make({ servers: [server.url], user: "alice", pass: "s3cret" })
        yield* ok.flush()
        const inUrl = yield* NatsClient.make({ servers: [server.url.replace("nats://", "nats://alice:s3cret@")] })
        yield* inUrl.flush()
        const error = yield* Effect.flip(NatsClient.make({ servers: [server.url], user: "alice", pass: "wrong" }))
        expect(error._tag).toBe("ConnectError")
        expect(error.message).toContain("Authorization Violation")
      }))
  })
}

// ---------------------------------------------------------------------------------------------------------
// A scripted server for behaviour real servers do not produce on demand
// ---------------------------------------------------------------------------------------------------------

interface FakeServer {
  readonly url: string
  /** Resolves with the first connection, after the client's CONNECT + PING were answered. */
  readonly connected: Promise<FakeConn>
  /** A promise of the next connection to complete its handshake (after this call). */
  readonly nextConnection: () => Promise<FakeConn>
  readonly close: () => Promise<void>
}

interface FakeConn {
  readonly socket: net.Socket
  /** Everything the client sent so far. */
  readonly received: () => string
  /** Resolves once the client has sent text matching `re`. */
  readonly waitFor: (re: RegExp) => Promise<string>
}

const INFO = `INFO {"server_id":"NFAKE","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576} \r\n`

const fakeServer = (): Promise<FakeServer> =>
  new Promise((resolve) => {
    const handshaken: Array<FakeConn> = []
    const waiting: Array<(c: FakeConn) => void> = []
    const onConn = (c: FakeConn) => {
      handshaken.push(c)
      for (const w of waiting.splice(0)) w(c)
    }
    const connected = new Promise<FakeConn>((r) => (handshaken.length > 0 ? r(handshaken[0]!) : waiting.push(r)))
    const sockets = new Set<net.Socket>()
    const srv = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      let text = ""
      const waiters = new Set<() => void>()
      const conn: FakeConn = {
        socket,
        received: () => text,
        waitFor: (re) =>
          new Promise((r) => {
            const check = () => {
              const m = re.exec(text)
              if (m !== null) {
                waiters.delete(check)
                r(m[0])
              }
            }
            waiters.add(check)
            check()
          })
      }
      let greeted = false
      socket.on("data", (d) => {
        text += d.toString("latin1")
        if (!greeted && /CONNECT [^\r]*\r\nPING\r\n/.test(text)) {
          greeted = true
          socket.write("PONG\r\n")
          onConn(conn)
        }
        for (const w of [...waiters]) w()
      })
      socket.write(INFO)
    })
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port
      resolve({
        url: `nats://127.0.0.1:${port}`,
        connected,
        nextConnection: () => new Promise<FakeConn>((r) => waiting.push(r)),
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy()
            srv.close(() => r())
          })
      })
    })
  })

describe("NatsClient against a scripted server", () => {
  const withFake = <A, E>(f: (fake: FakeServer) => Effect.Effect<A, E, Scope.Scope>) =>
    Effect.acquireRelease(Effect.promise(() => fakeServer()), (fake) => Effect.promise(() => fake.close())).pipe(Effect.flatMap(f))

  it.live("answers server PINGs with PONG", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        yield* NatsClient.make({ servers: [fake.url] })
        const conn = yield* Effect.promise(() => fake.connected)
        conn.socket.write("PING\r\n")
        yield* Effect.promise(() => conn.waitFor(/PONG\r\n/))
      })
    ))

  it.live("CONNECT asks for headers and no_responders and sends credentials", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        yield* NatsClient.make({ servers: [fake.url], name: "me", token: "tkn" })
        const conn = yield* Effect.promise(() => fake.connected)
        const json = JSON.parse(/CONNECT (\{.*\})\r\n/.exec(conn.received())![1]!) as Record<string, unknown>
        expect(json).toMatchObject({ verbose: false, pedantic: false, headers: true, no_responders: true, name: "me", auth_token: "tkn", protocol: 1 })
      })
    ))

  it.live("without reconnect, a fatal -ERR fails subscriptions and pending flushes with ServerError and closes the connection", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url], reconnect: false })
        const conn = yield* Effect.promise(() => fake.connected)
        const sub = yield* c.subscription("x")
        const draining = yield* sub.messages.pipe(Stream.runDrain, Effect.forkScoped)
        yield* Effect.promise(() => conn.waitFor(/SUB x 1\r\n/))
        // A flush whose PONG never comes, then the server gives up on us.
        const flushing = yield* c.flush().pipe(Effect.forkScoped)
        yield* Effect.promise(() => conn.waitFor(/SUB x 1\r\nPING\r\n/))
        conn.socket.write("-ERR 'Stale Connection'\r\n")
        const flushed = yield* Fiber.await(flushing)
        expect(failureTag(flushed)).toBe("ServerError")
        const subExit = yield* Fiber.await(draining)
        expect(failureTag(subExit)).toBe("ServerError")
        const reason = yield* c.closed
        expect(reason).toMatchObject({ _tag: "ServerError", message: "Stale Connection" })
        expect((yield* Effect.flip(c.publish("x", "y")))._tag).toBe("ServerError")
        // The client closes its socket.
        yield* Effect.promise(() => new Promise<void>((r) => (conn.socket.closed ? r() : conn.socket.once("close", () => r()))))
      })
    ))

  it.live("without reconnect, a connection dropped by the server fails subscriptions with ConnectionLost", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url], reconnect: false })
        const conn = yield* Effect.promise(() => fake.connected)
        const sub = yield* c.subscription("x")
        const draining = yield* sub.messages.pipe(Stream.runDrain, Effect.forkScoped)
        conn.socket.destroy()
        expect(failureTag(yield* Fiber.await(draining))).toBe("ConnectionLost")
        expect((yield* c.closed)._tag).toBe("ConnectionLost")
      })
    ))

  it.live("without reconnect, garbage from the server fails with ProtocolError", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url], reconnect: false })
        const conn = yield* Effect.promise(() => fake.connected)
        conn.socket.write("HELLO THERE\r\n")
        expect((yield* c.closed)._tag).toBe("ProtocolError")
      })
    ))

  it.live("a full subscription buffer fails that subscription with SlowConsumer (after the buffered messages) and UNSUBs it", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url], pendingLimit: 3 })
        const conn = yield* Effect.promise(() => fake.connected)
        const slow = yield* c.subscription("slow")
        const other = yield* c.subscription("other")
        yield* Effect.promise(() => conn.waitFor(/SUB other 2\r\n/))
        let flood = ""
        for (let i = 1; i <= 5; i++) flood += `MSG slow 1 2\r\nm${i}\r\n`
        flood += "MSG other 2 2\r\nok\r\n"
        conn.socket.write(flood)
        yield* Effect.promise(() => conn.waitFor(/UNSUB 1\r\n/))
        const got: Array<string> = []
        const exit = yield* slow.messages.pipe(Stream.runForEach((m) => Effect.sync(() => got.push(m.text()))), Effect.exit)
        expect(got).toEqual(["m1", "m2", "m3"])
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(error).toMatchObject({ _tag: "SlowConsumer", subject: "slow", pendingLimit: 3 })
        // The other subscription and the connection carry on.
        const [ok] = yield* other.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(ok!.text()).toBe("ok")
      })
    ))

  it.live("a permissions violation is a status event and the connection carries on; a fatal -ERR reconnects", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url], reconnect: Schedule.spaced("10 millis") })
        const events: Array<NatsClient.ClientStatus> = []
        yield* c.status.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkScoped({ startImmediately: true }))
        const conn = yield* Effect.promise(() => fake.connected)
        const sub = yield* c.subscription("ok")
        yield* Effect.promise(() => conn.waitFor(/SUB ok 1\r\n/))
        conn.socket.write(`-ERR 'Permissions Violation for Publish to "secret"'\r\nMSG ok 1 5\r\nstill\r\n`)
        const [m] = yield* sub.messages.pipe(Stream.take(1), Stream.runCollect)
        expect(m!.text()).toBe("still")
        expect(events).toEqual([{ _tag: "Error", server: fake.url, error: expect.objectContaining({ _tag: "ServerError", message: 'Permissions Violation for Publish to "secret"' }) }])
        yield* c.publish("ok", "more")
        yield* Effect.promise(() => conn.waitFor(/PUB ok 4\r\nmore\r\n/))
        expect(Effect.runSync(c.isConnected)).toBe(true)
        // A fatal one: the client drops the connection and reconnects (the fake server is still there).
        const reconnected = fake.nextConnection()
        conn.socket.write("-ERR 'Stale Connection'\r\n")
        const again = yield* Effect.promise(() => reconnected)
        yield* Effect.promise(() => again.waitFor(/SUB ok 1\r\n/))
        yield* Effect.promise(() => waitUntilTrue(() => events.some((e) => e._tag === "Reconnected")))
        expect(events.map((e) => e._tag)).toEqual(["Error", "Error", "Disconnected", "Reconnecting", "Reconnected"])
      })
    ))

  it.effect("reconnect rounds follow the Schedule on the Clock (TestClock): none until the clock moves", () =>
    Effect.gen(function*() {
      // A server that, once told to, refuses the handshake by closing every new connection at once.
      let refusing = false
      let accepted = 0
      const sockets = new Set<net.Socket>()
      const srv = net.createServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on("error", () => {})
        if (refusing) return void socket.destroy()
        socket.on("data", (d) => {
          if (d.toString().includes("PING\r\n")) socket.write("PONG\r\n")
        })
        socket.write(INFO)
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()))),
        () => Effect.promise(() => new Promise<void>((r) => {
          for (const s of sockets) s.destroy()
          srv.close(() => r())
        }))
      )
      const url = `nats://127.0.0.1:${(srv.address() as net.AddressInfo).port}`
      const c = yield* NatsClient.make({ servers: [url], reconnect: Schedule.spaced("1 minute") })
      const events: Array<NatsClient.ClientStatus> = []
      yield* c.status.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkScoped({ startImmediately: true }))
      refusing = true
      for (const s of sockets) s.destroy()
      // The first round is immediate, and refused.
      yield* Effect.promise(() => waitUntilTrue(() => accepted === 2))
      expect(events.map((e) => e._tag)).toEqual(["Disconnected", "Reconnecting"])
      refusing = false
      yield* TestClock.adjust("59 seconds")
      expect(accepted).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* Effect.promise(() => waitUntilTrue(() => events.some((e) => e._tag === "Reconnected")))
      expect(accepted).toBe(3)
      expect(events.map((e) => e._tag)).toEqual(["Disconnected", "Reconnecting", "Reconnecting", "Reconnected"])
      expect(events[2]).toEqual({ _tag: "Reconnecting", attempt: 2 })
    }).pipe(Effect.scoped))

  it.live("INFO connect_urls become fail-over candidates; ldm is reported", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url] })
        const events: Array<NatsClient.ClientStatus> = []
        yield* c.status.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkScoped({ startImmediately: true }))
        const conn = yield* Effect.promise(() => fake.connected)
        conn.socket.write(`INFO {"server_id":"NFAKE","version":"2.9.10","max_payload":1048576,"headers":true,"connect_urls":["127.0.0.1:1","[::1]:2"]}\r\n`)
        conn.socket.write(`INFO {"server_id":"NFAKE","version":"2.9.10","max_payload":1048576,"headers":true,"connect_urls":["127.0.0.1:1"],"ldm":true}\r\n`)
        yield* Effect.promise(() => waitUntilTrue(() => events.length === 2))
        // The second INFO no longer announces [::1]:2: dropped; the given server stays.
        expect(yield* c.servers).toEqual([fake.url, "nats://127.0.0.1:1"])
        expect(events).toEqual([
          { _tag: "ServersDiscovered", servers: ["nats://127.0.0.1:1", "nats://[::1]:2"] },
          { _tag: "LameDuck", server: fake.url }
        ])
        expect((yield* c.info).ldm).toBe(true)
      })
    ))

  it.live("msg.respond publishes to the reply subject; a message without one refuses", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url] })
        const conn = yield* Effect.promise(() => fake.connected)
        const sub = yield* c.subscription("svc")
        yield* Effect.promise(() => conn.waitFor(/SUB svc 1\r\n/))
        conn.socket.write("MSG svc 1 _INBOX.r1 2\r\nhi\r\nMSG svc 1 2\r\nno\r\n")
        const [withReply, without] = yield* sub.messages.pipe(Stream.take(2), Stream.runCollect)
        yield* withReply!.respond("answer", { headers: { "X-N": "1" } })
        yield* Effect.promise(() => conn.waitFor(/HPUB _INBOX\.r1 \d+ \d+\r\nNATS\/1\.0\r\nX-N: 1\r\n\r\nanswer\r\n/))
        expect((yield* Effect.flip(without!.respond("x")))._tag).toBe("InvalidArgument")
      })
    ))

  it.live("headers: records and pairs are accepted; malformed ones (from JavaScript) fail with InvalidArgument", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url] })
        const conn = yield* Effect.promise(() => fake.connected)
        yield* c.publish("h", "1", { headers: { "X-N": "1", "X-M": ["a", "b"] } })
        yield* c.publish("h", "2", { headers: [["X-P", "p"]] })
        yield* Effect.promise(() => conn.waitFor(/NATS\/1\.0\r\nX-N: 1\r\nX-M: a\r\nX-M: b\r\n\r\n1\r\n[^]*NATS\/1\.0\r\nX-P: p\r\n\r\n2\r\n/))
        const bad: ReadonlyArray<unknown> = [5, "X-N: 1", { "X-N": 1 }, { "X-N": ["a", 2] }, [["X-N"]], [5], { "Bad Name": "v" }, { "X-N": "a\r\nb" }]
        for (const headers of bad) {
          const error = yield* Effect.flip(c.publish("h", "x", { headers: headers as never }))
          expect(error._tag).toBe("InvalidArgument")
          const requested = yield* Effect.flip(c.request("h", "x", { headers: headers as never }))
          expect(requested._tag).toBe("InvalidArgument")
        }
        expect((yield* Effect.flip(c.publish("h", 42 as never)))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(c.publish(undefined as never, "x")))._tag).toBe("InvalidArgument")
        expect(Effect.runSync(c.isConnected)).toBe(true)
      })
    ))

  it.live("drain: UNSUBs, delivers what the server sent before the PONG, ends the streams, closes", () =>
    withFake((fake) =>
      Effect.gen(function*() {
        const c = yield* NatsClient.make({ servers: [fake.url] })
        const conn = yield* Effect.promise(() => fake.connected)
        const sub = yield* c.subscription("d")
        const collected = yield* sub.messages.pipe(Stream.runCollect, Effect.forkScoped)
        yield* Effect.promise(() => conn.waitFor(/SUB d 1\r\n/))
        yield* c.publish("d", "last words")
        const draining = yield* c.drain.pipe(Effect.forkScoped)
        yield* Effect.promise(() => conn.waitFor(/UNSUB 1\r\nPING\r\n/))
        // In flight when the UNSUB arrived: still delivered.
        conn.socket.write("MSG d 1 4\r\nlate\r\nPONG\r\n")
        yield* Fiber.join(draining)
        expect((yield* Fiber.join(collected)).map((m) => m.text())).toEqual(["late"])
        expect((yield* c.closed)._tag).toBe("ClientClosed")
        expect(conn.received()).toContain("PUB d 10\r\nlast words\r\n")
        expect((yield* Effect.flip(c.publish("d", "x")))._tag).toBe("ClientClosed")
        // The status stream of a client that is over is just its Closed event.
        const after = yield* c.status.pipe(Stream.runCollect)
        expect(after.map((e) => e._tag)).toEqual(["Closed"])
      })
    ))

  it.live("a connect attempt that never completes is bounded by connectTimeout", () =>
    Effect.gen(function*() {
      // A server that accepts and never says anything.
      const silent = net.createServer((s) => s.on("error", () => {}))
      const sockets = new Set<net.Socket>()
      silent.on("connection", (s) => sockets.add(s))
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()))),
        () => Effect.promise(() => new Promise<void>((r) => {
          for (const s of sockets) s.destroy()
          silent.close(() => r())
        }))
      )
      const port = (silent.address() as net.AddressInfo).port
      const error = yield* Effect.flip(NatsClient.make({ servers: [`nats://127.0.0.1:${port}`], connectTimeout: 200 }))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("no connection within")
    }))
})

describe("Headers", () => {
  it("encode / decode round trip, with status lines", () => {
    const h = Headers.make([["A", "1"], ["b", "2"], ["A", "3"]])
    const bytes = NatsClient.encodeHeaders(h)
    expect(Buffer.from(bytes).toString()).toBe("NATS/1.0\r\nA: 1\r\nb: 2\r\nA: 3\r\n\r\n")
    const back = NatsClient.decodeHeaders(bytes)
    expect([...back.headers]).toEqual([["A", "1"], ["b", "2"], ["A", "3"]])
    expect(back.status).toBeUndefined()
    const noResponders = NatsClient.decodeHeaders(Buffer.from("NATS/1.0 503\r\n\r\n"))
    expect(noResponders.status).toBe(503)
    expect(noResponders.headers.size).toBe(0)
    const described = NatsClient.decodeHeaders(NatsClient.encodeHeaders(Headers.empty, { code: 408, description: "Request Timeout" }))
    expect(described).toMatchObject({ status: 408, description: "Request Timeout" })
  })

  it("is immutable; set replaces every value of a key, lookups ignore case", () => {
    const a = Headers.make({ Key: ["1", "2"], Other: "x" })
    const b = a.set("KEY", "3")
    expect(a.getAll("key")).toEqual(["1", "2"])
    expect(b.getAll("key")).toEqual(["3"])
    expect(b.keys()).toEqual(["KEY", "Other"])
    expect(b.delete("other").has("Other")).toBe(false)
    expect(a.toRecord()).toEqual({ Key: ["1", "2"], Other: ["x"] })
  })
})
