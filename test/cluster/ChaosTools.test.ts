/**
 * The chaos tools themselves: the fault proxy forwards, cuts and silently drops links as told,
 * and the sequence checker finds duplicates and loss outside (not inside) fault windows.
 */
import * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { SeqChecker } from "../support/SeqChecker.js"
import { routeConnectName, TcpProxy } from "../support/TcpProxy.js"
import { waitUntil } from "../support/wait.js"

describe("SeqChecker", () => {
  it("counts duplicates and reordering, and loss outside windows only", () => {
    const c = new SeqChecker(2, 2)
    for (let i = 0; i < 10; i++) c.next(0)
    for (let i = 0; i < 3; i++) c.next(1)
    for (const s of [0, 1]) for (let q = 1; q <= 10; q++) if (!(s === 1 && (q === 4 || q === 8))) c.receive(s, 0, q)
    c.receive(0, 1, 1)
    c.receive(0, 1, 3)
    c.receive(0, 1, 2)
    c.receive(0, 1, 2)
    c.receive(1, 1, 1)
    c.receive(1, 1, 2)
    c.receive(1, 1, 3)
    c.addWindow({ pub: 0, lo: 2, hi: 5, label: "w" })
    expect(c.receivedByAll(0)).toBe(10)
    const r = c.report()
    expect(r.duplicates).toBe(1)
    expect(r.reordered).toBe(1)
    expect(r.lostInsideWindows).toBe(1)
    expect(r.lostOutside).toEqual([{ sub: 1, pub: 0, seq: 8 }])
    expect(r.received).toBe(18 + 7)
  })
})

describe("TcpProxy", () => {
  const cleanup: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f()
  })

  /** A target that records what it receives per connection and can answer. */
  const target = async () => {
    const conns: Array<{ socket: net.Socket; got: string; closed: boolean }> = []
    const srv = net.createServer((socket) => {
      const c = { socket, got: "", closed: false }
      conns.push(c)
      socket.on("data", (d) => (c.got += d.toString("latin1")))
      socket.on("close", () => (c.closed = true))
      socket.on("error", () => {})
    })
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r))
    cleanup.push(() => new Promise<void>((r) => {
      for (const c of conns) c.socket.destroy()
      srv.close(() => r())
    }))
    return { port: (srv.address() as net.AddressInfo).port, conns }
  }

  const dial = async (port: number) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    const c = { socket, got: "", closed: false }
    socket.on("data", (d) => (c.got += d.toString("latin1")))
    socket.on("close", () => (c.closed = true))
    socket.on("error", () => {})
    await new Promise((r) => socket.once("connect", r))
    cleanup.push(() => void socket.destroy())
    return c
  }

  /** A target behind a proxy that tags links by route CONNECT name, and one dialer linked as `NX`. */
  const linkedThroughProxy = async () => {
    const t = await target()
    const proxy = await TcpProxy.start({ port: t.port }, 0, { tagOf: routeConnectName })
    cleanup.push(() => proxy.close())
    const d = await dial(proxy.port)
    d.socket.write("CONNECT {\"name\":\"NX\"}\r\n")
    await waitUntil("linked", () => t.conns.length === 1 && t.conns[0]!.got.length > 0)
    return { t, proxy, d }
  }

  it("tags links by the dialer's route CONNECT and forwards both ways", async () => {
    const t = await target()
    const proxy = await TcpProxy.start({ port: t.port }, 0, { tagOf: routeConnectName })
    cleanup.push(() => proxy.close())
    const d = await dial(proxy.port)
    d.socket.write("CONNECT {\"name\":\"NABC\",\"cluster\":\"x\"}\r\nINFO {}\r\n")
    await waitUntil("target got it", () => t.conns[0]?.got.includes("INFO {}") === true)
    expect(proxy.list()).toEqual([{ id: 1, tag: "NABC", state: "open" }])
    t.conns[0]!.socket.write("PING\r\n")
    await waitUntil("dialer got it", () => d.got === "PING\r\n")
  })

  it("drop holds bytes and closes silently; heal lets them through", async () => {
    const { t, proxy, d } = await linkedThroughProxy()
    proxy.setRule((tag) => (tag === "NX" ? "drop" : "pass"))
    d.socket.write("PING\r\n")
    t.conns[0]!.socket.end("bye\r\n")
    // A new link from the same dialer is held too: the target is not even dialed.
    const d2 = await dial(proxy.port)
    d2.socket.write("CONNECT {\"name\":\"NX\"}\r\n")
    await waitUntil("second link tagged", () => proxy.list().length === 2 && proxy.list().every((l) => l.state === "dropped"))
    // Give the bytes every chance to cross (a round trip through an unrelated link), then check none did.
    const other = await dial(proxy.port)
    other.socket.write("CONNECT {\"name\":\"NY\"}\r\nhello\r\n")
    await waitUntil("unrelated link passes", () => t.conns.some((c) => c.got.includes("hello")))
    expect(t.conns).toHaveLength(2)
    expect(t.conns[0]!.got).not.toContain("PING")
    expect(d.got).toBe("")
    expect(d.closed).toBe(false)
    proxy.heal()
    await waitUntil("held bytes and the close cross", () => t.conns[0]!.got.includes("PING") && d.got === "bye\r\n" && d.closed)
    await waitUntil("held link dials the target", () => t.conns.length === 3)
  })

  it("reset destroys both sides and refuses new links until healed", async () => {
    const { t, proxy, d } = await linkedThroughProxy()
    proxy.setRule(() => "reset")
    await waitUntil("both sides closed", () => d.closed && t.conns[0]!.closed)
    const d2 = await dial(proxy.port)
    d2.socket.write("CONNECT {\"name\":\"NX\"}\r\n")
    await waitUntil("refused", () => d2.closed)
    proxy.heal()
    const d3 = await dial(proxy.port)
    d3.socket.write("CONNECT {\"name\":\"NX\"}\r\n")
    await waitUntil("passes again", () => t.conns.length === 2)
  })

  it("refuses dials while told to, and accepts again on the same port", async () => {
    const t = await target()
    const proxy = await TcpProxy.start({ port: t.port })
    cleanup.push(() => proxy.close())
    await proxy.refuse()
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: proxy.port, host: "127.0.0.1" })
      s.once("connect", () => {
        s.destroy()
        resolve(false)
      })
      s.once("error", () => resolve(true))
    })
    expect(refused).toBe(true)
    await proxy.accept()
    const d = await dial(proxy.port)
    d.socket.write("hello\r\n")
    await waitUntil("forwarded", () => t.conns[0]?.got === "hello\r\n")
  })
})
