/**
 * The client side of the NATS text protocol, as small as the benchmark needs it: encoding of the
 * frames we send (CONNECT, SUB, PUB, batched PUB runs) and an incremental scanner for what a
 * server sends (MSG/HMSG frames and control lines).
 *
 * This is a deliberately tiny, independent implementation — not the server's parser — so that a
 * bug in the server's protocol code cannot hide behind the same bug in the benchmark.
 *
 * Payload layout of every benchmark message: `[publisher id u32 LE][sequence u32 LE][pattern…]`.
 */

/** Publisher id used by probe messages (sent before timing, never counted). */
export const PROBE_ID = 0xffffffff
/** Bytes at the start of a payload that carry the publisher id and sequence number. */
export const STAMP_BYTES = 8

const CR = 13
const LF = 10
const SPACE = 32
const TAB = 9

/** The CONNECT line every benchmark connection sends. */
export const CONNECT_LINE = `CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n`

export const subFrame = (subject: string, sid: number, queue?: string): string =>
  queue === undefined ? `SUB ${subject} ${sid}\r\n` : `SUB ${subject} ${queue} ${sid}\r\n`

/** One complete PUB frame (header + payload + CRLF). */
export const pubFrame = (subject: string, payload: Uint8Array, reply?: string): Buffer => {
  const head = reply === undefined
    ? `PUB ${subject} ${payload.length}\r\n`
    : `PUB ${subject} ${reply} ${payload.length}\r\n`
  const frame = Buffer.allocUnsafe(Buffer.byteLength(head, "latin1") + payload.length + 2)
  const at = frame.write(head, 0, "latin1")
  frame.set(payload, at)
  frame[at + payload.length] = CR
  frame[at + payload.length + 1] = LF
  return frame
}

/** A payload of `size` bytes stamped with publisher id and sequence; the rest is a fixed pattern. */
export const makePayload = (size: number, pubId: number, seq: number): Buffer => {
  if (size < STAMP_BYTES) throw new Error(`payload size must be >= ${STAMP_BYTES}, got ${size}`)
  const payload = Buffer.allocUnsafe(size)
  for (let i = STAMP_BYTES; i < size; i++) payload[i] = 97 + (i % 26)
  payload.writeUInt32LE(pubId >>> 0, 0)
  payload.writeUInt32LE(seq >>> 0, 4)
  return payload
}

/**
 * A buffer holding `frames` consecutive PUB frames for one subject. All frames have the same
 * length, so the sequence number of frame i sits at `seqOffset + i * frameLength`, and refilling
 * the batch for the next run of sequence numbers only rewrites those 4-byte fields.
 */
export class PubBatch {
  readonly buffer: Buffer
  readonly frameLength: number
  readonly frames: number
  private readonly seqOffset: number

  constructor(subject: string, size: number, pubId: number, frames: number) {
    const one = pubFrame(subject, makePayload(size, pubId, 0))
    this.frameLength = one.length
    this.frames = Math.max(1, frames)
    this.seqOffset = one.length - 2 - size + 4
    this.buffer = Buffer.allocUnsafe(this.frameLength * this.frames)
    for (let i = 0; i < this.frames; i++) one.copy(this.buffer, i * this.frameLength)
  }

  /** Stamps sequence numbers `first…first+count-1` and returns the view to write. */
  fill(first: number, count: number): Buffer {
    const n = Math.min(count, this.frames)
    const buf = this.buffer
    let off = this.seqOffset
    for (let i = 0; i < n; i++, off += this.frameLength) {
      // Plain byte stores: cheaper than writeUInt32LE's bounds checks, and this runs per message.
      const v = first + i
      buf[off] = v & 0xff
      buf[off + 1] = (v >>> 8) & 0xff
      buf[off + 2] = (v >>> 16) & 0xff
      buf[off + 3] = (v >>> 24) & 0xff
    }
    return n === this.frames ? buf : buf.subarray(0, n * this.frameLength)
  }
}

