/**
 * The cluster-aware NatsClient against a three-node cluster of ours (child processes) whose members
 * are killed and restarted: fail-over to servers learned from `connect_urls`, resubscription,
 * publishes buffered while no server is up (and the bound on them), lame duck, the status stream,
 * drain — and the `sub` command riding through the loss of its server.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as NatsClient from "../../src/client/NatsClient.js"
import { binPath, type ChildServer, freePort, startOurs } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-client-"))
const procs = new Set<ChildServer>()
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Node {
  readonly name: string
  readonly port: number
  readonly routePort: number
  proc: ChildServer | undefined
}

/** Every node routes to the seed (A); a short lame-duck grace period so the test does not wait. */
const startNode = async (node: Node, seedRoutePort: number): Promise<ChildServer> => {
  const conf = path.join(dir, `${node.name}.conf`)
  fs.writeFileSync(
    conf,
    `server_name: ${node.name}\nlisten: 127.0.0.1:${node.port}\nlame_duck_grace_period: "200ms"\nlame_duck_duration: "30s"\n` +
      `cluster {\n  name: cc\n  listen: 127.0.0.1:${node.routePort}\n  routes: [nats://127.0.0.1:${seedRoutePort}]\n}\n`
  )
  const proc = await startOurs(["-c", conf])
  procs.add(proc)
  node.proc = proc
  return proc
}

const kill = async (node: Node) => {
  const proc = node.proc!
  node.proc = undefined
  await proc.stop()
  procs.delete(proc)
}

const hostPort = (n: Node) => `127.0.0.1:${n.port}`
const urlOf = (n: Node) => `nats://127.0.0.1:${n.port}`

/** Collect a client's status events from now on (the stream is subscribed before this returns). */
const recordStatus = (client: NatsClient.NatsClientShape) =>
  Effect.gen(function*() {
    const events: Array<NatsClient.ClientStatus> = []
    const fiber = yield* client.status.pipe(
      Stream.runForEach((e) => Effect.sync(() => events.push(e))),
      Effect.forkScoped({ startImmediately: true })
    )
    return Object.assign(events, { done: fiber })
  })

const awaitEvent = (events: ReadonlyArray<NatsClient.ClientStatus>, what: string, pred: (e: NatsClient.ClientStatus, i: number) => boolean, from = 0) =>
  Effect.promise(() => waitUntil(what, () => events.some((e, i) => i >= from && pred(e, i)), 30_000)).pipe(
    Effect.map(() => events.findIndex((e, i) => i >= from && pred(e, i)))
  )

