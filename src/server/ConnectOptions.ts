/**
 * The client's CONNECT JSON, decoded with Schema. Missing fields take nats-server's defaults before
 * unmarshalling: verbose, pedantic and echo are *true* (`CONNECT {}` makes a verbose connection).
 * A field of the wrong type fails the decode, which closes the connection as a protocol violation,
 * as Go's JSON unmarshalling does.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const flag = (value: boolean) => Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(value)))
const text = Schema.optional(Schema.String)

export const ConnectOptions = Schema.Struct({
  verbose: flag(true),
  pedantic: flag(true),
  tls_required: flag(false),
  echo: flag(true),
  headers: flag(false),
  no_responders: flag(false),
  protocol: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  name: text,
  lang: text,
  version: text,
  user: text,
  pass: text,
  auth_token: text,
  /** An nkey user's public key and its signature of the INFO nonce. */
  nkey: text,
  sig: text,
  /** Routes send their cluster name and server id here. */
  cluster: text,
  cluster_dynamic: Schema.optional(Schema.Boolean),
  gateway: text
})
export type ConnectOptions = typeof ConnectOptions.Type

const decode = Schema.decodeUnknownResult(ConnectOptions)

/** Decode a CONNECT argument; the error is the message nats-server would log. */
export const parseConnect = (json: string): Result.Result<ConnectOptions, string> => {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (e) {
    return Result.fail(json.trim() === "" ? "unexpected end of JSON input" : String((e as Error).message))
  }
  // Go unmarshals `null` into the options as a no-op: `CONNECT null` is a CONNECT with defaults.
  if (raw === null) raw = {}
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return Result.fail("json: cannot unmarshal into Go value of type server.clientOpts")
  // Go ignores null fields; drop them so they take the defaults. Go also matches keys without
  // regard to case (`"vErbose"` sets verbose) when no key matches exactly.
  const known = Object.keys(ConnectOptions.fields)
  const cleaned: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) continue
    const lower = k.toLowerCase()
    cleaned[known.includes(k) ? k : known.find((f) => f.toLowerCase() === lower) ?? k] = v
  }
  return Result.mapError(decode(cleaned), (e) => String(e.message))
}
