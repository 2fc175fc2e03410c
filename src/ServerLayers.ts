/**
 * How the broker's Layers are put together (internal): the server core, the cluster's state, the
 * client listener, the monitor, the cluster's network, the process files, and last the public
 * `Broker`. `NatsServer.layer` is this with only `Broker` in its type; the executable (`Main`) and
 * the test kit also read the internal services (`ServerCore`, and `Cluster` when configured).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AccountsStartupError, accountsStartupError } from "./config/AccountsStartup.js"
import type { ServerOptions } from "./config/ServerOptions.js"
import type { Log } from "./log/Log.js"
import type { ListenError } from "./net/Listener.js"
import type { TlsConfigError } from "./net/Tls.js"
import type { MonitorListenError } from "./monitor/Monitor.js"
import { Broker } from "./server/Broker.js"
import { ServerCore } from "./server/ServerCore.js"
import { Cluster } from "./cluster/Cluster.js"
import * as ClientListener from "./server/ClientListener.js"
import * as ProcessFiles from "./server/ProcessFiles.js"
import * as SystemRequests from "./monitor/SystemRequests.js"

/** Logs `Server is ready` once everything the layer starts is listening. */
const ready = Layer.effectDiscard(Effect.gen(function*() {
  const core = yield* ServerCore
  core.log.info("Server is ready")
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      // First finalizer to run: no INFO reaches clients while routes and listeners close.
      core.shuttingDown = true
      core.log.info("Initiating Shutdown...")
      // nats-server's `$SYS.SERVER.<id>.SHUTDOWN`, before any client is closed; no events after it.
      core.system.shutdown()
    })
  )
}))

/**
 * Every service of a running broker over an existing `Log`: `Broker` and `ServerCore` in the
 * type; `Cluster` is in the context too when `options.cluster` is set (`Context.getOption`).
 */
export const layer = (options: ServerOptions): Layer.Layer<Broker | ServerCore, ListenError | MonitorListenError | TlsConfigError | AccountsStartupError, Log> => {
  // The cluster's state first (the monitor reads it); its network after the client listener and
  // the monitor, so that the route INFO it sends carries our client URL and monitor URL. `ready`
  // and the `Broker` after the listeners they announce. The monitor (and the HTTP stack under
  // it) and the cluster's network (route sessions, route TLS) are loaded only when configured:
  // a module evaluated at start-up stays in the idle server's heap.
  const clustered = options.cluster !== undefined
  const clusterState: Layer.Layer<never, never, ServerCore> = clustered ? Cluster.layer : Layer.empty
  const monitor = options.httpPort === undefined && options.httpsPort === undefined
    ? Layer.empty
    : Layer.unwrap(Effect.promise(() => import("./monitor/Monitor.js")).pipe(Effect.map((m) => m.layer)))
  const clusterNet = clustered
    ? Layer.unwrap(Effect.promise(() => import("./cluster/ClusterLayer.js")).pipe(Effect.map((m) => m.layer))).pipe(
      Layer.provide(Layer.mergeAll(Cluster.layer, ClientListener.layer, monitor))
    )
    : Layer.empty
  // The system account's request subscriptions (`$SYS.REQ.SERVER.…`), with or without a monitor.
  const listeners = Layer.mergeAll(ClientListener.layer, clusterNet, monitor, SystemRequests.layer)
  const files = ProcessFiles.layer.pipe(Layer.provide(listeners))
  const server = Layer.merge(ready, Broker.layer).pipe(
    Layer.provide(files),
    Layer.provideMerge(clusterState),
    Layer.provideMerge(ServerCore.layer(options))
  )
  // Config-file accounts are parsed and checked, not served yet: refuse to start rather than run
  // without them (operator mode with resolver: MEMORY is served; its own start-up errors too).
  const refused = accountsStartupError(options)
  return refused === undefined ? server : Layer.unwrap(Effect.fail(new AccountsStartupError({ message: refused })))
}
