/**
 * The NATS protocol parser: a pure, incremental step `(state, chunk) → (state, ops)` over bytes.
 *
 * The step survives any chunk boundary — inside an op name, a number, a payload or a CRLF — by
 * carrying the unfinished control line or payload in the returned state. It never mutates a state
 * it was given and never retains the caller's chunk beyond views into it, so the same input split
 * any way yields the same ops (the property tests check exactly this).
 *
 * Like nats-server's `parser.go` it is one loop over the chunk, but it finds line ends with
 * `indexOf` instead of a per-byte state machine and it never copies a payload that is whole in the
 * chunk. Limits are enforced on the control line, before any payload byte is read:
 * `max_control_line` on the arguments, `max_payload` on PUB/HPUB sizes (clients only), sizes of at
 * most 9 digits (nats-server's `parseSize`).
 *
 * Subjects, reply subjects, sids, queue names and accounts come out as byte strings (one char per
 * byte, see `ByteString`): bytes in, the same bytes out, whatever their encoding.
 *
 * The work is linear in the bytes received however they are chunked: an unfinished payload or
 * control line is appended to a growable buffer (doubling, so each byte is copied O(1) times on
 * average) instead of being re-assembled on every read, and the buffer of a payload never grows
 * past what was received (×2) or the declared size. `work` counts the bytes copied and scanned
 * outside the one-chunk fast path, so tests can check this without timing anything.
 *
 * @since 0.1.0
 */
import * as Stream from "effect/Stream"
import type * as Op from "./Op.js"
import { HPUB_REFUSED, PING, PONG, OK } from "./Op.js"
import * as PE from "./ProtocolError.js"
import type { ProtocolError } from "./ProtocolError.js"

/** Who is on the other end: it decides which ops are legal. */
export type PeerKind = "client" | "route" | "server"

export interface ParserLimits {
  /** Longest argument section of a control line, in bytes. */
  readonly maxControlLine: number
  /** Largest PUB/HPUB payload accepted from a client; `Infinity` disables the check. */
  readonly maxPayload: number
}

/**
 * A growable byte buffer that successive parser states share. A state owns the prefix
 * `[0, its length)`; appending writes past it, which earlier states never look at. When a state is
 * stepped again after a later one appended (`used` is past its length), it forks a copy first, so
 * `step` stays pure.
 */
interface Grow {
  buf: Buffer
  used: number
}

/** Bytes the parser copied or scanned outside the one-chunk fast path (for tests; cheap to keep). */
export const work = { copied: 0, scanned: 0 }

/** Append `src[from, to)` to the `len` bytes a state owns in `g`; at most `cap` bytes in all. */
const append = (g: Grow | undefined, len: number, src: Uint8Array, from: number, to: number, cap: number): Grow => {
  const n = to - from
  const need = len + n
  let out = g
  if (out === undefined || out.used !== len || out.buf.length < need) {
    // Double (amortised O(1) copies per byte), never past `cap`; a payload starts at 64 KiB.
    const size = Math.min(cap, Math.max(2 * need, cap === Infinity ? 256 : 65536))
    const buf = Buffer.allocUnsafe(Math.max(size, need))
    if (out !== undefined && len > 0) {
      buf.set(out.buf.subarray(0, len))
      work.copied += len
    }
    out = { buf, used: len }
  }
  out.buf.set(src.subarray(from, to), len)
  work.copied += n
  out.used = need
  return out
}

/** A control line was parsed; its payload is still arriving. */
interface AwaitingPayload {
  /** The op, complete but for its payload. */
  readonly head: PayloadHead
  readonly size: number
  /** The payload (plus trailing CRLF) received so far: `have` bytes of `acc`. */
  readonly acc: Grow | undefined
  readonly have: number
}

/**
 * A message op whose payload is not attached yet. The parser creates the op once, with an empty
 * payload, and attaches the payload when it is whole in the chunk (a fresh object, so this is
 * not observable); its size travels in `headSize` to avoid a second object per message.
 */
type PayloadHead = Op.Pub | Op.Msg | Op.RouteMsg

const NO_PAYLOAD = new Uint8Array(0)

/**
 * A parser's scratch: token positions, the payload size of the last head, the last PUB subject.
 * Like nats-server's `parseState` inside its client, it belongs to one parser — `initial` makes
 * it and every state stepped from that one carries the same object — so parsers of different
 * connections never see each other's. Only the subject cache outlives a step, and it is checked
 * against the bytes before use, so stepping an older state again still gives the same ops.
 */
export interface Scratch {
  /** Token `i` of the last `tokenize` is `[tokStart[i], tokEnd[i])`; grown on demand. */
  tokStart: Int32Array
  tokEnd: Int32Array
  /** Whether the last `tokenize` met a CR or LF between tokens. */
  tokSawCRLF: boolean
  /** Payload size of the head `lineToOp` returned last (saves a second object per message). */
  headSize: number
  /** The fast paths' head, kept here instead of in an op object: account (routes), subject, reply. */
  headAccount: string
  headSubject: string
  headReply: string | undefined
  /** The sink of the running step, and how many messages it got. */
  sink: MsgSink | undefined
  sunk: number
  /** Set when the last line was a client HPUB that `pubHead` refused (see `Op.HpubRefused`). */
  hpubRefused: boolean
  /** The chunk `view` is a plain `Uint8Array` over (see `plainView`); cleared after each step. */
  viewOf: Uint8Array | undefined
  view: Uint8Array
  /**
   * The last PUB/RMSG subject, reused when the next one has the same bytes (see `subjectText`).
   * Starts as the shared empty array and is made on the first subject (`subjectBytes`).
   */
  lastSubjectBytes: Uint8Array
  lastSubjectLen: number
  lastSubject: string
}

/** The arrays a new parser starts with, shared and never written: most connections (idle ones,
 * subscribers) never parse a line that needs token positions or a subject copy, so a parser
 * makes its own on first use (`grow`, `subjectBytes`) — measured ~0.9 KiB per idle connection
 * (three typed arrays, their buffers and one backing store). */
const NO_TOKENS = new Int32Array(0)
const NO_SUBJECT_BYTES = new Uint8Array(0)
/** Bytes kept of the last subject (longer subjects are not cached). */
const SUBJECT_CACHE_BYTES = 128

const newScratch = (): Scratch => ({
  tokStart: NO_TOKENS,
  tokEnd: NO_TOKENS,
  tokSawCRLF: false,
  headSize: 0,
  headAccount: "",
  headSubject: "",
  headReply: undefined,
  sink: undefined,
  sunk: 0,
  hpubRefused: false,
  viewOf: undefined,
  view: NO_PAYLOAD,
  lastSubjectBytes: NO_SUBJECT_BYTES,
  lastSubjectLen: -1,
  lastSubject: ""
})

export interface ParserState {
  readonly kind: PeerKind
  readonly limits: ParserLimits
  /** An unfinished control line carried over from the previous chunk (a view of `lineAcc`). */
  readonly line: Uint8Array | undefined
  readonly lineAcc: Grow | undefined
  /** Where the carried line's arguments start; -1 while its op name is not complete. */
  readonly lineArgs: number
  /**
   * The carried line's arguments began in an earlier read: nats-server then keeps them in its
   * `argBuf`, where later reads add every byte but CR and the line end drops nothing.
   */
  readonly lineSplit: boolean
  readonly awaiting: AwaitingPayload | undefined
  /** Set once a violation was reported: the stream is over, later input is ignored. */
  readonly failed: boolean
  /** This parser's scratch, the same object in every state stepped from one `initial`. */
  readonly scratch: Scratch
  /** Whether whole PUB/RMSG lines may take the fast path (see `initial`). */
  readonly fastPaths: boolean
}

