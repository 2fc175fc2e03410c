/**
 * Endpoints of features this server does not have (`/jsz`, `/leafz`, `/gatewayz`) — and the
 * account endpoints (`/accountz`, `/accstatz`) of a server without an `accounts` block — answer
 * as real nats-server 2.9.10 answers them: fetched from both side by side and compared field by
 * field (ids and timestamps aside). Accounts with clients: test/monitor/Accountz.test.ts.
 */
import { afterAll, describe, expect, it } from "vitest"
import { type ChildServer, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"

const PATHS = ["/accountz", "/accstatz", "/accstatz?unused=1", "/jsz", "/jsz?accounts=1", "/leafz", "/gatewayz"]

const fetchDoc = async (base: string, p: string) => {
  const res = await fetch(`${base}${p}`)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toBe("application/json")
  const doc = (await res.json()) as Record<string, unknown>
  return doc
}

/** The document without what differs between any two servers. */
const comparable = (doc: Record<string, unknown>) => {
  expect(doc["server_id"]).toMatch(/^N[A-Z0-9]{55}$/)
  expect(doc["now"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
  const { server_id: _id, now: _now, ...rest } = doc
  // nats-server lists accounts in Go map order: compare them sorted.
  if (Array.isArray(rest["accounts"])) rest["accounts"] = [...(rest["accounts"] as Array<string>)].sort()
  if (Array.isArray(rest["account_statz"])) {
    rest["account_statz"] = [...(rest["account_statz"] as Array<{ acc: string }>)].sort((x, y) => x.acc.localeCompare(y.acc))
  }
  return rest
}

describe("endpoints of features we do not serve", () => {
  let ours: TestServer | undefined
  let ref: ChildServer | undefined
  afterAll(async () => {
    await ours?.stop()
    await ref?.stop()
  })

  it("answer with nats-server's JSON", async () => {
    ours = await startServer({ httpPort: -1 })
    const base = `http://127.0.0.1:${ours.broker.monitorAddress!.port}`
    const docs = await Promise.all(PATHS.map((p) => fetchDoc(base, p).then(comparable)))
    expect(docs[0]).toEqual({ system_account: "$SYS", accounts: ["$G", "$SYS"] }) // sorted by `comparable`
    expect(docs[1]).toEqual({ account_statz: [] })
    expect(docs[3]).toMatchObject({ disabled: true, streams: 0, consumers: 0 })
    expect(docs[5]).toEqual({ leafnodes: 0, leafs: null })
    expect(docs[6]).toEqual({ outbound_gateways: {}, inbound_gateways: {} })
    if (natsServerPath === undefined) return
    ref = await startNatsServer(["-a", "127.0.0.1", "-p", "-1", "-m", "-1"])
    const line = await ref.waitFor(/Starting http monitor on/)
    const refBase = `http://${/on (\S+)\s*$/.exec(line.trim())![1]}`
    const refDocs = await Promise.all(PATHS.map((p) => fetchDoc(refBase, p).then(comparable)))
    for (const [i, p] of PATHS.entries()) expect(docs[i], p).toEqual(refDocs[i])
  })
})
