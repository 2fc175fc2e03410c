/**
 * A connection's outbound bytes: messages are appended synchronously on the hot path and handed to
 * the socket once per batch.
 *
 * It is a bump allocator over large chunks. `take()` returns a view of what was appended since the
 * last take and later appends go *after* it, so a view handed to the socket is never overwritten
 * while Node may still hold it — no copy and no per-flush allocation. When the current chunk is
 * full, its untaken part is queued as it is and a new chunk starts: bytes are never moved, even
 * when a slow socket lets megabytes pile up.
 *
 * Memory follows use: a connection starts without a chunk, its first chunks are small (2 KiB,
 * doubling up to 64 KiB as they fill), a used-up chunk is let go of once taken and `clear` lets go
 * of everything — idle and closed connections hold no 64 KiB buffers. Once the socket has written
 * everything, `rewind` lets a busy connection reuse its chunk from the start, hands the full-size
 * chunks it moved past to a small pool that every buffer takes from (so a write of many chunks
 * does not allocate them anew each time), and lets an idle one drop its small first chunk.
 *
 * @since 0.1.0
 */

const CHUNK = 64 * 1024
const FIRST_CHUNK = 2 * 1024
const NONE = Buffer.alloc(0)
/** Rewinds in a row after which a connection keeps its small first chunk (see `rewind`). */
const BUSY_REWINDS = 8
/** Longest gap (ms) between two rewinds that still counts as "in a row". */
const BUSY_GAP_MS = 1000

/**
 * Full-size chunks that no buffer uses any more and that no socket holds, shared by every
 * `OutBuffer` (at most POOL_MAX: 4 MiB). A busy connection's output passes through several chunks
 * per write (everything a turn of the event loop delivered); taking them from here instead of
 * allocating each anew spares the allocation and the garbage collections that external memory
 * brings on. Chunks come back only through `rewind`, whose caller vouches that the socket holds
 * none of them.
 */
const pool: Array<Buffer> = []
const POOL_MAX = 64

interface FastWrites {
  utf8Write(s: string, offset: number): number
  latin1Write(s: string, offset: number): number
}

/**
 * A byte string (subject, sid, queue, account) at `p`, one byte per char; returns the end. Short
 * ones are copied with a plain loop — cheaper than a call into the native encoder; longer ones
 * take `latin1Write`.
 */
const str = (b: Buffer, p: number, s: string): number => {
  const n = s.length
  if (n > 64) return p + (b as unknown as FastWrites).latin1Write(s, p)
  for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i)
  return p + n
}

/** The decimal digits of `n` (≥ 0) at `p`; returns the end. */
const num = (b: Buffer, p: number, n: number): number => {
  if (n < 10) {
    b[p] = 48 + n
    return p + 1
  }
  if (n < 100) {
    b[p] = 48 + ((n / 10) | 0)
    b[p + 1] = 48 + (n % 10)
    return p + 2
  }
  let digits = 3
  for (let m = 1000; m <= n; m *= 10) digits++
  let at = p + digits
  for (let m = n; m > 0; m = Math.floor(m / 10)) b[--at] = 48 + (m % 10)
  return p + digits
}

/**
 * `src[start, start + n)` into `b` at `p`. On Node 20 a part of a buffer is copied through a view
 * of it (`Buffer#copy` makes one too); the whole of `src` needs none. The view is `subarray`: on
 * the plain `Uint8Array` the parser hands over (`Parser.plainView`) it costs less than
 * `new Uint8Array(buffer, offset, n)` (1 KiB copies: ~240 vs ~300 ns in a loop on Node 20).
 */
const copyRange = (b: Buffer, p: number, src: Uint8Array, start: number, n: number): void => {
  b.set(start === 0 && n === src.length ? src : src.subarray(start, start + n), p)
}

/**
 * `[<hdr> ]<total>\r\n<payload>\r\n` at `p`, the tail of every message frame, the payload being
 * `src[start, end)`; returns the end.
 */
const sizesAndPayload = (b: Buffer, p: number, headerSize: number, src: Uint8Array, start: number, end: number): number => {
  if (headerSize >= 0) {
    p = num(b, p, headerSize)
    b[p++] = 32
  }
  const n = end - start
  p = num(b, p, n)
  b[p] = 13
  b[p + 1] = 10
  p += 2
  // A short payload is copied with a loop: a copy is a call into the runtime.
  if (n <= 32) for (let i = 0; i < n; i++) b[p + i] = src[start + i]!
  else copyRange(b, p, src, start, n)
  p += n
  b[p] = 13
  b[p + 1] = 10
  return p + 2
}