/** What one step produced: the ops in order and, if the input was bad, the violation that ends it. */
export interface Parsed {
  readonly ops: Array<Op.Op>
  readonly error: ProtocolError | undefined
  /** Messages this step handed to its `MsgSink` instead of `ops` (all before the first op). */
  readonly sunk: number
}

/** A batch inside the parser, before `step` adds the sink's count. */
interface Batch {
  readonly ops: Array<Op.Op>
  readonly error: ProtocolError | undefined
}

/**
 * Where a step may hand whole messages directly, without an op object or a payload view per
 * message (nats-server's parser calls `processPub`/`processRoutedMsgArgs` the same way). A client
 * parser hands it its PUB/HPUB messages, a route parser its RMSG/HMSG messages; a server parser
 * never uses it. Only messages that come before every op of the step's batch go to the sink (so
 * the order of messages and ops is kept when the caller applies the batch after the step); the
 * others stay `Pub`/`RouteMsg` ops.
 *
 * The payload is `buf[from, to)` (headers first when `headerSize` ≥ 0). Its bytes are never
 * overwritten by the parser, so a view into them may be kept, as a `Pub` op's payload may.
 * `account` is "" and `queues` undefined for a client's message.
 */
export interface MsgSink {
  msg(
    account: string,
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    buf: Uint8Array,
    from: number,
    to: number
  ): void
}

/**
 * A fresh parser. `fastPaths: false` sends every line through the general path — the fast paths
 * must give the same ops and errors, and tests check it with this.
 */
export const initial = (kind: PeerKind, limits: ParserLimits, options?: { readonly fastPaths?: boolean }): ParserState =>
  makeState(kind, limits, undefined, undefined, -1, false, undefined, false, newScratch(), options?.fastPaths ?? true)

/**
 * The one place a state is made, so that all states share one shape (one hidden class) and the
 * per-message loads from them stay monomorphic; a spread `{ ...state, … }` would make new shapes.
 */
const makeState = (
  kind: PeerKind,
  limits: ParserLimits,
  line: Uint8Array | undefined,
  lineAcc: Grow | undefined,
  lineArgs: number,
  lineSplit: boolean,
  awaiting: AwaitingPayload | undefined,
  failed: boolean,
  scratch: Scratch,
  fastPaths: boolean
): ParserState => ({ kind, limits, line, lineAcc, lineArgs, lineSplit, awaiting, failed, scratch, fastPaths })

/** `state` with another carried line / payload / failed flag. */
const withCarry = (
  state: ParserState,
  line: Uint8Array | undefined,
  lineAcc: Grow | undefined,
  lineArgs: number,
  lineSplit: boolean,
  awaiting: AwaitingPayload | undefined,
  failed: boolean
): ParserState => makeState(state.kind, state.limits, line, lineAcc, lineArgs, lineSplit, awaiting, failed, state.scratch, state.fastPaths)

const CR = 13
const LF = 10
const SPACE = 32
const TAB = 9

const kindName = (kind: PeerKind): string => kind === "route" ? "Router" : kind === "server" ? "Server" : "Client"

// ---------------------------------------------------------------------------------------------
// Byte helpers, shared by the fast paths and the general one. Token positions go to the parser's
// scratch (`Scratch`) instead of a fresh array per line.

const asBuffer = (chunk: Uint8Array): Buffer =>
  Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)

interface FastSlices {
  latin1Slice(start: number, end: number): string
}

/** `buf[s, e)` as a byte string (one char per byte). */
const bytes = (buf: Buffer, s: number, e: number): string => (buf as unknown as FastSlices).latin1Slice(s, e)

/** Token `i` as a byte string. */
const text = (sc: Scratch, buf: Buffer, i: number): string => bytes(buf, sc.tokStart[i]!, sc.tokEnd[i]!)

/** Token positions with room for twice as many (16 at first: 64 bytes fit in the typed array
 * itself, with no separate backing store). */
const grow = (a: Int32Array): Int32Array => {
  const next = new Int32Array(a.length === 0 ? 16 : a.length * 2)
  next.set(a)
  return next
}

/**
 * Split `[from, to)` on runs of space, tab, CR and LF (nats-server's `splitArg`); with `blanksOnly`
 * on space and tab only, as its `processPub`/`processHeaderPub` do (there a CR is a token byte).
 * Returns the token count; positions go to `sc.tokStart`/`sc.tokEnd`; `sc.tokSawCRLF` tells whether a
 * CR or LF separated tokens.
 */
const tokenize = (sc: Scratch, buf: Uint8Array, from: number, to: number, blanksOnly = false): number => {
  let n = 0
  let i = from
  let sawCRLF = false
  const crlf = blanksOnly ? -1 : CR
  const lf = blanksOnly ? -1 : LF
  let starts = sc.tokStart
  let ends = sc.tokEnd
  while (i < to) {
    let b = buf[i]!
    while (b === SPACE || b === TAB || b === crlf || b === lf) {
      if (b === CR || b === LF) sawCRLF = true
      if (++i === to) {
        sc.tokSawCRLF = sawCRLF
        return n
      }
      b = buf[i]!
    }
    if (n === starts.length) {
      starts = sc.tokStart = grow(starts)
      ends = sc.tokEnd = grow(ends)
    }
    starts[n] = i
    while (i < to) {
      b = buf[i]!
      if (b === SPACE || b === TAB || b === crlf || b === lf) break
      i++
    }
    ends[n] = i
    n++
  }
  sc.tokSawCRLF = sawCRLF
  return n
}

/** The end of the token starting at `i`: the first space, tab, CR or LF in `[i, e)`, else `e`. */
const tokenEnd = (buf: Uint8Array, i: number, e: number): number => {
  while (i < e) {
    const b = buf[i]!
    if (b === SPACE || b === TAB || b === CR || b === LF) return i
    i++
  }
  return e
}

/** Longest size field nats-server's `parseSize` accepts. */
const MAX_SIZE_DIGITS = 9

