/**
 * A subscriber that stops reading is closed once its pending output passes max_pending, without
 * an -ERR, and the server's memory for it stays bounded; other clients are unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

describe("slow consumer", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({ maxPayload: 1024, maxPending: 1024 * 1024 })
  })
  afterAll(() => server?.stop())

  it("closes a subscriber whose pending bytes exceed max_pending and keeps serving the others", async () => {
    const slow = await RawClient.connect(server.port)
    slow.send('CONNECT {"verbose":false}\r\nSUB flood 1\r\nPING\r\n')
    await slow.expect("PONG\r\n")
    // Stop reading: the kernel buffers fill, then the server's buffer for this client grows.
    slow.socket.pause()

    // Another subscriber, on another subject, must be unaffected.
    const other = await RawClient.connect(server.port)
    other.send('CONNECT {"verbose":false}\r\nSUB other 9\r\nPING\r\n')
    await other.expect("PONG\r\n")

    const pub = await RawClient.connect(server.port)
    pub.send('CONNECT {"verbose":false}\r\n')
    const frame = `PUB flood 1000\r\n${"x".repeat(1000)}\r\n`
    const batch = frame.repeat(50) // 50 KB per write: one read never exceeds max_pending
    let sent = 0
    while (server.broker.router.stats.slowConsumers === 0 && sent < 2000) {
      pub.send(batch)
      sent++
      await new Promise<void>((r) => pub.socket.write("", () => r()))
      await new Promise((r) => setImmediate(r))
    }
    await waitUntil("slow consumer detected", () => server.broker.router.stats.slowConsumers >= 1)
    expect(server.broker.router.stats.slowConsumers).toBe(1)
    expect(server.lines().some((l) => l.includes("Slow Consumer Detected: MaxPending of 1048576 Exceeded"))).toBe(true)
    // The slow client is gone from the registry; its buffer was dropped, not kept growing.
    await waitUntil("slow client unregistered", () => server.broker.clients.size === 2)
    expect(server.broker.router.index.match("flood").plain).toHaveLength(0)
    const closed = server.broker.closed.at(-1) as unknown as { closeReason: string; out: { size: number } }
    expect(closed.closeReason).toBe("Slow Consumer (Pending Bytes)")
    expect(closed.out.size).toBe(0)
    // Once it reads again it sees the buffered messages and then the close, but never an -ERR.
    slow.socket.resume()
    const rest = await slow.waitClosed(10_000)
    expect(rest).not.toContain("-ERR")
    // The fast subscriber and the publisher are still fine.
    await pub.expectOpen()
    pub.send("PUB other 2\r\nok\r\n")
    await other.expectPastPings("MSG other 9 2\r\nok\r\n")
  }, 30_000)
})
