/**
 * The README's TLS section, run as written: its config file (certificate paths pointed at
 * certificates made for this run, fixed ports made ephemeral), its command line, and its client
 * call.
 */
import { connect } from "@nats-io/transport-node"
import * as fs from "node:fs"
import * as https from "node:https"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Certs, makeCerts } from "../support/certs.js"
import { repoRoot, startOurs } from "../support/servers.js"

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const section = readme.slice(readme.indexOf("## TLS"), readme.indexOf("\n## ", readme.indexOf("## TLS") + 1))
const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }))

describe("README: TLS", () => {
  let certs: Certs

  beforeAll(() => {
    // makeCerts writes ca.pem, server.pem and server-key.pem: the names the README uses.
    certs = makeCerts()
    expect([certs.ca, certs.server.cert, certs.server.key].map((f) => path.basename(f))).toEqual(["ca.pem", "server.pem", "server-key.pem"])
    certs.client("alice", "/C=US/O=Acme/OU=eng/CN=alice")
    certs.client("bob", "/CN=bob", "email:bob@example.com")
  })
  afterAll(() => certs?.cleanup())

  const local = (text: string) => text.replaceAll("./certs/", `${certs.dir}/`)
  /** The README client call, with the certificate paths of this run. */
  const readmeConnect = (port: number, who: string) => {
    const line = blocks.find((b) => b.lang === "js")!.text
    expect(line).toContain(`connect({ servers: "127.0.0.1:4222", tls: { caFile: "./certs/ca.pem", certFile: "./certs/alice.pem", keyFile: "./certs/alice-key.pem" } })`)
    return connect({ servers: `127.0.0.1:${port}`, tls: { caFile: `${certs.dir}/ca.pem`, certFile: `${certs.dir}/${who}.pem`, keyFile: `${certs.dir}/${who}-key.pem` } })
  }

  it("the config file: TLS clients mapped to users, HTTPS monitoring, a TLS cluster port", async () => {
    const conf = blocks.find((b) => b.lang === "" && b.text.includes("tls {"))!.text
    const file = path.join(certs.dir, "readme.conf")
    fs.writeFileSync(file, local(conf).replace("127.0.0.1:4222", "127.0.0.1:-1").replace("127.0.0.1:8443", "127.0.0.1:-1").replace("127.0.0.1:6222", "127.0.0.1:-1"))
    const server = await startOurs(["-c", file])
    try {
      for (const who of ["alice", "bob"]) {
        const nc = await readmeConnect(server.port, who)
        await nc.flush()
        await nc.close()
      }
      await expect(connect({ servers: `127.0.0.1:${server.port}`, tls: { caFile: `${certs.dir}/ca.pem` }, reconnect: false, timeout: 5000 })).rejects.toThrow()
      const monitor = Number(/Starting https monitor on 127\.0\.0\.1:(\d+)/.exec(await server.waitFor("Starting https monitor"))![1])
      const status = await new Promise<number>((resolve, reject) =>
        https.get({ host: "127.0.0.1", port: monitor, path: "/healthz", ca: fs.readFileSync(certs.ca), servername: "localhost" }, (r) => {
          r.resume()
          resolve(r.statusCode ?? 0)
        }).on("error", reject))
      expect(status).toBe(200)
      await server.waitFor("Listening for route connections on 127.0.0.1:")
    } finally {
      await server.stop()
    }
  }, 30_000)

  it("the command line", async () => {
    const line = blocks.find((b) => b.lang === "sh")!.text.trim()
    const args = local(line).split(/\s+/).slice(2)
    const server = await startOurs([...args, "-a", "127.0.0.1", "-p", "-1"])
    try {
      const nc = await readmeConnect(server.port, "alice")
      expect(nc.info?.tls_verify).toBe(true)
      await nc.close()
    } finally {
      await server.stop()
    }
  }, 30_000)
})
