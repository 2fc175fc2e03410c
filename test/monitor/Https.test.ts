/**
 * HTTPS monitoring (`https_port` / `-ms`) with the client `tls` block's certificate, against our
 * server and nats-server 2.9.10 side by side: served over TLS, no client certificate asked for
 * even when clients must present one, the TLS fields of /varz, and the start-up refusals.
 */
import { connect } from "@nats-io/transport-node"
import * as fs from "node:fs"
import * as https from "node:https"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Certs, makeCerts } from "../support/certs.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"

const get = (port: number, ca: string, p: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    https.get({ host: "127.0.0.1", port, path: p, ca: fs.readFileSync(ca), servername: "localhost" }, (res) => {
      let body = ""
      res.on("data", (d) => (body += d))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    }).on("error", reject)
  })

describe("HTTPS monitoring", () => {
  let certs: Certs
  let ours: TestServer
  let ref: ChildServer | undefined
  let refPort = 0

  beforeAll(async () => {
    certs = makeCerts()
    const tls = { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca, verify: true }
    ours = await startServer({ tls, httpsPort: -1 })
    if (natsServerPath !== undefined) {
      refPort = await freePort()
      const conf = path.join(certs.dir, "https.conf")
      fs.writeFileSync(conf, `listen: 127.0.0.1:-1\nhttps: 127.0.0.1:${refPort}\ntls { cert_file: "${tls.certFile}", key_file: "${tls.keyFile}", ca_file: "${tls.caFile}", verify: true }\n`)
      ref = await startNatsServer(["-c", conf])
    }
  }, 60_000)
  afterAll(async () => {
    await ours?.stop()
    await ref?.stop()
    certs?.cleanup()
  })

  it("serves /varz over TLS without a client certificate, with the TLS fields", async () => {
    const port = ours.broker.monitorAddress!.port
    expect(ours.lines().some((l) => l.includes(`Starting https monitor on 127.0.0.1:${port}`))).toBe(true)
    const targets: Array<[string, number]> = [["ours", port]]
    if (ref !== undefined) targets.push(["nats-server", refPort])
    const docs: Array<Record<string, unknown>> = []
    for (const [, p] of targets) {
      const r = await get(p, certs.ca, "/varz")
      expect(r.status).toBe(200)
      docs.push(JSON.parse(r.body) as Record<string, unknown>)
    }
    for (const [i, v] of docs.entries()) {
      expect(v["tls_required"]).toBe(true)
      expect(v["tls_verify"]).toBe(true)
      expect(v["http_port"]).toBe(0)
      expect(v["https_port"]).toBe(targets[i]![1])
      expect(v["tls_timeout"]).toBe(2)
    }
    if (ref !== undefined) expect(await ref.waitFor(`Starting https monitor on 127.0.0.1:${refPort}`)).toBeTruthy()
  })

  it("/connz shows the TLS version and cipher suite of a TLS client, as nats-server", async () => {
    const alice = certs.client("alice", "/CN=alice")
    const targets: Array<[number, number]> = [[ours.port, ours.broker.monitorAddress!.port]]
    if (ref !== undefined) targets.push([ref.port, refPort])
    const seen: Array<unknown> = []
    for (const [clientPort, monitor] of targets) {
      const nc = await connect({ servers: `127.0.0.1:${clientPort}`, name: "tls-connz", tls: { caFile: certs.ca, certFile: alice.cert, keyFile: alice.key } })
      await nc.flush()
      const doc = JSON.parse((await get(monitor, certs.ca, "/connz")).body) as { connections: Array<Record<string, unknown>> }
      const c = doc.connections.find((x) => x["name"] === "tls-connz")!
      seen.push({ version: c["tls_version"], cipher: c["tls_cipher_suite"] })
      await nc.close()
    }
    expect(seen[0]).toEqual({ version: "1.3", cipher: "TLS_AES_128_GCM_SHA256" })
    if (seen.length === 2) expect(seen[1]).toEqual(seen[0])
  })

  it("plain HTTP to the HTTPS port gets no monitoring document", async () => {
    const res = await fetch(`http://127.0.0.1:${ours.broker.monitorAddress!.port}/varz`).then((r) => r.status, () => -1)
    expect(res === -1 || res === 400).toBe(true)
  })

  it("refuses HTTPS without a tls block, and http together with https", async () => {
    await expect(startServer({ httpsPort: -1 })).rejects.toThrow(/TLS cert and key required for HTTPS/)
    await expect(startServer({ httpPort: -1, httpsPort: -1, tls: { certFile: certs.server.cert, keyFile: certs.server.key } }))
      .rejects.toThrow(/can't specify both HTTP \(-1\) and HTTPs \(-1\) ports/)
  })
})
