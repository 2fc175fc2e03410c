/**
 * nats-server's `AUTH_TIMEOUT`: the default of `cluster.authorization.timeout` (in the
 * `ServerOptions` schema) and of the client auth timeout when there is no client TLS (`Auth.authTimeout`).
 *
 * @since 0.1.0
 */

/** Two seconds, in milliseconds. */
export const AUTH_TIMEOUT_MS = 2000
