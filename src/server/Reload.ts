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
  "portsFileDir",
  // New client connections use the new certificates (or no TLS); existing ones keep theirs.
  "tls"
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
    if (!RELOADABLE.has(key)) return Result.fail(`config reload not supported for ${NATS_NAME[key] ?? key}: old=${show(a)}, new=${show(b)}`)
    changes.push(key === "authorization" ? "authorization users" : key === "tls" ? `tls = ${b === undefined ? "disabled" : "enabled"}` : `${key} = ${show(b)}`)
  }
  return Result.succeed({ changes })
}
