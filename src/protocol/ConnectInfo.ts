/**
 * The `CONNECT` JSON — what our client sends, what a dialing route sends, and what the server
 * reads from both — as one Schema. Every field is optional on the wire (Go's `omitempty`, and
 * Go's decoder leaves an absent field zero); the server fills in nats-server's defaults before
 * it looks at a CONNECT (`decode`: verbose, pedantic and echo are *true*, so `CONNECT {}` makes a
 * verbose connection).
 *
 * Field order: nats.go's client `connectInfo` (the schema's own order, `CLIENT_ORDER`), and
 * nats-server's route `connectInfo` (`ROUTE_ORDER`: `echo` first, `name` after `headers`), each as
 * Go marshals it. `encode` walks one of those lists, as `ServerInfo.encode` walks its schema.
 *
 * Decoding is Go's `json.Unmarshal` into nats-server's `clientOpts`: `null` is a CONNECT with the
 * defaults, `null` fields are absent, keys match without regard to case when no key matches
 * exactly, a field of the wrong type fails (the connection is closed as a protocol violation,
 * the failure's `message` is what nats-server logs).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const text = Schema.optional(Schema.String)
const flag = Schema.optional(Schema.Boolean)

export const ConnectInfo = Schema.Struct({
  verbose: flag,
  pedantic: flag,
  jwt: text,
  /** An nkey user's public key and its signature of the INFO nonce. */
  nkey: text,
  sig: text,
  user: text,
  pass: text,
  auth_token: text,
  tls_required: flag,
  name: text,
  /** Clients send it, routes never do (a CONNECT with `lang` on the route port is refused). */
  lang: text,
  version: text,
  protocol: Schema.optional(Schema.Number),
  echo: flag,
  headers: flag,
  no_responders: flag,
  /** Routes send their cluster name here (and their server id in `name`). */
  cluster: text,
  cluster_dynamic: flag,
  /** Route: the peer does not want leafnode-origin messages back. */
  lnoc: flag,
  /** A gateway's name; refused on the route port. */
  gateway: text
})
export type ConnectInfo = typeof ConnectInfo.Type

/** The schema's field names, in order: nats.go's client CONNECT order, then the route-only ones. */
export const CLIENT_ORDER: ReadonlyArray<keyof ConnectInfo> = Object.keys(ConnectInfo.fields) as Array<keyof ConnectInfo>

/** nats-server 2.9's route `connectInfo` (`route.go`), in its marshalling order. */
export const ROUTE_ORDER: ReadonlyArray<keyof ConnectInfo> = [
  "echo", "verbose", "pedantic", "user", "pass", "tls_required", "headers", "name", "cluster", "cluster_dynamic", "lnoc", "gateway"
]

/**
 * The wire object of `info` with its fields in `order` (absent fields left out). Every field's
 * encoded form is its type, so this is the schema's encoder without re-checking what the
 * compiler typed (the tests compare it with `Schema.encodeSync`). A field not in `order` is a bug
 * of the caller and is left out.
 */
export const encode = (info: ConnectInfo, order: ReadonlyArray<keyof ConnectInfo> = CLIENT_ORDER): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of order) {
    const v = info[key]
    if (v !== undefined) out[key] = v
  }
  return out
}

/** A CONNECT as the server acts on it: the received fields with nats-server's defaults filled in. */
export type ConnectOptions = ConnectInfo & {
  readonly verbose: boolean
  readonly pedantic: boolean
  readonly tls_required: boolean
  readonly echo: boolean
  readonly headers: boolean
  readonly no_responders: boolean
  readonly protocol: number
}

/**
 * A CONNECT argument that does not decode. `message` is what nats-server logs (Go's JSON error:
 * `unexpected end of JSON input`, `json: cannot unmarshal into Go value of type
 * server.clientOpts`, or the schema's report of a field of the wrong type); `cause` is the JSON or
 * schema error, when there is one.
 */
export class InvalidConnect extends Data.TaggedError("InvalidConnect")<{
  readonly json: string
  readonly message: string
  readonly cause?: unknown
}> {}

const decodeFields = Schema.decodeUnknownResult(ConnectInfo)
const known: ReadonlyArray<string> = CLIENT_ORDER

/** Decode a CONNECT argument, with the defaults nats-server sets before unmarshalling. */
export const decode = (json: string): Result.Result<ConnectOptions, InvalidConnect> => {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (e) {
    const message = json.trim() === "" ? "unexpected end of JSON input" : String((e as Error).message)
    return Result.fail(new InvalidConnect({ json, message, cause: e }))
  }
  // Go unmarshals `null` into the options as a no-op: `CONNECT null` is a CONNECT with defaults.
  if (raw === null) raw = {}
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Result.fail(new InvalidConnect({ json, message: "json: cannot unmarshal into Go value of type server.clientOpts" }))
  }
  // Go ignores null fields; drop them so they take the defaults. Go also matches keys without
  // regard to case (`"vErbose"` sets verbose) when no key matches exactly.
  const cleaned: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) continue
    const lower = k.toLowerCase()
    cleaned[known.includes(k) ? k : known.find((f) => f.toLowerCase() === lower) ?? k] = v
  }
  return Result.match(decodeFields(cleaned), {
    onFailure: (e) => Result.fail(new InvalidConnect({ json, message: String(e.message), cause: e })),
    onSuccess: (c) =>
      Result.succeed({
        ...c,
        verbose: c.verbose ?? true,
        pedantic: c.pedantic ?? true,
        tls_required: c.tls_required ?? false,
        echo: c.echo ?? true,
        headers: c.headers ?? false,
        no_responders: c.no_responders ?? false,
        protocol: c.protocol ?? 0
      })
  })
}
