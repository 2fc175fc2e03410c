/**
 * The state one broker process shares between its sessions, route links and monitor: identity,
 * options, the routing core, the connection registries and what clients are told in INFO.
 *
 * It is plain mutable state on purpose: it is touched from the hot path. Effect owns its lifecycle
 * (see `ServerCore.layer`) — nothing here starts fibers or holds resources. It is internal: the
 * public face of a running broker is the `Broker` service. The cluster plugs in through the
 * `ClusterPort` (`attachCluster`); the server never reaches into the cluster.
 *
 * @since 0.1.0
 */
import type { ServerOptions } from "../config/ServerOptions.js"
import type { LogShape } from "../log/Log.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import { SYSTEM_ACCOUNT } from "../accounts/Accounts.js"
import { configAccountGraph, operatorAccountGraph } from "../config/AccountsStartup.js"
import { SubLimitLog } from "./auth/AccountLimits.js"
import { AuthConfig } from "./auth/Auth.js"
import { ClosedClient, type ClosingClient } from "./ClosedClient.js"
import type { ClusterPort } from "./ClusterPort.js"
import { type InterestChange, type InterestListener, Router } from "./Router.js"
import { makeServerId } from "./ServerId.js"
import { withSystemImports } from "./SystemImports.js"
import { SystemEvents } from "./SystemEvents.js"
import * as HostPort from "../values/HostPort.js"
import * as Info from "../protocol/ServerInfo.js"

/** The nats-server protocol level we implement; clients gate features on this version string. */
export const NATS_COMPAT_VERSION = "2.9.10"
export const SERVER_NAME = "effect-nats-server"
export const SERVER_VERSION = "0.1.0"

/** What every connection kind exposes to the registry, the monitor and shutdown. */
export interface Connection {
  readonly cid: number
  readonly kind: "Client" | "Router"
  readonly ip: string
  readonly port: number
  readonly start: Date
  /** Close the connection (asynchronously); the session finishes the job. */
  close(reason: CloseReason, errText?: string): void
}


/** Something that wants to hear when the INFO clients should see has changed. */
export interface InfoListener {
  infoChanged(): void
}

/** nats-server's `MaxClosedClients`. */
const MAX_CLOSED_CLIENTS = 10_000

export class ServerState implements InterestListener {
  readonly serverId: string
  readonly serverName: string
  readonly start: Date
  /** Local interest changes go to the cluster (counted once one is plugged in: `attachCluster`). */
  readonly router = new Router(this, false)
  readonly clients = new Map<number, Connection & InfoListener>()
  /** Recently closed clients (a ring of small records), for `/connz?state=closed`. */
  private readonly closedRing: Array<ClosedClient> = []
  private closedNext = 0
  /** Stop accepting clients (lame duck); set by the client listener. */
  stopAccepting: () => void = () => {}
  /** Bound client listener address, set once listening. */
  listen: { host: string; port: number } | undefined = undefined
  /** Bound HTTP monitor address, set once the monitor listens. */
  monitorAddress: { host: string; port: number } | undefined = undefined
  lameDuck = false
  /**
   * Set when shutdown begins: from then on clients are sent no INFO (nats-server's
   * `sendAsyncInfoToClients` returns when `s.shutdown`), so a server that goes away never pushes
   * a `connect_urls` shrunk by its own closing routes — clients keep every server they learned.
   */
  shuttingDown = false
  /** The cluster, once its layer plugged it in. */
  private clusterPort: ClusterPort | undefined = undefined
  /** Client connections accepted since start. */
  totalConnections = 0
  /** Client authentication compiled from `options.authorization` / operator mode (rebuilt on reload). */
  auth: AuthConfig
  /** What this server publishes in the system account: client events, request responses. */
  readonly system: SystemEvents = new SystemEvents(this, NATS_COMPAT_VERSION)
  /** When each account last logged `maximum subscriptions exceeded` (operator mode). */
  readonly subLimitLog = new SubLimitLog()
  private lastId = 0

  constructor(
    public options: ServerOptions,
    readonly log: LogShape,
    /** Time for the synchronous cores (connections, permissions): Effect's `Clock` of the layer. */
    readonly clock: Clock.Clock = Context.get(Context.empty(), Clock.Clock),
    /** Randomness (ids, nonces, queue picks): Effect's `Random` of the layer, seedable. */
    readonly random: Random.Random = Context.get(Context.empty(), Random.Random)
  ) {
    this.serverId = makeServerId(random)
    this.start = new Date(clock.currentTimeMillisUnsafe())
    // Effect's default Random is Math.random: call it directly on the hot path.
    this.router.random = random === Context.get(Context.empty(), Random.Random) ? Math.random : () => random.nextDoubleUnsafe()
    this.router.now = () => clock.currentTimeMillisUnsafe()
    // The accounts of the config (checked when the options were loaded, and by the layer) or of
    // the operator's account JWTs, the `$SYS` imports nats-server gives every other account
    // (server/SystemImports), and the system account nats-server always has.
    const graph = (options.operators ?? []).length > 0
      ? operatorAccountGraph(options, Math.floor(clock.currentTimeMillisUnsafe() / 1000))
      : configAccountGraph(options)
    const system = options.systemAccount ?? SYSTEM_ACCOUNT
    if (Result.isSuccess(graph)) this.router.configure(withSystemImports(graph.success, system))
    this.router.account(system)
    this.serverName = options.serverName ?? this.serverId
    this.auth = AuthConfig.of(options, (text) => log.error(text))
  }

