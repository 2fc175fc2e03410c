/**
 * Configuration reload (SIGHUP, `--signal reload`): compare the running options with the ones
 * just read and decide what changes while running, as nats-server 2.9.10's `diffOptions` does —
 * the same options are reloadable, each change is logged with its `Reloaded: …` line, and the
 * whole reload is refused, with nats-server's message, when something that cannot change did.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { format as formatDuration } from "../values/Duration.js"
import { AUTH_TIMEOUT_MS, type ClusterOptions, type ServerOptions } from "./ServerOptions.js"

/** nats-server's `Reloaded: …` line for each option it reloads. */
const RELOADED: Partial<Record<keyof ServerOptions, (v: unknown) => string>> = {
  trace: (v) => `Reloaded: trace = ${v}`,
  debug: (v) => `Reloaded: debug = ${v}`,
  logtime: (v) => `Reloaded: logtime = ${v}`,
  logFile: (v) => `Reloaded: log_file = ${v ?? ""}`,
  serverTags: () => "Reloaded: tags",
  maxConnections: (v) => `Reloaded: max_connections = ${v}`,
  pidFile: (v) => `Reloaded: pid_file = ${v ?? ""}`,
  portsFileDir: (v) => `Reloaded: ports_file_dir = ${v ?? ""}`,
  maxControlLine: (v) => `Reloaded: max_control_line = ${v}`,
  maxPayload: (v) => `Reloaded: max_payload = ${v}`,
  pingInterval: (v) => `Reloaded: ping_interval = ${formatDuration(v as number)}`,
  pingMax: (v) => `Reloaded: ping_max = ${v}`,
  writeDeadline: (v) => `Reloaded: write_deadline = ${formatDuration(v as number)}`,
  // sic: nats-server 2.9.10 logs "Reload:" for this one.
  clientAdvertise: (v) => `Reload: client_advertise = ${v ?? ""}`,
  // New client connections use the new certificates (or no TLS); existing ones keep theirs.
  tls: (v) => `Reloaded: tls = ${v === undefined ? "disabled" : "enabled"}`
}

/** The nats-server (Go) option name a field is reported under when it cannot be reloaded. */
const NATS_NAME: Partial<Record<keyof ServerOptions, string>> = {
  host: "Host",
  port: "Port",
  serverName: "ServerName",
  maxPending: "MaxPending",
  maxSubscriptions: "MaxSubs",
  httpHost: "HTTPHost",
  httpPort: "HTTPPort",
  lameDuckDuration: "LameDuckDuration",
  lameDuckGracePeriod: "LameDuckGracePeriod",
  noHeaderSupport: "NoHeaderSupport"
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const show = (v: unknown): string => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v))

export interface ReloadPlan {
  /** The `Reloaded: …` lines, in the order nats-server logs them. */
  readonly changes: ReadonlyArray<string>
  /** Explicit route URLs to dial and to drop (`cluster.routes` changed). */
  readonly routes: { readonly add: ReadonlyArray<string>; readonly remove: ReadonlyArray<string> } | undefined
}

/** Route URLs are compared as nats-server's `urlsAreEqual` does: the same URL text (trailing `/` aside). */
const routeKey = (url: string): string => url.trim().replace(/\/+$/, "")

/** Added and removed routes, as nats-server's `diffRoutes`. */
export const diffRoutes = (old: ReadonlyArray<string>, next: ReadonlyArray<string>): { add: Array<string>; remove: Array<string> } => {
  const oldKeys = new Set(old.map(routeKey))
  const newKeys = new Set(next.map(routeKey))
  return {
    add: next.filter((u) => !oldKeys.has(routeKey(u))),
    remove: old.filter((u) => !newKeys.has(routeKey(u)))
  }
}

/**
 * `cluster {}` changes: host and port are fixed (enabling or disabling clustering is a host
 * change from or to "" — then a port change from or to 0 — as in nats-server); the rest — name, advertise, authorization, … — is
 * reloaded as `Reloaded: cluster`, and `routes` separately.
 */
