/**
 * Duplicate routes: when two connections reach the same peer (both sides dialed at once, or a
 * gossiped and a configured URL point at one server), exactly one must survive.
 *
 * nats-server 2.9 keeps whichever it registered first, so two servers can each keep a different
 * one and drop both (they then redial at random times until it settles). We decide instead by
 * a rule both ends compute alike: keep the connection dialed by the server with the smaller id.
 * Between two of our servers that settles at once and never flaps; against nats-server the random
 * redial still settles it.
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
