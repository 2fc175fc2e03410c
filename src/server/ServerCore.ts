/**
 * The `ServerCore` service (internal): the running broker's `ServerState` — identity, options,
 * router, registries — for the layers that make up the server (client listener, cluster, monitor,
 * process files, the executable). Beside it, `InProcessApi`: the in-process publish/subscribe
 * that the public `Broker` service exposes. Applications see only `Broker`.
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
import { operatorBanner } from "./auth/OperatorAuth.js"
import { InProcess, InProcessApi } from "./InProcess.js"
import { NATS_COMPAT_VERSION, SERVER_NAME, SERVER_VERSION, ServerState } from "./ServerState.js"

export class ServerCore extends Context.Service<ServerCore, ServerState>()("effect-nats-server/ServerCore") {
  /** A server with `options` and its in-process API; logs the startup banner as nats-server does. */
  static readonly layer = (options: ServerOptions): Layer.Layer<ServerCore | InProcessApi, never, Log> =>
    Layer.effectContext(
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
        for (const line of operatorBanner(state.auth.operator?.mode, state.clock.currentTimeMillisUnsafe())) log[line.level](line.text)
        const api = new InProcess(state)
        // Acquired first, released last: this line closes the log as in nats-server.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            api.shutdown()
            log.info("Server Exiting..")
          })
        )
        return Context.make(ServerCore, state).pipe(Context.add(InProcessApi, api))
      })
    )
}