/*
 * Subjects, sids, queue names and accounts are byte strings (one char per byte, see `ByteString`):
 * they are written back as those bytes. Only `appendString` encodes text as UTF-8.
 */

export class OutBuffer {
  private buf: Buffer = NONE
  /** Size of the next chunk: doubles each time one fills, up to CHUNK. */
  private nextChunk = FIRST_CHUNK
  private start = 0
  private pos = 0
  /** Filled chunks' untaken views, oldest first (from `head`). */
  private full: Array<Uint8Array> = []
  private head = 0
  private fullBytes = 0
  /** The chunk `take` let go of when it was nearly used up, until `rewind` may reuse it. */
  private retired: Buffer | undefined = undefined
  /** Rewinds of a small chunk in a row, each within `BUSY_GAP_MS` of the one before. */
  private busyRewinds = 0
  /** When the last small chunk was rewound (ms, `Date.now`). */
  private lastRewind = 0
  /**
   * Full-size chunks this buffer moved past: back to the pool at `rewind` (made on first use;
   * only kept by a buffer whose owner rewinds it, at most POOL_MAX).
   */
  private left: Array<Buffer> | undefined = undefined
  private rewinds = false

  /** Bytes appended and not yet taken. */
  get size(): number {
    return this.fullBytes + this.pos - this.start
  }

