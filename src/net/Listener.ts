/**
 * A TCP listener whose connections each run as a supervised fiber, in the caller's scope.
 *
 * Like `@effect/platform-node`'s socket server, but it hands each connection over as our
 * flowing-mode `Socket` (see `NetSocket`) and it can stop accepting while the sessions it started
 * keep running — lame-duck mode closes the client listener that way, as nats-server does. Closing
 * the scope interrupts every session, then closes the listener.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Net from "node:net"
import { fromNetSocket } from "./NetSocket.js"
import * as HostPort from "../values/HostPort.js"

/** `address` (`host:port`) could not be bound; `cause` is Node's error, `message` its text. */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly address: string; readonly cause: Error }> {
  override get message(): string {
    return this.cause.message
  }
}

export interface Listener {
  /** The bound port (useful when 0 or -1 asked for a random one). */
  readonly port: number
  /** Stop accepting new connections; running sessions are not touched. Idempotent. */
  readonly stopAccepting: () => void
}

export const listen = <E>(
  host: string,
  port: number,
  handler: (socket: Socket.Socket) => Effect.Effect<unknown, E, never>
): Effect.Effect<Listener, ListenError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server, ListenError>((resume) => {
        // Paused until a session's reader takes the socket, so no byte is read before it.
        const srv = Net.createServer({ pauseOnConnect: true })
        const onError = (e: Error) => resume(Effect.fail(new ListenError({ address: HostPort.format(host, port), cause: e })))
        srv.once("error", onError)
        // A deep accept queue, as Go's listeners get (somaxconn): a burst of thousands of connects
        // must not overflow Node's default 511 into SYN retries seconds later.
        srv.listen({ host, port: port < 0 ? 0 : port, backlog: 4096 }, () => {
          srv.off("error", onError)
          resume(Effect.succeed(srv))
        })
      }),
      (srv) =>
        Effect.callback<void>((resume) => {
          if (!srv.listening) return resume(Effect.void)
          srv.close(() => resume(Effect.void))
        })
    )
    // Sessions live in a FiberSet of this scope: closing it (first) interrupts them all.
    const sessions = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(sessions)<never>()
    server.on("connection", (conn: Net.Socket) => {
      run(
        handler(fromNetSocket(conn)).pipe(
          Effect.provideService(NodeSocket.NetSocket, conn),
          Effect.ignoreCause({ log: "Error" }),
          // The session closed it already; this covers one that ended before taking the socket.
          Effect.ensuring(Effect.sync(() => {
            if (!conn.destroyed) conn.destroySoon()
          }))
        )
      )
    })
    const address = server.address()
    return {
      port: typeof address === "object" && address !== null ? address.port : port,
      stopAccepting: () => {
        if (server.listening) server.close()
      }
    }
  })
