/**
 * The `INFO` a server sends — to clients, to route peers, and forwarded in gossip — as one Schema,
 * in the field order of nats-server 2.9.10's Go struct `Info` (tests compare our INFO bytes with
 * the real server's). Every field but `server_id` is optional, as Go's `omitempty` makes them; the
 * server's builders (client INFO, route INFO), the gossip forwarder and the decoders (our client,
 * the route handshake) all go through it.
 *
 * Unknown fields: Go's decoder ignores them, and a gossiped INFO is forwarded as received minus
 * its nonce, so `decode` keeps the received object beside the typed value and `encode` can append
 * a received object's unknown fields after the known ones.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

export const ServerInfo = Schema.Struct({
  server_id: Schema.String,
  server_name: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  proto: Schema.optional(Schema.Number),
  git_commit: Schema.optional(Schema.String),
  go: Schema.optional(Schema.String),
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  headers: Schema.optional(Schema.Boolean),
  auth_required: Schema.optional(Schema.Boolean),
  tls_required: Schema.optional(Schema.Boolean),
  tls_verify: Schema.optional(Schema.Boolean),
  tls_available: Schema.optional(Schema.Boolean),
  max_payload: Schema.optional(Schema.Number),
  jetstream: Schema.optional(Schema.Boolean),
  /** Route INFO: `nats-route://host:port/`, set with `cluster.advertise` and in gossip. */
  ip: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.Number),
  client_ip: Schema.optional(Schema.String),
  nonce: Schema.optional(Schema.String),
  cluster: Schema.optional(Schema.String),
  cluster_dynamic: Schema.optional(Schema.Boolean),
  domain: Schema.optional(Schema.String),
  connect_urls: Schema.optional(Schema.Array(Schema.String)),
  ws_connect_urls: Schema.optional(Schema.Array(Schema.String)),
  ldm: Schema.optional(Schema.Boolean),
  /** Route INFO: the peer does not send leafnode-origin messages back (`LMSG`). */
  lnoc: Schema.optional(Schema.Boolean),
  /** Ours, not nats-server's (which ignores it): where a route peer's monitor listens, for `/meshz`. */
  monitor_url: Schema.optional(Schema.String)
})
export type ServerInfo = typeof ServerInfo.Type

/** An INFO object as it goes on the wire: the known fields in order, then any unknown ones. */
export type Fields = Record<string, unknown>

/** The schema's field names, in order. */
const order: ReadonlyArray<keyof ServerInfo> = Object.keys(ServerInfo.fields) as Array<keyof ServerInfo>
const known: ReadonlySet<string> = new Set(order)
const decodeInfo = Schema.decodeUnknownResult(ServerInfo)

/**
 * The wire object of `info`, fields in nats-server's order; the unknown fields of `received` (a
 * decoded peer INFO) follow in their received order. Known fields are only ever taken from `info`.
 *
 * Every field's encoded form is its type (strings, numbers, booleans, string arrays), so this is
 * `Schema.encodeSync(ServerInfo)` without the check of a value the compiler already typed: a walk
 * over the schema's field list, about 6× cheaper (an INFO goes to every client on a cluster change;
 * the tests check it against the schema's encoder).
 */
export const encode = (info: ServerInfo, received?: Fields): Fields => {
  const out: Fields = {}
  for (const key of order) {
    const v = info[key]
    if (v !== undefined) out[key] = v
  }
  if (received !== undefined) for (const key of Object.keys(received)) if (!known.has(key)) out[key] = received[key]
  return out
}

/**
 * An INFO argument that does not decode: not JSON (`message` is the JSON error), not an object
 * (`INFO is not a JSON object`), or a field of the wrong type (the schema's report). `cause` is the
 * JSON or schema error, when there is one.
 */
export class InvalidInfo extends Data.TaggedError("InvalidInfo")<{
  readonly json: string
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Decode an INFO's JSON. `null` fields count as absent (Go's decoder leaves them zero); `raw` is
 * the received object without them, unknown fields included.
 */
export const decode = (json: string): Result.Result<{ readonly info: ServerInfo; readonly raw: Fields }, InvalidInfo> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (e) {
    return Result.fail(new InvalidInfo({ json, message: String((e as Error).message), cause: e }))
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return Result.fail(new InvalidInfo({ json, message: "INFO is not a JSON object" }))
  }
  const raw: Fields = {}
  for (const [k, v] of Object.entries(parsed)) if (v !== null) raw[k] = v
  return Result.match(decodeInfo(raw), {
    onFailure: (e) => Result.fail(new InvalidInfo({ json, message: e.message, cause: e })),
    onSuccess: (info) => Result.succeed({ info, raw })
  })
}