  /** Make room for `n` more bytes: when the chunk is full, queue its untaken part and start anew. */
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    if (this.pos > this.start) {
      this.full.push(this.buf.subarray(this.start, this.pos))
      this.fullBytes += this.pos - this.start
    }
    const old = this.buf
    if (old.length === CHUNK) this.leave(old)
    else if (old !== NONE && this.nextChunk < CHUNK) this.nextChunk *= 2
    this.buf = this.nextChunk === CHUNK && n <= CHUNK && pool.length > 0 ? pool.pop()! : Buffer.allocUnsafe(Math.max(this.nextChunk, n))
    this.start = 0
    this.pos = 0
  }

  /** A full-size chunk this buffer is done with (its views may still be in the socket). */
  private leave(chunk: Buffer): void {
    if (!this.rewinds) return
    const left = (this.left ??= [])
    if (left.length < POOL_MAX) left.push(chunk)
  }

  appendBytes(bytes: Uint8Array): void {
    this.reserve(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }

  /** Append a string as UTF-8. */
  appendString(s: string): void {
    this.reserve(s.length * 3)
    this.pos += (this.buf as unknown as FastWrites).utf8Write(s, this.pos)
  }

  /**
   * `MSG <subject> <sid> [reply] <size>` or, when `headerSize` ≥ 0,
   * `HMSG <subject> <sid> [reply] <hdr> <total>`, then the payload `src[start, end)` (the whole
   * of `src` by default): a range of a read buffer is copied without a view of it. A number `sid`
   * is written in decimal (a subscription keeps an integer sid as a number, see `LocalSubscription`).
   */
  appendMsg(subject: string, sid: string | number, reply: string | undefined, headerSize: number, src: Uint8Array, start = 0, end = src.length): void {
    const need = 58 + subject.length + (typeof sid === "number" ? 0 : sid.length) + (reply === undefined ? 0 : reply.length) + (end - start)
    if (this.pos + need > this.buf.length) this.reserve(need)
    const b = this.buf
    let p = this.pos
    if (headerSize >= 0) b[p++] = 72 // H
    b[p] = 77 // M
    b[p + 1] = 83 // S
    b[p + 2] = 71 // G
    b[p + 3] = 32
    p = str(b, p + 4, subject)
    b[p++] = 32
    p = typeof sid === "number" ? num(b, p, sid) : str(b, p, sid)
    b[p++] = 32
    if (reply !== undefined) {
      p = str(b, p, reply)
      b[p++] = 32
    }
    this.pos = sizesAndPayload(b, p, headerSize, src, start, end)
  }

  /**
   * `RMSG <account> <subject> [reply | + reply q… | | q…] <size>`, or the routed `HMSG` form with
   * header and total sizes; the payload is `src[start, end)` as for `appendMsg`.
   */
  appendRouteMsg(
    account: string,
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    src: Uint8Array,
    start = 0,
    end = src.length
  ): void {
    let qlen = 0
    if (queues !== undefined) for (let i = 0; i < queues.length; i++) qlen += queues[i]!.length + 1
    const need = 56 + account.length + subject.length + (reply === undefined ? 0 : reply.length) + qlen + (end - start)
    if (this.pos + need > this.buf.length) this.reserve(need)
    const b = this.buf
    let p = this.pos
    b[p] = headerSize >= 0 ? 72 /* H */ : 82 /* R */
    b[p + 1] = 77 // M
    b[p + 2] = 83 // S
    b[p + 3] = 71 // G
    b[p + 4] = 32
    p = str(b, p + 5, account)
    b[p++] = 32
    p = str(b, p, subject)
    b[p++] = 32
    if (queues !== undefined && queues.length > 0) {
      if (reply !== undefined) {
        b[p++] = 43 // +
        b[p++] = 32
        p = str(b, p, reply)
      } else {
        b[p++] = 124 // |
      }
      b[p++] = 32
      for (let i = 0; i < queues.length; i++) {
        p = str(b, p, queues[i]!)
        b[p++] = 32
      }
    } else if (reply !== undefined) {
      p = str(b, p, reply)
      b[p++] = 32
    }
    this.pos = sizesAndPayload(b, p, headerSize, src, start, end)
  }

  /** The oldest untaken bytes (a queued chunk, else the current one), or undefined when empty. */
  take(): Uint8Array | undefined {
    if (this.head < this.full.length) {
      const view = this.full[this.head++]!
      this.fullBytes -= view.length
      if (this.head === this.full.length) {
        this.full = []
        this.head = 0
      }
      return view
    }
    if (this.pos === this.start) return undefined
    const view = this.buf.subarray(this.start, this.pos)
    this.start = this.pos
    // Once the chunk is nearly used up, drop it (the next append starts another) so that small
    // takes do not fragment it.
    if (this.buf.length - this.pos < 512) {
      if (this.nextChunk < CHUNK) this.nextChunk *= 2
      if (this.retired !== undefined && this.retired.length === CHUNK) this.leave(this.retired)
      this.retired = this.buf
      this.buf = NONE
      this.start = 0
      this.pos = 0
    }
    return view
  }

  /**
   * Everything taken so far has been consumed (the socket wrote it synchronously and holds no view
   * of it): when nothing is untaken, the next append starts again at the beginning of the current
   * chunk — or of the one `take` retired — instead of after it. A busy connection then writes
   * from one chunk that stays in cache, with no allocation (and no page faults of fresh memory)
   * per 64 KiB.
   */
  rewind(): void {
    if (this.fullBytes > 0 || this.pos !== this.start) return
    this.rewinds = true
    const left = this.left
    if (left !== undefined) {
      for (let i = 0; i < left.length && pool.length < POOL_MAX; i++) pool.push(left[i]!)
      this.left = undefined
    }
    const retired = this.retired
    if (retired !== undefined && this.buf !== NONE && retired.length === CHUNK && pool.length < POOL_MAX) pool.push(retired)
    if (this.buf === NONE && this.retired !== undefined) this.buf = this.retired
    this.retired = undefined
    // A connection that never needed more than its first chunk (an idle one: INFO, PONGs) keeps
    // none: it would pin a slab of Node's buffer pool per few connections. One that keeps writing
    // small batches (a requester, a responder, a route carrying requests: a write per message)
    // keeps it once it has been rewound `BUSY_REWINDS` times in a row, each within `BUSY_GAP_MS`:
    // otherwise every message would allocate a fresh chunk (and every fourth a new pool slab).
    if (this.buf.length <= FIRST_CHUNK && this.buf !== NONE) {
      const now = Date.now()
      this.busyRewinds = now - this.lastRewind <= BUSY_GAP_MS ? this.busyRewinds + 1 : 0
      this.lastRewind = now
      if (this.busyRewinds < BUSY_REWINDS) this.buf = NONE
    }
    this.start = 0
    this.pos = 0
  }

  /** Drop everything not yet taken (used when a connection is closed). */
  clear(): void {
    // The socket may still hold any of them: they are not pooled.
    this.left = undefined
    this.retired = undefined
    this.full = []
    this.head = 0
    this.fullBytes = 0
    this.buf = NONE
    this.start = 0
    this.pos = 0
  }
}
