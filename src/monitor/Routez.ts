/**
 * `/routez`: the registered route connections of this server, in nats-server 2.9's `Routez` and
 * `RouteInfo` field order.
 *
 * @since 0.1.0
 */
import { toText } from "../protocol/ByteString.js"
import * as Result from "effect/Result"
import type { ClusterState } from "../cluster/Cluster.js"
import type { RouteConnection } from "../cluster/RouteConnection.js"
import type { ServerState } from "../server/ServerState.js"
import { goRtt, goTime, goUptime } from "./format.js"
import { decodeSubs, type InvalidQuery } from "./params.js"

export interface RoutezOptions {
  readonly subs: boolean
  readonly subsDetail: boolean
}

export const decodeRoutezOptions = (query: URLSearchParams): Result.Result<RoutezOptions, InvalidQuery> => {
  const subs = decodeSubs(query)
  return Result.isFailure(subs) ? Result.fail(subs.failure) : Result.succeed({ subs: subs.success.subs, subsDetail: subs.success.detail })
}

const routeInfo = (route: RouteConnection, now: number, options: RoutezOptions): Record<string, unknown> => {
  const interest = [...route.interest.entries()]
  return {
    rid: route.rid,
    remote_id: route.remoteId ?? "",
    did_solicit: route.solicitedUrl !== undefined,
    is_configured: route.explicit,
    ip: route.ip,
    port: route.port,
    start: goTime(route.start),
    last_activity: goTime(route.lastActivity),
    rtt: goRtt(route.rtt),
    uptime: goUptime(now - route.startMs),
    idle: goUptime(now - route.lastActivityMs),
    pending_size: route.out.size + route.inFlight,
    in_msgs: route.inMsgs,
    out_msgs: route.outMsgs,
    in_bytes: route.inBytes,
    out_bytes: route.outBytes,
    subscriptions: route.subscriptionCount,
    subscriptions_list: !options.subsDetail && options.subs && interest.length > 0
      ? interest.map(([, i]) => toText(i.subject))
      : undefined,
    // The sid of a route subscription is its interest key (`account subject[ queue]`), as in
    // nats-server; per-subscription message counts are not kept for remote interest.
    subscriptions_list_detail: options.subsDetail && interest.length > 0
      ? interest.map(([key, i]) => ({ subject: toText(i.subject), qgroup: i.queue === undefined ? undefined : toText(i.queue), sid: toText(key), msgs: 0, cid: route.rid }))
      : undefined
  }
}

/** The `/routez` document. */
export const routez = (state: ServerState, cluster: ClusterState | undefined, options: RoutezOptions, now: number = Date.now()): Record<string, unknown> => {
  const routes = cluster === undefined ? [] : [...cluster.routes.values()].sort((a, b) => a.rid - b.rid)
  return {
    server_id: state.serverId,
    now: goTime(now),
    num_routes: routes.length,
    routes: routes.map((r) => routeInfo(r, now, options))
  }
}
