/**
 * Route TLS in a mixed cluster with real nats-server 2.9.10, in both directions: nats-server
 * dials ours (we are the TLS server and verify its certificate) and ours dials nats-server (we
 * are the TLS client, verify its certificate, and present ours). Messages must cross the TLS
 * routes; peers with an untrusted certificate, or that we do not trust, are rejected on both sides.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { type Certs, makeCerts } from "../support/certs.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

describe.skipIf(natsServerPath === undefined)("route TLS with nats-server 2.9", () => {
  let certs: Certs
  const ours: Array<TestServer> = []
  const refs: Array<ChildServer> = []
  const clients: Array<NatsConnection> = []
  let O1: TestServer, O2: TestServer, N1: ChildServer
  let n1Cluster = 0

  const tlsBlock = (pair: { cert: string; key: string }, ca: string) => ({ certFile: pair.cert, keyFile: pair.key, caFile: ca, timeout: 2000 })
  const startOursRoute = async (extra: Partial<NonNullable<ServerOptionsInput["cluster"]>>, debug = true) => {
    const s = await startServer({
      debug,
      cluster: { name: "tls", host: "127.0.0.1", port: -1, tls: tlsBlock(certs.server, certs.ca), ...extra }
    })
    ours.push(s)
    return s
  }
  const startRef = async (name: string, clusterPort: number, routes: Array<string>, cert = certs.server, ca = certs.ca) => {
    const conf = path.join(certs.dir, `${name}.conf`)
    fs.writeFileSync(conf, [
      "listen: 127.0.0.1:-1",
      `server_name: ${name}`,
      "cluster {",
      "  name: tls",
      `  listen: 127.0.0.1:${clusterPort}`,
      routes.length > 0 ? `  routes: [ ${routes.map((r) => JSON.stringify(r)).join(", ")} ]` : "",
      `  tls { cert_file: "${cert.cert}", key_file: "${cert.key}", ca_file: "${ca}", timeout: 2 }`,
      "}",
      ""
    ].join("\n"))
    const r = await startNatsServer(["-c", conf, "-D"])
    refs.push(r)
    return r
  }
  const routeUrl = (s: TestServer) => `nats://127.0.0.1:${s.cluster!.listen!.port}`
  const client = async (port: number) => {
    const nc = await connect({ servers: `127.0.0.1:${port}` })
    clients.push(nc)
    return nc
  }

  beforeAll(async () => {
    certs = makeCerts()
    // O1 listens; nats-server N1 dials O1; O2 dials N1 (and learns O1 by gossip).
    O1 = await startOursRoute({})
    n1Cluster = await freePort()
    N1 = await startRef("N1", n1Cluster, [routeUrl(O1)])
    O2 = await startOursRoute({ routes: [`nats://127.0.0.1:${n1Cluster}`] })
  }, 60_000)
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    for (const s of ours) await s.stop()
    for (const r of refs) await r.stop()
    certs?.cleanup()
  })

  it("forms a full mesh over TLS in both directions and routes messages", async () => {
    await waitUntil("every ours has two routes", () => O1.cluster!.routes.size === 2 && O2.cluster!.routes.size === 2, 20_000)
    const o1 = O1.lines().join("\n")
    const o2 = O2.lines().join("\n")
    // nats-server dialed O1: O1 was the TLS server.
    expect(o1).toMatch(/rid:\d+ - Starting TLS route server handshake/)
    // O2 dialed nats-server: O2 was the TLS client, and nats-server the server.
    expect(o2).toMatch(/127\.0\.0\.1:\d+ - rid:\d+ - Starting TLS route client handshake/)
    expect(o2).toMatch(/rid:\d+ - TLS version 1\.[23], cipher suite TLS_/)
    await N1.waitFor(/Starting TLS route server handshake/)
    await N1.waitFor(/Starting TLS route client handshake/)

    const sub1 = await client(O1.port)
    const subN = await client(N1.port)
    const pub = await client(O2.port)
    const got: Array<string> = []
    for (const nc of [sub1, subN]) {
      const sub = nc.subscribe("tls.route")
      void (async () => {
        for await (const m of sub) got.push(dec.decode(m.data))
      })()
      await nc.flush()
    }
    await waitUntilAsync("a probe reaches both subscribers", async () => {
      pub.publish("tls.route", enc.encode("probe"))
      await pub.flush()
      return got.filter((g) => g === "probe").length >= 2 && new Set(got).size >= 1
    }, 15_000)
    got.length = 0
    for (let i = 0; i < 50; i++) pub.publish("tls.route", enc.encode(`m${i}`))
    await pub.flush()
    await waitUntil("100 deliveries", () => got.filter((g) => g.startsWith("m")).length === 100)
  }, 40_000)

  it("rejects nats-server dialing us with a certificate from an untrusted CA", async () => {
    const port = await freePort()
    const bad = await startRef("BAD1", port, [routeUrl(O1)], certs.otherServer, certs.ca)
    // Go offers no certificate that the CA list we announce does not cover.
    await waitUntil("O1 logs the failed handshake", () => O1.lines().some((l) => /TLS route handshake error: tls: client didn't provide a certificate/.test(l)), 15_000)
    await waitUntil("and the close reason", () => O1.lines().some((l) => /Router connection closed: TLS Handshake Failure/.test(l)))
    expect([...O1.cluster!.routes.values()].some((r) => r.peer?.server_name === "BAD1")).toBe(false)
    await bad.stop()
  }, 30_000)

  it("rejects nats-server whose certificate we do not trust when we dial it", async () => {
    const port = await freePort()
    const bad = await startRef("BAD2", port, [], certs.otherServer, certs.ca)
    const dialer = await startOursRoute({ routes: [`nats://127.0.0.1:${port}`] })
    await waitUntil("we refuse its certificate", () =>
      dialer.lines().some((l) => /TLS route handshake error: x509: certificate signed by unknown authority/.test(l)), 15_000)
    expect(dialer.cluster!.routes.size).toBe(0)
    await bad.stop()
  }, 30_000)

  it("nats-server rejects us when we present a certificate it does not trust", async () => {
    const bad = await startServer({
      debug: true,
      cluster: { name: "tls", host: "127.0.0.1", port: -1, routes: [`nats://127.0.0.1:${n1Cluster}`], tls: tlsBlock(certs.otherServer, certs.ca) }
    })
    ours.push(bad)
    await N1.waitFor(/TLS route handshake error: tls: failed to verify client certificate: x509: certificate signed by unknown authority/, 15_000)
    expect(bad.cluster!.routes.size).toBe(0)
  }, 30_000)

  it("a route peer without TLS is refused by our TLS route listener", async () => {
    const port = await freePort()
    const conf = path.join(certs.dir, "plain.conf")
    fs.writeFileSync(conf, `listen: 127.0.0.1:-1\ncluster { name: tls, listen: 127.0.0.1:${port}, routes: [ "${routeUrl(O1)}" ] }\n`)
    const plain = await startNatsServer(["-c", conf])
    refs.push(plain)
    await waitUntil("O1 refuses the plain-text route", () =>
      O1.lines().some((l) => /TLS route handshake error: tls: first record does not look like a TLS handshake/.test(l)), 15_000)
  }, 30_000)
})
