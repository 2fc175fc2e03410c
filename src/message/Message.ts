/**
 * Messages as applications receive them (`NatsMessage`: subject, reply, headers, status, data) and
 * the server INFO a client sees.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { toText } from "../protocol/ByteString.js"
import type * as Op from "../protocol/Op.js"
import { decodeHeaders, type Headers, type HeadersInput } from "../protocol/Headers.js"
import { InvalidArgument, type NatsClientError, ProtocolError } from "./Errors.js"
import * as Result from "effect/Result"
import * as Info from "../protocol/ServerInfo.js"

/** Options of `NatsMessage.respond`. */
export interface RespondOptions {
  readonly headers?: HeadersInput | undefined
}

/** Whoever can publish the answer to a message: the client it arrived on, or the broker. */
export interface Replier {
  publish(subject: string, payload: Uint8Array | string, options?: RespondOptions): Effect.Effect<void, NatsClientError>
}

/**
 * A message delivered to a subscription (or a reply to a request). `data` is the payload without
 * headers; it is a view into the bytes read from the socket (copy it to keep it long).
 */
export interface NatsMessage {
  readonly subject: string
  /** The subscription id it was delivered to. */
  readonly sid: string
  readonly reply?: string | undefined
  /** Present for messages published with headers (HMSG). */
  readonly headers?: Headers | undefined
  /** The status code of the header block (`NATS/1.0 503` → 503). */
  readonly status?: number | undefined
  /** The status description, when the header block has one. */
  readonly description?: string | undefined
  readonly data: Uint8Array
  /** The payload as UTF-8 text. */
  text(): string
  /** The payload parsed as JSON (throws on invalid JSON, like `JSON.parse`). */
  json<A = unknown>(): A
  /**
   * Publish `payload` to this message's `reply` subject, through the client (or broker) it was
   * received on. Fails with `InvalidArgument` when the message has no reply subject.
   */
  respond(payload: Uint8Array | string, options?: RespondOptions): Effect.Effect<void, NatsClientError>
}

const noReply = Effect.fail(new InvalidArgument({ message: "the message has no reply subject" }))

export class Message implements NatsMessage {
  constructor(
    readonly subject: string,
    readonly sid: string,
    readonly reply: string | undefined,
    readonly headers: Headers | undefined,
    readonly status: number | undefined,
    readonly description: string | undefined,
    readonly data: Uint8Array,
    private readonly replier?: Replier | undefined
  ) {}

  respond(payload: Uint8Array | string, options?: RespondOptions): Effect.Effect<void, NatsClientError> {
    if (this.reply === undefined || this.reply === "" || this.replier === undefined) return noReply
    return this.replier.publish(this.reply, payload, options)
  }

  text(): string {
    return Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength).toString("utf8")
  }

  json<A = unknown>(): A {
    return JSON.parse(this.text()) as A
  }
}

/** The parser's byte-string subject, reply and sid become text (UTF-8) for the application. */
export const toMessage = (op: Op.Msg, replier?: Replier): Message => {
  const subject = toText(op.subject)
  const sid = toText(op.sid)
  const reply = op.reply === undefined ? undefined : toText(op.reply)
  if (op.headerSize < 0) return new Message(subject, sid, reply, undefined, undefined, undefined, op.payload, replier)
  const h = decodeHeaders(op.payload.subarray(0, op.headerSize))
  return new Message(subject, sid, reply, h.headers, h.status, h.description, op.payload.subarray(op.headerSize), replier)
}

/**
 * The server's `INFO`, as sent (unknown fields are kept): the shared `ServerInfo` schema's fields
 * (see `protocol/ServerInfo`), of which a client needs `server_id` and `max_payload` (`version`
 * is always sent by nats-server and by us).
 */
export type ServerInfo = Info.ServerInfo & {
  readonly version: string
  readonly max_payload: number
  readonly [field: string]: unknown
}

export const decodeInfo = (json: string): ServerInfo | ProtocolError => {
  const decoded = Info.decode(json)
  if (Result.isFailure(decoded)) return new ProtocolError({ message: `invalid INFO: ${decoded.failure.message}`, cause: decoded.failure })
  const { info, raw } = decoded.success
  if (info.max_payload === undefined) return new ProtocolError({ message: "invalid INFO: server_id or max_payload missing" })
  // The typed fields, then whatever else the server sent.
  return { ...raw, ...info } as ServerInfo
}
