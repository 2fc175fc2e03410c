/**
 * A raw protocol client for tests that pin exact bytes: it reads the INFO line, sends what it is
 * told and waits on events (bytes arriving, the socket closing) — never on fixed sleeps.
 */
import * as net from "node:net"

export class RawClient {
  private buf = Buffer.alloc(0)
  private waiters = new Set<() => void>()
  closed = false
  infoLine = ""
  info: Record<string, unknown> = {}

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d])
      this.wake()
    })
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
    socket.on("error", () => {})
  }

  private wake() {
    for (const w of [...this.waiters]) w()
  }

  /** Connect and consume the server's INFO line. */
  static async connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    const socket = net.connect({ port, host })
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve)
      socket.once("error", reject)
    })
    const c = new RawClient(socket)
    c.infoLine = await c.readLine()
    c.info = JSON.parse(c.infoLine.slice(5, -3)) as Record<string, unknown>
    return c
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data)
  }

  /** Wait until `pred` holds for the buffered bytes (or the socket closed), at most `ms`. */
  private until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred()) {
          this.waiters.delete(check)
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.buf.toString("latin1"))} closed=${this.closed}`))
      }, ms)
      this.waiters.add(check)
      check()
    })
  }

  /** Read one CRLF-terminated line (including the CRLF). */
  async readLine(ms?: number): Promise<string> {
    await this.until(() => this.buf.indexOf("\r\n") >= 0, "a line", ms)
    const at = this.buf.indexOf("\r\n") + 2
    const line = this.buf.subarray(0, at).toString("latin1")
    this.buf = this.buf.subarray(at)
    return line
  }

  /** Expect exactly `expected` next (waits until that many bytes arrived), and consume it. */
  async expect(expected: string, ms?: number): Promise<void> {
    const want = Buffer.from(expected, "latin1")
    await this.until(() => this.buf.length >= want.length || this.closed, JSON.stringify(expected), ms)
    const got = this.buf.subarray(0, want.length).toString("latin1")
    if (got !== expected) throw new Error(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(this.buf.toString("latin1"))}`)
    this.buf = this.buf.subarray(want.length)
  }

  /** Skip server PINGs (answering them) until the next other line. */
  async nextNonPing(ms?: number): Promise<string> {
    for (;;) {
      const line = await this.readLine(ms)
      if (line === "PING\r\n") this.send("PONG\r\n")
      else return line
    }
  }

  /** Wait until the server closed the connection; returns what arrived before the close. */
  async waitClosed(ms?: number): Promise<string> {
    await this.until(() => this.closed, "close", ms)
    return this.buf.toString("latin1")
  }

  /** Like `expect`, answering and skipping server PINGs (keepalive) that come first. */
  async expectPastPings(expected: string, ms?: number): Promise<void> {
    for (;;) {
      await this.until(() => this.buf.length >= 6 || this.closed, JSON.stringify(expected), ms)
      if (!expected.startsWith("PING\r\n") && this.buf.subarray(0, 6).toString("latin1") === "PING\r\n") {
        this.buf = this.buf.subarray(6)
        this.send("PONG\r\n")
        continue
      }
      return this.expect(expected, ms)
    }
  }

  /** Prove the connection is still open and in sync: PING must be answered with PONG. */
  async expectOpen(ms?: number): Promise<void> {
    this.send("PING\r\n")
    await this.expectPastPings("PONG\r\n", ms)
  }

  pending(): string {
    return this.buf.toString("latin1")
  }

  close(): void {
    this.socket.destroy()
  }
}
