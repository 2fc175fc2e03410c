/**
 * The state one broker process shares between its sessions, route links and monitor: identity,
 * options, the routing core, the connection registries and what clients are told in INFO.
 *
 * It is plain mutable state on purpose: it is touched from the hot path. Effect owns its lifecycle
 * (see `Broker.layer`) — nothing here starts fibers or holds resources.
 *
 * @since 0.1.0
 */
import type { ClusterState } from "../cluster/Cluster.js"
import type { ServerOptions } from "../config/ServerOptions.js"
import type { LogShape } from "../log/Log.js"
import type { CloseReason } from "../protocol/ProtocolError.js"
import type { InvalidArgument, NoResponders, RequestTimeout, SlowConsumer } from "../client/Errors.js"
import type { NatsMessage } from "../client/Message.js"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import { AuthConfig, authTimeout } from "./auth/Auth.js"
import type { ClientConnection } from "./ClientConnection.js"
import { ClosedClient } from "./ClosedClient.js"
import { InProcess, type InProcessSubscription, type PublishOptions, type RequestOptions, type SubscribeOptions } from "./InProcess.js"
import { Router } from "./Router.js"
import { makeServerId } from "./ServerId.js"
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

export class ServerState {
  readonly serverId = makeServerId()
  readonly serverName: string
  readonly start = new Date()
  readonly router = new Router()
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
  /** Client URLs of the other cluster members (host:port), kept by the cluster's membership. */
  peerClientUrls: ReadonlyArray<string> = []
  /** Cluster name once clustering is on. */
  clusterName: string | undefined = undefined
  lameDuck = false
  /**
   * Set when shutdown begins: from then on clients are sent no INFO (nats-server's
   * `sendAsyncInfoToClients` returns when `s.shutdown`), so a server that goes away never pushes
   * a `connect_urls` shrunk by its own closing routes — clients keep every server they learned.
   */
  shuttingDown = false
  /** The cluster, when this server has a route listener. */
  cluster: ClusterState | undefined = undefined
  /** Client connections accepted since start. */
  totalConnections = 0
  /** Client authentication compiled from `options.authorization` (rebuilt on reload). */
  auth: AuthConfig
  private lastId = 0

  constructor(
    public options: ServerOptions,
    readonly log: LogShape
  ) {
    this.serverName = options.serverName ?? this.serverId
    this.auth = new AuthConfig(options.authorization, authTimeout(options), (text) => log.error(text))
  }

  // --- the in-process API -----------------------------------------------------------------------
  private local: InProcess | undefined = undefined
  private get api(): InProcess {
    return (this.local ??= new InProcess(this))
  }

  /** Publish from inside the process: local subscribers, remote clients and routes get it. */
  publish(subject: string, payload: Uint8Array | string, options?: PublishOptions): Effect.Effect<void, InvalidArgument> {
    return this.api.publish(subject, payload, options)
  }

  /** Subscribe from inside the process; the interest lasts as long as the stream runs. */
  subscribe(subject: string, options?: SubscribeOptions): Stream.Stream<NatsMessage, InvalidArgument | SlowConsumer> {
    return this.api.subscribe(subject, options)
  }

  /**
   * Subscribe now: the interest is registered when this succeeds (and withdrawn with the scope);
   * `propagated` waits until the routes that are up have processed it.
   */
  subscription(subject: string, options?: SubscribeOptions): Effect.Effect<InProcessSubscription, InvalidArgument, Scope.Scope> {
    return this.api.subscription(subject, options)
  }

  /** Request/reply from inside the process, with no-responders and a timeout. */
  request(subject: string, payload: Uint8Array | string, options?: RequestOptions): Effect.Effect<NatsMessage, InvalidArgument | NoResponders | RequestTimeout> {
    return this.api.request(subject, payload, options)
  }

  /** End every in-process subscription stream (shutdown). */
  closeInProcess(): void {
    this.local?.shutdown()
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
    return [`${host.includes(":") ? `[${host}]` : host}:${this.listen.port}`]
  }

  /**
   * `connect_urls` for client INFO: own URLs first, then the peers'. Absent when standalone or
   * with `cluster.no_advertise`; in lame-duck mode only the others are listed.
   */
  connectUrls(): Array<string> | undefined {
    if (this.cluster === undefined || this.cluster.options.noAdvertise) return undefined
    if (this.lameDuck) return [...this.peerClientUrls]
    return [...this.ownClientUrls(), ...this.peerClientUrls]
  }

  /** Change the peers' client URLs and tell every client that can take an async INFO. */
  setPeerClientUrls(urls: ReadonlyArray<string>): void {
    const same = urls.length === this.peerClientUrls.length && urls.every((u, i) => u === this.peerClientUrls[i])
    if (same) return
    this.peerClientUrls = urls
    if (this.shuttingDown) return
    for (const client of this.clients.values()) client.infoChanged()
  }

  authRequired(): boolean {
    return this.auth.required
  }

  /** The INFO a client gets, in nats-server's field order (the nonce only in the first one). */
  clientInfo(clientId: number, clientIp: string, nonce?: string): Info.Fields {
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
      max_payload: o.maxPayload,
      client_id: clientId,
      client_ip: clientIp,
      ...(nonce !== undefined ? { nonce } : {}),
      ...(this.clusterName !== undefined ? { cluster: this.clusterName } : {}),
      ...(urls !== undefined ? { connect_urls: urls } : {}),
      ...(this.lameDuck ? { ldm: true } : {})
    })
  }

  /** Remember a closed client for `/connz?state=closed`: the last 10,000, as nats-server. */
  rememberClosed(conn: ClientConnection): void {
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
