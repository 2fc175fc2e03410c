/**
 * The client listener: accepts TCP connections and runs one supervised `ClientSession` fiber per
 * socket. Closing the layer's scope stops accepting and interrupts every session, which closes
 * its client with reason `Server Shutdown`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type ListenError, listen } from "../net/Listener.js"
import { Broker } from "./Broker.js"
import { runClientSession } from "./ClientSession.js"

export const layer: Layer.Layer<never, ListenError, Broker> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* Broker
    const { host, port } = server.options
    yield* Effect.addFinalizer(() => Effect.sync(() => server.log.debug("Client accept loop exiting..")))
    const listener = yield* listen(host, port, (socket) => runClientSession(socket, server))
    server.listen = { host, port: listener.port }
    server.stopAccepting = listener.stopAccepting
    server.log.info(`Listening for client connections on ${host.includes(":") ? `[${host}]` : host}:${listener.port}`)
  })
)
