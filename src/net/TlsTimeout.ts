/**
 * nats-server's `TLS_TIMEOUT`: the default TLS handshake timeout of a `tls { }` block (in the
 * `ServerOptions` schema), and what /varz reports without one.
 *
 * @since 0.1.0
 */

/** Two seconds, in milliseconds. */
export const TLS_TIMEOUT_MS = 2000
