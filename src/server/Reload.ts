/**
 * Configuration reload (SIGHUP, `--signal reload`): compare the running options with the ones
 * just read and apply what can change while running; refuse the whole reload, with nats-server's
 * message, when something that cannot change did.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import type { ServerOptions } from "../config/ServerOptions.js"

/** Options that a running server can take over (as nats-server 2.9's diffOptions allows). */
const RELOADABLE = new Set<keyof ServerOptions>([
  "debug",
  "trace",
  "logtime",
  "logFile",
  "authorization",
  "maxConnections",
  "maxControlLine",
  "maxPayload",
  "maxSubscriptions",
  "pingInterval",
  "pingMax",
  "writeDeadline",
  "clientAdvertise",
  "pidFile",
  "portsFileDir"
])

/** The nats-server option name a field is reported under. */
const NATS_NAME: Partial<Record<keyof ServerOptions, string>> = {
  host: "Host",
  port: "Port",
  serverName: "ServerName",
  maxPending: "MaxPending",
  httpHost: "HTTPHost",
  httpPort: "HTTPPort",
  lameDuckDuration: "LameDuckDuration",
  lameDuckGracePeriod: "LameDuckGracePeriod",
  noHeaderSupport: "NoHeaderSupport"
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const show = (v: unknown): string => (v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v))

export interface ReloadPlan {
  /** `<option> = <value>` for every change, as logged by `Reloaded: …`. */
  readonly changes: ReadonlyArray<string>
}

/** What reloading `next` over `current` changes, or why it cannot be done. */
export const planReload = (current: ServerOptions, next: ServerOptions): Result.Result<ReloadPlan, string> => {
  const changes: Array<string> = []
  const keys = new Set([...Object.keys(current), ...Object.keys(next)] as Array<keyof ServerOptions>)
  for (const key of keys) {
    const a = current[key]
    const b = next[key]
    if (same(a, b)) continue
    if (key === "cluster") {
      const ca = current.cluster
      const cb = next.cluster
      if (ca === undefined || cb === undefined) return Result.fail(`config reload not supported for Cluster: old=${show(ca)}, new=${show(cb)}`)
      if (ca.host !== cb.host || ca.port !== cb.port) {
        return Result.fail(`config reload not supported for cluster port: old=${ca.host}:${ca.port}, new=${cb.host}:${cb.port}`)
      }
      if (!same(ca.routes, cb.routes)) return Result.fail(`config reload not supported for cluster routes: old=${show(ca.routes)}, new=${show(cb.routes)}`)
      if (!same({ ...ca, name: undefined }, { ...cb, name: undefined })) return Result.fail(`config reload not supported for Cluster: old=${show(ca)}, new=${show(cb)}`)
      changes.push(`cluster name = ${cb.name ?? ""}`)
      continue
    }
    if (key === "authorization") {
      const r = authorizationChanges(current.authorization, next.authorization)
      if (Result.isFailure(r)) return Result.fail(r.failure)
      changes.push(...r.success)
      continue
    }
    if (!RELOADABLE.has(key)) return Result.fail(`config reload not supported for ${NATS_NAME[key] ?? key}: old=${show(a)}, new=${show(b)}`)
    changes.push(`${key} = ${show(b)}`)
  }
  return Result.succeed({ changes })
}

type Auth = ServerOptions["authorization"]

/** nats-server's lines for what changed in `authorization` (no_auth_user may only go away with its user). */
const authorizationChanges = (a: Auth, b: Auth): Result.Result<Array<string>, string> => {
  const lines: Array<string> = []
  if (a?.noAuthUser !== b?.noAuthUser) {
    const removedWithUser = a?.noAuthUser !== undefined && b?.noAuthUser === undefined &&
      !(b?.users ?? []).some((u) => u.user === a.noAuthUser)
    if (!removedWithUser) return Result.fail(`config reload not supported for NoAuthUser: old=${a?.noAuthUser ?? ""}, new=${b?.noAuthUser ?? ""}`)
  }
  if (a?.user !== b?.user) lines.push("authorization username")
  if (a?.password !== b?.password) lines.push("authorization password")
  if (a?.token !== b?.token) lines.push("authorization token")
  if ((a?.timeout ?? 2000) !== (b?.timeout ?? 2000)) lines.push(`authorization timeout = ${(b?.timeout ?? 2000) / 1000}`)
  if (!same(a?.users ?? [], b?.users ?? []) || !same(a?.defaultPermissions, b?.defaultPermissions)) lines.push("authorization users")
  if (!same(a?.nkeys ?? [], b?.nkeys ?? [])) lines.push("authorization nkey users")
  return Result.succeed(lines)
}
