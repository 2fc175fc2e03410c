/**
 * `TestServer.layer(options)`: a broker on 127.0.0.1 and a free port for the length of a test
 * scope, logging to memory. Compose it into a test layer and connect anything to its `url`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Cluster, type ClusterState } from "../cluster/Cluster.js"
import { decodeOptions, type InvalidOptions } from "../config/OptionsError.js"
import type { ServerOptionsInput } from "../config/ServerOptions.js"
import type { AccountsStartupError } from "../config/AccountsStartup.js"
import { Log, LogLines } from "../log/Log.js"
import * as ServerLayers from "../ServerLayers.js"
import type { MonitorListenError } from "../monitor/Monitor.js"
import type { ListenError } from "../net/Listener.js"
import type { TlsConfigError } from "../net/Tls.js"
import { Broker } from "../server/Broker.js"
import { ServerCore } from "../server/ServerCore.js"
import type { ServerState } from "../server/ServerState.js"

export interface TestServerShape {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /**
   * Internal, for assertions only (not a stable API): the running server's state (router,
   * clients, registries) and its cluster's (routes, membership) when it has one.
   */
  readonly internals: { readonly core: ServerState; readonly cluster: ClusterState | undefined }
  /** Log lines written so far. */
  readonly logs: () => ReadonlyArray<string>
}

export class TestServer extends Context.Service<TestServer, TestServerShape>()("effect-nats-server/testing/TestServer") {
  /** A server with `options` (nats-server defaults otherwise) on an ephemeral loopback port. */
  static readonly layer = (options: ServerOptionsInput = {}): Layer.Layer<TestServer | Broker, InvalidOptions | ListenError | MonitorListenError | TlsConfigError | AccountsStartupError> =>
    Layer.effectContext(
      Effect.gen(function*() {
        const decoded = yield* decodeOptions({ host: "127.0.0.1", port: -1, ...options })
        const context = yield* Layer.build(
          ServerLayers.layer(decoded).pipe(Layer.provideMerge(Log.layerTestWith({ debug: decoded.debug, trace: decoded.trace })))
        )
        const broker = Context.get(context, Broker)
        const internals = { core: Context.get(context, ServerCore), cluster: Option.getOrUndefined(Context.getOption(context, Cluster)) }
        const lines = Context.get(context, LogLines)
        const port = broker.address.port
        const shape: TestServerShape = { url: `nats://127.0.0.1:${port}`, port, internals, logs: () => lines.lines }
        return Context.make(TestServer, shape).pipe(Context.add(Broker, broker))
      })
    )
}
