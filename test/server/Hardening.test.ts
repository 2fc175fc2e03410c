/**
 * Attack-like load on our server process (auth on, short auth timeout): 2,000 connections that
 * never send CONNECT are all closed at the auth timeout with `-ERR 'Authentication Timeout'` while
 * a well-behaved client keeps working; the connection limit holds under that load; an endless
 * control line is cut at max_control_line without the server buffering it; the server's memory
 * comes back down instead of growing with every wave.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { connect } from "@nats-io/transport-node"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { type ChildServer, freePort, startOurs } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hardening-"))
let server: ChildServer | undefined
afterAll(async () => {
  await server?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

const WAVE = Number(process.env.WAVE ?? 2000)
const AUTH_TIMEOUT_MS = 1000

const rssOf = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024
}

/** Open `n` sockets that read but never write; resolves when all are closed, with what each got. */
const silentWave = async (port: number, n: number): Promise<{ got: Array<string>; openedAt: number; closedAt: Array<number> }> => {
  const got: Array<string> = new Array(n).fill("")
  const closedAt: Array<number> = new Array(n).fill(0)
  const openedAt = Date.now()
  const closed: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) {
    const s = net.connect({ port, host: "127.0.0.1" })
    s.on("data", (d) => (got[i] += d.toString("latin1")))
    s.on("error", () => {})
    closed.push(new Promise((resolve) => s.on("close", () => {
      closedAt[i] = Date.now()
      resolve()
    })))
  }
  await Promise.all(closed)
  return { got, openedAt, closedAt }
}

describe("hardening under attack-like load", () => {
  it(`${WAVE} connections that never send CONNECT are closed at auth_timeout; a good client keeps working`, async () => {
    const port = await freePort()
    const conf = path.join(dir, "hard.conf")
    fs.writeFileSync(conf, `
listen: 127.0.0.1:${port}
max_connections: ${WAVE + 2}
max_control_line: 512
authorization { user: good, password: client, timeout: ${AUTH_TIMEOUT_MS / 1000} }
`)
    server = await startOurs(["-c", conf])
    const pid = server.child.pid!

    const nc = await connect({ servers: server.url, user: "good", pass: "client", reconnect: false })
    const sub = nc.subscribe("echo")
    void (async () => {
      for await (const m of sub) m.respond(m.data)
    })()
    let requests = 0
    let failures = 0
    let running = true
    const worker = (async () => {
      while (running) {
        try {
          await nc.request("echo", new TextEncoder().encode("ping"), { timeout: 5000 })
          requests++
        } catch (e) {
          failures++
          if (failures === 1) console.error("request failed:", e)
          await new Promise((r) => setTimeout(r, 10))
        }
      }
    })()

    const rssBefore = rssOf(pid)
    const rssAfter: Array<number> = []
    for (let wave = 0; wave < 2; wave++) {
      const { got, openedAt, closedAt } = await silentWave(server.port, WAVE)
      // Every silent connection got the INFO and then exactly the timeout error, at ~auth_timeout.
      const expected = got.filter((g) => /^INFO \{.*\} \r\n-ERR 'Authentication Timeout'\r\n$/.test(g)).length
      expect(expected, `wave ${wave}: connections closed with Authentication Timeout`).toBe(WAVE)
      const earliest = Math.min(...closedAt) - openedAt
      expect(earliest).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 100)
      rssAfter.push(rssOf(pid))
    }

    running = false
    await worker
    expect(failures).toBe(0)
    expect(requests).toBeGreaterThan(10)
    expect(nc.isClosed()).toBe(false)
    await nc.request("echo", new TextEncoder().encode("still here"), { timeout: 5000 })
    await nc.close()
    // Memory is given back between waves: the second wave costs no more than the first.
    expect(rssAfter[1]! - rssBefore).toBeLessThan(Math.max(rssAfter[0]! - rssBefore, 0) + 64 * 1024 * 1024)
  }, 120_000)

  it("max_connections holds while silent connections pile up", async () => {
    const port = await freePort()
    const conf = path.join(dir, "limit.conf")
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_connections: 200\nauthorization { user: good, password: client, timeout: 30 }\n`)
    const limited = await startOurs(["-c", conf])
    try {
      const silent = await Promise.all(Array.from({ length: 200 }, () => RawClient.connect(limited.port)))
      const refused = await RawClient.connect(limited.port)
      expect(await refused.waitClosed(10_000)).toBe("-ERR 'maximum connections exceeded'\r\n")
      await limited.waitFor(/\[ERR\] 127\.0\.0\.1:\d+ - cid:\d+ - maximum connections exceeded/)
      for (const c of silent) c.close()
    } finally {
      await limited.stop()
    }
  }, 60_000)

  it("a flood of oversized PUBs: each connection is cut at max_payload before its payload is read", async () => {
    const rss = rssOf(server!.child.pid!)
    const flood = await Promise.all(Array.from({ length: 200 }, async () => {
      const c = await RawClient.connect(server!.port)
      // Announces 4 MB with max_payload at 1 MB (the default); the payload never comes.
      c.send(`CONNECT {"verbose":false,"user":"good","pass":"client"}\r\nPUB big 4000000\r\n`)
      return c.waitClosed(20_000)
    }))
    expect(flood.every((got) => got === "-ERR 'Maximum Payload Violation'\r\n")).toBe(true)
    expect(rssOf(server!.child.pid!) - rss).toBeLessThan(64 * 1024 * 1024)
  }, 60_000)

  it("an endless control line is cut at max_control_line, without buffering it", async () => {
    const c = await RawClient.connect(server!.port)
    c.send(`CONNECT {"verbose":false,"user":"good","pass":"client"}\r\nPING\r\n`)
    await c.expectPastPings("PONG\r\n")
    const rss = rssOf(server!.child.pid!)
    const junk = Buffer.alloc(1024 * 1024, "a")
    c.send("SUB ")
    // 32 MiB of a never-ending subject; the server must close after ~512 bytes of it.
    for (let i = 0; i < 32 && !c.closed; i++) c.send(junk)
    // The -ERR is written before the close, but closing with our junk still unread resets the
    // connection, which can drop the -ERR in flight (nats-server alike): take the log's word then.
    const got = await c.waitClosed(20_000)
    if (got === "") await server!.waitFor(/maximum control line exceeded: max_control_line/)
    else expect(got).toBe("-ERR 'maximum control line exceeded'\r\n")
    expect(rssOf(server!.child.pid!) - rss).toBeLessThan(24 * 1024 * 1024)
  }, 60_000)
})
