/**
 * The accounts model against real nats-server: random account graphs (exports public or private,
 * stream imports with and without prefix, service imports with and without a local subject) are
 * written as a config; nats-server -t must accept every import our checks accept, and a `>`
 * subscriber in each account must receive exactly the (account, subject) deliveries
 * `deliveries()` computes for each published subject — a user of one account never sees another
 * account's messages unless an import brings them. Plus one request/reply through a service import
 * (the `_R_` reply shape and the way back).
 */
import { spawnSync } from "node:child_process"
import * as Result from "effect/Result"
import fc from "fast-check"
import { connect, StringCodec } from "nats"
import { describe, expect, it } from "vitest"
import { type AccountSpec, compileAccounts, deliveries, isServiceReply, ServiceReplies } from "../../src/accounts/Accounts.js"
import { build, exportArb, graphDeliveries, importArb, publishArb, publishes, q, STREAM_THEN_SERVICE, toConf } from "../support/accountGraphs.js"
import { writeConf } from "../support/confServers.js"
import { natsServerPath, startNatsServer } from "../support/servers.js"

const sc = StringCodec()

const natsServer = (conf: string) => startNatsServer(["-c", writeConf(conf), "-a", "127.0.0.1", "-p", "-1"])

describe.skipIf(natsServerPath === undefined)("accounts model vs nats-server", () => {
  it("random graphs: -t accepts what we accept, and every account receives what deliveries() says", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(exportArb, { minLength: 1, maxLength: 3 }), { minLength: 3, maxLength: 3 }),
        fc.array(importArb, { maxLength: 6 }),
        publishArb,
        async (exports, imports, picks) => {
          const specs = build(exports, imports)
          const pubs = publishes(specs, picks)
          const conf = toConf(specs)
          const file = writeConf(conf)
          const t = spawnSync(natsServerPath!, ["-t", "-c", file], { encoding: "utf8", timeout: 15_000 })
          expect(t.status, `${conf}\n${t.stderr}`).toBe(0)
          const { expected, got } = await graphDeliveries(natsServer, specs, pubs)
          expect(got, `${conf}\n${q(pubs)}`).toEqual(expected)
        }
      ),
      // ACC_RUNS=400 for a longer run (done: 400 graphs, no difference).
      { numRuns: Number(process.env["ACC_RUNS"] ?? 15) }
    )
  }, 120_000)

  it("request/reply through a service import: a _R_ reply in the exporter, the response back on the requester's inbox", async () => {
    const specs: Array<AccountSpec> = [
      { name: "A", exports: [{ kind: "service", subject: "req.x" }], imports: [] },
      { name: "B", exports: [], imports: [{ kind: "service", account: "A", subject: "req.x", to: "areq" }] },
      { name: "C", exports: [], imports: [] }
    ]
    const server = await startNatsServer(["-c", writeConf(toConf(specs)), "-a", "127.0.0.1", "-p", "-1"])
    const a = await connect({ servers: server.url, user: "A", pass: "pw", reconnect: false })
    const b = await connect({ servers: server.url, user: "B", pass: "pw", reconnect: false })
    try {
      const replies: Array<string> = []
      a.subscribe("req.x", { callback: (_e, m) => {
        replies.push(m.reply ?? "")
        m.respond(sc.encode("pong"))
      } })
      await a.flush()
      const res = await b.request("areq", sc.encode("ping"), { timeout: 10_000, noMux: true })
      expect(sc.decode(res.data)).toBe("pong")
      expect(replies).toHaveLength(1)
      expect(isServiceReply(replies[0]!), replies[0]).toBe(true)
      // Our model makes the same shape and routes the response the same way.
      const accounts = Result.getOrThrow(compileAccounts(specs))
      const r = new ServiceReplies()
      const req = deliveries(accounts, "B", "areq", "_INBOX.x", r, 0)
      expect(req.map((d) => [d.account, d.subject])).toEqual([["B", "areq"], ["A", "req.x"]])
      expect(deliveries(accounts, "A", req[1]!.reply!, undefined, r, 0).map((d) => [d.account, d.subject])).toEqual([["A", req[1]!.reply!], ["B", "_INBOX.x"]])
    } finally {
      await a.close()
      await b.close()
      await server.stop()
    }
  }, 60_000)

  it("a streamed message goes back into the exporter through the importer's service import (the case the model follows)", async () => {
    const { expected, got } = await graphDeliveries(natsServer, STREAM_THEN_SERVICE, [["A", "a"]])
    expect(got).toEqual(["A a", "A a", "C a"])
    expect(expected).toEqual(got)
  })
})
