/**
 * A route link: the supervised fiber that owns one route socket, accepted or dialed.
 *
 * Both ends write their INFO at once (a dialer writes CONNECT first, in the same write) and never
 * wait for the peer's. The reader runs parsed batches through `RouteConnection.apply` and hands
 * INFO/CONNECT to the cluster in order; the writer and the keepalive are as for clients.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Socket from "effect/socket/Socket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { fromNetSocket } from "../net/NetSocket.js"
import { acceptTls, connectTls, describeSession, type TlsConfig } from "../net/Tls.js"
import * as Encoder from "../protocol/Encoder.js"
import { ErrText } from "../protocol/ProtocolError.js"
import type * as Parser from "../protocol/Parser.js"
import { keepalive, makeSignals, remoteAddress, runSession } from "../server/Session.js"
import type { ClusterState } from "./Cluster.js"
import { RouteConnection } from "./RouteConnection.js"

export interface Dialed {
  readonly url: string
  readonly explicit: boolean
  /** The host dialed: with TLS, the peer's certificate must be valid for it. */
  readonly host?: string
}

/**
 * Route TLS (nats-server 2.9): the handshake comes first, before any INFO or CONNECT; the
 * dialer is the TLS client, and both ends verify the other's certificate against `ca_file`.
 * Resolves with the socket to run the link on, or undefined when the handshake failed (logged,
 * connection closed with `TLS Handshake Failure`).
 */
const upgradeRoute = (conn: RouteConnection, tls: TlsConfig, dialed: Dialed | undefined): Effect.Effect<Socket.Socket | undefined> =>
  Effect.gen(function*() {
    const log = conn.server.log
    const raw = Option.getOrUndefined(yield* Effect.serviceOption(NodeSocket.NetSocket))
    if (raw === undefined) return undefined
    log.debug(`${conn.prefix}Starting TLS route ${dialed === undefined ? "server" : "client"} handshake`)
    const result = yield* Effect.result(dialed === undefined ? acceptTls(raw, tls, true) : connectTls(raw, tls, dialed.host ?? conn.ip))
    if (result._tag === "Failure") {
      log.error(`${conn.prefix}TLS route handshake error: ${result.failure.message}`)
      if (result.failure.timedOut) {
        log.error(`${conn.prefix}TLS handshake timeout`)
        if (log.traceEnabled) log.trace(`${conn.prefix}->> [-ERR ${ErrText.tlsRequired}]`)
      }
      conn.close("TLS Handshake Failure")
      return undefined
    }
    log.debug(`${conn.prefix}TLS handshake complete`)
    log.debug(`${conn.prefix}${describeSession(result.success)}`)
    return fromNetSocket(result.success)
  })

/**
 * One parsed batch of a route link: message and interest ops synchronously
 * (`RouteConnection.apply`), INFO/CONNECT through the cluster and `-ERR` closing the link, in
 * order. Exported so that the route handshake can be tested on the cores, without a socket.
 */
export const applyRouteBatch = (cluster: ClusterState, conn: RouteConnection, parsed: Parser.Parsed): Effect.Effect<void> =>
  Effect.suspend(() => routeBatch(cluster, conn, parsed) ?? Effect.void)

/**
 * `applyRouteBatch` as the session runs it: the message and interest ops at once, and only when
 * the batch holds an INFO, CONNECT, `-ERR` or a parse error, the Effect that finishes it.
 */
export const routeBatch = (cluster: ClusterState, conn: RouteConnection, parsed: Parser.Parsed): Effect.Effect<void> | undefined => {
  const i = conn.apply(parsed, 0)
  if (i >= parsed.ops.length && parsed.error === undefined) return undefined
  return finishRouteBatch(cluster, conn, parsed, i)
}

const finishRouteBatch = (cluster: ClusterState, conn: RouteConnection, parsed: Parser.Parsed, from: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const log = cluster.server.log
    let i = from
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

/** Run one route link until it closes; resolves with the connection (its close reason, peer). */
export const runRouteSession = (
  socket: Socket.Socket,
  cluster: ClusterState,
  dialed: Dialed | undefined,
  address?: { ip: string; port: number },
  tls?: TlsConfig
) =>
  Effect.flatMap(address === undefined ? remoteAddress : Effect.succeed(address), ({ ip, port }) => {
    const server = cluster.server
    const log = server.log
    const o = server.options
    const signals = makeSignals()
    const conn = new RouteConnection(server.nextId(), server, ip, port, dialed?.url, dialed?.explicit ?? false, signals.io)
    cluster.links.add(conn)

    const handle = (parsed: Parser.Parsed) => routeBatch(cluster, conn, parsed)

    /** Our INFO goes out at once, after CONNECT when we dialed; never wait for the peer's. */
    const start = Effect.gen(function*() {
      if (conn.solicitedUrl !== undefined) {
        log.debug(`${conn.prefix}Route connect msg sent`)
        conn.send(cluster.routeConnect(conn.solicitedUrl))
      }
      conn.send(Encoder.info(cluster.routeInfo()))
      conn.flush()
      log.info(`${conn.prefix}Route connection created`)
      const auth = cluster.options.authorization
      if (auth !== undefined && conn.solicitedUrl === undefined) {
        // An accepted route must authenticate (CONNECT) within the cluster auth timeout.
        yield* Effect.sleep(Duration.millis(auth.timeout)).pipe(
          Effect.andThen(Effect.sync(() => {
            if (conn.connectReceived || conn.closing) return
            log.debug(`${conn.prefix}${ErrText.authTimeout}`)
            conn.close("Authentication Timeout", ErrText.authTimeout)
          })),
          Effect.forkScoped
        )
      }
      // First PING after ~1s, then every ping_interval.
      yield* keepalive(conn, {
        first: Math.min(o.pingInterval, 1000),
        interval: () => server.options.pingInterval,
        pingMax: () => server.options.pingMax,
        due: () => true,
        onFirst: () => log.debug(`${conn.prefix}Router Ping Timer`),
        onStale: () => log.debug(`${conn.prefix}Stale Route Connection - Closing`)
      }).pipe(Effect.forkScoped)
    })

    const run = (socket: Socket.Socket) => runSession(socket, conn, signals, {
      // Routes have no payload limit; control lines are bounded as for clients.
      kind: "route",
      limits: { maxControlLine: o.maxControlLine, maxPayload: Infinity },
      handle,
      sink: conn,
      // A route keeps nothing of a read past its batch: payloads are copied into the outputs.
      reuseReadBuffer: true,
      writeDeadline: o.writeDeadline,
      onWritten: () => conn.written(),
      onWriteStall: () => {
        log.info(`${conn.prefix}Slow Consumer Detected: WriteDeadline of ${o.writeDeadline / 1000}s exceeded`)
        conn.close("Slow Consumer (Write Deadline)")
      },
      start
    })

    const session = tls === undefined
      ? run(socket)
      : Effect.flatMap(upgradeRoute(conn, tls, dialed), (upgraded) => (upgraded === undefined ? Effect.void : run(upgraded)))
    return session.pipe(
      Effect.scoped,
      Effect.ensuring(Effect.suspend(() => {
        conn.close("Server Shutdown")
        return cluster.routeClosed(conn)
      })),
      Effect.as(conn)
    )
  })
