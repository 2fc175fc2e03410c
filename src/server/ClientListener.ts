/**
 * The client listener: accepts TCP connections and runs one supervised `ClientSession` fiber per
 * socket. Closing the layer's scope stops accepting and interrupts every session, which closes
 * its client with reason `Server Shutdown`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { flowing } from "../net/NetSocket.js"
import { Broker } from "./Broker.js"
import { runClientSession } from "./ClientSession.js"

export const layer: Layer.Layer<never, unknown, Broker> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* Broker
    const { host, port } = server.options
    const listener = yield* NodeSocketServer.make({ host, port: port < 0 ? 0 : port })
    const bound = "port" in listener.address ? listener.address.port : port
    server.listen = { host, port: bound }
    server.log.info(`Listening for client connections on ${host.includes(":") ? `[${host}]` : host}:${bound}`)
    yield* listener.run((socket) => Effect.flatMap(flowing(socket), (s) => runClientSession(s, server))).pipe(Effect.forkScoped)
    yield* Effect.addFinalizer(() => Effect.sync(() => server.log.debug("Client accept loop exiting..")))
  })
)
