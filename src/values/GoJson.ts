/**
 * How Go's `encoding/json` writes the values nats-server's JSON documents carry: a UTC
 * `time.Time` as RFC3339Nano, and strings HTML-safe escaped. Shared by the monitoring endpoints
 * (`monitor/format`) and the system account's events (`server/SystemEvents`).
 *
 * @since 0.1.0
 */

/**
 * A time as Go's JSON encoder writes a UTC `time.Time` (RFC3339Nano: fraction without trailing
 * zeros, none at all on a whole second). JavaScript times have millisecond precision.
 */
export const goTime = (at: Date | number): string => {
  const iso = new Date(typeof at === "number" ? Math.round(at) : at.getTime()).toISOString()
  // YYYY-MM-DDTHH:MM:SS.mmmZ → trim the fraction's trailing zeros (and a bare ".").
  return iso.slice(0, 19) + iso.slice(19, -1).replace(/\.?0+$/, "") + "Z"
}

/** Go's `json` HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029 (only ever inside strings). */
export const goEscape = (json: string): string =>
  json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * `json.Marshal(v)` (compact). Fields that are `undefined` are left out, which is how callers
 * express `omitempty`; property order is insertion order (the Go struct's).
 */
export const goJson = (value: unknown): string => goEscape(JSON.stringify(value))
