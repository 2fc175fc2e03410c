/**
 * A gossiped (implicit) route whose URL now answers as a different server — the one gossiped
 * restarted with a new id — that is already connected through another route: the dialer stops,
 * as nats-server does ("already connected"), instead of redialing it every second forever as a
 * duplicate route. And a lost gossiped route is redialed as quickly as nats-server does. Both
 * found by the cluster chaos runs.
 */
import * as net from "node:net"
import { layer as layerTest } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/testing/TestClock"
import { afterEach, expect, it } from "vitest"
import { decodeServerOptions } from "../../src/config/ServerOptions.js"
import { Log, LogLines } from "../../src/log/Log.js"
import * as NatsServer from "../../src/NatsServer.js"
import { Cluster } from "../../src/cluster/Cluster.js"
import { RawClient } from "../support/raw.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

// The smallest possible server id: any real id compares above it, so duplicate resolution keeps
// the link this peer dialed and drops the one our server dials (see Duplicates.ts).
// Server ids are base32 (A–Z, 2–7) after the N, and "2" sorts lowest: `N22…2` is below any
// real id (an all-"A" id is not: a real `NA6…` sorts below `NAA…`).
const PEER_ID = `N${"2".repeat(55)}`
const GONE_ID = `N${"B".repeat(55)}`

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

it("stops dialing a gossiped URL once the server there is connected through another route", async () => {
  const A: TestServer = await startServer({ serverName: "A", debug: true, cluster: { name: "t", host: "127.0.0.1", port: -1 } })
  cleanup.push(() => A.stop())
  const info = (id: string, port: number) =>
    `INFO {"server_id":"${id}","server_name":"${id.slice(0, 4)}","version":"2.9.10","proto":2,"host":"127.0.0.1","port":${port},"headers":true,"max_payload":1048576,"cluster":"t"}\r\n`

  // Where the gossip will point: a route listener that answers as PEER_ID, counting dials.
  let dials = 0
  const sockets: Array<net.Socket> = []
  const acceptor = net.createServer((s) => {
    dials++
    sockets.push(s)
    s.on("error", () => {})
    s.write(info(PEER_ID, 1))
  })
  await new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r))
  cleanup.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    acceptor.close(() => r())
  }))
  const acceptorPort = (acceptor.address() as net.AddressInfo).port

  // PEER_ID connects to A as a route, and tells A about GONE_ID, "reachable" at the acceptor.
  const peer = await RawClient.connect(A.cluster!.listen!.port)
  cleanup.push(() => peer.close())
  peer.send(`CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"${PEER_ID}","cluster":"t"}\r\n${info(PEER_ID, 1)}`)
  await waitUntil("A registers the peer", () => A.cluster!.routes.has(PEER_ID))
  peer.send(`INFO {"server_id":"${GONE_ID}","server_name":"gone","version":"2.9.10","proto":2,"host":"127.0.0.1","port":${acceptorPort},"headers":true,"max_payload":1048576,"ip":"nats-route://127.0.0.1:${acceptorPort}/","cluster":"t"}\r\n`)

  const stopped = `Not attempting reconnect for solicited route, already connected to "${PEER_ID}"`
  await waitUntil("the implicit dialer gives up", () => A.lines().some((l) => l.includes(stopped)), 10_000)
    .catch((e: Error) => Promise.reject(new Error(`${e.message}\n${A.lines().join("\n")}`)))
  expect(dials).toBe(1)
  expect(A.lines().filter((l) => l.includes(`Trying to connect to route on 127.0.0.1:${acceptorPort}`))).toHaveLength(1)
  // The peer's own link is still the route.
  expect(A.cluster!.routes.get(PEER_ID)?.closing).toBe(false)
})

/**
 * A gossiped route the peer closes is redialed after at most 100 ms, as nats-server does (a
 * configured one waits a second more); before, it waited a second like a failed dial. On the
 * TestClock: the redial must happen once the clock moved 150 ms, with no further time passing.
 */
layerTest(
  Layer.provideMerge(
    NatsServer.layerWithLog(decodeServerOptions({ host: "127.0.0.1", port: -1, serverName: "A", cluster: { name: "t", host: "127.0.0.1", port: -1 } })),
    Log.layerTestWith({ debug: true, trace: false })
  )
)("implicit reconnect schedule", (it) => {
  it.effect("a lost gossiped route is redialed within 100 ms", () =>
    Effect.gen(function*() {
      const cluster = Option.getOrThrow(yield* Effect.serviceOption(Cluster))
      const lines = yield* LogLines
      const X_ID = `N${"C".repeat(55)}`
      // The gossiped server X: answers every dial as X, and closes the first link once registered.
      const dials: Array<net.Socket> = []
      const acceptor = net.createServer((s) => {
        dials.push(s)
        s.on("error", () => {})
        s.write(`INFO {"server_id":"${X_ID}","server_name":"X","version":"2.9.10","proto":2,"host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"t"}\r\n`)
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r))),
        () => Effect.promise(() => new Promise<void>((r) => {
          for (const s of dials) s.destroy()
          acceptor.close(() => r())
        }))
      )
      const xPort = (acceptor.address() as net.AddressInfo).port
      const peer = yield* Effect.acquireRelease(
        Effect.promise(() => RawClient.connect(cluster.listen!.port)),
        (p) => Effect.sync(() => p.close())
      )
      peer.send(`CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"${PEER_ID}","cluster":"t"}\r\nINFO {"server_id":"${PEER_ID}","server_name":"P","version":"2.9.10","proto":2,"host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"t"}\r\n`)
      yield* Effect.promise(() => waitUntil("A registers the peer", () => cluster.routes.has(PEER_ID)))
      peer.send(`INFO {"server_id":"${X_ID}","server_name":"X","version":"2.9.10","proto":2,"host":"127.0.0.1","port":${xPort},"headers":true,"max_payload":1048576,"ip":"nats-route://127.0.0.1:${xPort}/","cluster":"t"}\r\n`)
      yield* Effect.promise(() => waitUntil("A dials X and registers it", () => dials.length === 1 && cluster.routes.has(X_ID)))
      dials[0]!.destroy()
      yield* Effect.promise(() => waitUntil("A drops X", () => !cluster.routes.has(X_ID)))
      yield* TestClock.adjust("150 millis")
      yield* Effect.promise(() => waitUntil("A redials X", () => dials.length === 2, 5000))
      expect(lines.lines.some((l) => l.includes(`Attempting reconnect for solicited route "nats-route://127.0.0.1:${xPort}/"`))).toBe(true)
    }))
})
