/**
 * `/metrics`: the broker's counters in the Prometheus text format, so that no separate exporter
 * is needed.
 *
 * Names, types and labels follow nats-server's usual exporter (`prometheus-nats-exporter -varz
 * -connz -routez -subz`): `gnatsd_varz_<field>`, `gnatsd_connz_<field>`, `gnatsd_subsz_<field>`
 * and `gnatsd_routez_*` — every one a gauge with a `server_id` label (the exporter reports the
 * monotonic ones as gauges too; `rate()` works on them) — so existing NATS dashboards keep
 * working (the exporter fills `server_id` with the monitor URL unless run with
 * `-use_internal_server_id`; here it is always the server's id). Added on top: `gnatsd_server_info` (identity labels), uptime, cluster size, route
 * pending bytes and the standard `process_*` metrics.
 *
 * Nothing is counted per message for this: a scrape takes one snapshot of the counters the broker
 * already keeps (the `/varz`, `/routez` and `/subsz` documents, computed in-process) and prom-client
 * `collect()` callbacks copy it into the gauges. Scrapes run one at a time, so a scrape never mixes
 * two snapshots. prom-client (a stable exporter with a registry per instance) is used rather than
 * Effect's `Metric` + `PrometheusMetrics` (unstable in Effect 4.1, one registry per runtime, values
 * pushed through effects): several brokers can live in one process and each has its own registry.
 * prom-client is loaded on the first scrape, so servers that are never scraped do not pay for it.
 *
 * @since 0.1.0
 */
import type * as Prom from "prom-client"
import type { ClusterState } from "../cluster/Cluster.js"
import type { RouteConnection } from "../cluster/RouteConnection.js"
import { ClientConnection } from "../server/ClientConnection.js"
import { NATS_COMPAT_VERSION, SERVER_NAME, SERVER_VERSION, type ServerState } from "../server/ServerState.js"
import { subsz } from "./Subsz.js"
import { varz, type VarzRuntime } from "./Varz.js"

/** The exporter's namespace, kept for dashboard compatibility. */
const NS = "gnatsd"

/** `/varz` numbers exported as `gnatsd_varz_<field>` (the exporter exports every numeric field). */
export const VARZ_FIELDS = [
  "proto",
  "port",
  "max_connections",
  "max_subscriptions",
  "ping_interval",
  "ping_max",
  "http_port",
  "https_port",
  "auth_timeout",
  "max_control_line",
  "max_payload",
  "max_pending",
  "tls_timeout",
  "write_deadline",
  "mem",
  "cores",
  "gomaxprocs",
  "cpu",
  "connections",
  "total_connections",
  "routes",
  "remotes",
  "leafnodes",
  "in_msgs",
  "out_msgs",
  "in_bytes",
  "out_bytes",
  "slow_consumers",
  "subscriptions"
] as const

/** `/subsz` statistics exported as `gnatsd_subsz_<field>`. */
export const SUBSZ_FIELDS = [
  "num_subscriptions",
  "num_cache",
  "num_inserts",
  "num_removes",
  "num_matches",
  "cache_hit_rate",
  "max_fanout",
  "avg_fanout"
] as const

/** One route as a scrape sees it. */
interface RouteSample {
  readonly rid: string
  readonly remoteId: string
  readonly remoteName: string
  readonly ip: string
  readonly rttSeconds: number | undefined
  readonly uptimeSeconds: number
  readonly subscriptions: number
  readonly inMsgs: number
  readonly outMsgs: number
  readonly inBytes: number
  readonly outBytes: number
  readonly pending: number
}

