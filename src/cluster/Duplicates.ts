/**
 * Duplicate routes: when two connections reach the same peer (both sides dialed at once, or a
 * gossiped and a configured URL point at one server), exactly one must survive.
 *
 * nats-server 2.9 keeps whichever it registered first, so two servers can each keep a different
 * one and drop both (they then redial at random times until it settles). We decide instead by
 * a rule both ends compute alike: keep the connection dialed by the server with the smaller id.
 * Between two of our servers that settles at once and never flaps. Against nats-server we keep
 * the registered one as it does (`peerKeepsFirst`): two different rules disagree on every
 * simultaneous redial — the chaos runs saw an ours/nats-server pair drop both links once a second
 * until the timing happened to part them — and our rule would also replace a working route that
 * nats-server keeps when it dials a late duplicate. Two "keep the first" ends disagree only when
 * they registered in opposite orders, and their randomized redials settle that.
 *
 * @since 0.1.0
 */

/**
 * Whether a newly identified connection should replace the one already registered for the peer.
 * `solicited` means "we dialed it". Two connections in the same direction: the first one stays.
 */
export const preferNew = (ownId: string, peerId: string, existingSolicited: boolean, newSolicited: boolean): boolean => {
  if (existingSolicited === newSolicited) return false
  const weDial = ownId < peerId
  return newSolicited === weDial
}

/** Whether the peer is nats-server, which keeps the route it registered first (its INFO has `go`). */
export const peerKeepsFirst = (peerInfo: Readonly<Record<string, unknown>>): boolean => typeof peerInfo["go"] === "string"
