/**
 * A subscriber that stops reading is closed once its pending output passes max_pending, without
 * an -ERR, and the server's memory for it stays bounded; other clients are unaffected. Its
 * publisher is stalled while it is backed up, and a subscriber whose socket takes nothing for
 * write_deadline is cut, as nats-server 2.9 does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ClosedClient } from "../../src/server/ClosedClient.js"
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
    // What is remembered for /connz?state=closed is a small record, not the connection and its buffer.
    const closed = server.broker.closed.at(-1)!
    expect(closed).toBeInstanceOf(ClosedClient)
    expect(closed.closeReason).toBe("Slow Consumer (Pending Bytes)")
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

describe("fast-producer stall and write deadline (nats-server 2.9)", () => {
  let server: TestServer
  const maxPending = 4 * 1024 * 1024
  beforeAll(async () => {
    server = await startServer({ maxPayload: 1024 * 1024, maxPending, writeDeadline: 1500 })
  })
  afterAll(() => server?.stop())

  it("stalls the publisher while its subscriber is backed up, cuts the subscriber at write_deadline, and max_pending stays a hard bound", async () => {
    const slow = await RawClient.connect(server.port)
    slow.send('CONNECT {"verbose":false}\r\nSUB flood 1\r\nPING\r\n')
    await slow.expect("PONG\r\n")
    slow.socket.pause()
    const conn = [...server.broker.clients.values()].at(-1) as unknown as { pending: number; stalls: number; cid: number }

    const pub = await RawClient.connect(server.port)
    pub.send('CONNECT {"verbose":false}\r\n')
    const batch = `PUB flood 1000\r\n${"x".repeat(1000)}\r\n`.repeat(64)
    let peak = 0
    const deadline = Date.now() + 25_000
    while (server.broker.router.stats.slowConsumers === 0 && Date.now() < deadline) {
      // Write while the socket takes it; when the server stops reading us (stalled), wait for drain.
      if (!pub.socket.write(batch)) await new Promise<void>((r) => pub.socket.once("drain", () => r()))
      peak = Math.max(peak, conn.pending)
      await new Promise((r) => setImmediate(r))
    }
    expect(server.broker.router.stats.slowConsumers).toBe(1)
    const closed = server.broker.closed.find((c) => c.cid === conn.cid)
    expect(closed?.closeReason).toBe("Slow Consumer (Write Deadline)")
    expect(server.lines().some((l) => l.includes("Slow Consumer Detected: WriteDeadline of 1.5s exceeded"))).toBe(true)
    // The publisher was held back rather than allowed to fill max_pending.
    expect(conn.stalls).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(maxPending)
    // The publisher goes on once the consumer is gone.
    await pub.expectOpen(10_000)
    slow.close()
  }, 40_000)
})