/** Frames per batch so that one batch is about `bytes` long. */
export const framesPerBatch = (subject: string, size: number, bytes: number): number => {
  const frame = Buffer.byteLength(`PUB ${subject} ${size}\r\n`, "latin1") + size + 2
  return Math.max(1, Math.floor(bytes / frame))
}

/** A message frame as seen by the scanner. The object is reused: copy what you keep. */
export interface MsgFrame {
  /** Subscription id (we only use numeric sids); NaN if the sid was not numeric. */
  sid: number
  /** Payload size (for HMSG: the total size minus the header block). */
  size: number
  /** Header block size (HMSG), 0 for MSG. */
  headerSize: number
  /** First up-to-8 payload bytes (publisher id + sequence for benchmark payloads). */
  readonly stamp: Uint8Array
  /** How many bytes of `stamp` are valid (min(size, 8)). */
  stampLength: number
  /** Subject and reply-to, only decoded when the scanner was created with `decodeSubjects`. */
  subject: string
  reply: string
}

export type ControlOp = "PING" | "PONG" | "INFO" | "+OK" | "-ERR"

export interface ScanHandler {
  /** A complete MSG/HMSG frame (including its trailing CRLF) has been read. */
  msg(frame: MsgFrame): void
  /** A control line; `line` is the whole line without CRLF. */
  control(op: ControlOp, line: string): void
}

/** Scanner states (plain numbers: cheapest to compare in the hot loop). */
const State = { Line: 0, Payload: 1, Cr: 2, Lf: 3 } as const

/** Longest control line we accept (INFO of a big cluster is a few KB). */
const MAX_LINE = 1 << 20

/**
 * Incremental scanner: feed it chunks as they arrive, in any split. Control lines are collected
 * until LF (copied to a side buffer only when a line straddles two chunks); a MSG payload is
 * skipped by length, except its first 8 bytes which are captured for verification.
 * Protocol violations throw.
 */
export class MsgScanner {
  private state: number = State.Line
  private line = Buffer.allocUnsafe(256)
  private lineLength = 0
  /** Bytes of the current payload (incl. header block) still to skip. */
  private remaining = 0
  /** Index in the current payload where the stamp starts (the HMSG header size) and bytes seen. */
  private stampStart = 0
  private payloadSeen = 0
  private readonly frame: MsgFrame = {
    sid: 0,
    size: 0,
    headerSize: 0,
    stamp: new Uint8Array(STAMP_BYTES),
    stampLength: 0,
    subject: "",
    reply: ""
  }

  constructor(private readonly handler: ScanHandler, private readonly decodeSubjects = false) {}

  push(chunk: Uint8Array): void {
    const len = chunk.length
    let pos = 0
    while (pos < len) {
      switch (this.state) {
        case State.Line: {
          if (this.lineLength === 0 && !this.decodeSubjects && chunk[pos] === 0x4d /* M */) {
            const next = this.fastMsg(chunk, pos, len)
            if (next >= 0) {
              pos = next
              break
            }
          }
          // A JS loop beats indexOf's native call for the short lines that dominate.
          let nl = pos
          while (nl < len && chunk[nl] !== LF) nl++
          if (nl === len) {
            this.appendLine(chunk, pos, len)
            return
          }
          if (this.lineLength > 0) {
            this.appendLine(chunk, pos, nl)
            this.parseLine(this.line, 0, this.lineLength)
            this.lineLength = 0
          } else {
            this.parseLine(chunk, pos, nl)
          }
          pos = nl + 1
          break
        }
        case State.Payload: {
          const f = this.frame
          if (this.payloadSeen === 0 && pos + this.remaining + 2 <= len) {
            // Fast path: the whole payload and its CRLF are in this chunk.
            const at = pos + this.stampStart
            for (let i = 0; i < f.stampLength; i++) f.stamp[i] = chunk[at + i]!
            pos += this.remaining
            if (chunk[pos] !== CR || chunk[pos + 1] !== LF) throw new Error("protocol: payload not followed by CRLF")
            pos += 2
            this.remaining = 0
            this.state = State.Line
            this.handler.msg(f)
            break
          }
          const take = Math.min(this.remaining, len - pos)
          const stampEnd = this.stampStart + STAMP_BYTES
          if (this.payloadSeen < stampEnd && this.payloadSeen + take > this.stampStart) {
            const from = Math.max(this.payloadSeen, this.stampStart)
            const to = Math.min(this.payloadSeen + take, stampEnd, this.stampStart + f.size)
            for (let i = from; i < to; i++) f.stamp[i - this.stampStart] = chunk[pos + i - this.payloadSeen]!
          }
          this.payloadSeen += take
          this.remaining -= take
          pos += take
          if (this.remaining === 0) this.state = State.Cr
          break
        }
        case State.Cr:
          if (chunk[pos] !== CR) throw new Error("protocol: payload not followed by CRLF")
          pos++
          this.state = State.Lf
          break
        case State.Lf:
          if (chunk[pos] !== LF) throw new Error("protocol: payload not followed by CRLF")
          pos++
          this.state = State.Line
          this.handler.msg(this.frame)
          break
      }
    }
  }

