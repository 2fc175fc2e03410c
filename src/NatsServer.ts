/**
 * `NatsServer.layer(options)`: the whole broker as one scoped Layer — client listener, and (when
 * configured) cluster and monitoring — that stops cleanly when its scope closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { decodeServerOptions, type ServerOptions, type ServerOptionsInput } from "./config/ServerOptions.js"
import { Log } from "./log/Log.js"
import { Broker } from "./server/Broker.js"
import * as ClusterLayer from "./cluster/ClusterLayer.js"
import * as ClientListener from "./server/ClientListener.js"
import * as ProcessFiles from "./server/ProcessFiles.js"

/** Logs `Server is ready` once everything the layer starts is listening. */
const ready = Layer.effectDiscard(Effect.gen(function*() {
  const broker = yield* Broker
  broker.log.info("Server is ready")
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      // First finalizer to run: no INFO reaches clients while routes and listeners close.
      broker.shuttingDown = true
      broker.log.info("Initiating Shutdown...")
    })
  )
}))

/** The broker's layers over an existing `Log`. */
export const layerWithLog = (options: ServerOptions): Layer.Layer<Broker, unknown, Log> => {
  // `ready` is built after the listeners it announces; the cluster after the client listener, so
  // that the route INFO it sends carries our client URL.
  const cluster = options.cluster === undefined ? Layer.empty : ClusterLayer.layer.pipe(Layer.provide(ClientListener.layer))
  // The HTTP monitor (and the HTTP stack under it) is loaded only when configured.
  const monitor = options.httpPort === undefined
    ? Layer.empty
    : Layer.unwrap(Effect.promise(() => import("./monitor/Monitor.js")).pipe(Effect.map((m) => m.layer)))
  const listeners = Layer.mergeAll(ClientListener.layer, cluster, monitor)
  const files = ProcessFiles.layer.pipe(Layer.provide(listeners))
  return ready.pipe(Layer.provide(files), Layer.provideMerge(Broker.layer(options)))
}

/**
 * The broker with nats-server defaults for everything `input` leaves out, logging to stderr (or
 * to `logFile`) at the configured levels.
 */
export const layer = (input: ServerOptionsInput = {}): Layer.Layer<Broker, unknown> => {
  const options = decodeServerOptions(input)
  return layerWithLog(options).pipe(Layer.provide(Log.layer(options)))
}
