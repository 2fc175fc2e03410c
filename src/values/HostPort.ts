/**
 * `host:port` — the one place an address is written and read. IPv6 hosts are bracketed
 * (`[::1]:4222`), as Go's `net.JoinHostPort` / `net.SplitHostPort` do; hosts are kept without
 * brackets everywhere else.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { invalid, type InvalidValue } from "./InvalidValue.js"

export interface HostPort {
  /** Without IPv6 brackets; may be empty (`:4222`). */
  readonly host: string
  readonly port: number
}

/**
 * Go's `net.JoinHostPort`: `host:port`, `[v6]:port`. A host that starts with `[` is bracketed
 * too, so that `split` gives back any host exactly.
 */
export const format = (host: string, port: number | string): string =>
  host.includes(":") || host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * `host:port`, `[v6]:port`, `:port` (empty host), the inverse of `format` for every host (Go's
 * `net.SplitHostPort` on the addresses it accepts). A bare IPv6 host without brackets is refused
 * (too many colons); the port is returned as text for the caller to judge.
 */
export const split = (text: string): Result.Result<{ readonly host: string; readonly port: string }, InvalidValue> => {
  const fail = (reason: string) => Result.fail(invalid("address", text, reason))
  if (text.startsWith("[")) {
    const m = /^\[(.*)\]:([^:]*)$/s.exec(text)
    if (m === null) return fail(text.includes("]") ? `missing port in address "${text}"` : `missing ']' in address "${text}"`)
    return Result.succeed({ host: m[1]!, port: m[2]! })
  }
  const i = text.lastIndexOf(":")
  if (i < 0) return fail(`missing port in address "${text}"`)
  const host = text.slice(0, i)
  if (host.includes(":")) return fail(`too many colons in address "${text}"`)
  return Result.succeed({ host, port: text.slice(i + 1) })
}

/** A port number: decimal digits, 0…65535, or `-1` where a random port is allowed. */
export const parsePort = (text: string, options?: { readonly allowRandom?: boolean }): Result.Result<number, InvalidValue> => {
  if (options?.allowRandom === true && text === "-1") return Result.succeed(-1)
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN
  return n <= 65535 ? Result.succeed(n) : Result.fail(invalid("port", text, `invalid port "${text}"`))
}

/** `split` then `parsePort`. */
export const parse = (text: string, options?: { readonly allowRandom?: boolean }): Result.Result<HostPort, InvalidValue> => {
  const parts = split(text)
  if (Result.isFailure(parts)) return Result.fail(parts.failure)
  const port = parsePort(parts.success.port, options)
  if (Result.isFailure(port)) return Result.fail(invalid("address", text, `${port.failure.reason} in address "${text}"`))
  return Result.succeed({ host: parts.success.host, port: port.success })
}
