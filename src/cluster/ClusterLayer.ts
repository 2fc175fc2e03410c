/**
 * The cluster's network as a Layer over its state (`Cluster`): it plugs the cluster into the
 * server (`ServerState.attachCluster`, unplugged when the layer closes), then the route listener, one dialer fiber per configured (explicit) route
 * that retries forever — kept in a `FiberMap` keyed by URL, so a config reload can add and
 * remove routes (`ClusterState.explicitRoutes`) — and dialer fibers for gossiped (implicit)
 * routes kept in a `FiberMap` keyed by server id, so a server is never dialed twice at once. All of them live in the layer's
 * scope and stop with it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import { ListenError } from "../net/Listener.js"
import { loadTls, type TlsConfigError } from "../net/Tls.js"
import { Transport } from "../net/Transport.js"
import { ServerCore } from "../server/ServerCore.js"
import { Cluster } from "./Cluster.js"
import { runRouteSession } from "./RouteSession.js"
import { hostPort, parseRouteUrl, type RouteUrl } from "./RouteUrl.js"

/** Route URLs are the same route when they differ only in a trailing `/` (nats-server's urlsAreEqual). */
const routeKey = (url: string): string => url.trim().replace(/\/+$/, "")

/** nats-server logs a failed dial at ERR on attempt 1 and then every this many attempts. */
const CONNECT_ERROR_REPORTS = 3600
/** nats-server's DEFAULT_ROUTE_CONNECT. */
const RETRY_MS = 1000

/** `ms` plus 0–100 ms from Effect's `Random` (seedable). */
const jitter = (ms: number) => Effect.map(Random.next, (r) => Duration.millis(ms + r * 100))

