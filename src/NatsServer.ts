/**
 * `NatsServer.layer(options)`: the whole broker as one scoped Layer — client listener, and (when
 * configured) cluster and monitoring — that stops cleanly when its scope closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { decodeOptions, type InvalidOptions } from "./config/OptionsError.js"
import type { AccountsStartupError } from "./config/AccountsStartup.js"
import type { ServerOptions, ServerOptionsInput } from "./config/ServerOptions.js"
import { Log, type LogError } from "./log/Log.js"
import type { ListenError } from "./net/Listener.js"
import type { TlsConfigError } from "./net/Tls.js"
import type { MonitorListenError } from "./monitor/Monitor.js"
import type { Broker } from "./server/Broker.js"
import * as ServerLayers from "./ServerLayers.js"

/**
 * What building the broker can fail with: options that do not decode, a port that cannot be bound
 * (clients, routes), the monitor's port, a TLS block whose certificates cannot be loaded, or a log
 * file that cannot be opened, or accounts / operator mode, which are parsed but not served yet.
 */
export type NatsServerError = InvalidOptions | ListenError | MonitorListenError | TlsConfigError | LogError | AccountsStartupError

/** The broker's layers over an existing `Log` (see `ServerLayers` for the order they are built in). */
export const layerWithLog = (options: ServerOptions): Layer.Layer<Broker, ListenError | MonitorListenError | TlsConfigError | AccountsStartupError, Log> =>
  ServerLayers.layer(options)

/**
 * The broker with nats-server defaults for everything `input` leaves out, logging to stderr (or
 * to `logFile`) at the configured levels.
 */
export const layer = (input: ServerOptionsInput = {}): Layer.Layer<Broker, NatsServerError> =>
  Layer.unwrap(decodeOptions(input).pipe(Effect.map(layerFromOptions)))

/** The broker over decoded `options`, logging to stderr (or to `logFile`). */
export const layerFromOptions = (options: ServerOptions): Layer.Layer<Broker, Exclude<NatsServerError, InvalidOptions>> =>
  layerWithLog(options).pipe(Layer.provide(Log.layer(options)))
