/**
 * One fuzz exchange over TCP: connect, read the INFO, write the case's chunks (one write each,
 * with an event-loop turn between them so they tend to arrive as separate reads), then collect
 * everything the server sends until it closes or stays quiet for `idleMs` (and at most `maxMs`).
 *
 * Servers answer in order and the case ends with a PING, so once the output ends with a PONG a
 * short quiet (`pongIdleMs`) means done; otherwise (a payload left pending, a close on its way) the
 * case ends after `idleMs` of quiet.
 *
 * `reset` records a connection reset: a server that closes while our later chunks are still
 * arriving makes its kernel answer with RST, which can discard the last bytes it sent.
 */
import * as net from "node:net"

export interface Exchange {
  /** The INFO line (without its CRLF). */
  readonly info: string
  /** Everything after the INFO line. */
  readonly out: Buffer
  /** The server closed the connection within the window. */
  readonly closed: boolean
  /** The connection was reset (ECONNRESET/EPIPE) rather than closed cleanly. */
  readonly reset: boolean
}

export interface ExchangeOptions {
  readonly idleMs: number
  readonly pongIdleMs?: number
  readonly maxMs: number
  readonly connectMs?: number
}

export const exchange = (port: number, chunks: ReadonlyArray<Uint8Array>, options: ExchangeOptions): Promise<Exchange> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    socket.setNoDelay(true)
    let buf: Buffer = Buffer.alloc(0)
    let info: string | undefined
    let closed = false
    let reset = false
    let done = false
    let idle: NodeJS.Timeout | undefined
    let started = 0
    const connectTimer = setTimeout(() => finish(new Error("no INFO from server")), options.connectMs ?? 10_000)
    let maxTimer: NodeJS.Timeout | undefined

    const finish = (error?: Error) => {
      if (done) return
      done = true
      clearTimeout(connectTimer)
      if (idle !== undefined) clearTimeout(idle)
      if (maxTimer !== undefined) clearTimeout(maxTimer)
      socket.destroy()
      if (error !== undefined) reject(error)
      else resolve({ info: info ?? "", out: buf, closed, reset })
    }
    const armIdle = () => {
      if (idle !== undefined) clearTimeout(idle)
      const pong = buf.length >= 6 && buf.subarray(buf.length - 6).toString("latin1") === "PONG\r\n"
      idle = setTimeout(() => finish(), pong ? options.pongIdleMs ?? options.idleMs : options.idleMs)
    }
    const send = async () => {
      started = Date.now()
      maxTimer = setTimeout(() => finish(), options.maxMs)
      for (const c of chunks) {
        if (closed || done) break
        socket.write(c)
        await new Promise((r) => setImmediate(r))
      }
      if (!done && !closed) armIdle()
    }

    socket.on("data", (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d])
      if (info === undefined) {
        const at = buf.indexOf("\r\n")
        if (at < 0) return
        info = buf.subarray(0, at).toString("latin1")
        buf = buf.subarray(at + 2)
        clearTimeout(connectTimer)
        void send()
        return
      }
      if (started > 0) armIdle()
    })
    socket.on("close", () => {
      closed = true
      if (info === undefined) finish(new Error("closed before INFO"))
      else finish()
    })
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNRESET" || e.code === "EPIPE") reset = true
    })
  })
