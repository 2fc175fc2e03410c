/**
 * Encoding of protocol frames that are not on the per-message path (INFO, -ERR, control ops) and a
 * generic `encode(op)` — the inverse of the parser, used by clients, route links and the
 * round-trip property tests. Message frames on the hot path go straight into an `OutBuffer`.
 *
 * JSON and `-ERR` texts are written as UTF-8; subjects, sids, queue names and accounts are byte
 * strings (see `ByteString`) and are written back as the bytes they stand for.
 *
 * @since 0.1.0
 */
import * as ConnectInfo from "./ConnectInfo.js"
import type * as Op from "./Op.js"
import { OutBuffer } from "./OutBuffer.js"

const ascii = (s: string): Uint8Array => Buffer.from(s, "utf8")
/** A protocol line made of byte strings: one byte per char. */
const line = (s: string): Uint8Array => Buffer.from(s, "latin1")

export const PING_BYTES: Uint8Array = ascii("PING\r\n")
export const PONG_BYTES: Uint8Array = ascii("PONG\r\n")
export const OK_BYTES: Uint8Array = ascii("+OK\r\n")

/** `INFO <json> \r\n` — nats-server puts a space before the CRLF. */
export const info = (fields: object): Uint8Array => ascii(`INFO ${JSON.stringify(fields)} \r\n`)

/** `INFO <json>\r\n` without the space, as nats-server forwards gossiped route INFOs. */
export const infoCompact = (fields: object): Uint8Array => ascii(`INFO ${JSON.stringify(fields)}\r\n`)

/** `-ERR '<text>'\r\n` — always single-quoted. */
export const err = (text: string): Uint8Array => ascii(`-ERR '${text}'\r\n`)

/** `CONNECT <json>\r\n` of the one `ConnectInfo` schema, its fields in `order` (nats.go's by default). */
export const connect = (info: ConnectInfo.ConnectInfo, order?: ReadonlyArray<keyof ConnectInfo.ConnectInfo>): Uint8Array =>
  ascii(`CONNECT ${JSON.stringify(ConnectInfo.encode(info, order))}\r\n`)

/** Encode any op to its wire form. */
export const encode = (op: Op.Op): Uint8Array => {
  switch (op._tag) {
    case "Connect":
      return ascii(`CONNECT ${op.json}\r\n`)
    case "Info":
      return ascii(`INFO ${op.json}\r\n`)
    case "Ping":
      return PING_BYTES
    case "Pong":
      return PONG_BYTES
    case "Ok":
      return OK_BYTES
    case "Err":
      return ascii(`-ERR ${op.message}\r\n`)
    case "Sub":
      return line(`SUB ${op.subject} ${op.queue === undefined ? "" : op.queue + " "}${op.sid}\r\n`)
    case "Unsub":
      return line(`UNSUB ${op.sid}${op.max === undefined ? "" : " " + op.max}\r\n`)
    case "RouteSub":
      return line(`RS+ ${op.account} ${op.subject}${op.queue === undefined ? "" : ` ${op.queue} ${op.weight}`}\r\n`)
    case "RouteUnsub":
      return line(`RS- ${op.account} ${op.subject}${op.queue === undefined ? "" : ` ${op.queue}`}\r\n`)
    case "Ignored":
      return line(`${op.op}\r\n`)
    case "Pub": {
      const head = op.headerSize >= 0 ? "HPUB" : "PUB"
      const sizes = op.headerSize >= 0 ? `${op.headerSize} ${op.payload.length}` : `${op.payload.length}`
      const control = line(`${head} ${op.subject} ${op.reply === undefined ? "" : op.reply + " "}${sizes}\r\n`)
      return Buffer.concat([control, op.payload, CRLF])
    }
    case "Msg": {
      const out = new OutBuffer()
      out.appendMsg(op.subject, op.sid, op.reply, op.headerSize, op.payload)
      return out.take()!
    }
    case "PubLine":
    case "HpubRefused":
      // Not a wire op: the parser's early notice of a PUB line (its PUB follows).
      return new Uint8Array(0)
    case "RouteMsg": {
      const out = new OutBuffer()
      out.appendRouteMsg(op.account, op.subject, op.reply, op.queues, op.headerSize, op.payload)
      return out.take()!
    }
  }
}

const CRLF = ascii("\r\n")
