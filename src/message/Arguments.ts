/**
 * Checking what applications pass to `publish` / `request` (ours over TCP and the in-process
 * broker API alike) before anything is encoded, so that a bad argument fails with a tagged
 * `InvalidArgument` — also when it comes from JavaScript that bypassed the types — instead of a
 * `TypeError` thrown from inside the encoder.
 *
 * @since 0.1.0
 */
import { Headers, type HeadersInput, validateHeaders } from "../protocol/Headers.js"
import { InvalidArgument } from "./Errors.js"

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value) ?? String(value)}`
}

/**
 * `input` as `Headers` ready to encode (names and values checked), or why it cannot be sent.
 * Accepts a `Headers`, an iterable of `[name, value]` pairs or a `{ name: value | values }` record.
 */
export const headersArgument = (input: HeadersInput | undefined): Headers | InvalidArgument | undefined => {
  if (input === undefined) return undefined
  if (input instanceof Headers) {
    const bad = validateHeaders(input)
    return bad === undefined ? input : new InvalidArgument({ message: bad })
  }
  const raw: unknown = input
  if (typeof raw !== "object" || raw === null) {
    return new InvalidArgument({ message: `headers must be a Headers, [name, value] pairs or a record, got ${describe(raw)}` })
  }
  let checked: HeadersInput = input
  if (Symbol.iterator in raw) {
    // Read once (it may be a one-shot iterator), check, and build from what was read.
    const pairs: Array<readonly [string, string]> = []
    for (const entry of raw as Iterable<unknown>) {
      if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" || typeof entry[1] !== "string") {
        return new InvalidArgument({ message: `a header entry must be a [name, value] pair of strings, got ${describe(entry)}` })
      }
      pairs.push([entry[0], entry[1]])
    }
    checked = pairs
  } else {
    for (const [name, value] of Object.entries(raw)) {
      const ok = typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"))
      if (!ok) {
        return new InvalidArgument({ message: `header ${JSON.stringify(name)} must be a string or an array of strings, got ${describe(value)}` })
      }
    }
  }
  const headers = Headers.make(checked)
  const bad = validateHeaders(headers)
  return bad === undefined ? headers : new InvalidArgument({ message: bad })
}
