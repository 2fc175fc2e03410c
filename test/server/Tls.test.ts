/**
 * Client TLS against our server and, side by side, real nats-server 2.9.10 with the same
 * certificates (generated with openssl for this run): real clients (`nats` 2.x and
 * `@nats-io/transport-node` 3.x) with good and bad certificates, a plain-text client refused the
 * way nats-server refuses it, the handshake timeout, and the log lines of every failure.
 */
import { connect as connectV3 } from "@nats-io/transport-node"
import { connect as connectV2 } from "nats"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { handshakeErrorText } from "../../src/net/Tls.js"
import { type Certs, makeCerts } from "../support/certs.js"
import { binPath, type ChildServer, freePort, natsServerPath, startNatsServer, startOurs, startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

interface Target {
  readonly name: string
  readonly port: number
  /** Everything the server logged so far. */
  readonly log: () => string
}

/** What a raw socket sees: everything received until the server closes it. */
const rawSession = (port: number, send?: string): Promise<{ text: string; closedAfterMs: number }> =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port })
    const t0 = Date.now()
    let text = ""
    s.on("data", (d) => {
      const first = text === ""
      text += d.toString("latin1")
      if (first && send !== undefined) s.write(send)
    })
    s.on("error", () => {})
    s.on("close", () => resolve({ text, closedAfterMs: Date.now() - t0 }))
    setTimeout(() => reject(new Error(`socket not closed; got ${JSON.stringify(text)}`)), 15_000).unref()
  })

const infoOf = (text: string): Record<string, unknown> => JSON.parse(/^INFO (.*)\r\n/.exec(text)![1]!) as Record<string, unknown>