/** Everything one scrape reports, taken at once. */
interface Snapshot {
  readonly serverId: string
  readonly serverName: string
  readonly cluster: string
  readonly varz: Record<string, unknown>
  readonly subsz: Record<string, unknown>
  readonly connections: number
  readonly totalConnections: number
  readonly pendingBytes: number
  readonly uptimeSeconds: number
  readonly startSeconds: number
  readonly routes: ReadonlyArray<RouteSample>
  readonly clusterSize: number
  readonly rssBytes: number
  readonly cpuSeconds: number
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

const routeSample = (route: RouteConnection, now: number): RouteSample => ({
  rid: String(route.rid),
  remoteId: route.remoteId ?? "",
  remoteName: route.peer?.server_name ?? "",
  ip: route.ip,
  rttSeconds: route.rtt !== undefined && route.rtt > 0 ? route.rtt / 1000 : undefined,
  uptimeSeconds: Math.max(0, Math.floor((now - route.startMs) / 1000)),
  subscriptions: route.subscriptionCount,
  inMsgs: route.inMsgs,
  outMsgs: route.outMsgs,
  inBytes: route.inBytes,
  outBytes: route.outBytes,
  pending: route.out.size + route.inFlight
})

/** Read the broker's counters once (synchronously: nothing moves while this runs). */
export const snapshot = (server: ServerState, cluster: ClusterState | undefined, runtime: VarzRuntime, now: number = Date.now()): Snapshot => {
  let pendingBytes = 0
  for (const conn of server.clients.values()) {
    if (conn instanceof ClientConnection) pendingBytes += conn.out.size + conn.inFlight
  }
  const routes = cluster === undefined
    ? []
    : [...cluster.routes.values()].sort((a, b) => a.rid - b.rid).map((r) => routeSample(r, now))
  const cpu = process.cpuUsage()
  return {
    serverId: server.serverId,
    serverName: server.serverName,
    cluster: cluster?.name ?? "",
    varz: varz(server, cluster, runtime, now),
    subsz: subsz(server, { subs: false, offset: 0, limit: 0, account: "", test: "" }, now),
    connections: server.clients.size,
    totalConnections: server.totalConnections,
    pendingBytes,
    uptimeSeconds: Math.max(0, (now - server.start.getTime()) / 1000),
    startSeconds: server.start.getTime() / 1000,
    routes,
    clusterSize: cluster === undefined ? 1 : cluster.routes.size + 1,
    rssBytes: process.memoryUsage.rss(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6
  }
}

/** The text format's content type (`text/plain; version=0.0.4; charset=utf-8`). */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/**
 * The registry of one broker's metrics. `scrape()` takes a snapshot through `take` and renders
 * it; concurrent scrapes queue behind each other.
 */
export class MetricsRegistry {
  private registry: Prom.Registry | undefined = undefined
  private current: Snapshot | undefined = undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(private readonly take: () => Snapshot) {}

  /** The metrics as Prometheus text, for one scrape. */
  scrape(): Promise<string> {
    const run = this.queue.then(async () => {
      const registry = this.registry ??= build(await import("prom-client"), () => this.current)
      this.current = this.take()
      try {
        return await registry.metrics()
      } finally {
        this.current = undefined
      }
    })
    this.queue = run.catch(() => undefined)
    return run
  }
}

/** Register every metric; each `collect()` copies its part of the current snapshot. */
const build = (prom: typeof Prom, current: () => Snapshot | undefined): Prom.Registry => {
  const registry = new prom.Registry()
  const gauge = (
    name: string,
    help: string,
    labelNames: ReadonlyArray<string>,
    fill: (g: Prom.Gauge<string>, s: Snapshot) => void
  ): void => {
    new prom.Gauge({
      name,
      help,
      labelNames: [...labelNames],
      registers: [registry],
      collect() {
        this.reset()
        const s = current()
        if (s !== undefined) fill(this, s)
      }
    })
  }
  const id = (s: Snapshot) => ({ server_id: s.serverId })

  gauge(`${NS}_server_info`, `Server identity: ${SERVER_NAME} ${SERVER_VERSION}, nats-server protocol ${NATS_COMPAT_VERSION}`, [
    "server_id",
    "server_name",
    "version",
    "implementation",
    "implementation_version",
    "cluster",
    "node_version"
  ], (g, s) =>
    g.set({
      server_id: s.serverId,
      server_name: s.serverName,
      version: NATS_COMPAT_VERSION,
      implementation: SERVER_NAME,
      implementation_version: SERVER_VERSION,
      cluster: s.cluster,
      node_version: process.version
    }, 1))

  // --- varz, as the exporter maps it: string identity fields as a `value` label -------------------
  for (const field of ["server_id", "server_name", "version"] as const) {
    gauge(`${NS}_varz_${field}`, field, ["server_id", "value"], (g, s) => {
      const v = s.varz[field]
      if (typeof v === "string") g.set({ server_id: s.serverId, value: v }, 1)
    })
  }
  for (const field of VARZ_FIELDS) {
    gauge(`${NS}_varz_${field}`, field, ["server_id"], (g, s) => {
      const v = num(s.varz[field])
      if (v !== undefined) g.set(id(s), v)
    })
  }
  gauge(`${NS}_varz_uptime_seconds`, "Seconds since the server started", ["server_id"], (g, s) => g.set(id(s), s.uptimeSeconds))
  gauge(`${NS}_varz_start_time_seconds`, "Server start, seconds since the Unix epoch", ["server_id"], (g, s) => g.set(id(s), s.startSeconds))

  // --- connz --------------------------------------------------------------------------------------
  gauge(`${NS}_connz_num_connections`, "Open client connections", ["server_id"], (g, s) => g.set(id(s), s.connections))
  gauge(`${NS}_connz_total`, "Open client connections (connz total)", ["server_id"], (g, s) => g.set(id(s), s.connections))
  gauge(`${NS}_connz_total_connections`, "Client connections accepted since start", ["server_id"], (g, s) => g.set(id(s), s.totalConnections))
  gauge(`${NS}_connz_pending_bytes`, "Bytes waiting to be written to clients, summed over connections", ["server_id"], (g, s) =>
    g.set(id(s), s.pendingBytes))

  // --- subsz --------------------------------------------------------------------------------------
  for (const field of SUBSZ_FIELDS) {
    gauge(`${NS}_subsz_${field}`, field, ["server_id"], (g, s) => {
      const v = num(s.subsz[field])
      if (v !== undefined) g.set(id(s), v)
    })
  }

  // --- routez -------------------------------------------------------------------------------------
  gauge(`${NS}_routez_num_routes`, "num_routes", ["server_id"], (g, s) => g.set(id(s), s.routes.length))
  gauge(`${NS}_routez_cluster_size`, "Servers in the cluster as this server sees it: itself and its registered routes", [
    "server_id",
    "cluster"
  ], (g, s) => g.set({ server_id: s.serverId, cluster: s.cluster }, s.clusterSize))
  gauge(`${NS}_routez_route_info`, "route_info", ["server_id", "rid", "remote_id", "remote_name", "ip"], (g, s) => {
    for (const r of s.routes) g.set({ server_id: s.serverId, rid: r.rid, remote_id: r.remoteId, remote_name: r.remoteName, ip: r.ip }, 1)
  })
  const perRoute = (name: string, help: string, value: (r: RouteSample) => number | undefined) =>
    gauge(`${NS}_routez_route_${name}`, help, ["server_id", "rid"], (g, s) => {
      for (const r of s.routes) {
        const v = value(r)
        if (v !== undefined) g.set({ server_id: s.serverId, rid: r.rid }, v)
      }
    })
  perRoute("rtt_seconds", "Route round-trip time (absent until measured)", (r) => r.rttSeconds)
  perRoute("subscriptions", "subscriptions", (r) => r.subscriptions)
  perRoute("uptime_seconds", "uptime_seconds", (r) => r.uptimeSeconds)
  perRoute("in_msgs", "in_msgs", (r) => r.inMsgs)
  perRoute("out_msgs", "out_msgs", (r) => r.outMsgs)
  perRoute("in_bytes", "in_bytes", (r) => r.inBytes)
  perRoute("out_bytes", "out_bytes", (r) => r.outBytes)
  perRoute("pending_bytes", "Bytes waiting to be written to the route", (r) => r.pending)

  // --- the process, under the standard names -----------------------------------------------------
  new prom.Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers: [registry],
    collect() {
      this.reset()
      const s = current()
      if (s !== undefined) this.inc(s.cpuSeconds)
    }
  })
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], (g, s) => g.set(s.rssBytes))
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", [], (g) =>
    g.set(Math.round(Date.now() / 1000 - process.uptime())))
  return registry
}
