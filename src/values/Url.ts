/**
 * NATS URLs: `scheme://[user[:password]@]host[:port][/]` as `--cluster`, `--routes`,
 * `cluster.routes`, `cluster.advertise` and gossiped INFOs (`ip`) write them. One parser for all of
 * them; route URLs are decoded once, into a `RouteUrl` that keeps the original text for logs and
 * as the key of its dialer.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as HostPort from "./HostPort.js"
import { invalid, type InvalidValue } from "./InvalidValue.js"

/** A parsed URL. */
export interface NatsUrl {
  /** Lower case. */
  readonly scheme: string
  /** Without IPv6 brackets; empty when the URL has no host. */
  readonly host: string
  readonly port?: number
  readonly user?: string
  readonly password?: string
}

const decodeUserinfo = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s

/**
 * Parses `scheme://[user[:password]@]host[:port][/]`; port `-1` is allowed (random port). With
 * `ignorePath` a path or query is dropped (Go's `url.Parse` keeps it and routes never read it),
 * else anything after the authority but a lone `/` is refused.
 */
export const parse = (raw: string, options?: { readonly ignorePath?: boolean }): Result.Result<NatsUrl, InvalidValue> => {
  const fail = (reason: string) => Result.fail(invalid("url", raw, reason))
  const expected = "expected <scheme>://[user:password@]host:port"
  const m = SCHEME.exec(raw.trim())
  if (m === null) return fail(expected)
  const scheme = (m[1] ?? "").toLowerCase()
  let authority = m[2] ?? ""
  const cut = authority.search(/[/?#]/)
  if (cut >= 0) {
    if (options?.ignorePath !== true && authority.slice(cut) !== "/") return fail(`unexpected path or query "${authority.slice(cut)}"`)
    authority = authority.slice(0, cut)
  }
  let user: string | undefined
  let password: string | undefined
  const at = authority.lastIndexOf("@")
  if (at >= 0) {
    const info = authority.slice(0, at)
    authority = authority.slice(at + 1)
    const colon = info.indexOf(":")
    user = decodeUserinfo(colon >= 0 ? info.slice(0, colon) : info)
    if (colon >= 0) password = decodeUserinfo(info.slice(colon + 1))
    if (user === undefined || (colon >= 0 && password === undefined)) {
      return fail("invalid percent-encoding in user info")
    }
  }
  let host: string
  let portText: string | undefined
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]")
    if (close < 0) return fail("missing ']' in IPv6 host")
    host = authority.slice(1, close)
    const after = authority.slice(close + 1)
    if (after !== "") {
      if (!after.startsWith(":")) return fail(expected)
      portText = after.slice(1)
    }
  } else {
    const colon = authority.indexOf(":")
    if (colon >= 0) {
      host = authority.slice(0, colon)
      portText = authority.slice(colon + 1)
      if (portText.includes(":")) return fail("IPv6 hosts must be written in brackets, e.g. [::1]:6222")
    } else {
      host = authority
    }
  }
  let port: number | undefined
  if (portText !== undefined) {
    if (portText === "") return fail("missing port after ':'")
    const p = HostPort.parsePort(portText, { allowRandom: true })
    if (Result.isFailure(p)) return fail(`invalid port "${portText}": port must be between -1 (random) and 65535`)
    port = p.success
  }
  return Result.succeed({
    scheme,
    host,
    ...(port !== undefined ? { port } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {})
  })
}

/** `scheme://[user:password@]host:port/`, the inverse of `parse` (user info percent-encoded). */
export const format = (url: NatsUrl): string => {
  const info = url.user === undefined
    ? ""
    : encodeURIComponent(url.user) + (url.password === undefined ? "" : ":" + encodeURIComponent(url.password)) + "@"
  const host = url.host.includes(":") ? `[${url.host}]` : url.host
  return `${url.scheme}://${info}${host}${url.port === undefined ? "" : ":" + url.port}`
}

/** A route to dial: host and port always present, the text it was written as kept in `raw`. */
export interface RouteUrl {
  readonly host: string
  readonly port: number
  readonly user: string | undefined
  readonly password: string | undefined
  /** The configured (trimmed) text: the dialer's key and what logs show. */
  readonly raw: string
}

/**
 * A route URL — `nats-route://…`, `nats://…`, any other scheme, or a bare `host:port` (as gossip's
 * `ip` and `cluster.advertise` may be): a host and a port above 0 are required.
 */
export const parseRoute = (raw: string): Result.Result<RouteUrl, InvalidValue> => {
  const text = raw.trim()
  const parsed = parse(SCHEME.test(text) ? text : `nats-route://${text}`, { ignorePath: true })
  if (Result.isFailure(parsed)) return Result.fail(invalid("route-url", raw, parsed.failure.reason))
  const u = parsed.success
  if (u.host === "") return Result.fail(invalid("route-url", raw, "missing host"))
  if (u.port === undefined || u.port <= 0) return Result.fail(invalid("route-url", raw, "missing or invalid port"))
  return Result.succeed({ host: u.host, port: u.port, user: u.user, password: u.password, raw: text })
}

/** `parseRoute`, undefined when it is not a route URL. */
export const parseRouteOrUndefined = (raw: string): RouteUrl | undefined => {
  const r = parseRoute(raw)
  return Result.isSuccess(r) ? r.success : undefined
}

/** `host:port` of a route URL (IPv6 bracketed): how routes are compared and shown in /varz. */
export const routeAddress = (url: RouteUrl): string => HostPort.format(url.host, url.port)

/**
 * A route of `cluster.routes` / `--routes`, decoded once when the options are: the text as
 * configured (`raw`: the dialer's key, what logs and reload compare) and the URL it names, or
 * `undefined` when it names no host and port to dial (nats-server accepts such a URL too; dialing
 * it is refused with `Error parsing route URL`).
 */
export interface ConfiguredRoute {
  readonly raw: string
  readonly url: RouteUrl | undefined
}

/** Decode a configured route's text. */
export const configuredRoute = (text: string): ConfiguredRoute => ({ raw: text, url: parseRouteOrUndefined(text) })