const planCluster = (
  a: ClusterOptions | undefined,
  b: ClusterOptions | undefined,
  changes: Array<string>
): Result.Result<ReloadPlan["routes"], string> => {
  const hostA = a?.host ?? ""
  const hostB = b?.host ?? ""
  if (hostA !== hostB) return Result.fail(`config reload not supported for cluster host: old=${hostA}, new=${hostB}`)
  const portA = a?.port ?? 0
  const portB = b?.port ?? 0
  if (portA !== portB) return Result.fail(`config reload not supported for cluster port: old=${portA}, new=${portB}`)
  if (a === undefined || b === undefined) return Result.succeed(undefined)
  if (!same({ ...a, routes: [] }, { ...b, routes: [] })) changes.push("Reloaded: cluster")
  const diff = diffRoutes(a.routes.map((r) => r.raw), b.routes.map((r) => r.raw))
  if (diff.add.length === 0 && diff.remove.length === 0) return Result.succeed(undefined)
  return Result.succeed(diff)
}

/** An option changed that cannot be reloaded; `message` is nats-server's `config reload not supported for …`. */
export class ReloadRefused extends Data.TaggedError("ReloadRefused")<{ readonly message: string }> {}

/** What reloading `next` over `current` changes, or why it cannot be done. */
export const planReload = (current: ServerOptions, next: ServerOptions): Result.Result<ReloadPlan, ReloadRefused> =>
  Result.mapError(plan(current, next), (message) => new ReloadRefused({ message }))

const plan = (current: ServerOptions, next: ServerOptions): Result.Result<ReloadPlan, string> => {
  const changes: Array<string> = []
  let routes: ReloadPlan["routes"] = undefined
  const keys = new Set([...Object.keys(current), ...Object.keys(next)] as Array<keyof ServerOptions>)
  for (const key of keys) {
    const a = current[key]
    const b = next[key]
    if (same(a, b)) continue
    if (key === "configFile") continue
    if (key === "cluster") {
      const planned = planCluster(current.cluster, next.cluster, changes)
      if (Result.isFailure(planned)) return Result.fail(planned.failure)
      routes = planned.success
      continue
    }
    if (key === "accounts") {
      // Users, permissions, exports and imports of accounts all reload (nats-server's
      // accountsOption). Which changed decides the lines; nats-server logs both on every reload.
      const users = (o: ServerOptions) => (o.accounts ?? []).map((x) => [x.name, x.users, x.nkeys, x.defaultPermissions])
      if (!same(users(current), users(next))) changes.push("Reloaded: authorization users")
      changes.push("Reloaded: accounts")
      continue
    }
    if (key === "authorization") {
      const r = authorizationChanges(current.authorization, next.authorization)
      if (Result.isFailure(r)) return Result.fail(r.failure)
      changes.push(...r.success)
      continue
    }
    const line = RELOADED[key]
    if (line === undefined) return Result.fail(`config reload not supported for ${NATS_NAME[key] ?? key}: old=${show(a)}, new=${show(b)}`)
    changes.push(line(b))
  }
  // nats-server logs the routes change after the rest of the cluster block.
  if (routes !== undefined) changes.push("Reloaded: cluster routes")
  return Result.succeed({ changes, routes })
}

type Auth = ServerOptions["authorization"]

/**
 * nats-server's `Reloaded: …` lines for what changed in `authorization` (`no_auth_user` may only
 * go away together with its user).
 */
const authorizationChanges = (a: Auth, b: Auth): Result.Result<Array<string>, string> => {
  const lines: Array<string> = []
  if (a?.noAuthUser !== b?.noAuthUser) {
    const removedWithUser = a?.noAuthUser !== undefined && b?.noAuthUser === undefined &&
      !(b?.users ?? []).some((u) => u.user === a.noAuthUser)
    if (!removedWithUser) return Result.fail(`config reload not supported for NoAuthUser: old=${a?.noAuthUser ?? ""}, new=${b?.noAuthUser ?? ""}`)
  }
  if (a?.user !== b?.user) lines.push("Reloaded: authorization username")
  if (a?.password !== b?.password) lines.push("Reloaded: authorization password")
  if (a?.token !== b?.token) lines.push("Reloaded: authorization token")
  if ((a?.timeout ?? AUTH_TIMEOUT_MS) !== (b?.timeout ?? AUTH_TIMEOUT_MS)) lines.push(`Reloaded: authorization timeout = ${(b?.timeout ?? AUTH_TIMEOUT_MS) / 1000}`)
  if (!same(a?.users ?? [], b?.users ?? []) || !same(a?.defaultPermissions, b?.defaultPermissions)) lines.push("Reloaded: authorization users")
  if (!same(a?.nkeys ?? [], b?.nkeys ?? [])) lines.push("Reloaded: authorization nkey users")
  return Result.succeed(lines)
}
