/**
 * `/meshz` (ours, not nats-server's): the cluster as this server can see it, for the live page at
 * `/` (see `MeshPage`).
 *
 * How the peers' monitors are found: nats-server does not tell its routes where its monitor
 * listens, so our servers add one field to the route INFO they send, `monitor_url` (Go's JSON
 * decoding ignores unknown fields, so nats-server peers are not affected). For every registered
 * route whose peer advertised one, this endpoint asks that monitor for its standard `/varz` and
 * `/routez` — server-side, with a short timeout — so a browser only needs to reach this one
 * server. A peer that advertised nothing (nats-server, or ours without a monitor) or whose monitor
 * does not answer is still listed, from what this server's route to it knows (its id and name),
 * with the reason in `error`; the routes between two such peers cannot be seen from here.
 *
 * Each server appears once with the counters of its own `/varz` (connections, messages and
 * bytes, the server's `now`, from which the page derives rates between two polls) and its routes
 * from its own `/routez`. Nothing is cached: every request reads the live state.
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import * as https from "node:https"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ClusterState } from "../cluster/Cluster.js"
import type { RouteConnection } from "../cluster/RouteConnection.js"
import type { ServerState } from "../server/ServerState.js"
import { goTime } from "./format.js"
import { routez } from "./Routez.js"
import { varz, type VarzRuntime } from "./Varz.js"

/** The route INFO field our servers advertise their monitor in (see the module doc). */
export const MONITOR_URL_FIELD = "monitor_url"

/** How long a peer's monitor gets to answer one request. */
const PEER_TIMEOUT = Duration.millis(1500)

/** A peer's monitor could not be read. */
export class MeshPeerError extends Data.TaggedError("MeshPeerError")<{
  readonly url: string
  readonly message: string
  readonly cause?: unknown
}> {}

type Json = Record<string, unknown>

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0)

/** One route of one server, as the page draws it. */
const routeView = (r: Json, names: ReadonlyMap<string, string>): Json => {
  const remoteId = str(r["remote_id"]) ?? ""
  return {
    rid: num(r["rid"]),
    remote_id: remoteId,
    remote_name: names.get(remoteId),
    rtt: str(r["rtt"]) ?? "0s",
    in_msgs: num(r["in_msgs"]),
    out_msgs: num(r["out_msgs"]),
    in_bytes: num(r["in_bytes"]),
    out_bytes: num(r["out_bytes"]),
    pending_size: num(r["pending_size"]),
    subscriptions: num(r["subscriptions"])
  }
}

/** A server from its own `/varz` and `/routez` documents (ours or nats-server's). */
export const serverView = (
  source: "self" | "monitor",
  monitorUrl: string | undefined,
  v: Json,
  rz: Json,
  names: ReadonlyMap<string, string> = new Map()
): Json => {
  const cluster = v["cluster"]
  const routes = Array.isArray(rz["routes"]) ? (rz["routes"] as Array<Json>) : []
  return {
    server_id: str(v["server_id"]) ?? "",
    server_name: str(v["server_name"]) ?? "",
    version: str(v["version"]) ?? "",
    cluster: typeof cluster === "object" && cluster !== null ? str((cluster as Json)["name"]) : undefined,
    source,
    monitor_url: monitorUrl,
    now: str(v["now"]),
    uptime: str(v["uptime"]),
    connections: num(v["connections"]),
    total_connections: num(v["total_connections"]),
    subscriptions: num(v["subscriptions"]),
    slow_consumers: num(v["slow_consumers"]),
    in_msgs: num(v["in_msgs"]),
    out_msgs: num(v["out_msgs"]),
    in_bytes: num(v["in_bytes"]),
    out_bytes: num(v["out_bytes"]),
    routes: routes.map((r) => routeView(r, names))
  }
}

/** The monitor URL a route's peer advertised, if it is a usable http(s) URL. */
export const advertisedMonitorUrl = (route: RouteConnection): string | undefined => {
  const raw = route.peerRaw?.[MONITOR_URL_FIELD]
  if (typeof raw !== "string") return undefined
  try {
    const u = new URL(raw)
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username !== "" || u.password !== "") return undefined
    return `${u.protocol}//${u.host}`
  } catch {
    return undefined
  }
}

/** GET a JSON document, without keep-alive (nothing is left open), failing after `PEER_TIMEOUT`. */
export const getJson = (url: string): Effect.Effect<Json, MeshPeerError> =>
  Effect.callback<Json, MeshPeerError>((resume, signal) => {
    const fail = (message: string, cause?: unknown) => resume(Effect.fail(new MeshPeerError({ url, message, cause })))
    const get = url.startsWith("https:") ? https.get : http.get
    const req = get(url, { agent: false, signal, headers: { accept: "application/json" } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("error", (e) => fail(e.message, e))
      res.on("end", () => {
        if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`)
        try {
          const doc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown
          if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return fail("not a JSON object")
          resume(Effect.succeed(doc as Json))
        } catch (e) {
          fail("invalid JSON", e)
        }
      })
    })
    req.on("error", (e) => {
      if (!signal.aborted) fail(e.message, e)
    })
  }).pipe(
    Effect.timeoutOrElse({
      duration: PEER_TIMEOUT,
      orElse: () => Effect.fail(new MeshPeerError({ url, message: `no answer within ${Duration.format(PEER_TIMEOUT)}` }))
    })
  )

/** One peer: from its monitor when it advertised one that answers, else from our route to it. */
const peerView = (route: RouteConnection, names: ReadonlyMap<string, string>): Effect.Effect<Json> => {
  const id = route.remoteId ?? ""
  const name = route.peer?.server_name ?? id
  const url = advertisedMonitorUrl(route)
  const fallback = (error: string): Json => ({
    server_id: id,
    server_name: name,
    version: route.peer?.version ?? "",
    cluster: route.peer?.cluster,
    source: "route",
    monitor_url: url,
    error,
    routes: []
  })
  if (url === undefined) return Effect.succeed(fallback("monitor URL not advertised by this peer"))
  return Effect.all([getJson(`${url}/varz`), getJson(`${url}/routez`)], { concurrency: 2 }).pipe(
    Effect.map(([v, rz]): Json =>
      v["server_id"] === id
        ? serverView("monitor", url, v, rz, names)
        : fallback(`the monitor at ${url} reports server ${String(v["server_id"])}`)
    ),
    Effect.catch((e: MeshPeerError) => Effect.succeed(fallback(`${e.url}: ${e.message}`)))
  )
}

/** The `/meshz` document: this server first, then every registered route's peer. */
export const meshz = (server: ServerState, cluster: ClusterState | undefined, runtime: VarzRuntime, now: number = Date.now()): Effect.Effect<Json> =>
  Effect.suspend(() => {
    const routes = cluster === undefined ? [] : [...cluster.routes.values()].sort((a, b) => a.rid - b.rid)
    // Names the routes learned from the peers' INFO: /routez (as nats-server 2.9's) has none.
    const names = new Map<string, string>([[server.serverId, server.serverName]])
    for (const r of routes) {
      const id = r.remoteId
      if (id !== undefined && r.peer?.server_name !== undefined) names.set(id, r.peer.server_name)
    }
    const self = serverView("self", undefined, varz(server, cluster, runtime, now), routez(server, cluster, { subs: false, subsDetail: false }, now), names)
    return Effect.forEach(routes, (r) => peerView(r, names), { concurrency: "unbounded" }).pipe(
      Effect.map((peers): Json => ({
        server_id: server.serverId,
        now: goTime(now),
        cluster: cluster?.name,
        servers: [self, ...peers]
      }))
    )
  })