export const layer: Layer.Layer<never, ListenError | TlsConfigError, Cluster | ServerCore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* ServerCore
    const cluster = yield* Cluster
    const options = cluster.options
    const log = server.log
    // Unplugged last: the routes (closed by the finalizers below) are gone by then.
    yield* Effect.acquireRelease(
      Effect.sync(() => server.attachCluster(cluster)),
      () => Effect.sync(() => server.detachCluster(cluster))
    )

    if (options.name === undefined) log.warn("Cluster name was dynamically generated, consider setting one")
    log.info(`Cluster name is ${cluster.name}`)
    yield* Effect.addFinalizer(() => Effect.sync(() => log.debug("Route accept loop exiting..")))
    // Route TLS: both ends always verify the peer's certificate (nats-server forces it for routes).
    const tls = options.tls === undefined ? undefined : yield* loadTls({ ...options.tls, verify: true })
    const transport = yield* Transport
    if (tls !== undefined && transport.kind !== "tcp") {
      return yield* Effect.fail(new ListenError({ address: hostPort(options.host, options.port), cause: new Error(`route TLS is not supported over the ${transport.kind} transport`) }))
    }
    const listener = yield* transport.listen(options.host, options.port, (socket) => runRouteSession(socket, cluster, undefined, undefined, tls))
    cluster.listen = { host: options.host, port: listener.port }
    log.info(`Listening for route connections on ${hostPort(options.host, listener.port)}`)

    /** Dial one URL (decoded once by its dialer); undefined when the connection could not be made. */
    const dialOnce = (url: string, u: RouteUrl, explicit: boolean, attempt: number) =>
      Effect.gen(function*() {
        log.debug(`Trying to connect to route on ${hostPort(u.host, u.port)} (${hostPort(u.host, u.port)})`)
        // The session's socket closes the connection (plain, or the TLS socket over it); a failed
        // or interrupted handshake destroys it.
        const session = yield* Effect.result(
          transport.dial(u.host, u.port, (socket) => runRouteSession(socket, cluster, { url, explicit, host: u.host }, { ip: u.host, port: u.port }, tls))
        )
        if (session._tag === "Failure") {
          const line = `Error trying to connect to route (attempt ${attempt}): ${session.failure.message}`
          if (attempt === 1 || attempt % CONNECT_ERROR_REPORTS === 0) log.error(line)
          else log.debug(line)
          return undefined
        }
        return session.success
      })

    /** A configured route: dialed at startup and redialed forever, ~1s apart. */
    const explicitRoute = (url: string) =>
      Effect.gen(function*() {
        const u = parseRouteUrl(url)
        if (u === undefined) {
          log.error(`Error parsing route URL "${url}"`)
          return
        }
        let attempt = 0
        while (!cluster.selfUrls.has(url)) {
          const known = cluster.urlIds.get(url)
          if (known !== undefined && cluster.routes.has(known)) {
            // Connected to that server through another link (e.g. it dialed us): check again later.
            yield* Effect.flatMap(jitter(RETRY_MS), Effect.sleep)
            continue
          }
          attempt++
          const conn = yield* dialOnce(url, u, true, attempt)
          if (conn !== undefined) {
            attempt = 0
            yield* Effect.flatMap(jitter(RETRY_MS), Effect.sleep)
            if (cluster.selfUrls.has(url)) return
            const id = cluster.urlIds.get(url)
            if (id !== undefined && cluster.routes.has(id)) {
              log.debug(`Not attempting reconnect for solicited route, already connected to "${id}"`)
            } else {
              log.debug(`Attempting reconnect for solicited route "${url}"`)
            }
            continue
          }
          yield* Effect.flatMap(jitter(RETRY_MS), Effect.sleep)
        }
      })

    /**
     * A gossiped route: 1 + connect_retries attempts, a fresh budget after each drop. As in
     * nats-server, a failed dial is retried after RETRY_MS but a lost connection is redialed after
     * only 0–100 ms (the jitter keeps two servers that lost the same link from redialing in lockstep).
     */
    const implicitRoute = (url: string, serverId: string) =>
      Effect.gen(function*() {
        const u = parseRouteUrl(url)
        if (u === undefined) return
        const budget = 1 + options.connectRetries
        let left = budget
        let attempt = 0
        while (left > 0 && !cluster.routes.has(serverId) && serverId !== server.serverId) {
          left--
          attempt++
          const conn = yield* dialOnce(url, u, false, attempt)
          if (conn !== undefined) {
            // Whoever answered at that URL may not be the server gossiped (it restarted with a new
            // id): once that server is connected through another route, stop, as nats-server does.
            // Without this the loop would redial forever, each time as a duplicate route.
            const found = conn.remoteId
            if (found !== undefined && found !== serverId && (cluster.routes.has(found) || found === server.serverId)) {
              log.debug(`Not attempting reconnect for solicited route, already connected to "${found}"`)
              return
            }
            left = budget
            attempt = 0
          }
          yield* Effect.flatMap(conn !== undefined ? jitter(0) : jitter(RETRY_MS), Effect.sleep)
          if (conn !== undefined && !cluster.routes.has(serverId)) log.debug(`Attempting reconnect for solicited route "${url}"`)
        }
      })

    const implicit = yield* FiberMap.make<string>()
    cluster.dialer = {
      dial: (url, serverId) => FiberMap.run(implicit, serverId, implicitRoute(url, serverId), { onlyIfMissing: true }).pipe(Effect.asVoid)
    }
    // Explicit routes, keyed by URL so that a config reload can add and remove them.
    const explicit = yield* FiberMap.make<string>()
    cluster.explicitRoutes = {
      add: (url) => FiberMap.run(explicit, url, explicitRoute(url), { onlyIfMissing: true }).pipe(Effect.asVoid),
      remove: (url) =>
        Effect.gen(function*() {
          // nats-server's routesOption.Apply: close, without reconnecting, the routes dialed
          // through that URL.
          for (const conn of [...cluster.links]) {
            if (conn.solicitedUrl === undefined || routeKey(conn.solicitedUrl) !== routeKey(url)) continue
            conn.solicitedUrl = undefined
            conn.explicit = false
            conn.close("Route Removed")
            log.info(`Removed route ${url}`)
          }
          // Then stop its dialer (which may be the fiber running that route's session).
          yield* FiberMap.remove(explicit, url)
        })
    }
    // Dialed at once: the first attempt is not delayed (nats-server's solicitRoutes).
    for (const route of options.routes) yield* cluster.explicitRoutes.add(route.raw)
  })
)
