/**
 * The cluster: route registry, membership, gossip and the handling of route INFO/CONNECT.
 *
 * Route links call in here when a peer identifies itself. Registration, duplicate resolution and
 * gossip are synchronous (no yield between "is there a route to X?" and "this is the route to
 * X"); membership changes go through the `Ref` and are then pushed to clients as async INFO.
 *
 * `ClusterState` is the server's `ClusterPort`: the cluster layer plugs it into the server, which
 * reads the cluster name and the peers' client URLs through it and tells it of interest changes.
 * It is the one writer of the cluster name (dynamic, adopted from a peer, or reloaded).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import type { ClusterOptions } from "../config/ServerOptions.js"
import * as Encoder from "../protocol/Encoder.js"
import type { ClusterPort } from "../server/ClusterPort.js"
import type { InterestChange } from "../server/Router.js"
import { ServerCore } from "../server/ServerCore.js"
import type { ServerState } from "../server/ServerState.js"
import { NATS_COMPAT_VERSION } from "../server/ServerState.js"
import { makeDynamicName, makeNonce } from "../server/ServerId.js"
import { type ConnectOptions, parseConnect } from "../server/ConnectOptions.js"
import { compareSecret } from "../crypto/Secrets.js"
import { peerKeepsFirst, preferNew } from "./Duplicates.js"
import * as Membership from "./Membership.js"
import { parsePeerInfo, type PeerInfo } from "./RouteInfo.js"
import type { RouteConnection } from "./RouteConnection.js"
import { hostPort, normalizeHost, parseRouteUrl } from "./RouteUrl.js"
import * as Connect from "../protocol/ConnectInfo.js"
import * as Info from "../protocol/ServerInfo.js"

/** Something that can dial a gossiped server (the dialer, provided by the cluster layer). */
export interface ImplicitDialer {
  dial(url: string, serverId: string): Effect.Effect<void>
}

/** The configured (explicit) routes' dialers, for config reload. */
export interface ExplicitRoutes {
  /** Dial `url` now and keep redialing it (no-op when already configured). */
  add(url: string): Effect.Effect<void>
  /** Stop dialing `url` and close the routes dialed through it (`Route Removed`). */
  remove(url: string): Effect.Effect<void>
}

export class ClusterState implements ClusterPort {
  /** The registered route per remote server id. */
  readonly routes = new Map<string, RouteConnection>()
  /** Every route connection, identified or not. */
  readonly links = new Set<RouteConnection>()
  readonly membership: Ref.Ref<Membership.MembershipState>
  private currentName: string
  private dynamicName: boolean
  private peerUrls: ReadonlyArray<string> = []
  /** Bound route listener address. */
  listen: { host: string; port: number } | undefined = undefined
  /** URLs found to point at ourselves: never dialed again. */
  readonly selfUrls = new Set<string>()
  /** What configured URLs turned out to be (server id), to skip redials while connected. */
  readonly urlIds = new Map<string, string>()
  dialer: ImplicitDialer | undefined = undefined
  /** Start and stop the dialers of configured routes (config reload); set by the cluster layer. */
  explicitRoutes: ExplicitRoutes | undefined = undefined

  constructor(
    readonly server: ServerState,
    /** Replaced on config reload. */
    public options: ClusterOptions
  ) {
    this.membership = Ref.makeUnsafe(Membership.empty)
    this.dynamicName = options.name === undefined
    this.currentName = options.name ?? makeDynamicName(server.random)
  }

  /** The cluster name: configured, else generated until a peer's is adopted. */
  get name(): string {
    return this.currentName
  }

  /** The name was generated here (no `cluster.name`) and no peer's was adopted yet. */
  get dynamic(): boolean {
    return this.dynamicName
  }

  /** ClusterPort: client URLs of the other members (host:port), from the membership; none with no_advertise. */
  get peerClientUrls(): ReadonlyArray<string> {
    return this.peerUrls
  }

  get noAdvertise(): boolean {
    return this.options.noAdvertise
  }

  /** ClusterPort: where peers dial us, once the route listener is bound. */
  get routeAddress(): { host: string; port: number } | undefined {
    return this.listen === undefined ? undefined : this.advertisedRoute()
  }

