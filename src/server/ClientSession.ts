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
import type * as Parser from "../protocol/Parser.js"
import { keepalive, type KeepaliveEntry, KeepaliveTicker, makeSignals, remoteAddress, runSession, type SessionSpec } from "./Session.js"

/** Later PINGs only when the client was idle for a whole interval. */
const clientPingDue = (server: ServerState, conn: ClientConnection): boolean =>
  conn.now() - conn.lastActivityMs >= server.options.pingInterval

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
 * One client's session as one object: the `SessionSpec` the session drives (prototype methods, so
 * an idle connection holds no closures for them), the greeting, the timers and the clean-up.
 */
class ClientSessionRun implements SessionSpec {
  readonly kind = "client" as const
  readonly limits: Parser.ParserLimits
  readonly writeDeadline: number
  readonly signals = makeSignals()
  readonly conn: ClientConnection
  /** Whole PUB/HPUB messages of a read go straight to the connection (`Parser.MsgSink`). */
  readonly sink: ClientConnection
  readonly cid: number
  keepaliveEntry: KeepaliveEntry<ClientConnection> | undefined = undefined
  /** The session greets the client first (false after a TLS upgrade: INFO went out before it). */
  greetsFirst = true

  constructor(
    readonly server: ServerState,
    ip: string,
    port: number,
    readonly ticker: KeepaliveTicker<ClientConnection> | undefined
  ) {
    const o = server.options
    this.limits = { maxControlLine: o.maxControlLine, maxPayload: o.maxPayload }
    this.writeDeadline = o.writeDeadline
    this.cid = server.nextId()
    server.totalConnections++
    this.conn = new ClientConnection(this.cid, server, ip, port, this.signals.io)
    this.sink = this.conn
  }

  /** Greet (or refuse) the client: true when it was registered and sent INFO. */
  greet(): boolean {
    const { server, conn } = this
    const log = server.log
    log.debug(`${conn.prefix}Client connection created`)
    if (server.lameDuck) {
      // Lame duck: new clients are turned away so that they pick another member.
      conn.close("Server Shutdown")
      return false
    }
    if (server.clients.size >= server.options.maxConnections) {
      // nats-server still greets the client before refusing it.
      conn.sendInfo()
      log.error(`${conn.prefix}${ErrText.maxConnections}`)
      conn.close("Maximum Connections Exceeded", ErrText.maxConnections)
      return false
    }
    server.clients.set(this.cid, conn)
    conn.sendInfo()
    conn.flush()
    return true
  }

  /** The keepalive and auth timers (after the TLS handshake, as nats-server). */
  timers(): Effect.Effect<void, never, Scope.Scope> {
    const self = this
    return Effect.gen(function*() {
      const { server, conn, ticker } = self
      const o = server.options
      const log = server.log
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
        self.keepaliveEntry = ticker.add(conn, yield* Clock.currentTimeMillis, Math.min(o.pingInterval, 2000), jitter)
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
  }

  /** Greet (or refuse) the client and start its timers; after a TLS upgrade, the timers. */
  get start(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.suspend(() => (!this.greetsFirst || this.greet() ? this.timers() : Effect.void))
  }

  /**
   * After a batch: a CONNECT waiting for its bcrypt verdict holds the rest of the connection's
   * input (nothing more is read) until it arrives; a client this batch backlogged: read nothing
   * more until it drains. Nothing to wait for (undefined) on the hot path.
   */
  afterBatch(): Effect.Effect<void> | undefined {
    const conn = this.conn
    const pending = conn.auth.pending
    if (pending !== undefined) {
      return Effect.flatMap(Effect.promise(() => pending), () => {
        conn.resume()
        return this.afterBatch() ?? Effect.void
      })
    }
    return conn.stall.stalledOn === undefined ? undefined : conn.stall.take()
  }

  /**
   * A busy client's reads go into a buffer of its own (`Session.useReadBuffer`): nothing of a read
   * is kept past its batch — payloads are copied into the outputs, in-process subscribers copy
   * theirs, and a batch that waits (bcrypt, a stall) holds reading meanwhile.
   */
  get reuseReadBuffer(): "busy" {
    return "busy"
  }

  onRead(chunk: Uint8Array): void {
    const conn = this.conn
    if (conn.firstByte < 0) conn.firstByte = chunk[0] ?? -1
  }

  handle(parsed: Parser.Parsed): Effect.Effect<void> | undefined {
    this.conn.apply(parsed)
    return this.afterBatch()
  }

  onWritten(): void {
    this.conn.written()
  }

  onWriteStall(): void {
    const { server, conn } = this
    server.router.stats.slowConsumers++
    conn.account.stats.slowConsumers++
    server.log.info(`${conn.prefix}Slow Consumer Detected: WriteDeadline of ${this.writeDeadline / 1000}s exceeded`)
    conn.out.clear()
    conn.close("Slow Consumer (Write Deadline)")
  }

  /** Whatever ended the session: unregister, drop interest, log and remember it. */
  finish(): void {
    const { server, conn } = this
    conn.close("Server Shutdown")
    if (this.keepaliveEntry !== undefined) this.ticker?.remove(this.keepaliveEntry)
    server.clients.delete(this.cid)
    conn.removeAllSubscriptions()
    server.system.clientDisconnected(conn)
    server.log.debug(`${conn.prefix}Client connection closed: ${conn.closeReason}`)
    server.rememberClosed(conn)
  }
}

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
    const run = new ClientSessionRun(server, ip, port, ticker)
    const session = tls === undefined
      ? runSession(socket, run.conn, run.signals, run)
      : Effect.flatMap(upgradeClient(run.conn, tls, () => run.greet()), (upgraded) => {
        if (upgraded === undefined) return Effect.void
        run.greetsFirst = false
        return runSession(upgraded, run.conn, run.signals, run)
      })
    return session.pipe(
      Effect.scoped,
      Effect.ensuring(Effect.sync(() => run.finish()))
    )
  })
