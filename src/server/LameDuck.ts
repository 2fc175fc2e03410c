/**
 * Lame-duck mode (SIGUSR2, `--signal ldm`): stop taking clients, tell clients and peers to go
 * elsewhere, then close the clients gradually and shut down — as nats-server 2.9 does.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ServerState } from "./ServerState.js"

/**
 * Enter lame-duck mode and complete it: the returned Effect ends when every client has been
 * closed; the caller then shuts the server down. Without clients it ends at once.
 */
export const lameDuck = (server: ServerState): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (server.lameDuck) return
    const log = server.log
    const { lameDuckDuration, lameDuckGracePeriod } = server.options
    log.info("Entering lame duck mode, stop accepting new clients")
    server.lameDuck = true
    server.stopAccepting()
    if (server.clients.size === 0) return
    // Peers drop our client URLs when they see ldm in our route INFO; clients get an INFO with
    // ldm:true and only the other members' URLs.
    server.cluster?.announceLameDuck()
    for (const client of server.clients.values()) client.infoChanged()
    yield* Effect.sleep(Duration.millis(lameDuckGracePeriod))
    log.info("Closing existing clients")
    const clients = [...server.clients.values()]
    // Spread the closes over what is left of the lame-duck duration.
    const spacing = Math.max(0, (lameDuckDuration - lameDuckGracePeriod) / Math.max(1, clients.length))
    for (const [i, client] of clients.entries()) {
      client.close("Server Shutdown")
      if (i < clients.length - 1 && spacing > 0) yield* Effect.sleep(Duration.millis(spacing))
    }
  })
