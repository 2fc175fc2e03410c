/**
 * Route URLs for the cluster code: the parser is `values/Url.parseRoute` and `host:port` is
 * `values/HostPort.format` (re-exported here under the names the cluster uses); what is the
 * cluster's own is which hosts count as "this machine".
 *
 * @since 0.1.0
 */
export { parseRouteOrUndefined as parseRouteUrl, type RouteUrl } from "../values/Url.js"
export { format as hostPort } from "../values/HostPort.js"

/** Loopback and unspecified addresses all mean "this machine" when comparing route targets. */
export const normalizeHost = (host: string): string =>
  host === "localhost" || host === "0.0.0.0" || host === "::" || host === "::1" || host.startsWith("127.") ? "127.0.0.1" : host