  /** True when the scanner is between frames (nothing partial buffered). */
  get idle(): boolean {
    return this.state === State.Line && this.lineLength === 0
  }

  /**
   * The hot path: a complete `MSG <subject> <sid> [reply] <size>` line at `pos`, found and parsed
   * in one pass without copying. Returns the index after its LF, or -1 to leave anything unusual
   * (a split line, other ops, malformed input) to the general path, which also reports errors.
   */
  private fastMsg(b: Uint8Array, pos: number, len: number): number {
    if (pos + 4 > len || b[pos + 1] !== 0x53 || b[pos + 2] !== 0x47 || b[pos + 3] !== SPACE) return -1
    let i = pos + 4
    let tokens = 0
    let sid = 0
    let num = 0
    let numOk = true
    for (;;) {
      while (i < len && (b[i] === SPACE || b[i] === TAB)) i++
      if (i >= len) return -1
      const c = b[i]!
      if (c === CR || c === LF) break
      tokens++
      num = 0
      numOk = true
      for (; i < len; i++) {
        const d = b[i]!
        if (d === SPACE || d === TAB || d === CR || d === LF) break
        const v = d - 48
        if (v < 0 || v > 9) numOk = false
        else num = num * 10 + v
      }
      if (i >= len) return -1
      if (tokens === 2) sid = numOk ? num : NaN
    }
    if (b[i] === CR) {
      if (i + 1 >= len || b[i + 1] !== LF) return -1
      i += 2
    } else {
      i += 1
    }
    if ((tokens !== 3 && tokens !== 4) || !numOk) return -1
    const f = this.frame
    f.sid = sid
    f.headerSize = 0
    f.size = num
    f.stampLength = num < STAMP_BYTES ? num : STAMP_BYTES
    this.stampStart = 0
    this.payloadSeen = 0
    this.remaining = num
    this.state = num === 0 ? State.Cr : State.Payload
    return i
  }

