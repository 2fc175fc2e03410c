/**
 * `TestServer.layer(options)`: a broker on 127.0.0.1 and a free port for the length of a test
 * scope, logging to memory. Compose it into a test layer and connect anything to its `url`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { AccountsStartupError } from "../config/AccountsConfigFile.js"
import { decodeServerOptions, type ServerOptionsInput } from "../config/ServerOptions.js"
import { Log, LogLines } from "../log/Log.js"
import * as NatsServer from "../NatsServer.js"
import type { MonitorListenError } from "../monitor/Monitor.js"
import type { ListenError } from "../net/Listener.js"
import type { TlsConfigError } from "../net/Tls.js"
import { Broker } from "../server/Broker.js"
import type { ServerState } from "../server/ServerState.js"

export interface TestServerShape {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /** The running broker's state (router, clients, cluster) for assertions. */
  readonly broker: ServerState
  /** Log lines written so far. */
  readonly logs: () => ReadonlyArray<string>
}

export class TestServer extends Context.Service<TestServer, TestServerShape>()("effect-nats-server/testing/TestServer") {
  /** A server with `options` (nats-server defaults otherwise) on an ephemeral loopback port. */
  static readonly layer = (options: ServerOptionsInput = {}): Layer.Layer<TestServer | Broker, ListenError | MonitorListenError | TlsConfigError | AccountsStartupError> =>
    Layer.effectContext(
      Effect.gen(function*() {
        const decoded = decodeServerOptions({ host: "127.0.0.1", port: -1, ...options })
        const context = yield* Layer.build(
          NatsServer.layerWithLog(decoded).pipe(Layer.provideMerge(Log.layerTestWith({ debug: decoded.debug, trace: decoded.trace })))
        )
        const broker = Context.get(context, Broker)
        const lines = Context.get(context, LogLines)
        const port = broker.listen!.port
        const shape: TestServerShape = { url: `nats://127.0.0.1:${port}`, port, broker, logs: () => lines.lines }
        return Context.make(TestServer, shape).pipe(Context.add(Broker, broker))
      })
    )
}
