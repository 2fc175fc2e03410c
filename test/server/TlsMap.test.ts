/**
 * `tls { verify_and_map: true }`: a client certificate names the user. Our server and real
 * nats-server 2.9.10 get the same users and the same openssl-made certificates; every connection
 * must get the same outcome and the same debug lines (which carry the certificate subject as Go
 * renders it, so tricky subjects — escaped commas, multi-valued RDNs, an e-mail attribute — are
 * compared byte for byte).
 */
import { connect as connectV3 } from "@nats-io/transport-node"
import { connect as connectV2 } from "nats"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import fc from "fast-check"
import { dnEqual, goSubjectString, parseDn, readCertNames, subjectDn } from "../../src/net/CertNames.js"
import { type Certs, type KeyPair, makeCerts } from "../support/certs.js"
import { type ChildServer, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const USERS = [
  "CN=alice,OU=eng,O=Acme\\, Inc.,C=US", // the Go rendering of alice's subject
  "carol@example.com", // a SAN e-mail
  "OU=ops, CN=dave", // dave's subject with the RDNs in another order
  "svc.example.com" // a SAN DNS name
]

/** The TLS-map debug lines of a log, without their timestamp and connection prefix. */
const mapLines = (log: string): Array<string> =>
  log.split("\n")
    .filter((l) => /User required in cert|User in cert|DistinguishedNameMatch|RDNSequence|for auth \[|user required from cert/.test(l))
    .map((l) => l.replace(/^.*?\[(DBG|WRN)\] (?:\S+ - cid:\d+ - )?/, "$1 "))

interface Target {
  readonly name: string
  readonly port: number
  readonly log: () => string
}

describe("verify_and_map", () => {
  let certs: Certs
  const cert: Record<string, KeyPair> = {}
  let ours: TestServer
  let ref: ChildServer | undefined
  const targets: Array<Target> = []

  beforeAll(async () => {
    certs = makeCerts()
    cert["alice"] = certs.client("alice", "/C=US/O=Acme, Inc./OU=eng/CN=alice")
    cert["carol"] = certs.client("carol", "/CN=carol", "email:carol@example.com")
    cert["dave"] = certs.client("dave", "/OU=ops/CN=dave")
    cert["svc"] = certs.client("svc", "/CN=service", "DNS:svc.example.com")
    cert["bob"] = certs.client("bob", "/CN=bob")
    cert["tricky"] = certs.client("tricky", "/C=US/O=Acme+OU=multi/CN=#lead, \"q\" <x>;/emailAddress=t@x.y")
    const tlsBlock = { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca, verifyAndMap: true }
    ours = await startServer({ debug: true, tls: tlsBlock, authorization: { users: USERS.map((user) => ({ user })) } })
    targets.push({ name: "ours", port: ours.port, log: () => ours.lines().join("\n") })
    if (natsServerPath !== undefined) {
      const conf = path.join(certs.dir, "map.conf")
      const users = USERS.map((u) => `{ user: ${JSON.stringify(u)} }`).join(", ")
      fs.writeFileSync(conf, [
        "listen: 127.0.0.1:-1",
        `tls { cert_file: "${certs.server.cert}", key_file: "${certs.server.key}", ca_file: "${certs.ca}", verify_and_map: true }`,
        `authorization { users: [ ${users} ] }`,
        ""
      ].join("\n"))
      const r = await startNatsServer(["-c", conf, "-D"])
      ref = r
      targets.push({ name: "nats-server", port: r.port, log: () => r.output() })
    }
  }, 60_000)
  afterAll(async () => {
    await ours?.stop()
    await ref?.stop()
    certs?.cleanup()
  })

  /** Connect with a certificate on every target; the outcome and new map lines of each. */
  const attempt = async (who: string, user?: string) => {
    const out: Array<{ name: string; ok: boolean; error?: string; lines: Array<string> }> = []
    for (const t of targets) {
      const before = mapLines(t.log()).length
      const kp = cert[who]!
      try {
        const nc = await connectV2({
          servers: `127.0.0.1:${t.port}`,
          tls: { caFile: certs.ca, certFile: kp.cert, keyFile: kp.key },
          reconnect: false,
          timeout: 5000,
          ...(user !== undefined ? { user, pass: "" } : {})
        })
        await nc.flush()
        await nc.close()
        await waitUntil(`${t.name} logged the mapping`, () => mapLines(t.log()).length > before)
        out.push({ name: t.name, ok: true, lines: mapLines(t.log()).slice(before) })
      } catch (e) {
        await waitUntil(`${t.name} logged the failed mapping`, () => mapLines(t.log()).length > before)
        out.push({ name: t.name, ok: false, error: String((e as Error).message), lines: mapLines(t.log()).slice(before) })
      }
    }
    // Same outcome, same lines (client prefix included), on both servers.
    if (out.length === 2) expect(out[0]!).toEqual({ ...out[1]!, name: out[0]!.name })
    // For the expectations below: without the client's `"v<version>:<lang>" - ` part.
    return { ...out[0]!, lines: out[0]!.lines.map((l) => l.replace(/^(DBG|WRN) "[^"]*" - /, "$1 ")) }
  }

  it("the subject DN maps to a user (nats 2.x)", async () => {
    const r = await attempt("alice")
    expect(r.ok).toBe(true)
    expect(r.lines).toContain(`DBG Using DistinguishedNameMatch for auth [${JSON.stringify(USERS[0])}]`)
    const conn = [...ours.broker.closed].reverse().find((c) => (c as { user?: string }).user !== undefined) as { user?: string } | undefined
    expect(conn?.user).toBe(USERS[0])
  }, 30_000)

  it("a SAN e-mail maps to a user (transport-node 3.x)", async () => {
    for (const t of targets) {
      const nc = await connectV3({ servers: `127.0.0.1:${t.port}`, tls: { caFile: certs.ca, certFile: cert["carol"]!.cert, keyFile: cert["carol"]!.key } })
      await nc.flush()
      await nc.close()
      await waitUntil(`${t.name} used the e-mail`, () => t.log().includes(`Using email found in cert for auth ["carol@example.com"]`))
    }
  }, 30_000)

  it("a SAN DNS name maps to a user", async () => {
    const r = await attempt("svc")
    expect(r.ok).toBe(true)
    expect(r.lines).toContain(`DBG Using SAN found in cert for auth ["svc.example.com"]`)
  }, 30_000)

  it("a DN with the RDNs in another order maps to the user", async () => {
    const r = await attempt("dave")
    expect(r.ok).toBe(true)
    expect(r.lines).toContain(`DBG Using DistinguishedNameMatch for auth ["OU=ops, CN=dave"]`)
  }, 30_000)

  it("an unknown certificate is refused with Authorization Violation", async () => {
    const r = await attempt("bob")
    expect(r.ok).toBe(false)
    expect(r.error).toMatch(/Authorization Violation/i)
    expect(r.lines).toEqual([
      `DBG DistinguishedNameMatch could not be used for auth ["CN=bob"]`,
      `DBG User in cert ["CN=bob"], not found`
    ])
  }, 30_000)

  it("a user in CONNECT is ignored for the certificate's, with nats-server's warning", async () => {
    const r = await attempt("alice", "someone-else")
    expect(r.ok).toBe(true)
    expect(r.lines).toContain(`WRN User "someone-else" found in connect proto, but user required from cert`)
  }, 30_000)

  it("renders a tricky subject exactly as Go does (escapes, a multi-valued RDN, an e-mail attribute)", async () => {
    const r = await attempt("tricky")
    expect(r.ok).toBe(false)
    const names = readCertNames(new (await import("node:crypto")).X509Certificate(fs.readFileSync(cert["tricky"]!.cert)).raw)
    const rendered = goSubjectString(names.subject)
    // Go rebuilds the subject from its known attributes: the e-mail attribute is left out and O/OU
    // come out in Go's fixed order, not as the certificate's multi-valued RDN.
    expect(rendered).toBe('CN=\\#lead\\, \\"q\\" \\<x\\>\\;,OU=multi,O=Acme,C=US')
    expect(r.lines).toEqual([`DBG User in cert [${JSON.stringify(rendered)}], not found`])
  }, 30_000)

  it("property: Go's subject escaping and the RFC 4514 DN parser are inverse (so a rendered subject names its user)", () => {
    const value = fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", ",", "+", "\"", "\\", "<", ">", ";", "#", "=", "é", "-") , minLength: 1, maxLength: 12 })
      .filter((v) => v.trim() === v) // ldap.ParseDN trims spaces at the ends, escaped or not (as nats-server's copy)
    fc.assert(fc.property(fc.record({ c: fc.option(value), o: fc.option(value), ou: fc.option(value), cn: fc.option(value) }), (r) => {
      const subject = ([["2.5.4.6", r.c], ["2.5.4.10", r.o], ["2.5.4.11", r.ou], ["2.5.4.3", r.cn]] as const)
        .filter(([, v]) => v !== null).map(([oid, v]) => [{ oid, value: v! }])
      const rendered = goSubjectString(subject)
      const parsed = parseDn(rendered)
      if (subject.length === 0) return rendered === ""
      return parsed !== undefined && dnEqual(parsed, subjectDn(subject)!)
    }), { numRuns: 300 })
  })

  it("parses RFC 4514 DNs as nats-server's ldap package", () => {
    expect(parseDn("CN=alice,OU=eng,O=Acme\\, Inc.,C=US")).toEqual([
      [{ type: "CN", value: "alice" }], [{ type: "OU", value: "eng" }], [{ type: "O", value: "Acme, Inc." }], [{ type: "C", value: "US" }]
    ])
    expect(parseDn("OU=a+CN=b , O = c\\2C d")).toEqual([[{ type: "OU", value: "a" }, { type: "CN", value: "b" }], [{ type: "O", value: "c, d" }]])
    expect(parseDn("carol@example.com")).toBeUndefined()
  })
})
