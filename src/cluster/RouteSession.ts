/**
 * A route link: the supervised fiber that owns one route socket, accepted or dialed.
 *
 * Both ends write their INFO at once (a dialer writes CONNECT first, in the same write) and never
 * wait for the peer's. The reader runs parsed batches through `RouteConnection.apply` and hands
 * INFO/CONNECT to the cluster in order; the writer and the keepalive are as for clients.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import type * as Socket from "effect/socket/Socket"
import * as SocketModule from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Encoder from "../protocol/Encoder.js"
import * as Parser from "../protocol/Parser.js"
import { ErrText } from "../protocol/ProtocolError.js"
import { remoteAddress, writerLoop } from "../server/ClientSession.js"
import type { ClusterState } from "./Cluster.js"
import { RouteConnection } from "./RouteConnection.js"

export interface Dialed {
  readonly url: string
  readonly explicit: boolean
}

/** Run one route link until it closes; resolves with the connection (its close reason, peer). */
export const runRouteSession = (socket: Socket.Socket, cluster: ClusterState, dialed: Dialed | undefined, address?: { ip: string; port: number }) =>
  Effect.flatMap(address === undefined ? remoteAddress : Effect.succeed(address), ({ ip, port }) => {
    const server = cluster.server
    const closed = Deferred.makeUnsafe<void>()
    const wake = Latch.makeUnsafe(false)
    const conn = new RouteConnection(server.nextId(), server, ip, port, dialed?.url, dialed?.explicit ?? false, {
      wakeWriter: () => wake.openUnsafe(),
      closed: () => Deferred.doneUnsafe(closed, Effect.void)
    })
    cluster.links.add(conn)
    return session(socket, cluster, conn, closed, wake).pipe(
      Effect.scoped,
      Effect.ensuring(Effect.suspend(() => {
        conn.close("Server Shutdown")
        return cluster.routeClosed(conn)
      })),
      Effect.as(conn)
    )
  })

const session = (
  socket: Socket.Socket,
  cluster: ClusterState,
  conn: RouteConnection,
  closed: Deferred.Deferred<void>,
  wake: Latch.Latch
) =>
  Effect.gen(function*() {
    const server = cluster.server
    const log = server.log
    const o = server.options

    const handleBatch = (parsed: Parser.Parsed) =>
      Effect.gen(function*() {
        let i = conn.apply(parsed, 0)
        while (i < parsed.ops.length && !conn.closing) {
          const op = parsed.ops[i]!
          if (op._tag === "Info") yield* cluster.handleInfo(conn, op.json)
          else if (op._tag === "Connect") yield* cluster.handleConnect(conn, op.json)
          else if (op._tag === "Err") {
            log.error(`${conn.prefix}Route Error ${op.message}`)
            conn.close("Parse Error")
          }
          i = conn.apply(parsed, i + 1)
        }
        // nats-server keeps parsing the read it closed on: an -ERR right behind the INFO that made
        // it close (e.g. a cluster name rejection) is still logged.
        for (; i < parsed.ops.length; i++) {
          const op = parsed.ops[i]!
          if (op._tag === "Err") log.error(`${conn.prefix}Route Error ${op.message}`)
        }
        if (parsed.error !== undefined && !conn.closing) {
          log.error(`${conn.prefix}${parsed.error.detail}`)
          conn.close(parsed.error.reason, parsed.error.errText)
        }
      })

    const reader = yield* SocketModule.toStream(socket).pipe(
      // Routes have no payload limit; control lines are bounded as for clients.
      Parser.stream("route", { maxControlLine: o.maxControlLine, maxPayload: Infinity }),
      Stream.runForEach(handleBatch),
      Effect.matchCause({ onSuccess: () => conn.close("Client Closed"), onFailure: () => conn.close("Client Closed") }),
      Effect.forkScoped
    )
    const writer = yield* socket.writer
    const writing = yield* writerLoop(conn.out, writer, wake, conn, o.writeDeadline, () => {
      log.info(`${conn.prefix}Slow Consumer Detected: WriteDeadline of ${o.writeDeadline / 1000}s exceeded`)
      conn.close("Slow Consumer (Write Deadline)")
    }).pipe(Effect.forkScoped)

    // Our INFO goes out at once, after CONNECT when we dialed; never wait for the peer's.
    if (conn.solicitedUrl !== undefined) {
      log.debug(`${conn.prefix}Route connect msg sent`)
      conn.send(cluster.routeConnect(conn.solicitedUrl))
    }
    conn.send(Encoder.info(cluster.routeInfo()))
    conn.flush()
    log.info(`${conn.prefix}Route connection created`)
    yield* keepalive(conn, server.options.pingInterval, server.options.pingMax, log).pipe(Effect.forkScoped)

    yield* Deferred.await(closed).pipe(Effect.onInterrupt(() => Effect.sync(() => conn.close("Server Shutdown"))))
    yield* Fiber.interrupt(reader)
    conn.flush()
    yield* Effect.gen(function*() {
      while (conn.out.size > 0) {
        wake.openUnsafe()
        yield* Effect.yieldNow
      }
    }).pipe(Effect.timeoutOption(Duration.millis(1000)))
    yield* Fiber.interrupt(writing)
  })

/** First PING after ~1s (min(ping_interval, 1s) + jitter), then every ping_interval. */
const keepalive = (conn: RouteConnection, interval: number, pingMax: number, log: { debug(m: string): void }) =>
  Effect.gen(function*() {
    const first = Math.min(interval, 1000)
    yield* Effect.sleep(Duration.millis(first + Math.random() * first * 0.2))
    log.debug(`${conn.prefix}Router Ping Timer`)
    while (!conn.closing) {
      if (conn.pingsOut + 1 > pingMax) {
        log.debug(`${conn.prefix}Stale Route Connection - Closing`)
        conn.close("Stale Connection", ErrText.staleConnection)
        return
      }
      conn.sendPing()
      yield* Effect.sleep(Duration.millis(interval))
    }
  })