/** A non-negative decimal of at most 9 digits in `buf[s, e)`, or -1 (as nats-server's parseSize). */
const sizeOf = (buf: Uint8Array, s: number, e: number): number => {
  if (e - s > MAX_SIZE_DIGITS || e === s) return -1
  let n = 0
  for (let j = s; j < e; j++) {
    const d = buf[j]! - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** Token `i` as a size (see `sizeOf`). */
const size = (sc: Scratch, buf: Uint8Array, i: number): number => sizeOf(buf, sc.tokStart[i]!, sc.tokEnd[i]!)

/** Case-insensitive comparison of `buf[at..]` with an upper-case ASCII name. */
const startsWith = (buf: Uint8Array, at: number, end: number, name: string): boolean => {
  if (end - at < name.length) return false
  for (let k = 0; k < name.length; k++) {
    const b = buf[at + k]!
    const c = name.charCodeAt(k)
    if (b !== c && !(c >= 65 && c <= 90 && b === (c | 0x20))) return false
  }
  return true
}

const isBlank = (b: number | undefined): boolean => b === SPACE || b === TAB

// ---------------------------------------------------------------------------------------------
// Op names. Ops with arguments need a space or tab after the name, except CONNECT and INFO, whose
// argument may follow the name directly (nats-server: `CONNECT{}` is a CONNECT, `CONNECTX {}` one
// with the argument `X {}`); PING, PONG and +OK ignore whatever follows their name up to the line
// end, as nats-server does.

type OpCode =
  | "CONNECT" | "PUB" | "HPUB" | "SUB" | "UNSUB" | "PING" | "PONG" | "INFO" | "+OK" | "-ERR"
  | "MSG" | "HMSG" | "RS+" | "RS-" | "RMSG" | "LS+" | "LS-" | "LMSG" | "A+" | "A-"

const NO_ARGS: ReadonlyArray<OpCode> = ["PING", "PONG", "+OK"]
const ARG_OPS: Record<PeerKind, ReadonlyArray<OpCode>> = {
  client: ["CONNECT", "PUB", "HPUB", "SUB", "UNSUB", "INFO", "-ERR"],
  route: ["CONNECT", "INFO", "-ERR", "RS+", "RS-", "RMSG", "HMSG", "LS+", "LS-", "LMSG", "A+", "A-", "PUB", "SUB", "UNSUB"],
  server: ["INFO", "MSG", "HMSG", "-ERR"]
}

const P_OPS: ReadonlyArray<OpCode> = ["PUB", "PING", "PONG"]
const H_OPS: ReadonlyArray<OpCode> = ["HPUB", "HMSG"]
const S_OPS: ReadonlyArray<OpCode> = ["SUB"]
const U_OPS: ReadonlyArray<OpCode> = ["UNSUB"]
const M_OPS: ReadonlyArray<OpCode> = ["MSG"]
const R_OPS: ReadonlyArray<OpCode> = ["RMSG", "RS+", "RS-"]
const ALL_OPS: Record<PeerKind, ReadonlyArray<OpCode>> = {
  client: [...ARG_OPS.client, ...NO_ARGS],
  route: [...ARG_OPS.route, ...NO_ARGS],
  server: [...ARG_OPS.server, ...NO_ARGS]
}

/** The op at the start of a complete line, and where its arguments begin; undefined if none. */
const opAt = (kind: PeerKind, buf: Uint8Array, s: number, e: number): [OpCode, number] | undefined => {
  // Dispatch on the first byte so that the common ops cost a couple of comparisons.
  const first = buf[s]! & 0xdf
  let candidates: ReadonlyArray<OpCode>
  switch (first) {
    case 80: // P
      candidates = P_OPS
      break
    case 72: // H
      candidates = H_OPS
      break
    case 83: // S
      candidates = S_OPS
      break
    case 85: // U
      candidates = U_OPS
      break
    case 77: // M
      candidates = M_OPS
      break
    case 82: // R
      candidates = R_OPS
      break
    default:
      candidates = ALL_OPS[kind]
  }
  for (const op of candidates) {
    if (!startsWith(buf, s, e, op)) continue
    if (NO_ARGS.includes(op)) return [op, e]
    if (!ARG_OPS[kind].includes(op)) return undefined
    const after = s + op.length
    if (op === "CONNECT" || op === "INFO") return [op, after < e && isBlank(buf[after]) ? after + 1 : after]
    if (after === e) return undefined
    if (isBlank(buf[after])) return [op, after + 1]
  }
  return undefined
}

/** Whether an unfinished line can still become a legal op (so garbage fails fast). */
const couldBeOp = (kind: PeerKind, buf: Uint8Array, s: number, e: number): boolean => {
  for (const op of ALL_OPS[kind]) {
    const n = Math.min(op.length, e - s)
    if (!startsWith(buf, s, s + n, op.slice(0, n))) continue
    if (e - s <= op.length) return true
    if (NO_ARGS.includes(op) || op === "CONNECT" || op === "INFO" || isBlank(buf[s + op.length])) return true
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// Control lines → ops or payload heads.

type LineResult = Op.Op | ProtocolError

/**
 * The op of the complete line `[s, lf)`. Where the arguments end follows nats-server: a CR
 * anywhere in them after their first byte drops the last byte before the LF, whatever it is
 * (`SUB foo 1\rx\n` subscribes sid `1`); arguments are then split on space, tab, CR and LF.
 */
const lineToOp = (state: ParserState, buf: Buffer, s: number, lf: number, split: boolean): LineResult => {
  const kind = state.kind
  const sc = state.scratch
  const found = opAt(kind, buf, s, lf)
  if (found === undefined) return PE.unknownOp(kindName(kind), buf, s)
  const [op, argsAt] = found
  const e = !split && crAfterFirst(buf, skipBlanks(buf, argsAt, lf), lf) ? lf - 1 : lf
  work.scanned += lf - s
  // nats-server measures the arguments from their first non-blank byte (the CR is not counted).
  const max = state.limits.maxControlLine
  if (e - argsAt > max && e - skipBlanks(buf, argsAt, e) > max) return PE.maxControlLine(max, e - skipBlanks(buf, argsAt, e))
  switch (op) {
    case "PING":
      return PING
    case "PONG":
      return PONG
    case "+OK":
      return OK
    case "-ERR":
      return { _tag: "Err", message: buf.toString("utf8", skipBlanks(buf, argsAt, e), e) }
    case "CONNECT":
      return { _tag: "Connect", json: buf.toString("utf8", argsAt, e) }
    case "INFO":
      return { _tag: "Info", json: buf.toString("utf8", argsAt, e) }
    case "PUB":
      return pubHead(state, buf, argsAt, e, false)
    case "HPUB":
      return pubHead(state, buf, argsAt, e, true)
    case "SUB": {
      const n = tokenize(sc, buf, argsAt, e)
      if (n === 2) return { _tag: "Sub", subject: text(sc, buf, 0), queue: undefined, sid: text(sc, buf, 1) }
      if (n === 3) return { _tag: "Sub", subject: text(sc, buf, 0), queue: text(sc, buf, 1), sid: text(sc, buf, 2) }
      return PE.badArgs("Sub", buf.toString("utf8", argsAt, e))
    }
    case "UNSUB": {
      const n = tokenize(sc, buf, argsAt, e)
      if (n === 1) return { _tag: "Unsub", sid: text(sc, buf, 0), max: undefined }
      if (n === 2) {
        // A max that is not a number is ignored (plain unsubscribe), as nats-server does.
        const max = size(sc, buf, 1)
        return { _tag: "Unsub", sid: text(sc, buf, 0), max: max > 0 ? max : undefined }
      }
      return PE.badArgs("Unsub", buf.toString("utf8", argsAt, e))
    }
    case "MSG":
    case "HMSG":
      return kind === "route" ? routeMsgHead(sc, buf, argsAt, e, true) : msgHead(sc, buf, argsAt, e, op === "HMSG")
    case "RMSG":
      return routeMsgHead(sc, buf, argsAt, e, false)
    case "RS+":
    case "RS-": {
      const n = tokenize(sc, buf, argsAt, e)
      const plus = op === "RS+"
      if (n === 2) return routeSub(plus, text(sc, buf, 0), text(sc, buf, 1), undefined, 1)
      if (plus && n === 4) {
        const weight = size(sc, buf, 3)
        if (weight < 0) return PE.badArgs("RemoteSub", buf.toString("utf8", argsAt, e))
        return routeSub(true, text(sc, buf, 0), text(sc, buf, 1), text(sc, buf, 2), weight)
      }
      if (n === 3) return routeSub(plus, text(sc, buf, 0), text(sc, buf, 1), text(sc, buf, 2), 1)
      return PE.badArgs(plus ? "RemoteSub" : "RemoteUnsub", buf.toString("utf8", argsAt, e))
    }
    case "LMSG": {
      // Leafnode-origin messages are only sent to peers that announced `lnoc`; we never do, but a
      // payload must still be skipped to stay in sync: treat it as a routed message.
      const n = tokenize(sc, buf, argsAt, e)
      if (n < 4) return PE.badArgs("LeafMsg", buf.toString("utf8", argsAt, e))
      return routeMsgHead(sc, buf, sc.tokStart[1]!, e, true)
    }
    case "LS+":
    case "LS-":
    case "A+":
    case "A-":
      return { _tag: "Ignored", op }
  }
}

const skipBlanks = (buf: Uint8Array, i: number, e: number): number => {
  while (i < e && isBlank(buf[i])) i++
  return i
}

const routeSub = (
  plus: boolean,
  account: string,
  subject: string,
  queue: string | undefined,
  weight: number
): Op.RouteSub | Op.RouteUnsub =>
  plus
    ? { _tag: "RouteSub", account, subject, queue, weight }
    : { _tag: "RouteUnsub", account, subject, queue }

/** `PUB subj [reply] size` / `HPUB subj [reply] hsize tsize`. */
const pubHead = (state: ParserState, buf: Buffer, s: number, e: number, headers: boolean): LineResult => {
  const r = pubHeadOf(state, buf, s, e, headers)
  if (headers && state.kind === "client" && r instanceof PE.ProtocolError) state.scratch.hpubRefused = true
  return r
}

const pubHeadOf = (state: ParserState, buf: Buffer, s: number, e: number, headers: boolean): LineResult => {
  const sc = state.scratch
  const n = tokenize(sc, buf, s, e, state.kind === "client")
  const min = headers ? 3 : 2
  if (n !== min && n !== min + 1) return PE.badArgs(headers ? "HeaderPub" : "Pub", buf.toString("utf8", s, e))
  const total = size(sc, buf, n - 1)
  if (total < 0) return headers ? PE.badArgs("HeaderPub", buf.toString("utf8", s, e)) : PE.badSize("Pub", buf.toString("utf8", s, e))
  let headerSize = -1
  if (headers) {
    headerSize = size(sc, buf, n - 2)
    if (headerSize < 0 || headerSize > total) return PE.badArgs("HeaderPub", buf.toString("utf8", s, e))
  }
  if (state.kind === "client" && total > state.limits.maxPayload) return PE.maxPayload(total, state.limits.maxPayload)
  sc.headSize = total
  return { _tag: "Pub", subject: text(sc, buf, 0), reply: n === min + 1 ? text(sc, buf, 1) : undefined, headerSize, payload: NO_PAYLOAD }
}

/** `MSG subj sid [reply] size` / `HMSG subj sid [reply] hsize tsize` (server → client). */
const msgHead = (sc: Scratch, buf: Buffer, s: number, e: number, headers: boolean): LineResult => {
  const n = tokenize(sc, buf, s, e)
  const min = headers ? 4 : 3
  if (n !== min && n !== min + 1) return PE.badArgs("Msg", buf.toString("utf8", s, e))
  const total = size(sc, buf, n - 1)
  const headerSize = headers ? size(sc, buf, n - 2) : -1
  if (total < 0 || (headers && (headerSize < 0 || headerSize > total))) return PE.badArgs("Msg", buf.toString("utf8", s, e))
  sc.headSize = total
  return {
    _tag: "Msg",
    subject: text(sc, buf, 0),
    sid: text(sc, buf, 1),
    reply: n === min + 1 ? text(sc, buf, 2) : undefined,
    headerSize,
    payload: NO_PAYLOAD
  }
}

/**
 * `RMSG acc subj [reply | + reply q… | | q…] size` and routed `HMSG` with two sizes. The marker
 * token `+` or `|` is only present when the message names queue groups.
 */
const routeMsgHead = (sc: Scratch, buf: Buffer, s: number, e: number, headers: boolean): LineResult => {
  const n = tokenize(sc, buf, s, e)
  const sizes = headers ? 2 : 1
  const bad = () => PE.badArgs("RoutedMsg", buf.toString("utf8", s, e))
  if (n < 2 + sizes) return bad()
  const total = size(sc, buf, n - 1)
  const headerSize = headers ? size(sc, buf, n - 2) : -1
  if (total < 0 && !headers) {
    // nats-server logs the split arguments (a Go slice): `[$G foo 1000000000]`.
    const args: Array<string> = []
    for (let k = 0; k < n; k++) args.push(buf.toString("utf8", sc.tokStart[k]!, sc.tokEnd[k]!))
    return PE.badSize("RoutedMsgArgs", `[${args.join(" ")}]`)
  }
  if (total < 0 || (headers && (headerSize < 0 || headerSize > total))) return bad()
  const middle = n - sizes - 2 // tokens between subject and sizes
  let reply: string | undefined
  let queues: Array<string> | undefined
  if (middle === 1) {
    reply = text(sc, buf, 2)
  } else if (middle > 1) {
    const marker = buf[sc.tokStart[2]!]!
    const markerLen = sc.tokEnd[2]! - sc.tokStart[2]!
    if (markerLen !== 1 || (marker !== 43 /* + */ && marker !== 124 /* | */)) return bad()
    let q = 3
    if (marker === 43) {
      reply = text(sc, buf, 3)
      q = 4
    }
    queues = []
    for (; q < n - sizes; q++) queues.push(text(sc, buf, q))
    if (queues.length === 0) return bad()
  }
  sc.headSize = total
  return { _tag: "RouteMsg", account: text(sc, buf, 0), subject: text(sc, buf, 1), reply, queues, headerSize, payload: NO_PAYLOAD }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const isHead = (r: LineResult): r is PayloadHead =>
  !(r instanceof PE.ProtocolError) && (r._tag === "Pub" || r._tag === "Msg" || r._tag === "RouteMsg")

const concat = (parts: ReadonlyArray<Uint8Array>, total: number): Buffer => {
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

// ---------------------------------------------------------------------------------------------

/**
 * Parse one chunk. Returns the next state and everything the chunk completed. After an error the
 * returned state is `failed` and further chunks produce nothing.
 */
export const step = (state: ParserState, chunk: Uint8Array, sink?: MsgSink): [ParserState, Parsed] => {
  const sc = state.scratch
  sc.sink = sink
  sc.sunk = 0
  let r: [ParserState, Batch]
  try {
    r = stepChunk(state, chunk)
  } finally {
    // Let the chunk go: an idle connection's scratch must not keep its last read alive.
    sc.sink = undefined
    sc.viewOf = undefined
    sc.view = NO_PAYLOAD
  }
  return [r[0], { ops: r[1].ops, error: r[1].error, sunk: sc.sunk }]
}

/**
 * An empty batch array that already holds objects (elements kind PACKED_ELEMENTS); `newOps`
 * copies it. A plain `[]` starts as an array of small integers and changes its hidden class on the
 * first op pushed: on a busy connection whose reads are all sunk messages, every batch array seen
 * while the hot code was optimized had the small-integer class, so the first PING or PONG of the
 * keepalive (2 s after connect) deoptimized `loop` (the push), the session's `read` and the
 * connection's `apply` (the `ops.length` load) in the middle of the traffic.
 */
const EMPTY_OPS: Array<Op.Op> = [PING]
EMPTY_OPS.length = 0
const newOps = (): Array<Op.Op> => EMPTY_OPS.slice()

const stepChunk = (state: ParserState, chunk: Uint8Array): [ParserState, Batch] => {
  const ops = newOps()
  if (state.failed) return [state, { ops, error: undefined }]
  const fail = (error: ProtocolError): [ParserState, Batch] => [
    withCarry(state, undefined, undefined, -1, false, undefined, true),
    { ops, error }
  ]

  // Almost every read starts on a line boundary: straight to the loop. The carry-over work is
  // out of line, so this per-read function stays small and V8 optimizes it early in the traffic
  // (its tier-up takes longer the larger its bytecode: 1.5 KB of it made that happen only after
  // some 10,000 reads, a TurboFan compile inside the bench's measured window).
  if (state.awaiting === undefined && state.line === undefined) return loop(state, asBuffer(chunk), 0, ops, fail)
  return carried(state, asBuffer(chunk), ops, fail)
}

/** `stepChunk` for a state that carries an unfinished payload or control line. */
const carried = (state: ParserState, chunk: Buffer, ops: Array<Op.Op>, fail: Fail): [ParserState, Batch] => {
  let buf = chunk
  let i = 0
  const end = buf.length

  // 1. Finish a payload left over from the previous chunk: append to what was received.
  if (state.awaiting !== undefined) {
    const aw = state.awaiting
    const total = aw.size + 2
    const want = total - aw.have
    if (end < want) {
      const acc = append(aw.acc, aw.have, buf, 0, end, total)
      // The byte after the payload is here and is not CR: fail now, as nats-server does.
      if (aw.have + end > aw.size && acc.buf[aw.size] !== CR) return fail(PE.unknownOp(kindName(state.kind), acc.buf.subarray(0, acc.used), aw.size))
      const awaiting = { head: aw.head, size: aw.size, acc, have: aw.have + end }
      return [withCarry(state, state.line, state.lineAcc, state.lineArgs, state.lineSplit, awaiting, state.failed), { ops, error: undefined }]
    }
    const whole = append(aw.acc, aw.have, buf, 0, want, total).buf
    if (whole[aw.size] !== CR || whole[aw.size + 1] !== LF) {
      return fail(PE.unknownOp(kindName(state.kind), whole, aw.size))
    }
    if (!sinkHead(state.kind, state.scratch, aw.head, whole, 0, aw.size)) {
      // A copy: the head belongs to the state, which must stay unchanged.
      ops.push({ ...aw.head, payload: whole.subarray(0, aw.size) })
    }
    i = want
  }

  // 2. Complete a control line left over from the previous chunk.
  if (state.line !== undefined) {
    if (state.lineArgs === -1) {
      // Only part of an op name (a few bytes) was carried: parse it with this chunk as one.
      const line = state.line
      work.copied += line.length + end - i
      return loop(state, concat([line, buf.subarray(i)], line.length + end - i), 0, ops, fail)
    }
    let lf = buf.indexOf(LF, i)
    // An LF where the arguments would start is their first byte, not the line end (nats-server).
    if (lf >= 0 && state.lineArgs >= 0 && !state.lineSplit && skipBlanks(buf, i, lf) === lf) lf = buf.indexOf(LF, lf + 1)
    work.scanned += (lf < 0 ? end : lf + 1) - i
    if (lf < 0) return carryMore(state, buf, i, ops, fail)
    const acc = moreLine(state, buf, i, lf + 1)
    const joined = acc.buf.subarray(0, acc.used)
    const rest = buf.subarray(lf + 1)
    // Parse the joined line (plus whatever payload follows) as if it were its own chunk start.
    const head = parseLine(state, joined, 0, joined.length - 1, state.lineSplit)
    if (head instanceof PE.ProtocolError) return failLine(state.scratch, head, ops, fail)
    if (!isHead(head)) {
      ops.push(head)
    } else {
      const size = state.scratch.headSize
      const r = takePayload(state, state.scratch, head, size, rest, 0, ops)
      if (r !== undefined) {
        if (r[1].error !== undefined) return fail(r[1].error)
        return r
      }
      i = size + 2
      buf = asBuffer(rest)
      return loop(state, buf, i, ops, fail)
    }
    buf = asBuffer(rest)
    i = 0
  }
  return loop(state, buf, i, ops, fail)
}

/** `lineArgs` of a carried PING/PONG/+OK: the rest of its line is ignored, not buffered. */
const IGNORE_REST = -2

/** Whether `buf[from, to)` holds a CR after its first byte (the CR that sets nats-server's `drop`). */
const crAfterFirst = (buf: Uint8Array, from: number, to: number): boolean => {
  for (let k = from + 1; k < to; k++) if (buf[k] === CR) return true
  return false
}

/**
 * Append `buf[from, to)` (which holds no line end but perhaps a final LF) to the carried line the
 * way nats-server buffers a split line: blanks before the arguments are skipped; the read in which
 * the arguments begin adds them up to its end, less one byte if it held a CR after their first
 * byte; later reads add every byte but CR.
 */
const moreLine = (state: ParserState, buf: Buffer, from: number, to: number): Grow => {
  const len = state.line!.length
  if (state.lineArgs === IGNORE_REST) return append(state.lineAcc, len, buf, Math.max(from, to - 1), to, Infinity)
  if (!state.lineSplit) {
    // Arguments begin in this read: as one line (the caller parses it with the CR rule).
    return append(state.lineAcc, len, buf, len === state.lineArgs ? skipBlanks(buf, from, to) : from, to, Infinity)
  }
  let acc = state.lineAcc
  let at = len
  let k = from
  while (k < to) {
    let e = k
    while (e < to && buf[e] !== CR) e++
    if (e > k) {
      acc = append(acc, at, buf, k, e, Infinity)
      at = acc.used
    }
    k = e + 1
  }
  return acc ?? append(undefined, 0, buf, 0, 0, Infinity)
}

/** The carried line goes on and this chunk has no line end either. */
const carryMore = (state: ParserState, buf: Buffer, from: number, ops: Array<Op.Op>, fail: Fail): [ParserState, Batch] => {
  if (state.lineArgs === IGNORE_REST) return [state, { ops, error: undefined }]
  const end = buf.length
  const line = state.line!
  let acc: Grow
  if (state.lineSplit) {
    acc = moreLine(state, buf, from, end)
  } else {
    const p = skipBlanks(buf, from, end)
    if (p === end) return [state, { ops, error: undefined }]
    // The arguments begin in this read and go on: it adds them, less one byte after a CR.
    acc = append(state.lineAcc, line.length, buf, p, end - (crAfterFirst(buf, p, end) ? 1 : 0), Infinity)
  }
  const len = acc.used
  const max = state.limits.maxControlLine
  const args = len - state.lineArgs
  if (args > max) return fail(PE.maxControlLine(max, args))
  return [withCarry(state, acc.buf.subarray(0, len), acc, state.lineArgs, true, state.awaiting, state.failed), { ops, error: undefined }]
}

type Fail = (error: ProtocolError) => [ParserState, Batch]

/** A line was refused: end the stream, telling the connection first when it was an HPUB. */
const failLine = (sc: Scratch, error: ProtocolError, ops: Array<Op.Op>, fail: Fail): [ParserState, Batch] => {
  if (sc.hpubRefused) {
    sc.hpubRefused = false
    ops.push(HPUB_REFUSED)
  }
  return fail(error)
}

// ---------------------------------------------------------------------------------------------
// The fast path for the most common line, a client's `PUB subject [reply] size`: one pass over
// the bytes, no intermediate objects. Anything unusual (too many tokens, a bad size, a limit hit)
// returns undefined and takes the general path, which produces the exact error.

/**
 * `buf[s, e)` as a subject: the last one again when it has the same bytes — the common case. Saves
 * the decode, and the subject index's cache then looks up a string whose hash is already known.
 */
const subjectText = (sc: Scratch, buf: Buffer, s: number, e: number): string => {
  const n = e - s
  const last = sc.lastSubjectBytes
  if (n === sc.lastSubjectLen) {
    let k = 0
    while (k < n && buf[s + k] === last[k]) k++
    if (k === n) return sc.lastSubject
  }
  const subject = bytes(buf, s, e)
  if (n <= SUBJECT_CACHE_BYTES) {
    const into = subjectBytes(sc)
    for (let k = 0; k < n; k++) into[k] = buf[s + k]!
    sc.lastSubjectLen = n
    sc.lastSubject = subject
  }
  return subject
}

/** The parser's own copy of the last subject's bytes, made on the first subject. */
const subjectBytes = (sc: Scratch): Uint8Array => {
  const b = sc.lastSubjectBytes
  return b.length !== 0 ? b : (sc.lastSubjectBytes = new Uint8Array(SUBJECT_CACHE_BYTES))
}

/** Where the arguments of a fast-path line end: before a final CR. */
const argsEnd = (buf: Uint8Array, s: number, lf: number): number => (lf > s && buf[lf - 1] === CR ? lf - 1 : lf)

const fastPub = (sc: Scratch, buf: Buffer, s: number, lf: number, maxControlLine: number, maxPayload: number): boolean => {
  if ((buf[s]! | 0x20) !== 112 || (buf[s + 1]! | 0x20) !== 117 || (buf[s + 2]! | 0x20) !== 98) return false
  const b3 = buf[s + 3]
  if (b3 !== SPACE && b3 !== TAB) return false
  const e = argsEnd(buf, s, lf)
  let i = skipBlanks(buf, s + 4, e)
  if (e - i > maxControlLine) return false
  // Up to three tokens, subject [reply] size, found with positions in locals rather than through
  // `tokenize` (this line is most of the traffic). A CR inside the line changes where it ends and
  // a CR or LF is a token byte to a client's PUB: the general path handles both.
  const t0 = i
  const t0e = (i = tokenEnd(buf, i, e))
  if (i < e && !isBlank(buf[i])) return false
  const t1 = (i = skipBlanks(buf, i, e))
  const t1e = (i = tokenEnd(buf, i, e))
  if (i < e && !isBlank(buf[i])) return false
  const t2 = (i = skipBlanks(buf, i, e))
  const t2e = (i = tokenEnd(buf, i, e))
  if (skipBlanks(buf, i, e) !== e || t1 === t1e) return false
  const hasReply = t2 !== t2e
  const total = hasReply ? sizeOf(buf, t2, t2e) : sizeOf(buf, t1, t1e)
  if (total < 0 || total > maxPayload) return false
  sc.headSize = total
  sc.headSubject = subjectText(sc, buf, t0, t0e)
  sc.headReply = hasReply ? bytes(buf, t1, t1e) : undefined
  return true
}

/** The route's counterpart: `RMSG account subject [reply] size` without queue groups. */
const fastRouteMsg = (sc: Scratch, buf: Buffer, s: number, lf: number, maxControlLine: number): boolean => {
  if ((buf[s]! | 0x20) !== 114 || (buf[s + 1]! | 0x20) !== 109 || (buf[s + 2]! | 0x20) !== 115 || (buf[s + 3]! | 0x20) !== 103) {
    return false
  }
  const b4 = buf[s + 4]
  if (b4 !== SPACE && b4 !== TAB) return false
  const e = argsEnd(buf, s, lf)
  if (e - (s + 5) > maxControlLine) return false
  const n = tokenize(sc, buf, s + 5, e)
  // A CR inside the line changes where it ends (an LF is rare, `RMSG \n…`): the general path.
  if (sc.tokSawCRLF) return false
  if (n !== 3 && n !== 4) return false
  const starts = sc.tokStart
  const ends = sc.tokEnd
  // A lone `+` or `|` would be a queue marker without queues: the general path reports it.
  if (n === 4 && ends[2]! - starts[2]! === 1 && (buf[starts[2]!] === 43 || buf[starts[2]!] === 124)) return false
  const total = size(sc, buf, n - 1)
  if (total < 0) return false
  sc.headSize = total
  const a = starts[0]!
  sc.headAccount = ends[0]! - a === 2 && buf[a] === 36 && buf[a + 1] === 71 ? "$G" : text(sc, buf, 0)
  sc.headSubject = subjectText(sc, buf, starts[1]!, ends[1]!)
  sc.headReply = n === 4 ? text(sc, buf, 2) : undefined
  return true
}

// The strictest and most common form of those lines — single spaces, digits, CRLF — is read in one
// pass by a scanner that needs no line end found first and compares the subject with the last one
// while it goes. Anything else (tabs, runs of blanks, a bare LF, a line not complete in the chunk, a
// limit) gives -1 and the line takes the tolerant fast path or the general one, which decide it.

/**
 * The end of a strict fast line's token at `i`: the position of the space after it, or -1 when a
 * tab, CR or LF comes first or the chunk ends.
 */
const strictTokenEnd = (buf: Buffer, i: number, end: number): number => {
  for (; i < end; i++) {
    const b = buf[i]!
    if (b === SPACE) return i
    if (b === TAB || b === CR || b === LF) return -1
  }
  return -1
}

/**
 * Scan the subject token at `i` (up to a space) of a strict fast line, comparing it with the last
 * subject on the way; sets `headSubject`. Returns the position of the space, or -1.
 */
const scanSubject = (sc: Scratch, buf: Buffer, i: number, end: number): number => {
  const t0 = i
  const last = sc.lastSubjectBytes
  const lastLen = sc.lastSubjectLen
  // The common case: the last subject again. Its bytes came from a token, so they hold no blank,
  // CR or LF: equal bytes followed by a space are this token, compared in a tight loop.
  const stop = t0 + lastLen
  if (lastLen > 0 && stop < end && buf[stop] === SPACE) {
    let k = 0
    while (k < lastLen && buf[t0 + k] === last[k]) k++
    if (k === lastLen) {
      sc.headSubject = sc.lastSubject
      return stop
    }
  }
  i = strictTokenEnd(buf, i, end)
  if (i < 0) return -1
  const n = i - t0
  if (n === 0) return -1
  const subject = bytes(buf, t0, i)
  if (n <= SUBJECT_CACHE_BYTES) {
    const into = subjectBytes(sc)
    for (let k = 0; k < n; k++) into[k] = buf[t0 + k]!
    sc.lastSubjectLen = n
    sc.lastSubject = subject
  }
  sc.headSubject = subject
  return i
}

/**
 * After the subject of a strict fast line: `[reply ]size\r\n` from `i`. Sets `headReply` and
 * `headSize`; returns the position of the LF, or -1. `quoteMarker`: a lone `+` or `|` may not be
 * the reply (a route's queue marker: the general path reports it).
 */
const scanTail = (sc: Scratch, buf: Buffer, i: number, end: number, quoteMarker: boolean): number => {
  const t1 = i
  let n = 0
  let digits = true
  let b = 0
  for (;;) {
    if (i === end) return -1
    b = buf[i]!
    if (b === SPACE || b === CR) break
    if (b === TAB || b === LF) return -1
    const d = b - 48
    if (d < 0 || d > 9) digits = false
    else n = n * 10 + d
    i++
  }
  const t1e = i
  if (t1e === t1) return -1
  if (b === SPACE) {
    if (quoteMarker && t1e - t1 === 1 && (buf[t1] === 43 || buf[t1] === 124)) return -1
    const t2 = ++i
    n = 0
    for (;;) {
      if (i === end) return -1
      b = buf[i]!
      if (b === CR) break
      const d = b - 48
      if (d < 0 || d > 9) return -1
      n = n * 10 + d
      i++
    }
    if (i === t2 || i - t2 > MAX_SIZE_DIGITS) return -1
    sc.headReply = bytes(buf, t1, t1e)
  } else {
    if (!digits || t1e - t1 > MAX_SIZE_DIGITS) return -1
    sc.headReply = undefined
  }
  // `i` is at a CR: the line must end here.
  if (i + 1 === end || buf[i + 1] !== LF) return -1
  sc.headSize = n
  return i + 1
}

/** A client's `PUB subject [reply] size\r\n`, strictly; the position of its LF, or -1. */
const scanPub = (sc: Scratch, buf: Buffer, s: number, end: number, maxControlLine: number, maxPayload: number): number => {
  if (end - s < 9 || (buf[s]! | 0x20) !== 112 || (buf[s + 1]! | 0x20) !== 117 || (buf[s + 2]! | 0x20) !== 98 || buf[s + 3] !== SPACE) {
    return -1
  }
  const sp = scanSubject(sc, buf, s + 4, end)
  if (sp < 0) return -1
  const lf = scanTail(sc, buf, sp + 1, end, false)
  // The arguments run from s + 4 to the CR at lf - 1.
  if (lf < 0 || lf - 1 - (s + 4) > maxControlLine || sc.headSize > maxPayload) return -1
  return lf
}

/** A route's `RMSG account subject [reply] size\r\n`, strictly; the position of its LF, or -1. */
const scanRouteMsg = (sc: Scratch, buf: Buffer, s: number, end: number, maxControlLine: number): number => {
  if (
    end - s < 12 || (buf[s]! | 0x20) !== 114 || (buf[s + 1]! | 0x20) !== 109 || (buf[s + 2]! | 0x20) !== 115 ||
    (buf[s + 3]! | 0x20) !== 103 || buf[s + 4] !== SPACE
  ) {
    return -1
  }
  const a = s + 5
  const i = strictTokenEnd(buf, a, end)
  if (i <= a) return -1
  sc.headAccount = i - a === 2 && buf[a] === 36 && buf[a + 1] === 71 ? "$G" : bytes(buf, a, i)
  const sp = scanSubject(sc, buf, i + 1, end)
  if (sp < 0) return -1
  const lf = scanTail(sc, buf, sp + 1, end, true)
  if (lf < 0 || lf - 1 - a > maxControlLine) return -1
  return lf
}

/** Which fast path the loop takes (see `initial`'s `fastPaths`). */
const FAST_NONE = 0
const FAST_PUB = 1
const FAST_RMSG = 2

/** The main loop over complete lines and payloads in `buf` from `i`. */
const loop = (state: ParserState, buf: Buffer, i: number, ops: Array<Op.Op>, fail: Fail): [ParserState, Batch] => {
  const end = buf.length
  // Everything the per-message work needs from the state, loaded once per chunk.
  const kind = state.kind
  const fast = !state.fastPaths ? FAST_NONE : kind === "client" ? FAST_PUB : kind === "route" ? FAST_RMSG : FAST_NONE
  const sc = state.scratch
  const maxControlLine = state.limits.maxControlLine
  const maxPayload = state.limits.maxPayload
  const sink = sc.sink
  // What the sink gets: a plain view of the chunk, made once for all its messages.
  const view = sink === undefined ? buf : plainView(sc, buf)
  while (i < end) {
    let lf = fast === FAST_NONE ? -1 : fast === FAST_PUB ? scanPub(sc, buf, i, end, maxControlLine, maxPayload) : scanRouteMsg(sc, buf, i, end, maxControlLine)
    let hit = lf >= 0
    if (!hit) {
      lf = buf.indexOf(LF, i)
      if (lf < 0) return carryLine(state, buf, i, ops, fail)
      // Rare: `SUB \n…`, `CONNECT\n…` — the LF is the first byte of the arguments, not the line end.
      const before = buf[lf - 1]
      if ((before === SPACE || before === TAB || lf - i === 7 || lf - i === 4) && lfStartsArgs(kind, buf, i, lf)) {
        lf = buf.indexOf(LF, lf + 1)
        if (lf < 0) return carryLine(state, buf, i, ops, fail)
      }
      // fastPub only for clients: its max_payload check is the client's.
      if (lf - i > 6 && fast !== FAST_NONE) {
        hit = fast === FAST_PUB ? fastPub(sc, buf, i, lf, maxControlLine, maxPayload) : fastRouteMsg(sc, buf, i, lf, maxControlLine)
      }
    }
    let head: LineResult | undefined = undefined
    if (hit) {
      const size = sc.headSize
      const from = lf + 1
      const crAt = from + size
      if (sink !== undefined && ops.length === 0 && crAt + 1 < end && buf[crAt] === CR && buf[crAt + 1] === LF) {
        // The hot path: the whole message straight to the sink, no op object, no payload view.
        sc.sunk++
        sink.msg(fast === FAST_PUB ? "" : sc.headAccount, sc.headSubject, sc.headReply, undefined, -1, view, from, crAt)
        i = crAt + 2
        continue
      }
      head = fast === FAST_PUB
        ? { _tag: "Pub", subject: sc.headSubject, reply: sc.headReply, headerSize: -1, payload: NO_PAYLOAD }
        : { _tag: "RouteMsg", account: sc.headAccount, subject: sc.headSubject, reply: sc.headReply, queues: undefined, headerSize: -1, payload: NO_PAYLOAD }
    }
    if (head === undefined) head = parseLine(state, buf, i, lf)
    if (head instanceof PE.ProtocolError) return failLine(sc, head, ops, fail)
    if (!isHead(head)) {
      ops.push(head)
      i = lf + 1
      continue
    }
    const size = sc.headSize
    const r = takePayload(state, sc, head, size, buf, lf + 1, ops)
    if (r !== undefined) {
      if (r[1].error !== undefined) return fail(r[1].error)
      return r
    }
    i = lf + 1 + size + 2
  }
  return [state.line === undefined && state.awaiting === undefined ? state : withCarry(state, undefined, undefined, -1, false, undefined, state.failed), {
    ops,
    error: undefined
  }]
}

/** Whether the LF at `lf` is where the arguments of an op with arguments starting at `s` begin. */
const lfStartsArgs = (kind: PeerKind, buf: Uint8Array, s: number, lf: number): boolean => {
  const found = opAt(kind, buf, s, lf)
  return found !== undefined && !NO_ARGS.includes(found[0]) && skipBlanks(buf, found[1], lf) === lf
}

/**
 * Parse the line `[s, lf)` (see `lineToOp` for where its arguments end); `split` for a line
 * assembled like nats-server's `argBuf`, whose end drops nothing.
 */
const parseLine = (state: ParserState, buf: Buffer, s: number, lf: number, split = false): LineResult => {
  if (lf === s) return PE.unknownOp(kindName(state.kind), buf, s)
  return lineToOp(state, buf, s, lf, split)
}

/**
 * A plain `Uint8Array` over the same bytes as `buf`: its `subarray` is about a third cheaper than
 * a Buffer's (no Buffer species to construct), and payload views are made once per message. The
 * view of the chunk being parsed is kept (in the scratch) while the loop runs over it.
 */
const plainView = (sc: Scratch, buf: Uint8Array): Uint8Array => {
  if (buf !== sc.viewOf) {
    sc.viewOf = buf
    sc.view = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  return sc.view
}

/**
 * Hand a whole message to the step's sink, if it has one and takes this kind of message (a
 * client's PUB/HPUB, a route's RMSG/HMSG); the caller has checked that no op precedes it.
 */
const sinkHead = (kind: PeerKind, sc: Scratch, head: PayloadHead, buf: Uint8Array, from: number, to: number): boolean => {
  const sink = sc.sink
  if (sink === undefined) return false
  if (head._tag === "Pub") {
    if (kind !== "client") return false
    sink.msg("", head.subject, head.reply, undefined, head.headerSize, buf, from, to)
  } else if (head._tag === "RouteMsg") {
    sink.msg(head.account, head.subject, head.reply, head.queues, head.headerSize, buf, from, to)
  } else {
    return false
  }
  sc.sunk++
  return true
}

/**
 * The payload of `head` starts at `from`. If it is whole in `buf`, emit the op and return
 * undefined; otherwise return the final result of this step with the payload awaiting more bytes.
 */
const takePayload = (
  state: ParserState,
  sc: Scratch,
  head: PayloadHead,
  size: number,
  buf: Uint8Array,
  from: number,
  ops: Array<Op.Op>
): [ParserState, Batch] | undefined => {
  const need = size + 2
  const avail = buf.length - from
  if (avail >= need) {
    const crAt = from + size
    if (buf[crAt] !== CR || buf[crAt + 1] !== LF) {
      pubLine(state, head, ops, false)
      return [withCarry(state, state.line, state.lineAcc, state.lineArgs, state.lineSplit, state.awaiting, true), { ops, error: PE.unknownOp(kindName(state.kind), buf, crAt) }]
    }
    if (ops.length === 0 && sinkHead(state.kind, sc, head, plainView(sc, buf), from, crAt)) return undefined
    ;(head as Mutable<PayloadHead>).payload = plainView(sc, buf).subarray(from, crAt)
    ops.push(head)
    return undefined
  }
  if (avail > size && buf[from + size] !== CR) {
    // The byte after the payload is here and is not CR: fail now, as nats-server does.
    pubLine(state, head, ops, false)
    return [withCarry(state, state.line, state.lineAcc, state.lineArgs, state.lineSplit, state.awaiting, true), { ops, error: PE.unknownOp(kindName(state.kind), buf, from + size) }]
  }
  pubLine(state, head, ops, true)
  const acc = avail > 0 ? append(undefined, 0, buf, from, buf.length, need) : undefined
  return [withCarry(state, undefined, undefined, -1, false, { head, size, acc, have: avail }, state.failed), { ops, error: undefined }]
}

/** A client's PUB/HPUB line whose payload is not complete here: tell the connection now. */
const pubLine = (state: ParserState, head: PayloadHead, ops: Array<Op.Op>, recheck: boolean): void => {
  if (state.kind !== "client" || head._tag !== "Pub") return
  ops.push({ _tag: "PubLine", subject: head.subject, reply: head.reply, headerSize: head.headerSize, recheck })
}

/** Keep an unfinished line for the next chunk, failing early when it cannot become valid. */
const carryLine = (state: ParserState, buf: Uint8Array, s: number, ops: Array<Op.Op>, fail: Fail): [ParserState, Batch] => {
  const e = buf.length
  // Ignore a trailing CR when judging what the line could become.
  const judgeEnd = e > s && buf[e - 1] === CR ? e - 1 : e
  if (judgeEnd > s && !couldBeOp(state.kind, buf, s, judgeEnd)) return fail(PE.unknownOp(kindName(state.kind), buf, s))
  const found = judgeEnd > s ? opAt(state.kind, buf, s, judgeEnd) : undefined
  let line: Uint8Array
  let lineArgs = -1
  let split = false
  if (found === undefined) {
    // Still inside the op name: at most 7 bytes (+ CR).
    line = Uint8Array.prototype.slice.call(buf, s, e)
  } else if (NO_ARGS.includes(found[0])) {
    // PING/PONG/+OK ignore the rest of their line; like nats-server, skip it without buffering it.
    line = Uint8Array.prototype.slice.call(buf, s, s + found[0].length)
    lineArgs = IGNORE_REST
  } else {
    // Carry the op name, its blank and — as nats-server's argBuf holds them — the arguments begun
    // in this read, less one byte when they hold a CR after their first byte. Refuse them as soon
    // as they are longer than max_control_line, so a carried line stays bounded.
    const max = state.limits.maxControlLine
    const argsFrom = skipBlanks(buf, found[1], e)
    const argsEnd = argsFrom < e && crAfterFirst(buf, argsFrom, e) ? e - 1 : e
    if (argsEnd - argsFrom > max) return fail(PE.maxControlLine(max, argsEnd - argsFrom))
    line = concat([buf.subarray(s, found[1]), buf.subarray(argsFrom, argsEnd)], found[1] - s + argsEnd - argsFrom)
    lineArgs = found[1] - s
    split = argsFrom < e
  }
  work.copied += line.length
  return [withCarry(state, line, { buf: asBuffer(line), used: line.length }, lineArgs, split, undefined, state.failed), { ops, error: undefined }]
}

/**
 * The parser lifted into a Stream: bytes in, one `Parsed` batch per input chunk out. The stream
 * ends right after the batch that carries a protocol error.
 */
export const stream = (kind: PeerKind, limits: ParserLimits) =>
<E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Parsed, E, R> =>
  bytes.pipe(
    Stream.mapAccumArray(() => initial(kind, limits), (state, chunks) => {
      const out: Array<Parsed> = []
      for (const chunk of chunks) {
        const [next, parsed] = step(state, chunk)
        state = next
        if (parsed.ops.length > 0 || parsed.error !== undefined) out.push(parsed)
        if (parsed.error !== undefined) break
      }
      return [state, out]
    }),
    Stream.takeUntil((parsed) => parsed.error !== undefined)
  )