  private appendLine(src: Uint8Array, from: number, to: number): void {
    const need = this.lineLength + (to - from)
    if (need > MAX_LINE) throw new Error("protocol: control line too long")
    if (need > this.line.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.line.length * 2))
      this.line.copy(bigger, 0, 0, this.lineLength)
      this.line = bigger
    }
    this.line.set(src.subarray(from, to), this.lineLength)
    this.lineLength = need
  }

  /** Parses the line `buf[start, end)` where `buf[end]` was the LF. */
  private parseLine(buf: Uint8Array, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--
    const c0 = buf[start]! | 0x20
    if (c0 === 0x6d /* m */ && end - start > 4 && (buf[start + 1]! | 0x20) === 0x73 && (buf[start + 2]! | 0x20) === 0x67 && isBlank(buf[start + 3]!)) {
      this.parseMsg(buf, start + 3, end, false)
      return
    }
    if (c0 === 0x68 /* h */ && end - start > 5 && (buf[start + 1]! | 0x20) === 0x6d && (buf[start + 2]! | 0x20) === 0x73 && (buf[start + 3]! | 0x20) === 0x67 && isBlank(buf[start + 4]!)) {
      this.parseMsg(buf, start + 4, end, true)
      return
    }
    const text = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString("latin1")
    const upper = text.toUpperCase()
    if (upper.startsWith("PING")) this.handler.control("PING", text)
    else if (upper.startsWith("PONG")) this.handler.control("PONG", text)
    else if (upper.startsWith("INFO")) this.handler.control("INFO", text)
    else if (upper.startsWith("+OK")) this.handler.control("+OK", text)
    else if (upper.startsWith("-ERR")) this.handler.control("-ERR", text)
    else if (text.length > 0) throw new Error(`protocol: unexpected line ${JSON.stringify(text.slice(0, 80))}`)
  }

  /**
   * `MSG <subject> <sid> [reply] <size>` or `HMSG <subject> <sid> [reply] <hdr> <total>`;
   * `i` points just past the op name.
   */
  private parseMsg(buf: Uint8Array, i: number, end: number, headers: boolean): void {
    // Token boundaries; at most 5 tokens after the op.
    const starts = tokStarts
    const ends = tokEnds
    let n = 0
    while (i < end) {
      let c = buf[i]!
      if (c === SPACE || c === TAB) {
        i++
        continue
      }
      if (n === 5) throw new Error("protocol: too many MSG arguments")
      starts[n] = i
      while (i < end && (c = buf[i]!) !== SPACE && c !== TAB) i++
      ends[n++] = i
    }
    const want = headers ? 4 : 3
    if (n !== want && n !== want + 1) throw new Error("protocol: bad MSG arguments")
    const f = this.frame
    f.sid = parseUint(buf, starts[1]!, ends[1]!)
    const hasReply = n === want + 1
    let total: number
    if (headers) {
      f.headerSize = parseUint(buf, starts[n - 2]!, ends[n - 2]!)
      total = parseUint(buf, starts[n - 1]!, ends[n - 1]!)
      if (!(f.headerSize <= total)) throw new Error("protocol: bad HMSG sizes")
    } else {
      f.headerSize = 0
      total = parseUint(buf, starts[n - 1]!, ends[n - 1]!)
    }
    if (Number.isNaN(total)) throw new Error("protocol: bad MSG size")
    f.size = total - f.headerSize
    f.stampLength = Math.min(f.size, STAMP_BYTES)
    if (this.decodeSubjects) {
      f.subject = latin1(buf, starts[0]!, ends[0]!)
      f.reply = hasReply ? latin1(buf, starts[2]!, ends[2]!) : ""
    }
    this.stampStart = f.headerSize
    this.payloadSeen = 0
    this.remaining = total
    this.state = total === 0 ? State.Cr : State.Payload
  }
}

const isBlank = (c: number): boolean => c === SPACE || c === TAB

const tokStarts: number[] = [0, 0, 0, 0, 0]
const tokEnds: number[] = [0, 0, 0, 0, 0]

const parseUint = (buf: Uint8Array, from: number, to: number): number => {
  if (from >= to) return NaN
  let v = 0
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48
    if (d < 0 || d > 9) return NaN
    v = v * 10 + d
  }
  return v
}

const latin1 = (buf: Uint8Array, from: number, to: number): string =>
  Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString("latin1")

/** Reads the (publisher id, sequence) stamp of a frame; returns false if the payload is too short. */
export const readStamp = (frame: MsgFrame, out: { id: number; seq: number }): boolean => {
  if (frame.stampLength < STAMP_BYTES) return false
  const s = frame.stamp
  out.id = (s[0]! | (s[1]! << 8) | (s[2]! << 16) | (s[3]! << 24)) >>> 0
  out.seq = (s[4]! | (s[5]! << 8) | (s[6]! << 16) | (s[7]! << 24)) >>> 0
  return true
}
