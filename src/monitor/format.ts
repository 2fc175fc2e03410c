/**
 * How nats-server's monitoring endpoints write values: Go `Duration.String()` for round-trip
 * times, nats-server's own `myUptime` for uptime/idle, RFC3339Nano timestamps and Go's
 * `json.MarshalIndent` output (2-space indent, HTML-safe string escaping).
 *
 * @since 0.1.0
 */
import { goEscape } from "../values/GoJson.js"

/** Go's `fmtFrac`: the `prec` low digits of `v` as a fraction without trailing zeros. */
const fmtFrac = (v: number, prec: number): { readonly text: string; readonly rest: number } => {
  let digits = ""
  let print = false
  for (let i = 0; i < prec; i++) {
    const digit = v % 10
    print = print || digit !== 0
    if (print) digits = String(digit) + digits
    v = Math.floor(v / 10)
  }
  return { text: print ? `.${digits}` : "", rest: v }
}

/**
 * Go's `time.Duration.String()` for a duration in whole nanoseconds: `"0s"`, `"850ns"`,
 * `"962µs"`, `"1.544959ms"`, `"2.5s"`, `"1m0.5s"`, `"2h3m4s"`.
 */
export const goDuration = (nanos: number): string => {
  let u = Math.trunc(nanos)
  const neg = u < 0
  if (neg) u = -u
  let out: string
  if (u < 1e9) {
    if (u === 0) return "0s"
    let unit: string
    let prec: number
    if (u < 1e3) {
      unit = "ns"
      prec = 0
    } else if (u < 1e6) {
      unit = "µs"
      prec = 3
    } else {
      unit = "ms"
      prec = 6
    }
    const frac = fmtFrac(u, prec)
    out = `${frac.rest}${frac.text}${unit}`
  } else {
    const frac = fmtFrac(u, 9)
    let rest = frac.rest
    out = `${rest % 60}${frac.text}s`
    rest = Math.floor(rest / 60)
    if (rest > 0) {
      out = `${rest % 60}m${out}`
      rest = Math.floor(rest / 60)
      if (rest > 0) out = `${rest}h${out}`
    }
  }
  return neg ? `-${out}` : out
}

/**
 * A connection's round-trip time as nats-server reports it (`client.getRTT().String()`): `"0s"`
 * until measured, truncated to whole microseconds between 1µs and 1ms. `ms` is fractional
 * milliseconds (`performance.now()` differences).
 */
export const goRtt = (ms: number | undefined): string => {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return "0s"
  let ns = Math.max(1, Math.round(ms * 1e6))
  if (ns > 1e3 && ns < 1e6) ns = Math.floor(ns / 1e3) * 1e3
  return goDuration(ns)
}

/**
 * nats-server's `myUptime`: whole seconds as `"8s"`, `"8m18s"`, `"2h3m4s"`, `"1d2h3m4s"`,
 * `"1y2d3h4m5s"` (years of 365 days). `ms` is a duration in milliseconds.
 */
export const goUptime = (ms: number): string => {
  const tsecs = Math.max(0, Math.floor(ms / 1000))
  const tmins = Math.floor(tsecs / 60)
  const thrs = Math.floor(tmins / 60)
  const tdays = Math.floor(thrs / 24)
  const tyrs = Math.floor(tdays / 365)
  if (tyrs > 0) return `${tyrs}y${tdays % 365}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`
  if (tdays > 0) return `${tdays}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`
  if (thrs > 0) return `${thrs}h${tmins % 60}m${tsecs % 60}s`
  if (tmins > 0) return `${tmins}m${tsecs % 60}s`
  return `${tsecs}s`
}

/**
 * `json.MarshalIndent(v, "", "  ")` as Go writes it. Fields that are `undefined` are left out,
 * which is how callers express `omitempty`; property order is insertion order (the Go struct's).
 */
export const goJsonIndent = (value: unknown): string => goEscape(JSON.stringify(value, null, 2))

/** `json.Marshal(v)` (compact), as `/healthz` uses; RFC3339Nano times (see `values/GoJson`). */
export { goJson, goTime } from "../values/GoJson.js"

/** `net.JoinHostPort`: IPv6 hosts in brackets (see `values/HostPort`). */
export { format as joinHostPort } from "../values/HostPort.js"
