/**
 * The `Broker` service: the shared `ServerState` of one broker, provided by a Layer so sessions,
 * route links, the monitor and the library API all see the same instance.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type { ServerOptions } from "../config/ServerOptions.js"
import { Log } from "../log/Log.js"
import { SERVER_NAME, SERVER_VERSION, NATS_COMPAT_VERSION, ServerState } from "./ServerState.js"

export class Broker extends Context.Service<Broker, ServerState>()("effect-nats-server/Broker") {
  /** A broker with `options`; logs the startup banner as nats-server does. */
  static readonly layer = (options: ServerOptions): Layer.Layer<Broker, never, Log> =>
    Layer.effect(
      Broker,
      Effect.gen(function*() {
        const log = yield* Log
        // The layer's Clock and Random (TestClock, a seeded Random in tests) reach the sync cores.
        const state = new ServerState(options, log, yield* Clock.Clock, yield* Random.Random)
        log.info(`Starting ${SERVER_NAME}`)
        log.info(`  Version:  ${SERVER_VERSION} (nats-server ${NATS_COMPAT_VERSION} protocol)`)
        log.debug(`  Runtime:  node ${process.version}`)
        if (options.cluster !== undefined && options.cluster.name !== undefined) log.info(`  Cluster:  ${options.cluster.name}`)
        log.info(`  Name:     ${state.serverName}`)
        log.info(`  ID:       ${state.serverId}`)
        if (options.configFile !== undefined) log.info(`Using configuration file: ${options.configFile}`)
        // Acquired first, released last: this line closes the log as in nats-server.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            state.closeInProcess()
            log.info("Server Exiting..")
          })
        )
        return state
      })
    )
}
