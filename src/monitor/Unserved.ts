/**
 * The monitoring endpoints of features this server does not have — JetStream, leafnodes,
 * gateways — answered as nats-server 2.9.10 answers them when those features are not configured
 * (captured from the real server), so tools that query them get JSON rather than a 404:
 *
 * - `/jsz`: `"disabled": true` with zeroed usage;
 * - `/leafz`: no leafnodes (`"leafs": null`); `/gatewayz`: no gateways.
 *
 * @since 0.1.0
 */
import type { ServerState } from "../server/ServerState.js"
import { goTime } from "./format.js"

const head = (server: ServerState) => ({ server_id: server.serverId, now: goTime(new Date()) })

export const jsz = (server: ServerState): Record<string, unknown> => ({
  ...head(server),
  disabled: true,
  config: { max_memory: 0, max_storage: 0 },
  memory: 0,
  storage: 0,
  reserved_memory: 0,
  reserved_storage: 0,
  accounts: 0,
  ha_assets: 0,
  api: { total: 0, errors: 0 },
  streams: 0,
  consumers: 0,
  messages: 0,
  bytes: 0
})

export const leafz = (server: ServerState): Record<string, unknown> => ({ ...head(server), leafnodes: 0, leafs: null })

export const gatewayz = (server: ServerState): Record<string, unknown> => ({
  ...head(server),
  outbound_gateways: {},
  inbound_gateways: {}
})
