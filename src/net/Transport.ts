/**
 * The network as a service: how the broker listens for connections and dials out.
 *
 * `Transport` is an interface of two operations — `listen(host, port, handler)` (a listener that
 * runs one supervised fiber per accepted connection, with its bound port and `stopAccepting`) and
 * `dial(host, port, use)` (a connection handed to `use` for as long as it runs) — over
 * `effect/socket`'s `Socket`, the interface every session reads and writes. It is a
 * `Context.Reference` whose default is TCP (`tcp`: `Listener` + `Dial` + `NetSocket`), so
 * nothing has to provide it; `MemoryTransport` provides an in-process network instead (tests,
 * `SimulatedCluster`).
 *
 * Peer addresses: over TCP a handler sees the Node socket as `NodeSocket.NetSocket` (the TLS
 * upgrades and `Session.remoteAddress` read it); other transports provide `PeerAddress`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { type DialError, dialNet } from "./Dial.js"
import { type Listener, type ListenError, listen as listenTcp } from "./Listener.js"
import { fromNetSocket } from "./NetSocket.js"

export type { Listener } from "./Listener.js"

export interface TransportShape {
  /** `"tcp"`, or the name of another network (TLS needs `"tcp"`). */
  readonly kind: string
  /**
   * Listen on `host:port` (port 0 or -1: any free one) and run `handler` for every accepted
   * connection in a fiber of the caller's scope; closing the scope interrupts them and closes the
   * listener.
   */
  readonly listen: <E>(
    host: string,
    port: number,
    handler: (socket: Socket.Socket) => Effect.Effect<unknown, E, never>
  ) => Effect.Effect<Listener, ListenError, Scope.Scope>
  /**
   * Connect to `host:port` and run `use` with the connection (its reader owns the connection:
   * closing the reader's scope closes it). Fails with `DialError` when nobody accepts.
   */
  readonly dial: <A, E, R>(
    host: string,
    port: number,
    use: (socket: Socket.Socket) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | DialError, R>
}

/** Today's TCP network: `net.Server` listeners and `net.connect` dials. */
export const tcp: TransportShape = {
  kind: "tcp",
  listen: listenTcp,
  dial: (host, port, use) =>
    Effect.flatMap(dialNet(host, port), (raw) => use(fromNetSocket(raw)).pipe(Effect.provideService(NodeSocket.NetSocket, raw)))
}

/** The network the broker and the client use; TCP unless something provides another one. */
export const Transport: Context.Reference<TransportShape> = Context.Reference<TransportShape>("effect-nats-server/Transport", {
  defaultValue: () => tcp
})

/** The remote end of a connection on a transport that has no Node socket to ask. */
export const PeerAddress: Context.Reference<{ readonly ip: string; readonly port: number } | undefined> = Context.Reference<
  { readonly ip: string; readonly port: number } | undefined
>("effect-nats-server/PeerAddress", { defaultValue: () => undefined })
