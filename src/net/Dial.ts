/**
 * Outbound TCP connections, shared by route dialers (`cluster/ClusterLayer`) and the NATS client
 * (`client/NatsClient`).
 *
 * `dialTcp` resolves only once the connection is established (so a refused or unreachable address
 * fails fast with a `DialError` carrying Go-style text, as nats-server logs it) and then wraps the
 * connected Node socket as an Effect `Socket`. Interrupting the dial destroys the half-open socket.
 *
 * Ownership: the returned `Socket` closes the Node socket when the scope of its *reader* closes,
 * so acquire the reader (`Socket.readerBytes`) right after dialing.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Socket from "effect/socket/Socket"
import { fromNetSocket } from "./NetSocket.js"
import * as Net from "node:net"
import * as HostPort from "../values/HostPort.js"

/** A TCP connection could not be opened; `message` reads like Go's `dial tcp host:port: …`. */
export class DialError extends Data.TaggedError("DialError")<{ readonly address: string; readonly cause: Error }> {
  override get message(): string {
    return `dial tcp ${this.address}: ${describe(this.cause)}`
  }
}

const describe = (e: Error): string =>
  (e as NodeJS.ErrnoException).code === "ECONNREFUSED" ? "connect: connection refused" : e.message

/** Open a TCP connection and wrap it as an Effect `Socket` once it is connected. */
export const dialTcp = (host: string, port: number): Effect.Effect<Socket.Socket, DialError> =>
  dialNet(host, port).pipe(Effect.map(fromNetSocket))

/** Open a TCP connection: the connected (paused) Node socket, e.g. to upgrade it to TLS first. */
export const dialNet = (host: string, port: number): Effect.Effect<Net.Socket, DialError> =>
  Effect.callback<Net.Socket, DialError>((resume) => {
    const s = Net.connect({ host, port })
    const onError = (e: Error) => {
      s.destroy()
      resume(Effect.fail(new DialError({ address: HostPort.format(host, port), cause: e })))
    }
    s.once("error", onError)
    s.once("connect", () => {
      s.off("error", onError)
      s.setNoDelay(true)
      s.pause()
      resume(Effect.succeed(s))
    })
    return Effect.sync(() => s.destroy())
  })
