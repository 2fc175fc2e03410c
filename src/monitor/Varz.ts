/**
 * `/varz`: server identity, options and runtime counters in nats-server 2.9's `Varz` field order.
 *
 * @since 0.1.0
 */
import * as os from "node:os"
import type { ClusterState } from "../cluster/Cluster.js"
import { format as hostPort } from "../values/HostPort.js"
import { authTimeout } from "../server/auth/Auth.js"
import { AUTH_TIMEOUT_MS } from "../config/AuthTimeout.js"
import { TLS_TIMEOUT_MS } from "../net/TlsTimeout.js"
import { NATS_COMPAT_VERSION, type ServerState } from "../server/ServerState.js"
import { goTime, goUptime } from "./format.js"

/** What `/varz` needs from the monitor itself. */
export interface VarzRuntime {
  readonly httpHost: string
  readonly httpPort: number
  /** Requests served per endpoint path (including the current one). */
  readonly reqStats: ReadonlyMap<string, number>
  /** Process CPU in percent over the last sampling window (one decimal). */
  readonly cpu: number
}

/** nats-server's AUTH_TIMEOUT and TLS_TIMEOUT defaults, in seconds. */
const DEFAULT_AUTH_TIMEOUT = AUTH_TIMEOUT_MS / 1000
const DEFAULT_TLS_TIMEOUT = TLS_TIMEOUT_MS / 1000

const NANOS_PER_MS = 1_000_000

/** Logical CPUs, as Go's `runtime.NumCPU()`. */
const cores = (): number => (typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length)

/** The `cluster` block: empty (`{}`) on a standalone server, as Go writes a zero struct. */
const clusterBlock = (state: ServerState, cluster: ClusterState | undefined): Record<string, unknown> => {
  const options = state.options.cluster
  if (options === undefined) return {}
  const urls: Array<string> = []
  for (const { url: u } of options.routes) {
    if (u !== undefined) urls.push(hostPort(u.host, u.port))
  }
  return {
    name: cluster?.name ?? options.name,
    addr: cluster?.listen?.host ?? options.host,
    cluster_port: cluster?.listen?.port ?? options.port,
    auth_timeout: options.authorization !== undefined ? options.authorization.timeout / 1000 : DEFAULT_AUTH_TIMEOUT,
    urls: urls.length > 0 ? urls : undefined,
    tls_timeout: options.tls !== undefined ? options.tls.timeout / 1000 : DEFAULT_TLS_TIMEOUT,
    tls_required: options.tls !== undefined ? true : undefined,
    tls_verify: options.tls !== undefined ? true : undefined
  }
}

/** Request counts keyed by path, sorted as Go marshals a map. */
const sortedStats = (stats: ReadonlyMap<string, number>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const key of [...stats.keys()].sort()) out[key] = stats.get(key)!
  return out
}

/** The `/varz` document. */
export const varz = (state: ServerState, cluster: ClusterState | undefined, runtime: VarzRuntime, now: number = Date.now()): Record<string, unknown> => {
  const o = state.options
  const router = state.router
  const routes = cluster?.routes.size ?? 0
  return {
    server_id: state.serverId,
    server_name: state.serverName,
    version: NATS_COMPAT_VERSION,
    proto: 1,
    go: `node ${process.version}`,
    host: state.listen?.host ?? o.host,
    port: state.listen?.port ?? o.port,
    auth_required: state.authRequired() ? true : undefined,
    tls_required: o.tls !== undefined ? true : undefined,
    tls_verify: o.tls !== undefined && (o.tls.verify || o.tls.verifyAndMap) ? true : undefined,
    connect_urls: state.connectUrls(),
    max_connections: o.maxConnections,
    max_subscriptions: o.maxSubscriptions > 0 ? o.maxSubscriptions : undefined,
    ping_interval: Math.round(o.pingInterval * NANOS_PER_MS),
    ping_max: o.pingMax,
    http_host: runtime.httpHost,
    http_port: o.httpsPort !== undefined ? 0 : runtime.httpPort,
    http_base_path: "",
    https_port: o.httpsPort !== undefined ? runtime.httpPort : 0,
    auth_timeout: authTimeout(o) / 1000,
    max_control_line: o.maxControlLine,
    max_payload: o.maxPayload,
    max_pending: o.maxPending,
    cluster: clusterBlock(state, cluster),
    gateway: {},
    leaf: {},
    mqtt: {},
    websocket: {},
    jetstream: {},
    tls_timeout: o.tls !== undefined ? o.tls.timeout / 1000 : DEFAULT_TLS_TIMEOUT,
    write_deadline: Math.round(o.writeDeadline * NANOS_PER_MS),
    start: goTime(state.start),
    now: goTime(now),
    uptime: goUptime(now - state.start.getTime()),
    mem: process.memoryUsage.rss(),
    cores: cores(),
    // One JavaScript thread runs the broker (Go: GOMAXPROCS).
    gomaxprocs: 1,
    cpu: runtime.cpu,
    connections: state.clients.size,
    total_connections: state.totalConnections,
    routes,
    remotes: routes,
    leafnodes: 0,
    in_msgs: router.stats.inMsgs,
    out_msgs: router.stats.outMsgs,
    in_bytes: router.stats.inBytes,
    out_bytes: router.stats.outBytes,
    slow_consumers: router.stats.slowConsumers,
    // Every account's index, as nats-server sums its sublists (route interest included).
    subscriptions: router.subscriptionCount(),
    http_req_stats: sortedStats(runtime.reqStats),
    config_load_time: goTime(state.start),
    ...(o.serverTags !== undefined && o.serverTags.length > 0 ? { tags: o.serverTags } : {}),
    // nats-server always has one (`$SYS` unless `system_account` names another).
    system_account: state.system.name
  }
}
