/**
 * The client listener: accepts TCP connections and runs one supervised `ClientSession` fiber per
 * socket. Closing the layer's scope stops accepting and interrupts every session, which closes
 * its client with reason `Server Shutdown`. With a `tls` block every client must upgrade after INFO.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ListenError } from "../net/Listener.js"
import { loadTls, type TlsConfig, type TlsConfigError } from "../net/Tls.js"
import { Transport } from "../net/Transport.js"
import { ServerCore } from "./ServerCore.js"
import { clientKeepalive, runClientSession } from "./ClientSession.js"
import * as HostPort from "../values/HostPort.js"

export const layer: Layer.Layer<never, ListenError | TlsConfigError, ServerCore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* ServerCore
    const { host, port } = server.options
    yield* Effect.addFinalizer(() => Effect.sync(() => server.log.debug("Client accept loop exiting..")))
    const tls = server.options.tls === undefined ? undefined : yield* loadTls(server.options.tls)
    // A reload that changed the tls block takes effect for the next client (the files were
    // checked when the new options were loaded; if they went bad since, the old ones stay).
    let loaded = { from: server.options.tls, config: tls }
    const current = Effect.suspend(() => {
      const from = server.options.tls
      if (from === loaded.from) return Effect.succeed(loaded.config)
      const load: Effect.Effect<TlsConfig | undefined, TlsConfigError> = from === undefined ? Effect.succeed(undefined) : loadTls(from)
      return load.pipe(
        Effect.map((config) => {
          loaded = { from, config }
          return config
        }),
        Effect.catch((e) => {
          server.log.error(`TLS configuration not applied: ${e.message}`)
          loaded = { from, config: loaded.config }
          return Effect.succeed(loaded.config)
        })
      )
    })
    const transport = yield* Transport
    if (tls !== undefined && transport.kind !== "tcp") {
      return yield* Effect.fail(new ListenError({ address: HostPort.format(host, port), cause: new Error(`TLS is not supported over the ${transport.kind} transport`) }))
    }
    // One keepalive fiber for every client (on the layer's Clock), not one per client.
    const ticker = clientKeepalive(server)
    yield* Effect.forkScoped(ticker.run)
    const listener = yield* transport.listen(host, port, (socket) => Effect.flatMap(current, (t) => runClientSession(socket, server, t, ticker)))
    server.listen = { host, port: listener.port }
    server.stopAccepting = listener.stopAccepting
    server.log.info(`Listening for client connections on ${HostPort.format(host, listener.port)}`)
    if (tls !== undefined) server.log.info("TLS required for client connections")
  })
)
