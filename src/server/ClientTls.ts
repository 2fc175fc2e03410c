/**
 * The client side of TLS as nats-server 2.9 does it: INFO (with `tls_required`) goes out in plain
 * text, then the client starts the handshake on the same socket; nothing is read as protocol
 * before it completed. A handshake that fails or times out is logged with nats-server's lines and
 * closes the connection with reason `TLS Handshake Failure` — a plain-text client therefore gets
 * the INFO and then a closed socket, exactly as from nats-server.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Socket from "effect/socket/Socket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { readCertNames } from "../net/CertNames.js"
import { fromNetSocket } from "../net/NetSocket.js"
import { acceptTls, describeSession, peerCertificate, sessionInfo, type TlsConfig } from "../net/Tls.js"
import { ErrText } from "../protocol/ProtocolError.js"
import type { ClientConnection } from "./ClientConnection.js"

/**
 * Greet the client in plain text (`greet` queues INFO or a refusal and says whether to go on),
 * then upgrade its socket. Resolves with the TLS socket to run the session on, or undefined when
 * the connection is closed already (refused, handshake failed).
 */
export const upgradeClient = (
  conn: ClientConnection,
  tls: TlsConfig,
  greet: () => boolean
): Effect.Effect<Socket.Socket | undefined> =>
  Effect.gen(function*() {
    const log = conn.server.log
    const raw = Option.getOrUndefined(yield* Effect.serviceOption(NodeSocket.NetSocket))
    const greeted = greet()
    // The INFO (or the -ERR of a refusal) goes out before the handshake, in plain text.
    for (let chunk = conn.out.take(); chunk !== undefined; chunk = conn.out.take()) raw?.write(chunk)
    if (!greeted || raw === undefined) return undefined
    log.debug(`${conn.prefix}Starting TLS client connection handshake`)
    const result = yield* Effect.result(acceptTls(raw, tls))
    if (result._tag === "Failure") {
      const e = result.failure
      log.error(`${conn.prefix}TLS handshake error: ${e.message}`)
      if (e.timedOut) {
        // nats-server's timer also tries to send an -ERR, which can not reach a client mid-handshake.
        log.error(`${conn.prefix}TLS handshake timeout`)
        if (log.traceEnabled) log.trace(`${conn.prefix}->> [-ERR ${ErrText.tlsRequired}]`)
      }
      conn.close("TLS Handshake Failure")
      return undefined
    }
    const sock = result.success
    const der = peerCertificate(sock)
    if (der !== undefined) {
      try {
        conn.peerCert = readCertNames(der)
      } catch {
        conn.peerCert = undefined
      }
    }
    conn.tlsSession = sessionInfo(sock)
    log.debug(`${conn.prefix}TLS handshake complete`)
    log.debug(`${conn.prefix}${describeSession(sock)}`)
    return fromNetSocket(sock)
  })
