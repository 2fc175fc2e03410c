/**
 * Reads into a reused buffer (`Session.useReadBuffer`): routes from their first read, a client
 * once it is busy. Whatever a read held must have been copied out before the next read lands in
 * the same buffer: busy publishers on B, writing at once, across the route to a subscriber on A,
 * get every payload through intact and in order, messages split across reads at every kind of
 * boundary.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { useReadBuffer } from "../../src/server/Session.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const routeUrl = (s: TestServer) => `nats://127.0.0.1:${s.cluster!.listen!.port}`
const clusterOpts = (name: string, seed?: TestServer) => ({
  serverName: name,
  cluster: { name: "rb", host: "127.0.0.1", port: -1, ...(seed ? { routes: [routeUrl(seed)] } : {}) }
})

/** Payload `i`: its index, then bytes that depend on it and on their position. */
const payload = (i: number, size: number): Buffer => {
  const b = Buffer.alloc(size)
  b.write(`${i}:`, 0, "latin1")
  for (let j = 12; j < size; j++) b[j] = 33 + ((i * 7 + j) % 90)
  return b
}

describe("reused read buffers", () => {
  let A: TestServer, B: TestServer, sub: NatsConnection
  beforeAll(async () => {
    A = await startServer(clusterOpts("A"))
    B = await startServer(clusterOpts("B", A))
    await waitUntil("route", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1, 10_000)
  })
  afterAll(async () => {
    await sub?.close()
    await B?.stop()
    await A?.stop()
  })

  it("busy publishers' messages cross the route intact and in order, their reads interleaved", async () => {
    sub = await connect({ servers: A.url })
    const got: Array<Array<Uint8Array>> = [[], []]
    const s = sub.subscribe("rb.>")
    void (async () => {
      for await (const m of s) got[m.subject.startsWith("rb.p0.") ? 0 : 1]!.push(m.data)
    })()
    await sub.flush()
    await waitUntil("interest on B", () => B.broker.router.index.match("rb.x").plain.some((i) => i.remote))

    // Sizes around the read and buffer sizes; subjects of varying length.
    const sizes = [1024, 17, 4000, 65_000, 70_000, 300, 1]
    const n = 1000
    const expected: Array<Array<Buffer>> = [[], []]
    const streams = [0, 1].map((p) => {
      const frames: Array<Buffer> = []
      for (let i = 0; i < n; i++) {
        const size = Math.max(sizes[(i + p * 3) % sizes.length]!, 12)
        const body = payload(i * 2 + p, size)
        expected[p]!.push(body)
        frames.push(Buffer.from(`PUB rb.p${p}.${"s".repeat(1 + (i % 9))}.${i} ${size}\r\n`, "latin1"), body, Buffer.from("\r\n"))
      }
      return Buffer.concat(frames)
    })
    const pubs = await Promise.all([0, 1].map(() => new Promise<net.Socket>((resolve, reject) => {
      const pub = net.connect(B.port, "127.0.0.1")
      pub.once("connect", () => resolve(pub))
      pub.once("error", reject)
    })))
    // Both write at once, in uneven sizes, large enough that B switches them to reused buffers.
    const at = [0, 0]
    for (let k = 0; at[0]! < streams[0]!.length || at[1]! < streams[1]!.length; k++) {
      for (const p of [0, 1]) {
        const pub = pubs[p]!
        if (k === 0) pub.write("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        const len = [65_536, 12_345, 100_003, 7][(k + p) % 4]!
        if (at[p]! < streams[p]!.length) pub.write(streams[p]!.subarray(at[p]!, at[p]! + len))
        at[p]! += len
      }
    }
    await waitUntil("all messages", () => got[0]!.length >= n && got[1]!.length >= n, 20_000)
    for (const pub of pubs) pub.destroy()
    for (const p of [0, 1]) {
      expect(got[p]!.length).toBe(n)
      for (let i = 0; i < n; i++) {
        if (Buffer.compare(Buffer.from(got[p]![i]!), expected[p]![i]!) !== 0) expect.fail(`publisher ${p}: message ${i} differs`)
      }
    }
  })
})

describe("useReadBuffer on this Node", () => {
  // The fast path rests on Node internals (the socket's kBuffer/kBufferCb fields and its handle's
  // useUserBuffer). Were a Node release to rename them, sessions would silently fall back to a
  // fresh buffer per read; this makes such a change visible.
  it("switches an accepted socket to one buffer, reused by every read", async () => {
    const reads: Array<{ n: number; buf: Buffer; text: string }> = []
    let dataEvents = 0
    let engaged: boolean | undefined
    const server = net.createServer((sock) => {
      engaged = useReadBuffer(sock, function(this: net.Socket, n, buf) {
        expect(this).toBe(sock)
        reads.push({ n, buf, text: buf.toString("latin1", 0, n) })
        return true
      })
      sock.on("data", () => dataEvents++)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1")
    try {
      await waitUntil("accepted", () => engaged !== undefined)
      expect(engaged).toBe(true)
      client.write("abc")
      await waitUntil("first read", () => reads.length === 1)
      client.write("defgh")
      await waitUntil("second read", () => reads.length === 2)
      expect(reads.map((r) => [r.n, r.text])).toEqual([[3, "abc"], [5, "defgh"]])
      expect(reads[1]!.buf).toBe(reads[0]!.buf)
      expect(reads[0]!.buf.length).toBe(64 * 1024)
      expect(dataEvents).toBe(0)
    } finally {
      client.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
