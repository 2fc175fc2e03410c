/**
 * Memory returns after connection churn: 20,000 clients connect, subscribe, PING and close against
 * the embedded server; after GC its heap (and its buffers) are back within 20 MiB of where they
 * started. What stays is the ring of the last 10,000 closed-connection records, which are small.
 */
import * as net from "node:net"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"
import { systemImports } from "../../src/server/SystemImports.js"

// The test process needs a GC it can call: expose it if vitest did not start us with --expose-gc.
v8.setFlagsFromString("--expose-gc")
const gc = ((globalThis as { gc?: () => void }).gc ?? vm.runInNewContext("gc")) as () => void

const settle = async () => {
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  const m = process.memoryUsage()
  return { heap: m.heapUsed, buffers: m.arrayBuffers }
}

/** One short client: INFO, CONNECT + SUB + PING, PONG, close. */
const cycle = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" })
    let seen = ""
    let sent = false
    s.on("data", (d) => {
      seen += d.toString("latin1")
      if (!sent && seen.includes("\r\n")) {
        sent = true
        s.write('CONNECT {"verbose":false}\r\nSUB churn.x 1\r\nPING\r\n')
      }
      if (seen.includes("PONG\r\n")) s.destroy()
    })
    s.on("close", () => resolve())
    s.on("error", reject)
  })

describe("connection churn", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer({})
  })
  afterAll(() => server?.stop())

  it("after 20,000 connect/close cycles the heap is back within 20 MiB", async () => {
    const total = 20_000
    const parallel = 50
    // Warm up first (JIT, pools), then measure from there.
    for (let i = 0; i < 500; i += parallel) await Promise.all(Array.from({ length: parallel }, () => cycle(server.port)))
    await waitUntil("warm-up clients gone", () => server.broker.clients.size === 0)
    const before = await settle()
    for (let done = 0; done < total; done += parallel) {
      await Promise.all(Array.from({ length: parallel }, () => cycle(server.port)))
    }
    await waitUntil("every client unregistered", () => server.broker.clients.size === 0, 30_000)
    // Only the internal subscriptions of the global account's $SYS imports stay.
    await waitUntil("no subscription left", () => server.broker.router.index.size === systemImports("$G", "$SYS").length)
    const after = await settle()
    const MiB = 1024 * 1024
    console.log(`churn: heap ${(before.heap / MiB).toFixed(1)} → ${(after.heap / MiB).toFixed(1)} MiB, buffers ${(before.buffers / MiB).toFixed(1)} → ${(after.buffers / MiB).toFixed(1)} MiB`)
    expect(server.broker.closed.length).toBe(10_000)
    expect(after.heap - before.heap, `heap ${(before.heap / MiB).toFixed(1)} → ${(after.heap / MiB).toFixed(1)} MiB`).toBeLessThan(20 * MiB)
    expect(after.buffers - before.buffers, `buffers ${(before.buffers / MiB).toFixed(1)} → ${(after.buffers / MiB).toFixed(1)} MiB`).toBeLessThan(20 * MiB)
  }, 180_000)
})