describe("NatsClient in a three-node cluster whose members die and come back", () => {
  it.live("fails over to learned servers, resubscribes, buffers while no server is up (bounded), follows lame duck", () =>
    Effect.gen(function*() {
      const ports = yield* Effect.promise(() => Promise.all(Array.from({ length: 6 }, freePort)))
      const [A, B, C]: Array<Node> = ["A", "B", "C"].map((name, i) => ({ name, port: ports[i]!, routePort: ports[i + 3]!, proc: undefined }))
      const seed = A!.routePort
      yield* Effect.promise(() => Promise.all([A!, B!, C!].map((n) => startNode(n, seed))))

      const fast = Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 300 }))
      // S knows only A; it must learn B and C from A's INFO.
      const s = yield* NatsClient.make({ servers: [urlOf(A!)], name: "S", reconnect: fast, reconnectBufferSize: 4096 })
      const events = yield* recordStatus(s)
      yield* Effect.promise(() => waitUntil("S learned all three servers", () => Effect.runSync(s.servers).length === 3, 20_000))
      expect(Effect.runSync(s.servers)).toEqual(expect.arrayContaining([urlOf(A!), `nats://${hostPort(B!)}`, `nats://${hostPort(C!)}`]))

      const p = yield* NatsClient.make({ servers: [urlOf(C!)], name: "P", reconnect: fast })
      const got: Array<string> = []
      const sub = yield* s.subscription("cc.>")
      yield* sub.messages.pipe(Stream.runForEach((m) => Effect.sync(() => got.push(m.text()))), Effect.forkScoped)
      yield* s.flush()

      /** P publishes `text` until S has it (interest crosses a route asynchronously). */
      const deliverVia = (client: NatsClient.NatsClientShape, text: string) =>
        Effect.gen(function*() {
          const deadline = Date.now() + 20_000
          while (!got.includes(text)) {
            if (Date.now() > deadline) throw new Error(`"${text}" never arrived; got ${JSON.stringify(got)}`)
            yield* client.publish("cc.x", text)
            yield* client.flush()
            yield* Effect.sleep("50 millis")
          }
        })
      yield* deliverVia(p, "before")

      // 1. Kill A: S fails over to B or C, which it only learned about, and its subscription follows.
      yield* Effect.promise(() => kill(A!))
      const lostAt = yield* awaitEvent(events, "S disconnected from A", (e) => e._tag === "Disconnected" && e.server === urlOf(A!))
      const backAt = yield* awaitEvent(events, "S reconnected", (e) => e._tag === "Reconnected", lostAt)
      const failedOver = events[backAt] as { readonly server: string }
      expect([`nats://${hostPort(B!)}`, `nats://${hostPort(C!)}`]).toContain(failedOver.server)
      expect(s.server).toBe(failedOver.server)
      yield* deliverVia(p, "after failover")

      // 2. Kill the other two: nobody is up. Publishes are kept, up to the bound.
      const mark = events.length
      yield* Effect.promise(() => Promise.all([kill(B!), kill(C!)]))
      yield* awaitEvent(events, "S disconnected again", (e) => e._tag === "Disconnected", mark)
      expect(Effect.runSync(s.isConnected)).toBe(false)
      for (let i = 1; i <= 3; i++) yield* s.publish("cc.self", `buffered ${i}`)
      const refused = yield* Effect.flip(s.publish("cc.self", "x".repeat(4000)))
      expect(refused._tag).toBe("ReconnectBufferFull")
      // A flush started now waits for the next connection.
      const flushing = yield* s.flush().pipe(Effect.forkScoped)

      // 3. Restart A: S reconnects, resubscribes *before* its buffered publishes, so it gets its own.
      yield* Effect.promise(() => startNode(A!, seed))
      yield* awaitEvent(events, "S reconnected to A", (e) => e._tag === "Reconnected" && e.server === urlOf(A!), mark)
      yield* Effect.promise(() => waitUntil("S received its buffered publishes", () => got.filter((t) => t.startsWith("buffered")).length === 3, 20_000))
      expect(got.filter((t) => t.startsWith("buffered"))).toEqual(["buffered 1", "buffered 2", "buffered 3"])
      expect(got).not.toContain("x".repeat(4000))
      yield* Fiber.join(flushing)

      // 4. Lame duck: B comes back, A enters lame-duck mode; S hears it and moves to B.
      yield* Effect.promise(() => startNode(B!, seed))
      yield* Effect.promise(() => waitUntil("A announces B", () => (Effect.runSync(s.info).connect_urls ?? []).includes(hostPort(B!)), 20_000))
      const ldmMark = events.length
      A!.proc!.child.kill("SIGUSR2")
      yield* awaitEvent(events, "S saw lame duck", (e) => e._tag === "LameDuck" && e.server === urlOf(A!), ldmMark)
      yield* awaitEvent(events, "S moved to B", (e) => e._tag === "Reconnected" && e.server === `nats://${hostPort(B!)}`, ldmMark)
      const p2 = yield* NatsClient.make({ servers: [`nats://${hostPort(B!)}`], reconnect: false })
      yield* deliverVia(p2, "after lame duck")

      // 5. Drain: the subscription ends normally, the client closes, the status stream says so.
      yield* s.drain
      expect((yield* s.closed)._tag).toBe("ClientClosed")
      yield* awaitEvent(events, "S closed", (e) => e._tag === "Closed")
      const tags = events.map((e) => e._tag)
      expect(tags).toContain("ServersDiscovered")
      expect(tags).toContain("Reconnecting")
    }).pipe(Effect.scoped), 120_000)

  it.live("when the schedule gives up, the client ends with ConnectionLost and so do its subscriptions", () =>
    Effect.gen(function*() {
      const [port, routePort] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
      const node: Node = { name: "solo", port: port!, routePort: routePort!, proc: undefined }
      yield* Effect.promise(() => startNode(node, routePort!))
      const client = yield* NatsClient.make({ servers: [urlOf(node)], reconnect: Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 3 })) })
      const events = yield* recordStatus(client)
      const sub = yield* client.subscription("gone")
      const ending = yield* sub.messages.pipe(Stream.runDrain, Effect.flip, Effect.forkScoped)
      yield* Effect.promise(() => kill(node))
      const reason = yield* client.closed
      expect(reason._tag).toBe("ConnectionLost")
      expect(reason.message).toContain("reconnecting gave up")
      expect((yield* Fiber.join(ending))._tag).toBe("ConnectionLost")
      // One immediate round and three scheduled ones.
      expect(events.filter((e) => e._tag === "Reconnecting").length).toBe(4)
      expect(events.at(-1)?._tag).toBe("Closed")
      // The status stream ends with the Closed event.
      yield* Fiber.join(events.done)
    }).pipe(Effect.scoped), 60_000)

  it.live("the sub command keeps receiving after its server is killed", () =>
    Effect.gen(function*() {
      const ports = yield* Effect.promise(() => Promise.all(Array.from({ length: 4 }, freePort)))
      const A: Node = { name: "A", port: ports[0]!, routePort: ports[1]!, proc: undefined }
      const B: Node = { name: "B", port: ports[2]!, routePort: ports[3]!, proc: undefined }
      yield* Effect.promise(() => Promise.all([startNode(A, A.routePort), startNode(B, A.routePort)]))
      const sub = spawn(process.execPath, [binPath, "sub", "-s", urlOf(A), "walk"], { stdio: ["ignore", "pipe", "pipe"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => sub.kill("SIGKILL")))
      let out = ""
      let err = ""
      sub.stdout.on("data", (d: Buffer) => (out += d.toString()))
      sub.stderr.on("data", (d: Buffer) => (err += d.toString()))
      yield* Effect.promise(() => waitUntil("sub subscribed", () => err.includes("Subscribing on walk"), 20_000))
      const pub = yield* NatsClient.make({ servers: [urlOf(B)], reconnect: false })
      const sendUntil = (text: string) =>
        Effect.gen(function*() {
          const deadline = Date.now() + 20_000
          while (!out.includes(text)) {
            if (Date.now() > deadline) throw new Error(`sub never printed "${text}":\n${out}\n${err}`)
            yield* pub.publish("walk", text)
            yield* pub.flush()
            yield* Effect.sleep("50 millis")
          }
        })
      yield* sendUntil("one")
      yield* Effect.promise(() => kill(A))
      yield* sendUntil("two")
      expect(sub.exitCode).toBe(null)
      expect(err).toMatch(/Disconnected due to: .*, will attempt reconnect/)
      expect(err).toContain(`Reconnected [nats://${hostPort(B)}]`)
    }).pipe(Effect.scoped), 60_000)
})
