/**
 * The port through which a cluster plugs into the server: what the server asks of the cluster
 * (its name, the other members' client URLs for `connect_urls`, where peers dial us) and what it
 * tells it (local interest changed, lame duck, wait for the routes). `server/` defines it and
 * `cluster/` implements it (`ClusterState`), so the server never imports the cluster; the cluster
 * layer plugs it in with `ServerState.attachCluster`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { InterestListener } from "./Router.js"

export interface ClusterPort extends InterestListener {
  /** The cluster's name; the cluster alone changes it (dynamic name, adopted name, reload). */
  readonly name: string
  /** `cluster.no_advertise`: clients are told no `connect_urls`. */
  readonly noAdvertise: boolean
  /** host:port of the other members' client listeners, as they announced them. */
  readonly peerClientUrls: ReadonlyArray<string>
  /** Where peers dial this server for routes, once the route listener is bound. */
  readonly routeAddress: { readonly host: string; readonly port: number } | undefined
  /** Lame duck began: tell every peer (a route INFO with `ldm`). */
  announceLameDuck(): void
  /**
   * Wait until every route up now has processed what was sent to it before (a PING/PONG round
   * trip each, at most `timeout`); at once when there are none.
   */
  roundTrip(timeout: Duration.Duration): Effect.Effect<void>
}