  /** ClusterPort: local interest changed; every registered route gets the RS+/RS-. */
  interestChanged(change: InterestChange): void {
    for (const route of this.routes.values()) route.sendInterest(change)
  }

  /** ClusterPort: lame duck; peers drop our client URLs when they see ldm in our route INFO. */
  announceLameDuck(): void {
    const info = Encoder.info(this.routeInfo())
    for (const route of this.routes.values()) {
      route.send(info)
      route.flush()
    }
  }

  /** ClusterPort: a PING/PONG round trip on every route up now (see `RouteConnection.roundTrip`). */
  roundTrip(timeout: Duration.Duration): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.forEach([...this.routes.values()], (route) => route.roundTrip(timeout), { concurrency: "unbounded", discard: true })
    )
  }

  /** Config reload: the new `cluster {}` block; a configured name replaces the current one. */
  reload(options: ClusterOptions): void {
    this.options = options
    if (options.name !== undefined && options.name !== this.currentName) {
      this.currentName = options.name
      this.dynamicName = false
    }
  }

  get log() {
    return this.server.log
  }

  /** host:port of every configured route, to tell gossip about them from unknown servers. */
  configuredRoutes(): Set<string> {
    const out = new Set<string>()
    for (const { url: u } of this.options.routes) {
      if (u !== undefined) out.add(hostPort(normalizeHost(u.host), u.port))
    }
    return out
  }

  /** host:port peers should dial for us (cluster.advertise, else the listen address). */
  advertisedRoute(): { host: string; port: number } {
    if (this.options.advertise !== undefined) {
      const u = parseRouteUrl(this.options.advertise)
      if (u !== undefined) return { host: u.host, port: u.port }
    }
    const l = this.listen ?? { host: this.options.host, port: this.options.port }
    return { host: l.host === "0.0.0.0" || l.host === "::" ? "127.0.0.1" : l.host, port: l.port }
  }

  /** Our route INFO, in nats-server 2.9's field order; a fresh nonce per connection. */
  routeInfo(): Info.Fields {
    const s = this.server
    const { host, port } = this.advertisedRoute()
    const urls = this.options.noAdvertise ? [] : s.ownClientUrls()
    // Ours, not nats-server's (which ignores unknown INFO fields): where our monitor listens, so
    // that a peer's `/meshz` can read it. A wildcard monitor host is given as our route host.
    const m = s.monitorAddress
    const mhost = m === undefined ? "" : m.host === "0.0.0.0" || m.host === "::" || m.host === "" ? host : m.host
    return Info.encode({
      server_id: s.serverId,
      server_name: s.serverName,
      version: NATS_COMPAT_VERSION,
      proto: 2,
      host,
      port,
      headers: true,
      ...(this.options.authorization !== undefined ? { auth_required: true } : {}),
      ...(this.options.tls !== undefined ? { tls_required: true, tls_verify: true } : {}),
      max_payload: s.options.maxPayload,
      ...(this.options.advertise !== undefined ? { ip: `nats-route://${hostPort(host, port)}/` } : {}),
      nonce: makeNonce(this.server.random),
      cluster: this.name,
      ...(this.dynamic ? { cluster_dynamic: true } : {}),
      ...(urls.length > 0 ? { connect_urls: urls } : {}),
      ...(s.lameDuck ? { ldm: true } : {}),
      ...(m !== undefined ? { monitor_url: `${s.options.httpsPort !== undefined ? "https" : "http"}://${hostPort(mhost, m.port)}` } : {})
    })
  }

  /** The CONNECT a dialer sends first (its `name` is our server id). */
  routeConnect(url: string): Uint8Array {
    const u = parseRouteUrl(url)
    const user = u?.user ?? this.options.authorization?.user
    const pass = u?.password ?? this.options.authorization?.password
    return Encoder.connect({
      echo: true,
      verbose: false,
      pedantic: false,
      ...(user !== undefined ? { user } : {}),
      ...(pass !== undefined ? { pass } : {}),
      tls_required: this.options.tls !== undefined,
      headers: true,
      name: this.server.serverId,
      cluster: this.name,
      ...(this.dynamic ? { cluster_dynamic: true } : {})
    }, Connect.ROUTE_ORDER)
  }

  /** Publish the peers' client URLs (unless no_advertise) after a membership change. */
  private refreshClientUrls(state: Membership.MembershipState): void {
    if (this.options.noAdvertise) return
    const urls = Membership.peerClientUrls(state)
    const known = this.peerUrls
    if (urls.length === known.length && urls.every((u, i) => u === known[i])) return
    this.peerUrls = urls
    this.server.infoChanged()
  }

  private updateMembership(f: (s: Membership.MembershipState) => Membership.MembershipState) {
    return Ref.updateAndGet(this.membership, f).pipe(Effect.map((state) => this.refreshClientUrls(state)))
  }

  // --- CONNECT ---------------------------------------------------------------------------------

  /** A peer's route CONNECT (accepting side). */
  handleConnect(conn: RouteConnection, json: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const parsed = parseConnect(json)
      if (Result.isFailure(parsed)) {
        this.log.error(`${conn.prefix}${parsed.failure.message}`)
        conn.close("Protocol Violation")
        return Effect.void
      }
      const c = parsed.success
      // Go reads `lang` and `gateway` into the same options: empty is absent.
      if (c.lang !== undefined && c.lang !== "") {
        this.log.error(`${conn.prefix}attempted to connect to route port`)
        conn.close("Incorrect Port", "attempted to connect to route port")
        return Effect.void
      }
      if (c.gateway !== undefined && c.gateway !== "") {
        const text = `Rejecting connection from gateway "${c.gateway}" on the Route port`
        this.log.error(`${conn.prefix}${text}`)
        conn.close("Wrong Gateway", text)
        return Effect.void
      }
      const auth = this.options.authorization
      if (auth !== undefined) {
        // nats-server's isRouterAuthorized: the user, then the password (bcrypt off the loop).
        const ok = c.user === auth.user ? compareSecret(auth.password, c.pass) : false
        if (ok instanceof Promise) return Effect.flatMap(Effect.promise(() => ok), (ok) => this.connectAuthorized(conn, c, ok))
        return this.connectAuthorized(conn, c, ok)
      }
      return this.connectAuthorized(conn, c, true)
    })
  }

  private connectAuthorized(conn: RouteConnection, c: ConnectOptions, ok: boolean): Effect.Effect<void> {
    return Effect.sync(() => {
      if (conn.closing) return
      if (!ok) {
        // The line names the client users' kind, as nats-server's authViolation does.
        this.log.error(`${conn.prefix}${this.server.auth.failureLog({ user: c.user })}`)
        conn.close("Authentication Failure", "Authorization Violation")
        return
      }
      conn.connectReceived = true
      conn.connectName = c.name
      const peerCluster = c.cluster
      if (peerCluster !== undefined && peerCluster !== this.name) {
        const peerDynamic = c.cluster_dynamic === true
        if (this.dynamic && (!peerDynamic || this.name < peerCluster)) {
          this.adoptName(peerCluster)
        } else if (!this.dynamic && !peerDynamic) {
          const text = `Rejecting connection, cluster name "${peerCluster}" does not match "${this.name}"`
          this.log.error(`${conn.prefix}${text}`)
          conn.close("Cluster Name Conflict", text)
        }
      }
    })
  }

  private adoptName(name: string): void {
    this.currentName = name
    this.dynamicName = false
    this.log.info(`Cluster name updated to ${name}`)
  }

  // --- INFO ------------------------------------------------------------------------------------

  handleInfo(conn: RouteConnection, json: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const parsed = parsePeerInfo(json)
      if (Result.isFailure(parsed)) {
        this.log.error(`${conn.prefix}${parsed.failure.message}`)
        conn.close("Protocol Violation")
        return Effect.void
      }
      const { info, raw } = parsed.success
      if (conn.peer === undefined) return this.firstInfo(conn, info, raw)
      if (info.server_id !== conn.peer.server_id) return this.gossiped(info)
      return this.peerUpdate(conn, info, raw)
    })
  }

  /** The peer identified itself: check it, then register the route or drop it as a duplicate. */
  private firstInfo(conn: RouteConnection, info: PeerInfo, raw: Record<string, unknown>): Effect.Effect<void> {
    const s = this.server
    if (info.server_id === s.serverId) {
      this.log.debug(`Detected route to self, ignoring "${conn.solicitedUrl ?? `${conn.ip}:${conn.port}`}"`)
      if (conn.solicitedUrl !== undefined) this.selfUrls.add(conn.solicitedUrl)
      conn.close("Duplicate Route")
      return Effect.void
    }
    if (this.options.authorization !== undefined && !conn.connectReceived && conn.solicitedUrl === undefined) {
      this.log.error(`${conn.prefix}${this.server.auth.failureLog({})}`)
      conn.close("Authentication Failure", "Authorization Violation")
      return Effect.void
    }
    const peerCluster = info.cluster
    if (peerCluster !== undefined && peerCluster !== this.name) {
      const peerDynamic = info.cluster_dynamic === true
      if (this.dynamic && (!peerDynamic || this.name < peerCluster)) {
        this.adoptName(peerCluster)
      } else {
        this.log.error(`${conn.prefix}cluster name from remote server conflicts`)
        conn.close("Cluster Name Conflict")
        return Effect.void
      }
    }
    if (conn.solicitedUrl === undefined && info.server_name !== undefined && info.server_name === s.serverName) {
      this.log.error(`${conn.prefix}Remote server has a duplicate name: "${info.server_name}"`)
      conn.close("Duplicate Server Name")
      return Effect.void
    }
    conn.peer = info
    conn.peerRaw = raw
    if (conn.solicitedUrl !== undefined) this.urlIds.set(conn.solicitedUrl, info.server_id)

    const existing = this.routes.get(info.server_id)
    if (existing !== undefined && existing !== conn) {
      const replace = !peerKeepsFirst(raw) && preferNew(s.serverId, info.server_id, existing.solicitedUrl !== undefined, conn.solicitedUrl !== undefined)
      const dropped = replace ? existing : conn
      const kept = replace ? conn : existing
      this.log.debug(`${dropped.prefix}Detected duplicate remote route "${info.server_id}"`)
      // The survivor inherits the dropped one's URL so that it is redialed if it is lost.
      if (dropped.solicitedUrl !== undefined && kept.solicitedUrl === undefined) {
        kept.solicitedUrl = dropped.solicitedUrl
        kept.explicit = dropped.explicit
      }
      if (!replace) {
        conn.close("Duplicate Route")
        return Effect.void
      }
      this.unregister(existing)
      existing.close("Duplicate Route")
    }
    return this.register(conn, info, raw)
  }

  private register(conn: RouteConnection, info: PeerInfo, raw: Record<string, unknown>): Effect.Effect<void> {
    conn.registered = true
    this.routes.set(info.server_id, conn)
    this.log.debug(`${conn.prefix}Registering remote route "${info.server_id}"`)
    conn.sendAllInterest()
    conn.flush()
    this.log.debug(`${conn.prefix}Sent local subscriptions to route`)
    // Tell the others about the newcomer so that they connect to it: gossip makes the full mesh.
    if (this.routes.size > 1) {
      const forwarded = Encoder.infoCompact(this.gossipInfo(conn, raw))
      for (const other of this.routes.values()) {
        if (other === conn) continue
        other.send(forwarded)
        other.flush()
      }
    }
    const { host, port } = this.peerRouteAddress(conn, info)
    this.noteConfiguredUrl(host, port, info.server_id)
    return this.updateMembership((state) =>
      Membership.join(state, {
        serverId: info.server_id,
        serverName: info.server_name ?? info.server_id,
        routeUrl: hostPort(host, port),
        clientUrls: info.connect_urls ?? [],
        ldm: info.ldm === true,
        rid: conn.rid
      })
    )
  }

  /**
   * A peer registered through any link whose route address is one of our configured URLs: that
   * URL now leads to this server. Its dialer then leaves it alone while connected instead of
   * dialing a duplicate (after a restart the server at a URL has a new id, and a duplicate can
   * replace the working route, losing what was in flight on it).
   */
  private noteConfiguredUrl(host: string, port: number, serverId: string): void {
    const address = hostPort(normalizeHost(host), port)
    for (const { raw, url: u } of this.options.routes) {
      if (u !== undefined && hostPort(normalizeHost(u.host), u.port) === address) this.urlIds.set(raw, serverId)
    }
  }

  /** Where others should dial this peer: its advertised `ip`, else its TCP address + INFO port. */
  private peerRouteAddress(conn: RouteConnection, info: PeerInfo): { host: string; port: number } {
    if (info.ip !== undefined) {
      const u = parseRouteUrl(info.ip)
      if (u !== undefined) return { host: u.host, port: u.port }
    }
    return { host: conn.ip, port: info.port ?? conn.port }
  }

  /** The peer's INFO as forwarded to other routes: no nonce, `ip` set to a dialable URL. */
  private gossipInfo(conn: RouteConnection, raw: Record<string, unknown>): Info.Fields {
    const peer = conn.peer
    if (peer === undefined) return Info.encode({ server_id: String(raw["server_id"]) }, raw)
    const { nonce: _nonce, ...info } = peer
    if (info.ip === undefined) {
      const { host, port } = this.peerRouteAddress(conn, peer)
      return Info.encode({ ...info, ip: `nats-route://${hostPort(host, port)}/` }, raw)
    }
    return Info.encode(info, raw)
  }

  /** A peer told us about another server: dial it unless we know it already. */
  private gossiped(info: PeerInfo): Effect.Effect<void> {
    const id = info.server_id
    if (id === this.server.serverId || this.routes.has(id)) return Effect.void
    let url: string | undefined = info.ip
    if (url === undefined && info.host !== undefined && info.port !== undefined) url = `nats-route://${hostPort(info.host, info.port)}/`
    if (url === undefined) return Effect.void
    const u = parseRouteUrl(url)
    if (u === undefined) return Effect.void
    if (this.configuredRoutes().has(hostPort(normalizeHost(u.host), u.port))) return Effect.void
    return this.dialer === undefined ? Effect.void : this.dialer.dial(url, id)
  }

  /** A later INFO from the peer itself: lame duck, or new client URLs. */
  private peerUpdate(conn: RouteConnection, info: PeerInfo, raw: Record<string, unknown>): Effect.Effect<void> {
    conn.peer = info
    conn.peerRaw = raw
    if (!conn.registered) return Effect.void
    return this.updateMembership((state) =>
      Membership.update(state, info.server_id, {
        ldm: info.ldm === true,
        ...(info.connect_urls !== undefined ? { clientUrls: info.connect_urls } : {})
      })
    )
  }

  // --- close -----------------------------------------------------------------------------------

  private unregister(conn: RouteConnection): void {
    const id = conn.peer?.server_id
    if (id !== undefined && this.routes.get(id) === conn) this.routes.delete(id)
    conn.registered = false
    for (const [account, n] of conn.removeAllInterest()) this.log.debug(`${conn.prefix}Removing ${n} subscriptions for account "${account}"`)
  }

  /** A route connection ended, whatever ended it. */
  routeClosed(conn: RouteConnection): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.links.delete(conn)
      const wasRegistered = conn.registered
      this.unregister(conn)
      this.log.info(`${conn.prefix}Router connection closed: ${conn.closeReason ?? "Client Closed"}`)
      const id = conn.peer?.server_id
      if (!wasRegistered || id === undefined) return Effect.void
      return this.updateMembership((state) => Membership.leave(state, id, conn.rid))
    })
  }
}

export class Cluster extends Context.Service<Cluster, ClusterState>()("effect-nats-server/Cluster") {
  /**
   * The cluster's state for a server with a `cluster {}` block — nothing listens or dials yet
   * (`ClusterLayer.layer` does, and plugs it into the server). Built early so that the monitor
   * can read it.
   */
  static readonly layer: Layer.Layer<Cluster, never, ServerCore> = Layer.effect(
    Cluster,
    Effect.gen(function*() {
      const server = yield* ServerCore
      return new ClusterState(server, server.options.cluster!)
    })
  )
}
