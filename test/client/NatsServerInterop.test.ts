/**
 * The cluster-aware NatsClient against real nats-server 2.9 (skipped when it is not installed):
 * a permissions violation is a non-fatal `-ERR` (a status event, the connection stays up), a
 * two-node nats-server cluster is learned from `connect_urls` and failed over to when a member is
 * killed, and nats-server's lame-duck INFO is reported.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as NatsClient from "../../src/client/NatsClient.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "client-interop-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const start = async (name: string, conf: string) => {
  const file = path.join(dir, `${name}.conf`)
  fs.writeFileSync(file, conf)
  const p = await startNatsServer(["-c", file])
  procs.push(p)
  return p
}

const record = (client: NatsClient.NatsClientShape) =>
  Effect.gen(function*() {
    const events: Array<NatsClient.ClientStatus> = []
    yield* client.status.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkScoped({ startImmediately: true }))
    return events
  })

describe.skipIf(natsServerPath === undefined)("NatsClient against real nats-server", () => {
  it.live("a permissions violation is reported on the status stream and the connection stays up", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const s = yield* Effect.promise(() =>
        start("perm", `listen: 127.0.0.1:${port}\nauthorization { users: [ { user: u, password: p, permissions: { publish: { deny: ["secret"] } } } ] }\n`)
      )
      const client = yield* NatsClient.make({ servers: [`nats://u:p@127.0.0.1:${s.port}`], reconnect: false })
      const events = yield* record(client)
      yield* client.publish("secret", "x")
      yield* client.flush()
      yield* Effect.promise(() => waitUntil("the -ERR arrived", () => events.length > 0))
      expect(events[0]).toMatchObject({ _tag: "Error", error: { _tag: "ServerError", message: 'Permissions Violation for Publish to "secret"' } })
      // Still connected and working.
      const sub = yield* client.subscription("open")
      yield* client.publish("open", "fine")
      const [m] = yield* sub.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(m!.text()).toBe("fine")
      expect(yield* client.isConnected).toBe(true)
    }).pipe(Effect.scoped), 60_000)

  it.live("learns the other member from connect_urls, fails over when its server is killed, reports lame duck", () =>
    Effect.gen(function*() {
      const [pa, pb, ra, rb] = yield* Effect.promise(() => Promise.all(Array.from({ length: 4 }, freePort)))
      const cluster = (port: number, route: number) =>
        `listen: 127.0.0.1:${port}\nlame_duck_grace_period: "200ms"\nlame_duck_duration: "30s"\n` +
        `cluster { name: interop, listen: 127.0.0.1:${route}, routes: [nats://127.0.0.1:${ra}, nats://127.0.0.1:${rb}] }\n`
      const [A, B] = yield* Effect.promise(() => Promise.all([start("a", cluster(pa!, ra!)), start("b", cluster(pb!, rb!))]))
      const client = yield* NatsClient.make({ servers: [A.url], reconnect: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 200 })) })
      const events = yield* record(client)
      yield* Effect.promise(() => waitUntil("learned B", () => Effect.runSync(client.servers).includes(`nats://127.0.0.1:${pb}`), 20_000))
      const sub = yield* client.subscription("ia")
      // Lame duck on A: reported, then A closes us and we move to B, with the subscription.
      A.child.kill("SIGUSR2")
      yield* Effect.promise(() => waitUntil("lame duck", () => events.some((e) => e._tag === "LameDuck"), 20_000))
      yield* Effect.promise(() => waitUntil("moved to B", () => events.some((e) => e._tag === "Reconnected"), 30_000))
      expect(client.server).toBe(`nats://127.0.0.1:${pb}`)
      yield* client.publish("ia", "on B")
      const [m] = yield* sub.messages.pipe(Stream.take(1), Stream.runCollect)
      expect(m!.text()).toBe("on B")
      void B
    }).pipe(Effect.scoped), 90_000)
})
