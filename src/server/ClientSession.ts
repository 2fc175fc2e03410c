/**
 * A client session: the supervised fiber that owns one client socket (see `Session` for the
 * fibers). Here: the greeting, connection limits, the TLS upgrade, the auth timer, keepalive and
 * what happens when the client is gone — unregister it, withdraw its interest, log and remember it.
 *
 * With TLS (nats-server 2.9): INFO goes out in plain text, then the client starts the handshake
 * (`ClientTls`); the reader, writer and timers only start on the upgraded socket.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type { TlsConfig } from "../net/Tls.js"
import { ErrText } from "../protocol/ProtocolError.js"
import { ClientConnection } from "./ClientConnection.js"
import { upgradeClient } from "./ClientTls.js"
import type { ServerState } from "./ServerState.js"
import { keepalive, KeepaliveTicker, makeSignals, remoteAddress, runSession, type SessionSpec } from "./Session.js"

/** Later PINGs only when the client was idle for a whole interval. */
const clientPingDue = (server: ServerState, conn: ClientConnection): boolean =>
  conn.now() - conn.lastActivity.getTime() >= server.options.pingInterval

/**
 * The keepalive of every client of `server` on one fiber (fork `run` in the listener's scope):
 * the same PINGs and times as a `keepalive` fiber per client, without the fiber.
 */
export const clientKeepalive = (server: ServerState): KeepaliveTicker<ClientConnection> =>
  new KeepaliveTicker<ClientConnection>({
    interval: () => server.options.pingInterval,
    pingMax: () => server.options.pingMax,
    due: (conn) => clientPingDue(server, conn),
    onStale: (conn) => server.log.debug(`${conn.prefix}Stale Client Connection - Closing`)
  })

/**
 * Run one client's session. With `ticker` its keepalive is an entry there; without one, a
 * `keepalive` fiber of its own.
 */
export const runClientSession = (
  socket: Socket.Socket,
  server: ServerState,
  tls?: TlsConfig,
  ticker?: KeepaliveTicker<ClientConnection>
) =>
  Effect.flatMap(remoteAddress, ({ ip, port }) => {
    const signals = makeSignals()
    const cid = server.nextId()
    server.totalConnections++
    const conn = new ClientConnection(cid, server, ip, port, signals.io)
    const log = server.log
    const o = server.options
    let keepaliveEntry: ReturnType<KeepaliveTicker<ClientConnection>["add"]> | undefined

    /** Greet (or refuse) the client: true when it was registered and sent INFO. */
    const greet = (): boolean => {
      log.debug(`${conn.prefix}Client connection created`)
      if (server.lameDuck) {
        // Lame duck: new clients are turned away so that they pick another member.
        conn.close("Server Shutdown")
        return false
      }
      if (server.clients.size >= o.maxConnections) {
        // nats-server still greets the client before refusing it.
        conn.sendInfo()
        log.error(`${conn.prefix}${ErrText.maxConnections}`)
        conn.close("Maximum Connections Exceeded", ErrText.maxConnections)
        return false
      }
      server.clients.set(cid, conn)
      conn.sendInfo()
      conn.flush()
      return true
    }

    /** The keepalive and auth timers (after the TLS handshake, as nats-server). */
    const timers = Effect.gen(function*() {
      if (ticker === undefined) {
        // Later PINGs only when the client was idle for a whole interval.
        yield* keepalive(conn, {
          first: Math.min(o.pingInterval, 2000),
          interval: () => server.options.pingInterval,
          pingMax: () => server.options.pingMax,
          due: () => clientPingDue(server, conn),
          onStale: () => log.debug(`${conn.prefix}Stale Client Connection - Closing`)
        }).pipe(Effect.forkScoped)
      } else {
        const jitter = yield* Random.next
        keepaliveEntry = ticker.add(conn, yield* Clock.currentTimeMillis, Math.min(o.pingInterval, 2000), jitter)
      }
      if (server.authRequired()) {
        yield* Effect.sleep(Duration.millis(server.auth.timeout)).pipe(
          Effect.andThen(Effect.sync(() => {
            if (conn.connected || conn.auth.connectReceived) return
            // nats-server: sendErrAndDebug.
            log.debug(`${conn.prefix}${ErrText.authTimeout}`)
            conn.close("Authentication Timeout", ErrText.authTimeout)
          })),
          Effect.forkScoped
        )
      }
      // Operator mode: a user JWT that expires ends the connection then.
      if (server.auth.operator !== undefined) yield* conn.auth.expiry().pipe(Effect.forkScoped)
    })

    /** Greet (or refuse) the client and start its timers. */
    const start = Effect.suspend(() => (greet() ? timers : Effect.void))

    /**
     * After a batch: a CONNECT waiting for its bcrypt verdict holds the rest of the connection's
     * input (nothing more is read) until it arrives; a client this batch backlogged: read nothing
     * more until it drains. Nothing to wait for (undefined) on the hot path.
     */
    const afterBatch = (): Effect.Effect<void> | undefined => {
      const pending = conn.auth.pending
      if (pending !== undefined) {
        return Effect.flatMap(Effect.promise(() => pending), () => {
          conn.resume()
          return afterBatch() ?? Effect.void
        })
      }
      return conn.stall.stalledOn === undefined ? undefined : conn.stall.take()
    }

    const spec = (start: Effect.Effect<void, never, Scope.Scope>): SessionSpec => ({
      kind: "client",
      limits: { maxControlLine: o.maxControlLine, maxPayload: o.maxPayload },
      onRead: (chunk) => {
        if (conn.firstByte < 0) conn.firstByte = chunk[0] ?? -1
      },
      handle: (parsed) => {
        conn.apply(parsed)
        return afterBatch()
      },
      sink: conn,
      writeDeadline: o.writeDeadline,
      onWritten: () => conn.written(),
      onWriteStall: () => {
        server.router.stats.slowConsumers++
        conn.account.stats.slowConsumers++
        log.info(`${conn.prefix}Slow Consumer Detected: WriteDeadline of ${o.writeDeadline / 1000}s exceeded`)
        conn.out.clear()
        conn.close("Slow Consumer (Write Deadline)")
      },
      start
    })

    const session = tls === undefined
      ? runSession(socket, conn, signals, spec(start))
      : Effect.flatMap(upgradeClient(conn, tls, greet), (upgraded) =>
        upgraded === undefined ? Effect.void : runSession(upgraded, conn, signals, spec(timers)))

    return session.pipe(
      Effect.scoped,
      Effect.ensuring(Effect.sync(() => {
        // Whatever ended the session: unregister, drop interest, log and remember it.
        conn.close("Server Shutdown")
        if (keepaliveEntry !== undefined) ticker?.remove(keepaliveEntry)
        server.clients.delete(cid)
        conn.removeAllSubscriptions()
        server.system.clientDisconnected(conn)
        log.debug(`${conn.prefix}Client connection closed: ${conn.closeReason}`)
        server.rememberClosed(conn)
      }))
    )
  })
