/**
 * Route URLs: `nats-route://[user:pass@]host:port` (or `nats://…`), as given to `--routes`, in
 * `cluster.routes` and in gossiped INFOs (`ip`).
 *
 * @since 0.1.0
 */

export interface RouteUrl {
  readonly host: string
  readonly port: number
  readonly user: string | undefined
  readonly password: string | undefined
  /** The text it was parsed from. */
  readonly raw: string
}

/** Parse a route URL; undefined when it is not one. */
export const parseRouteUrl = (raw: string): RouteUrl | undefined => {
  const text = raw.trim()
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `nats-route://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    return undefined
  }
  const port = Number(url.port)
  if (url.hostname === "" || !Number.isInteger(port) || port <= 0) return undefined
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    user: url.username === "" ? undefined : decodeURIComponent(url.username),
    password: url.password === "" ? undefined : decodeURIComponent(url.password),
    raw: text
  }
}

/** `host:port` (IPv6 in brackets): how routes are keyed and shown in /varz `cluster.urls`. */
export const hostPort = (host: string, port: number): string => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)

/** Loopback and unspecified addresses all mean "this machine" when comparing route targets. */
export const normalizeHost = (host: string): string =>
  host === "localhost" || host === "0.0.0.0" || host === "::" || host === "::1" || host.startsWith("127.") ? "127.0.0.1" : host
