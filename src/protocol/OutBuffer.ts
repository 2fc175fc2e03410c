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
   * A byte string (subject, sid, queue, account), one byte per char. Short ones are copied with a
   * plain loop — cheaper than a call into the native encoder; longer ones take `latin1Write`.
   */
  private str(s: string): void {
    const n = s.length
    if (n <= 64) {
      const b = this.buf
      const at = this.pos
      for (let i = 0; i < n; i++) b[at + i] = s.charCodeAt(i)
      this.pos = at + n
      return
    }
    this.pos += (this.buf as unknown as FastWrites).latin1Write(s, this.pos)
  }

  private num(n: number): void {
    const b = this.buf
    if (n < 10) {
      b[this.pos++] = 48 + n
      return
    }
    let digits = 0
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++
    let at = this.pos + digits
    this.pos = at
    for (let m = n; m > 0; m = Math.floor(m / 10)) b[--at] = 48 + (m % 10)
  }

  /** `[<hdr> ]<total>\r\n<payload>\r\n`, the tail of every message frame. */
  private sizesAndPayload(headerSize: number, payload: Uint8Array): void {
    if (headerSize >= 0) {
      this.num(headerSize)
      this.buf[this.pos++] = 32
    }
    this.num(payload.length)
    this.payloadAndCrlf(payload)
  }

  private payloadAndCrlf(payload: Uint8Array): void {
    const b = this.buf
    b[this.pos++] = 13
    b[this.pos++] = 10
    if (payload.length > 0) {
      b.set(payload, this.pos)
      this.pos += payload.length
    }
    b[this.pos++] = 13
    b[this.pos++] = 10
  }

  /**
   * `MSG <subject> <sid> [reply] <size>` or, when `headerSize` ≥ 0,
   * `HMSG <subject> <sid> [reply] <hdr> <total>`, then the payload.
   */
  appendMsg(subject: string, sid: string, reply: string | undefined, headerSize: number, payload: Uint8Array): void {
    this.reserve(48 + subject.length + sid.length + (reply === undefined ? 0 : reply.length) + payload.length)
    const b = this.buf
    if (headerSize >= 0) b[this.pos++] = 72 // H
    b[this.pos++] = 77 // M
    b[this.pos++] = 83 // S
    b[this.pos++] = 71 // G
    b[this.pos++] = 32
    this.str(subject)
    b[this.pos++] = 32
    this.str(sid)
    b[this.pos++] = 32
    if (reply !== undefined) {
      this.str(reply)
      b[this.pos++] = 32
    }
    this.sizesAndPayload(headerSize, payload)
  }

  /**
   * `RMSG <account> <subject> [reply | + reply q… | | q…] <size>`, or the routed `HMSG` form with
   * header and total sizes.
   */
  appendRouteMsg(
    account: string,
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    payload: Uint8Array
  ): void {
    let qlen = 0
    if (queues !== undefined) for (const q of queues) qlen += q.length + 1
    this.reserve(56 + account.length + subject.length + (reply === undefined ? 0 : reply.length) + qlen + payload.length)
    const b = this.buf
    if (headerSize >= 0) {
      b[this.pos++] = 72 // H
    } else {
      b[this.pos++] = 82 // R
    }
    b[this.pos++] = 77 // M
    b[this.pos++] = 83 // S
    b[this.pos++] = 71 // G
    b[this.pos++] = 32
    this.str(account)
    b[this.pos++] = 32
    this.str(subject)
    b[this.pos++] = 32
    if (queues !== undefined && queues.length > 0) {
      if (reply !== undefined) {
        b[this.pos++] = 43 // +
        b[this.pos++] = 32
        this.str(reply)
      } else {
        b[this.pos++] = 124 // |
      }
      b[this.pos++] = 32
      for (const q of queues) {
        this.str(q)
        b[this.pos++] = 32
      }
    } else if (reply !== undefined) {
      this.str(reply)
      b[this.pos++] = 32
    }
    this.sizesAndPayload(headerSize, payload)
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
    // none: it would pin a slab of Node's buffer pool per few connections.
    if (this.buf.length <= FIRST_CHUNK) this.buf = NONE
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
