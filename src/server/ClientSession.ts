/**
 * A client session: the supervised fiber that owns one client socket.
 *
 * It forks three fibers in the session's scope — the reader (socket bytes → `Parser.stream` →
 * `ClientConnection.apply`, one call per read chunk), the writer (wakes when a batch left output
 * and writes it in one call) and the keepalive timer — then waits until the connection is closed
 * by either side, writes what is still buffered (an `-ERR`, say) and lets the scope close the socket.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Parser from "../protocol/Parser.js"
import { ErrText } from "../protocol/ProtocolError.js"
import { ClientConnection } from "./ClientConnection.js"
import type { ServerState } from "./ServerState.js"

/** How a writer hands bytes to the socket and learns about backpressure. */
export const writerLoop = (
  out: { take(): Uint8Array | undefined; readonly size: number },
  writer: Socket.Writer,
  wake: Latch.Latch,
  accounting: { inFlight: number },
  writeDeadline: number,
  onStall: () => void
) =>
  Effect.gen(function*() {
    while (true) {
      yield* wake.await
      wake.closeUnsafe()
      let chunk = out.take()
      while (chunk !== undefined) {
        accounting.inFlight += chunk.length
        const wrote = yield* writer.write(chunk).pipe(Effect.timeoutOption(Duration.millis(writeDeadline)))
        accounting.inFlight -= chunk.length
        if (Option.isNone(wrote)) return onStall()
        chunk = out.take()
      }
    }
  })

/** The remote address of a Node socket, when there is one. */
export const remoteAddress = Effect.map(
  Effect.serviceOption(NodeSocket.NetSocket),
  Option.match({
    onNone: () => ({ ip: "pipe", port: 0 }),
    onSome: (s) => {
      s.setNoDelay(true)
      return { ip: s.remoteAddress?.replace(/^::ffff:/, "") ?? "unknown", port: s.remotePort ?? 0 }
    }
  })
)

export const runClientSession = (socket: Socket.Socket, server: ServerState) =>
  Effect.flatMap(remoteAddress, ({ ip, port }) => {
    const closed = Deferred.makeUnsafe<void>()
    const wake = Latch.makeUnsafe(false)
    const cid = server.nextId()
    server.totalConnections++
    const conn = new ClientConnection(cid, server, ip, port, {
      wakeWriter: () => wake.openUnsafe(),
      closed: () => Deferred.doneUnsafe(closed, Effect.void)
    })
    return session(socket, server, conn, closed, wake).pipe(
      Effect.scoped,
      Effect.ensuring(Effect.sync(() => {
        // Whatever ended the session: unregister, drop interest, log and remember it.
        conn.close("Server Shutdown")
        server.clients.delete(cid)
        conn.removeAllSubscriptions()
        server.log.debug(`${conn.prefix}Client connection closed: ${conn.closeReason}`)
        server.rememberClosed(conn)
      }))
    )
  })

const session = (
  socket: Socket.Socket,
  server: ServerState,
  conn: ClientConnection,
  closed: Deferred.Deferred<void>,
  wake: Latch.Latch
) =>
  Effect.gen(function*() {
    const cid = conn.cid
    const log = server.log
    const o = server.options

    // Open the socket's read side in the session's scope, before anything can end the session: the
    // Node socket is only set up (and later destroyed) by its reader, and writes wait until it is.
    // A session refused at once (max_connections) would otherwise never write or close its socket.
    const pull = yield* Socket.readerBytes(socket)
    const reader = yield* Stream.fromPull(Effect.succeed(Effect.map(pull, (chunks) => {
      if (conn.firstByte < 0) conn.firstByte = chunks[0][0] ?? -1
      return chunks
    }))).pipe(
      Parser.stream("client", { maxControlLine: o.maxControlLine, maxPayload: o.maxPayload }),
      Stream.runForEach((parsed) => Effect.sync(() => conn.apply(parsed))),
      Effect.matchCause({
        onSuccess: () => conn.close("Client Closed"),
        onFailure: () => conn.close("Client Closed")
      }),
      Effect.forkScoped
    )
    const writer = yield* socket.writer
    const writing = yield* writerLoop(conn.out, writer, wake, conn, o.writeDeadline, () => {
      server.router.stats.slowConsumers++
      log.info(`${conn.prefix}Slow Consumer Detected: WriteDeadline of ${o.writeDeadline / 1000}s exceeded`)
      conn.out.clear()
      conn.close("Slow Consumer (Write Deadline)")
    }).pipe(Effect.forkScoped)

    log.debug(`${conn.prefix}Client connection created`)
    if (server.lameDuck) {
      // Lame duck: new clients are turned away so that they pick another member.
      conn.close("Server Shutdown")
    } else if (server.clients.size >= o.maxConnections) {
      // nats-server still greets the client before refusing it.
      conn.sendInfo()
      log.error(`${conn.prefix}${ErrText.maxConnections}`)
      conn.close("Maximum Connections Exceeded", ErrText.maxConnections)
    } else {
      server.clients.set(cid, conn)
      conn.sendInfo()
      conn.flush()
      yield* keepalive(conn, server).pipe(Effect.forkScoped)
      if (server.authRequired()) {
        const timeout = server.options.authorization?.timeout ?? 2000
        yield* Effect.sleep(Duration.millis(timeout)).pipe(
          Effect.andThen(Effect.sync(() => {
            if (!conn.connected) {
              log.error(`${conn.prefix}authentication timeout`)
              conn.close("Authentication Timeout", ErrText.authTimeout)
            }
          })),
          Effect.forkScoped
        )
      }
    }

    yield* Deferred.await(closed).pipe(Effect.onInterrupt(() => Effect.sync(() => conn.close("Server Shutdown"))))
    yield* Fiber.interrupt(reader)
    // Let the writer send what is left (an -ERR, the last messages) before the socket closes.
    conn.flush()
    yield* waitWriterDrained(conn.out, wake).pipe(Effect.timeoutOption(Duration.millis(Math.min(o.writeDeadline, 2000))))
    yield* Fiber.interrupt(writing)
  })

/** Wait until the writer has taken everything that was buffered. */
const waitWriterDrained = (out: { readonly size: number }, wake: Latch.Latch) =>
  Effect.gen(function*() {
    while (out.size > 0) {
      wake.openUnsafe()
      yield* Effect.yieldNow
    }
  })

/**
 * Server PINGs: the first after min(ping_interval, 2s) plus jitter (nats-server measures RTT with
 * it), then every ping_interval unless the client was active; more than ping_max unanswered →
 * `-ERR 'Stale Connection'`.
 */
const keepalive = (conn: ClientConnection, server: ServerState) =>
  Effect.gen(function*() {
    const interval = server.options.pingInterval
    const first = Math.min(interval, 2000)
    yield* Effect.sleep(Duration.millis(first + Math.random() * first * 0.2))
    let needRtt = true
    while (!conn.closing) {
      const idleFor = Date.now() - conn.lastActivity.getTime()
      if (needRtt || idleFor >= interval || conn.pingsOut > 0) {
        if (conn.pingsOut + 1 > server.options.pingMax) {
          server.log.debug(`${conn.prefix}Stale Client Connection - Closing`)
          conn.close("Stale Connection", ErrText.staleConnection)
          return
        }
        conn.sendPing()
      }
      needRtt = false
      yield* Effect.sleep(Duration.millis(interval))
    }
  })
