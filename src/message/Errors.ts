/**
 * The errors a NATS client (ours over TCP, or the in-process broker API) can fail with, as tagged
 * errors so that callers can `Effect.catchTag` each one.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** No server in `servers` could be connected to; `attempts` says why, server by server. */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly message: string
  readonly attempts: ReadonlyArray<{ readonly server: string; readonly reason: string }>
}> {}

/** The server sent bytes that are not the NATS protocol. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{ readonly message: string; readonly cause?: unknown }> {}

/**
 * The server sent `-ERR`; `message` is its text without the quotes. Non-fatal ones (permissions
 * violations) are reported on the client's `status` stream; the others end the connection.
 */
export class ServerError extends Data.TaggedError("ServerError")<{ readonly message: string }> {}

/** The connection was closed by the server or the network. */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{ readonly message: string }> {}

/** The client was closed (by `close` or its scope). */
export class ClientClosed extends Data.TaggedError("ClientClosed")<{ readonly message: string }> {}

/** A subscription's buffer (`pendingLimit` messages) was full when a message arrived. */
export class SlowConsumer extends Data.TaggedError("SlowConsumer")<{
  readonly subject: string
  readonly sid: string
  readonly pendingLimit: number
}> {
  override get message(): string {
    return `slow consumer on "${this.subject}" (sid ${this.sid}): more than ${this.pendingLimit} messages pending`
  }
}

/** A subject, queue name, header or payload size that the server would refuse; nothing was sent. */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{ readonly message: string }> {}

/** No reply arrived within the request timeout. */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<{
  readonly subject: string
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `request to "${this.subject}" timed out after ${Duration.format(this.timeout)}`
  }
}

/** The server answered a request with status 503: nobody is subscribed to the subject. */
export class NoResponders extends Data.TaggedError("NoResponders")<{ readonly subject: string }> {
  override get message(): string {
    return `no responders for "${this.subject}"`
  }
}

/**
 * A publish while the client is reconnecting, when the bytes it already keeps for the next
 * connection (`reconnectBufferSize`) would be exceeded; nothing was buffered.
 */
export class ReconnectBufferFull extends Data.TaggedError("ReconnectBufferFull")<{ readonly limit: number }> {
  override get message(): string {
    return `reconnecting: the ${this.limit} bytes buffered for the next connection are used up`
  }
}

/** Everything a connection-level operation can fail with. */
export type NatsClientError =
  | ConnectError
  | ProtocolError
  | ServerError
  | ConnectionLost
  | ClientClosed
  | SlowConsumer
  | InvalidArgument
  | ReconnectBufferFull
