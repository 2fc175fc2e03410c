/**
 * The operations of the NATS wire protocol, as the parser produces them.
 *
 * One union covers the three peers we parse: clients (CONNECT, PUB, HPUB, SUB, UNSUB), routes (RS+,
 * RS-, RMSG, routed HMSG) and servers (MSG, HMSG, when we are the client). Which ops a peer may send
 * is decided by the parser's `PeerKind`. Ops are plain objects: they are created once per message on
 * the hot path, so they carry strings and byte views, never closures.
 *
 * Payloads are views into the chunk they arrived in (copied only when a payload spans chunks), and
 * for header messages `payload` holds headers followed by body, with `headerSize` bytes of headers.
 *
 * Subjects, reply subjects, sids, queue names and accounts are **byte strings**: one char per byte
 * (latin1), so any byte sequence — invalid UTF-8 included — is kept exactly, compares and hashes by
 * its bytes, and goes back on the wire unchanged. `ByteString` converts at the API edges.
 *
 * @since 0.1.0
 */

/** `CONNECT <json>` — the JSON stays raw; the session decodes it. */
export interface Connect {
  readonly _tag: "Connect"
  readonly json: string
}

/** `PUB` (`headerSize` = -1) or `HPUB` (`headerSize` ≥ 0). */
export interface Pub {
  readonly _tag: "Pub"
  readonly subject: string
  readonly reply: string | undefined
  readonly headerSize: number
  readonly payload: Uint8Array
}

/**
 * The control line of a client's PUB/HPUB whose payload is not (validly) complete in the read that
 * carried the line. nats-server checks the line before the payload (headers allowed, pedantic
 * subject): this op lets the connection do the same at the same point. The `Pub` follows once the
 * payload is complete.
 */
export interface PubLine {
  readonly _tag: "PubLine"
  readonly subject: string
  readonly reply: string | undefined
  readonly headerSize: number
  /**
   * The payload is still pending at the end of the read (rather than bad). nats-server then checks
   * the line a second time (`clonePubArg`): a pedantic `-ERR 'Invalid Publish Subject'` goes out
   * twice.
   */
  readonly recheck: boolean
}

/**
 * A client's HPUB line that the parser refuses (bad arguments or sizes, max_payload); its error
 * follows. nats-server refuses an HPUB from a client that did not agree to headers before it
 * looks at the arguments, so the connection gets to check that first.
 */
export interface HpubRefused {
  readonly _tag: "HpubRefused"
}

/** `SUB <subject> [queue] <sid>` */
export interface Sub {
  readonly _tag: "Sub"
  readonly subject: string
  readonly queue: string | undefined
  readonly sid: string
}

/** `UNSUB <sid> [max]` */
export interface Unsub {
  readonly _tag: "Unsub"
  readonly sid: string
  readonly max: number | undefined
}

export interface Ping {
  readonly _tag: "Ping"
}

export interface Pong {
  readonly _tag: "Pong"
}

/** `INFO <json>` from a server or route peer (a client's INFO is parsed and ignored). */
export interface Info {
  readonly _tag: "Info"
  readonly json: string
}

export interface Ok {
  readonly _tag: "Ok"
}

/** `-ERR <text>`; `message` is the text as sent, quotes included. */
export interface Err {
  readonly _tag: "Err"
  readonly message: string
}

/** `MSG`/`HMSG` from a server to us as a client. */
export interface Msg {
  readonly _tag: "Msg"
  readonly subject: string
  readonly sid: string
  readonly reply: string | undefined
  readonly headerSize: number
  readonly payload: Uint8Array
}

/** `RS+ <account> <subject> [<queue> <weight>]` */
export interface RouteSub {
  readonly _tag: "RouteSub"
  readonly account: string
  readonly subject: string
  readonly queue: string | undefined
  readonly weight: number
}

/** `RS- <account> <subject> [<queue>]` */
export interface RouteUnsub {
  readonly _tag: "RouteUnsub"
  readonly account: string
  readonly subject: string
  readonly queue: string | undefined
}

/**
 * `RMSG <account> <subject> [reply | + reply q… | | q…] <size>` and the routed
 * `HMSG <account> …` form. `queues` is undefined when the message carries no queue list
 * (then queue subscribers get nothing on the receiving side).
 */
export interface RouteMsg {
  readonly _tag: "RouteMsg"
  readonly account: string
  readonly subject: string
  readonly reply: string | undefined
  readonly queues: ReadonlyArray<string> | undefined
  readonly headerSize: number
  readonly payload: Uint8Array
}

/** Ops we parse (to keep the stream in sync) but do not act on: LS+/LS-/A+/A-. */
export interface Ignored {
  readonly _tag: "Ignored"
  readonly op: string
}

export type ClientOp = Connect | Pub | PubLine | HpubRefused | Sub | Unsub | Ping | Pong | Info | Ok | Err
export type RouteOp = Connect | Info | Ping | Pong | Ok | Err | RouteSub | RouteUnsub | RouteMsg | Ignored | Pub | Sub | Unsub
export type ServerOp = Info | Msg | Ping | Pong | Ok | Err
export type Op = ClientOp | RouteOp | ServerOp

export const PING: Ping = { _tag: "Ping" }
export const PONG: Pong = { _tag: "Pong" }
export const OK: Ok = { _tag: "Ok" }
export const HPUB_REFUSED: HpubRefused = { _tag: "HpubRefused" }
