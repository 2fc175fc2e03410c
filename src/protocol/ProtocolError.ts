/**
 * Protocol violations found while parsing, with what nats-server 2.9 does about each: the `-ERR`
 * text it sends (if any), the close reason it records and the line it logs.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/** The `-ERR` texts of nats-server 2.9 that this project sends (without the quotes). */
export const ErrText = {
  unknownOp: "Unknown Protocol Operation",
  maxControlLine: "maximum control line exceeded",
  maxPayload: "Maximum Payload Violation",
  invalidSubject: "Invalid Subject",
  invalidPublishSubject: "Invalid Publish Subject",
  maxSubscriptions: "maximum subscriptions exceeded",
  maxConnections: "maximum connections exceeded",
  maxAccountConnections: "maximum account active connections exceeded",
  userAuthExpired: "User Authentication Expired",
  accountAuthExpired: "Account Authentication Expired",
  staleConnection: "Stale Connection",
  authViolation: "Authorization Violation",
  authTimeout: "Authentication Timeout",
  invalidProtocol: "invalid client protocol",
  noRespondersRequiresHeaders: "no responders requires headers support",
  routePort: "attempted to connect to route port",
  tlsRequired: "Secure Connection - TLS Required"
} as const

/** Close reasons as nats-server names them in logs and in /connz. */
export type CloseReason =
  | "Client Closed"
  | "Authentication Timeout"
  | "Authentication Failure"
  | "Authentication Expired"
  | "Maximum Message Payload Exceeded"
  | "Maximum Control Line Exceeded"
  | "Maximum Connections Exceeded"
  | "Maximum Account Connections Exceeded"
  | "Maximum Subscriptions Exceeded"
  | "Protocol Violation"
  | "Stale Connection"
  | "Slow Consumer (Pending Bytes)"
  | "Slow Consumer (Write Deadline)"
  | "Server Shutdown"
  | "Parse Error"
  | "Duplicate Route"
  | "Incorrect Port"
  | "Wrong Gateway"
  | "Cluster Name Conflict"
  | "Duplicate Server Name"
  | "Route Removed"
  | "Read Error"
  | "Write Error"
  | "TLS Handshake Failure"

/**
 * A violation that ends the connection. `errText` is sent as `-ERR '<errText>'` before closing when
 * present; some violations (bad arguments, bad JSON) close silently, as nats-server does. Tagged
 * `ProtocolViolation` (its name in the package's index), apart from the client's `ProtocolError`.
 */
export class ProtocolError extends Data.TaggedError("ProtocolViolation")<{
  readonly errText: string | undefined
  readonly reason: CloseReason
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/** Printable snippet of the bytes at an error, in the style of Go's %q. */
export const snippet = (bytes: Uint8Array, from: number, max = 32): string => {
  const end = Math.min(bytes.length, from + max)
  let out = ""
  for (let i = from; i < end; i++) {
    const b = bytes[i]!
    if (b === 0x0d) out += "\\r"
    else if (b === 0x0a) out += "\\n"
    else if (b === 0x09) out += "\\t"
    else if (b === 0x22) out += '\\"'
    else if (b === 0x5c) out += "\\\\"
    else if (b < 0x20 || b >= 0x7f) out += "\\x" + b.toString(16).padStart(2, "0")
    else out += String.fromCharCode(b)
  }
  return `"${out}"`
}

export const unknownOp = (kind: string, bytes: Uint8Array, at: number): ProtocolError =>
  new ProtocolError({
    errText: ErrText.unknownOp,
    // nats-server 2.9.10 (live): a parse error closes clients and routes alike as Protocol
    // Violation; `Parse Error` is for a `-ERR` the peer sent.
    reason: "Protocol Violation",
    detail: `${kind} parser ERROR, i=${at}: proto='${snippet(bytes, at)}...'`
  })

export const maxControlLine = (max: number, len: number): ProtocolError =>
  new ProtocolError({
    errText: ErrText.maxControlLine,
    reason: "Maximum Control Line Exceeded",
    detail: `maximum control line exceeded: max_control_line ${max}, Buffer len ${len}`
  })

export const maxPayload = (size: number, max: number): ProtocolError =>
  new ProtocolError({
    errText: ErrText.maxPayload,
    reason: "Maximum Message Payload Exceeded",
    detail: `maximum payload exceeded: ${size} vs ${max}`
  })

/** A size that is not a number of at most 9 digits: closed like bad arguments, logged as nats-server does. */
export const badSize = (op: string, args: string): ProtocolError =>
  new ProtocolError({ errText: undefined, reason: "Protocol Violation", detail: `process${op} Bad or Missing Size: '${args}'` })

/** Malformed arguments: nats-server closes without an -ERR (reason Protocol Violation). */
export const badArgs = (op: string, args: string): ProtocolError =>
  new ProtocolError({
    errText: undefined,
    reason: "Protocol Violation",
    detail: `process${op} Parse Error: '${args}'`
  })