  /** The account graph of the (already swapped in) options: the router takes the new imports. */
  reloadAccounts(): void {
    const graph = configAccountGraph(this.options)
    if (Result.isSuccess(graph)) this.router.reconfigure(withSystemImports(graph.success, this.options.systemAccount ?? SYSTEM_ACCOUNT))
    this.router.flush()
  }

  // --- the cluster port ------------------------------------------------------------------------

  /** Plug the cluster in (its layer does, once; `detachCluster` when that layer closes). */
  attachCluster(port: ClusterPort): void {
    this.clusterPort = port
    this.router.trackInterest()
  }

  detachCluster(port: ClusterPort): void {
    if (this.clusterPort === port) this.clusterPort = undefined
  }

  /** The cluster, when clustering is on. */
  get cluster(): ClusterPort | undefined {
    return this.clusterPort
  }

  /** Cluster name once clustering is on (the cluster's: it alone changes it). */
  get clusterName(): string | undefined {
    return this.clusterPort?.name
  }

  /** Client URLs of the other cluster members (host:port), kept by the cluster's membership. */
  get peerClientUrls(): ReadonlyArray<string> {
    return this.clusterPort?.peerClientUrls ?? []
  }

  /** InterestListener: the router's local interest changed; the routes are told. */
  interestChanged(change: InterestChange): void {
    this.clusterPort?.interestChanged(change)
  }

  /** Client, route and in-process connection ids share one counter, as in nats-server. */
  nextId(): number {
    return ++this.lastId
  }

  /** host:port clients can reach this server on (client_advertise, else the listen address). */
  ownClientUrls(): Array<string> {
    if (this.options.clientAdvertise !== undefined) return [this.options.clientAdvertise]
    if (this.listen === undefined) return []
    const host = this.listen.host === "0.0.0.0" || this.listen.host === "::" ? "127.0.0.1" : this.listen.host
    return [HostPort.format(host, this.listen.port)]
  }

  /**
   * `connect_urls` for client INFO: own URLs first, then the peers'. Absent when standalone or
   * with `cluster.no_advertise`; in lame-duck mode only the others are listed.
   */
  connectUrls(): Array<string> | undefined {
    const cluster = this.clusterPort
    if (cluster === undefined || cluster.noAdvertise) return undefined
    if (this.lameDuck) return [...cluster.peerClientUrls]
    return [...this.ownClientUrls(), ...cluster.peerClientUrls]
  }

  /** What clients are told in INFO changed (the peers' client URLs): tell every client that can take an async INFO. */
  infoChanged(): void {
    if (this.shuttingDown) return
    for (const client of this.clients.values()) client.infoChanged()
  }

  authRequired(): boolean {
    return this.auth.required
  }

  /**
   * The INFO a client gets, in nats-server's field order (the nonce only in the first one;
   * `maxPayload` the client's own when account or user limits lower it).
   */
  clientInfo(clientId: number, clientIp: string, nonce?: string, maxPayload?: number): Info.Fields {
    const o = this.options
    const urls = this.connectUrls()
    const tls = o.tls
    return Info.encode({
      server_id: this.serverId,
      server_name: this.serverName,
      version: NATS_COMPAT_VERSION,
      proto: 1,
      host: this.listen?.host ?? o.host,
      port: this.listen?.port ?? o.port,
      headers: !o.noHeaderSupport,
      ...(this.authRequired() ? { auth_required: true } : {}),
      ...(tls !== undefined ? { tls_required: true, ...(tls.verify || tls.verifyAndMap ? { tls_verify: true } : {}) } : {}),
      max_payload: maxPayload ?? o.maxPayload,
      client_id: clientId,
      client_ip: clientIp,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(this.clusterName !== undefined ? { cluster: this.clusterName } : {}),
      ...(urls !== undefined ? { connect_urls: urls } : {}),
      ...(this.lameDuck ? { ldm: true } : {})
    })
  }

  /** Remember a closed client for `/connz?state=closed`: the last 10,000, as nats-server. */
  rememberClosed(conn: ClosingClient): void {
    const record = ClosedClient.of(conn)
    if (this.closedRing.length < MAX_CLOSED_CLIENTS) {
      this.closedRing.push(record)
    } else {
      this.closedRing[this.closedNext] = record
      this.closedNext = (this.closedNext + 1) % MAX_CLOSED_CLIENTS
    }
  }

  /** The remembered closed clients, oldest first. */
  get closed(): Array<ClosedClient> {
    return [...this.closedRing.slice(this.closedNext), ...this.closedRing.slice(0, this.closedNext)]
  }
}
