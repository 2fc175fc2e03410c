/**
 * `NatsServer.layer(options)`: the whole broker as one scoped Layer — client listener, and (when
 * configured) cluster and monitoring — that stops cleanly when its scope closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AccountsStartupError, accountsStartupError } from "./config/AccountsConfigFile.js"
import { decodeServerOptions, type ServerOptions, type ServerOptionsInput } from "./config/ServerOptions.js"
import { Log, type LogError } from "./log/Log.js"
import type { ListenError } from "./net/Listener.js"
import type { TlsConfigError } from "./net/Tls.js"
import type { MonitorListenError } from "./monitor/Monitor.js"
import { Broker } from "./server/Broker.js"
import * as ClusterLayer from "./cluster/ClusterLayer.js"
import * as ClientListener from "./server/ClientListener.js"
import * as ProcessFiles from "./server/ProcessFiles.js"

/**
 * What building the broker can fail with: a port that cannot be bound (clients, routes), the
 * monitor's port, a TLS block whose certificates cannot be loaded, a log file that cannot be
 * opened, or accounts / operator mode, which are parsed but not served yet.
 */
export type NatsServerError = ListenError | MonitorListenError | TlsConfigError | LogError | AccountsStartupError

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
export const layerWithLog = (
  options: ServerOptions
): Layer.Layer<Broker, ListenError | MonitorListenError | TlsConfigError | AccountsStartupError, Log> => {
  // `ready` is built after the listeners it announces; the cluster after the client listener and
  // the monitor, so that the route INFO it sends carries our client URL and monitor URL. The
  // monitor (and the HTTP stack under it) is loaded only when configured.
  const monitor = options.httpPort === undefined && options.httpsPort === undefined
    ? Layer.empty
    : Layer.unwrap(Effect.promise(() => import("./monitor/Monitor.js")).pipe(Effect.map((m) => m.layer)))
  const cluster = options.cluster === undefined
    ? Layer.empty
    : ClusterLayer.layer.pipe(Layer.provide(Layer.merge(ClientListener.layer, monitor)))
  const listeners = Layer.mergeAll(ClientListener.layer, cluster, monitor)
  const files = ProcessFiles.layer.pipe(Layer.provide(listeners))
  const server = ready.pipe(Layer.provide(files), Layer.provideMerge(Broker.layer(options)))
  // Accounts are parsed and checked, not served yet: refuse to start rather than run without them.
  const refused = accountsStartupError(options)
  return refused === undefined ? server : Layer.unwrap(Effect.fail(new AccountsStartupError({ message: refused })).pipe(Effect.as(server)))
}

/**
 * The broker with nats-server defaults for everything `input` leaves out, logging to stderr (or
 * to `logFile`) at the configured levels.
 */
export const layer = (input: ServerOptionsInput = {}): Layer.Layer<Broker, NatsServerError> => {
  const options = decodeServerOptions(input)
  return layerWithLog(options).pipe(Layer.provide(Log.layer(options)))
}
