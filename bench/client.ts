/**
 * A minimal raw NATS connection over node:net: the handshake (INFO → CONNECT → SUB… → PING/PONG),
 * PING round trips, and a pluggable message handler. Workers use it to set up their connection and
 * then install their own hot-path handler; the main thread uses it for readiness and route probes.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as tls from "node:tls"
import { CONNECT_LINE, MsgScanner, subFrame, type ControlOp, type MsgFrame } from "./protocol.js"

export const HOST = "127.0.0.1"
const READ_BUFFER_BYTES = 256 * 1024

export interface Subscription {
  subject: string
  sid: number
  queue?: string
}

export class RawConn {
  /** Called for every complete MSG/HMSG frame; replace it to change what the connection does. */
  onMsg: (frame: MsgFrame) => void = () => {}
  /** Called after each socket chunk has been scanned (for per-chunk bookkeeping). */
  onChunk: () => void = () => {}
  /** Called once when the connection fails or closes unexpectedly. */
  onError: (err: Error) => void = () => {}

  private readonly scanner: MsgScanner
  private pongWaiters: Array<() => void> = []
  private infoWaiter: ((info: string) => void) | undefined
  private closing = false
  private failed = false

  private constructor(readonly socket: net.Socket, decodeSubjects: boolean) {
    this.feed = this.feed.bind(this)
    this.scanner = new MsgScanner(
      {
        msg: (frame) => this.onMsg(frame),
        control: (op, line) => this.control(op, line)
      },
      decodeSubjects
    )
    socket.setNoDelay(true)
    socket.on("error", (err) => this.fail(err))
    socket.on("close", () => {
      if (!this.closing) this.fail(new Error("connection closed by server"))
    })
  }

  /**
   * Connects and completes the handshake: waits for INFO, sends CONNECT and the SUBs, then a PING,
   * and resolves after the PONG (so the server has processed the subscriptions).
   */
  static async connect(
    port: number,
    options: { subs?: ReadonlyArray<Subscription>; decodeSubjects?: boolean; timeoutMs?: number; tlsCa?: string } = {}
  ): Promise<RawConn> {
    const timeoutMs = options.timeoutMs ?? 10_000
    if (options.tlsCa !== undefined) return RawConn.connectTls(port, options.tlsCa, options, timeoutMs)
    // Reads land in one reusable buffer (no per-chunk allocation, no stream machinery); a big one
    // means fewer, larger reads when a subscriber is busy.
    let conn: RawConn | undefined
    const socket = net.connect({
      host: HOST,
      port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n, buf) => {
          conn?.feed(buf.subarray(0, n))
          return true
        }
      }
    })
    conn = new RawConn(socket, options.decodeSubjects ?? false)
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          conn.onError = reject
          conn.infoWaiter = () => {
            let hello = CONNECT_LINE
            for (const s of options.subs ?? []) hello += subFrame(s.subject, s.sid, s.queue)
            socket.write(hello + "PING\r\n")
            conn.pongWaiters.push(resolve)
          }
        }),
        timeoutMs,
        `handshake with ${HOST}:${port}`
      )
    } catch (err) {
      conn.closing = true
      socket.destroy()
      throw err
    }
    conn.onError = () => {}
    return conn
  }

  /**
   * The same handshake over TLS as nats-server 2.9 wants it: read the plain-text INFO, upgrade
   * the socket (verifying the server against `ca`), then CONNECT, SUBs and PING inside TLS.
   * Decrypted chunks are fed to the same scanner.
   */
  private static async connectTls(
    port: number,
    ca: string,
    options: { subs?: ReadonlyArray<Subscription>; decodeSubjects?: boolean },
    timeoutMs: number
  ): Promise<RawConn> {
    const plain = net.connect({ host: HOST, port })
    try {
      const secure = await withTimeout(
        new Promise<tls.TLSSocket>((resolve, reject) => {
          let seen = ""
          plain.once("error", reject)
          const onData = (d: Buffer) => {
            seen += d.toString("latin1")
            if (!seen.includes("\r\n")) return
            plain.off("data", onData)
            plain.pause()
            const s = tls.connect({ socket: plain, ca: fs.readFileSync(ca), servername: "localhost" }, () => resolve(s))
            s.once("error", reject)
          }
          plain.on("data", onData)
        }),
        timeoutMs,
        `TLS handshake with ${HOST}:${port}`
      )
      const conn = new RawConn(secure, options.decodeSubjects ?? false)
      secure.on("data", (d: Buffer) => conn.feed(d))
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          conn.onError = reject
          let hello = CONNECT_LINE
          for (const s of options.subs ?? []) hello += subFrame(s.subject, s.sid, s.queue)
          secure.write(hello + "PING\r\n")
          conn.pongWaiters.push(resolve)
        }),
        timeoutMs,
        `handshake with ${HOST}:${port}`
      )
      conn.onError = () => {}
      return conn
    } catch (err) {
      plain.destroy()
      throw err
    }
  }

  /** One socket read: scan it (the buffer is reused for the next read; the scanner copies what it keeps). */
  private feed(chunk: Uint8Array): void {
    try {
      this.scanner.push(chunk)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
      this.socket.destroy()
      return
    }
    this.onChunk()
  }

  /** Sends PING and resolves on the matching PONG (PONGs come back in order). */
  ping(timeoutMs = 30_000): Promise<void> {
    const pong = new Promise<void>((resolve) => this.pongWaiters.push(resolve))
    this.socket.write("PING\r\n")
    return withTimeout(pong, timeoutMs, "PONG")
  }

  write(data: string | Uint8Array): boolean {
    return this.socket.write(data)
  }

  /** Closes the socket and resolves when it is closed. */
  close(): Promise<void> {
    this.closing = true
    if (this.socket.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve())
      this.socket.end()
      // A peer that never closes its side must not hold us up.
      setTimeout(() => this.socket.destroy(), 1000).unref()
    })
  }

  private control(op: ControlOp, line: string): void {
    switch (op) {
      case "INFO": {
        const w = this.infoWaiter
        this.infoWaiter = undefined
        w?.(line)
        break
      }
      case "PING":
        this.socket.write("PONG\r\n")
        break
      case "PONG":
        this.pongWaiters.shift()?.()
        break
      case "-ERR":
        this.fail(new Error(`server error: ${line}`))
        break
      case "+OK":
        break
    }
  }

  private fail(err: Error): void {
    if (this.failed || this.closing) return
    this.failed = true
    this.onError(err)
  }
}

/** Rejects with a descriptive error when `p` does not settle within `ms`. */
export const withTimeout = <A>(p: Promise<A>, ms: number, what: string): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms)
    p.then(
      (a) => {
        clearTimeout(t)
        resolve(a)
      },
      (e: unknown) => {
        clearTimeout(t)
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    )
  })

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
