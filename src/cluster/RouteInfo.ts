/**
 * The INFO and CONNECT that route peers exchange (nats-server 2.9, route protocol `proto:2`).
 * Peer INFOs are decoded leniently with Schema: Go ignores unknown fields and so do we.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

export const PeerInfo = Schema.Struct({
  server_id: Schema.String,
  server_name: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  proto: Schema.optional(Schema.Number),
  host: Schema.optional(Schema.String),
  port: Schema.optional(Schema.Number),
  headers: Schema.optional(Schema.Boolean),
  auth_required: Schema.optional(Schema.Boolean),
  max_payload: Schema.optional(Schema.Number),
  ip: Schema.optional(Schema.String),
  nonce: Schema.optional(Schema.String),
  cluster: Schema.optional(Schema.String),
  cluster_dynamic: Schema.optional(Schema.Boolean),
  connect_urls: Schema.optional(Schema.Array(Schema.String)),
  ldm: Schema.optional(Schema.Boolean),
  lnoc: Schema.optional(Schema.Boolean)
})
export type PeerInfo = typeof PeerInfo.Type

const decodePeerInfo = Schema.decodeUnknownResult(PeerInfo)

/** Decode a route INFO's JSON; keeps the raw object so gossip can forward unknown fields too. */
export const parsePeerInfo = (json: string): Result.Result<{ info: PeerInfo; raw: Record<string, unknown> }, string> => {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch (e) {
    return Result.fail(String((e as Error).message))
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return Result.fail("route INFO is not a JSON object")
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null))
  return Result.match(decodePeerInfo(cleaned), {
    onFailure: (e) => Result.fail(e.message),
    onSuccess: (info) => Result.succeed({ info, raw: cleaned })
  })
}