describe("client TLS", () => {
  let certs: Certs
  let alice: { cert: string; key: string }
  let mallory: { cert: string; key: string }
  let ours: TestServer
  let ref: ChildServer | undefined
  const targets: Array<Target> = []

  beforeAll(async () => {
    certs = makeCerts()
    alice = certs.client("alice", "/C=US/O=Acme/CN=alice")
    mallory = certs.untrustedClient("mallory", "/CN=mallory")
    ours = await startServer({ tls: { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca, verify: true, timeout: 500 } })
    targets.push({ name: "ours", port: ours.port, log: () => ours.lines().join("\n") })
    if (natsServerPath !== undefined) {
      const conf = path.join(certs.dir, "ref.conf")
      fs.writeFileSync(conf, `listen: 127.0.0.1:-1\ntls { cert_file: "${certs.server.cert}", key_file: "${certs.server.key}", ca_file: "${certs.ca}", verify: true, timeout: 0.5 }\n`)
      const r = await startNatsServer(["-c", conf])
      ref = r
      targets.push({ name: "nats-server", port: r.port, log: () => r.output() })
    }
  }, 60_000)
  afterAll(async () => {
    await ours?.stop()
    await ref?.stop()
    certs?.cleanup()
  })

  const each = (title: string, body: (t: Target) => Promise<void>, timeout = 20_000) => {
    it.each(["ours", "nats-server"])(`${title} (%s)`, async (name) => {
      const t = targets.find((x) => x.name === name)
      if (t === undefined) return // nats-server not installed: only ours runs
      await body(t)
    }, timeout)
  }

  each("INFO says tls_required and tls_verify", async (t) => {
    const { text } = await rawSession(t.port)
    const info = infoOf(text)
    expect(info["tls_required"]).toBe(true)
    expect(info["tls_verify"]).toBe(true)
    // The TLS fields sit between headers/auth and max_payload, as in nats-server.
    const keys = Object.keys(info)
    expect(keys.indexOf("tls_required")).toBeLessThan(keys.indexOf("max_payload"))
    expect(keys.indexOf("tls_required")).toBeGreaterThan(keys.indexOf("headers"))
  })

  each("nats 2.x: a trusted client certificate connects and round-trips", async (t) => {
    const nc = await connectV2({ servers: `tls://127.0.0.1:${t.port}`, tls: { caFile: certs.ca, certFile: alice.cert, keyFile: alice.key } })
    try {
      const sub = nc.subscribe("tls.v2", { max: 1 })
      nc.publish("tls.v2", enc.encode("secret"))
      for await (const m of sub) expect(dec.decode(m.data)).toBe("secret")
      expect(nc.info?.tls_required).toBe(true)
    } finally {
      await nc.close()
    }
  })

  each("transport-node 3.x: a trusted client certificate connects and round-trips (256 KiB messages)", async (t) => {
    const nc = await connectV3({ servers: `127.0.0.1:${t.port}`, tls: { caFile: certs.ca, certFile: alice.cert, keyFile: alice.key } })
    try {
      const big = new Uint8Array(256 * 1024).map((_, i) => i & 0xff)
      const sub = nc.subscribe("tls.v3", { max: 8 })
      for (let i = 0; i < 8; i++) nc.publish("tls.v3", big)
      let n = 0
      for await (const m of sub) {
        expect(m.data).toEqual(big)
        n++
      }
      expect(n).toBe(8)
    } finally {
      await nc.close()
    }
  })

  each("no client certificate while verify is on: refused", async (t) => {
    const before = t.log().split("tls: client didn't provide a certificate").length
    await expect(connectV3({ servers: `127.0.0.1:${t.port}`, tls: { caFile: certs.ca }, reconnect: false, timeout: 5000 })).rejects.toThrow()
    await waitUntil("the handshake error is logged", () => t.log().split("tls: client didn't provide a certificate").length > before)
    expect(t.log()).toMatch(/\[ERR\] 127\.0\.0\.1:\d+ - cid:\d+ - TLS handshake error: tls: client didn't provide a certificate/)
  })

  each("a client certificate from an untrusted CA: refused", async (t) => {
    const line = "TLS handshake error: tls: failed to verify client certificate: x509: certificate signed by unknown authority"
    const before = t.log().split(line).length
    await expect(connectV2({ servers: `127.0.0.1:${t.port}`, tls: { caFile: certs.ca, certFile: mallory.cert, keyFile: mallory.key }, reconnect: false, timeout: 5000 })).rejects.toThrow()
    await waitUntil("the verification error is logged", () => t.log().split(line).length > before)
  })

  each("the client does not trust the server's CA: refused by the client", async (t) => {
    await expect(connectV3({ servers: `127.0.0.1:${t.port}`, tls: { caFile: certs.otherCa, certFile: alice.cert, keyFile: alice.key }, reconnect: false, timeout: 5000 }))
      .rejects.toThrow(/certificate|self.signed|unable to verify/i)
  })

  each("a client that wants the TLS handshake first (nats-server 2.10's handshake_first) can not connect to 2.9", async (t) => {
    await expect(connectV3({
      servers: `127.0.0.1:${t.port}`,
      tls: { handshakeFirst: true, caFile: certs.ca, certFile: alice.cert, keyFile: alice.key },
      reconnect: false,
      timeout: 5000
    })).rejects.toThrow()
  })

  each("a plain-text client gets the INFO, then the connection is closed with nothing more", async (t) => {
    const line = "TLS handshake error: tls: first record does not look like a TLS handshake"
    const before = t.log().split(line).length
    const { text } = await rawSession(t.port, "CONNECT {\"verbose\":false}\r\nPING\r\n")
    expect(text).toMatch(/^INFO \{.*\} \r\n$/)
    await waitUntil("the handshake error is logged", () => t.log().split(line).length > before)
  })

  each("a client that never starts the handshake is closed at the TLS timeout", async (t) => {
    const ioTimeout = /TLS handshake error: read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout/g
    const before = t.log().match(ioTimeout)?.length ?? 0
    const { text, closedAfterMs } = await rawSession(t.port)
    expect(text).toMatch(/^INFO \{.*\} \r\n$/)
    expect(closedAfterMs).toBeGreaterThanOrEqual(400)
    await waitUntil("the read timeout is logged", () => (t.log().match(ioTimeout)?.length ?? 0) > before)
    // nats-server's timer logs `TLS handshake timeout` too, unless the read deadline closed the
    // connection first (a race there); ours always logs both lines.
    if (t.name === "ours") await waitUntil("the timeout is logged", () => t.log().includes("TLS handshake timeout"))
  })

  it("logs the handshake and the negotiated session at debug level, and the close reason", async () => {
    const server = await startServer({ debug: true, tls: { certFile: certs.server.cert, keyFile: certs.server.key } })
    try {
      const nc = await connectV3({ servers: `127.0.0.1:${server.port}`, tls: { caFile: certs.ca } })
      await nc.flush()
      await nc.close()
      const log = server.lines().join("\n")
      expect(log).toContain("TLS required for client connections")
      expect(log).toMatch(/cid:\d+ - Starting TLS client connection handshake/)
      expect(log).toMatch(/cid:\d+ - TLS handshake complete/)
      expect(log).toMatch(/cid:\d+ - TLS version 1\.3, cipher suite TLS_AES_128_GCM_SHA256/)
      const info = infoOf((await rawSession(server.port, "x")).text)
      expect(info["tls_required"]).toBe(true)
      expect(info["tls_verify"]).toBeUndefined()
      await waitUntil("close reason", () => server.lines().some((l) => l.includes("Client connection closed: TLS Handshake Failure")))
    } finally {
      await server.stop()
    }
  })

  it("a certificate for another host, checked by Node, is worded as Go words it", async () => {
    const srv = tls.createServer({ cert: fs.readFileSync(certs.server.cert), key: fs.readFileSync(certs.server.key) }, (s) => s.end())
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve))
    const port = (srv.address() as net.AddressInfo).port
    const fail = (host: string) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({ host: "127.0.0.1", port, ca: fs.readFileSync(certs.ca), checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert) })
        s.on("error", (e) => {
          s.destroy()
          resolve(handshakeErrorText(e))
        })
      })
    try {
      expect(await fail("example.com")).toBe("x509: certificate is valid for localhost, not example.com")
      expect(await fail("127.0.0.2")).toBe("x509: certificate is valid for 127.0.0.1, not 127.0.0.2")
    } finally {
      srv.close()
    }
  })

  it("SIGHUP reloads the tls block: new clients get the new certificate, or no TLS", async () => {
    const port = await freePort()
    const conf = path.join(certs.dir, "reload.conf")
    const block = (pair: { cert: string; key: string }) => `tls { cert_file: "${pair.cert}", key_file: "${pair.key}" }\n`
    fs.writeFileSync(conf, `listen: 127.0.0.1:${port}\n${block(certs.server)}`)
    const s = await startOurs(["-c", conf])
    const reloads = () => s.output().split("Reloaded server configuration").length - 1
    const reload = async (text: string) => {
      const n = reloads()
      fs.writeFileSync(conf, text)
      s.child.kill("SIGHUP")
      await waitUntil("reloaded", () => reloads() > n)
    }
    try {
      const first = await connectV3({ servers: `127.0.0.1:${port}`, tls: { caFile: certs.ca } })
      await reload(`listen: 127.0.0.1:${port}\n${block(certs.otherServer)}`)
      expect(s.output()).toContain("Reloaded: tls = enabled")
      // The connection made before keeps working; new ones get the new certificate.
      await first.flush()
      await expect(connectV3({ servers: `127.0.0.1:${port}`, tls: { caFile: certs.ca }, reconnect: false, timeout: 5000 })).rejects.toThrow()
      const second = await connectV3({ servers: `127.0.0.1:${port}`, tls: { caFile: certs.otherCa } })
      await second.flush()
      await reload(`listen: 127.0.0.1:${port}\n`)
      expect(s.output()).toContain("Reloaded: tls = disabled")
      const greeting = await new Promise<string>((resolve) => {
        const c = net.connect({ host: "127.0.0.1", port })
        c.once("data", (d) => {
          resolve(d.toString())
          c.destroy()
        })
      })
      const info = infoOf(greeting)
      expect(info["tls_required"]).toBeUndefined()
      await Promise.all([first.close(), second.close()])
    } finally {
      await s.stop()
    }
  }, 40_000)

  it("-t reads the TLS files: a missing key is reported as nats-server words it", () => {
    const conf = path.join(certs.dir, "missing.conf")
    fs.writeFileSync(conf, `tls { cert_file: "${certs.server.cert}", key_file: "${certs.dir}/nope.pem" }\n`)
    const r = spawnSync(process.execPath, [binPath, "-c", conf, "-t"], { encoding: "utf8", timeout: 15_000 })
    expect(r.status).not.toBe(0)
    expect(r.stderr + r.stdout).toContain(`error parsing X509 certificate/key pair: open ${certs.dir}/nope.pem: no such file or directory`)
  })

  it("TLS 1.2 with a configured cipher suite and curve", async () => {
    const server = await startServer({
      tls: { certFile: certs.server.cert, keyFile: certs.server.key, cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"], curvePreferences: ["CurveP384"] }
    })
    try {
      const raw = net.connect({ host: "127.0.0.1", port: server.port })
      await new Promise<void>((resolve) => raw.once("data", () => resolve()))
      const sock = tls.connect({ socket: raw, ca: fs.readFileSync(certs.ca), servername: "localhost", maxVersion: "TLSv1.2" })
      await new Promise<void>((resolve, reject) => {
        sock.once("secureConnect", resolve)
        sock.once("error", reject)
      })
      expect(sock.getProtocol()).toBe("TLSv1.2")
      expect(sock.getCipher().standardName).toBe("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
      expect((sock.getEphemeralKeyInfo() as { name?: string }).name).toBe("secp384r1")
      sock.write("CONNECT {\"verbose\":false}\r\nPING\r\n")
      const pong = await new Promise<string>((resolve) => sock.once("data", (d) => resolve(d.toString())))
      expect(pong).toBe("PONG\r\n")
      sock.destroy()
    } finally {
      await server.stop()
    }
  })
})
