/**
 * The INFO and CONNECT that route peers exchange (nats-server 2.9, route protocol `proto:2`).
 * Peer INFOs are decoded with the shared `ServerInfo` schema: Go ignores unknown fields and so do we.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Info from "../protocol/ServerInfo.js"

/** A peer's route INFO: the one `ServerInfo` schema (see `protocol/ServerInfo`). */
export const PeerInfo = Info.ServerInfo
export type PeerInfo = Info.ServerInfo

/** Decode a route INFO's JSON; keeps the raw object so gossip can forward unknown fields too. */
export const parsePeerInfo = (json: string): Result.Result<{ info: PeerInfo; raw: Record<string, unknown> }, Info.InvalidInfo> =>
  Result.mapError(Info.decode(json), (e) =>
    e.message === "INFO is not a JSON object" ? new Info.InvalidInfo({ json, message: "route INFO is not a JSON object" }) : e)
