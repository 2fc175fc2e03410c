/**
 * The system account, with real nats.js clients over loopback:
 *
 * - a client of the system account receives `$SYS.ACCOUNT.<acc>.CONNECT` / `.DISCONNECT` for a
 *   client of another account, with nats-server 2.9.10's fields in its order (captured from the
 *   real server);
 * - `$SYS.REQ.SERVER.PING` in a three-member cluster of ours is answered by all three members
 *   (statsz: each sees two routes); `.PING.<KIND>` too, and filter options select members;
 * - `$SYS.REQ.SERVER.<id>.VARZ|CONNZ|ROUTEZ|SUBSZ` of another member answers with the JSON its
 *   HTTP endpoint serves (time-varying fields aside); bad bodies get nats-server's error shapes;
 * - a mixed cluster with real nats-server: PING from a client of either is answered by both;
 * - clients outside the system account see none of this traffic and cannot ask.
 */
import * as Result from "effect/Result"
import { connect, type Msg, type NatsConnection, StringCodec } from "nats"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { configFromString } from "../../src/config/ConfigFile.js"
import { writeConf } from "../support/confServers.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const sc = StringCodec()

const ACCOUNTS = `
accounts {
  SYS: { users: [{ user: sys, password: pw }] }
  A: { users: [{ user: a, password: pw }] }
}
system_account: SYS
authorization { users: [{ user: g, password: pw }] }
`

/** Our server in this process with `conf` (text) and `extra` options on top. */
const startOurs = async (conf: string, extra: Record<string, unknown> = {}): Promise<TestServer> => {
  const r = configFromString(conf, { file: "test.conf" })
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return startServer({ ...r.success.options, host: "127.0.0.1", port: -1, ...extra })
}

const clusterConf = (name: string, port: number, routes: ReadonlyArray<number>) =>
  `${ACCOUNTS}\nserver_name: ${name}\ncluster { name: sysc, listen: 127.0.0.1:${port}, routes: [${routes.map((p) => `nats://127.0.0.1:${p}`).join(", ")}] }\n`

interface Collected {
  readonly msgs: Array<Msg>
  readonly json: () => Array<Record<string, any>>
}

/** Every message on `subject` (a subscription of `nc`), kept in arrival order. */
const collect = async (nc: NatsConnection, subject: string): Promise<Collected> => {
  const msgs: Array<Msg> = []
  const sub = nc.subscribe(subject)
  void (async () => {
    for await (const m of sub) msgs.push(m)
  })()
  await nc.flush()
  return { msgs, json: () => msgs.map((m) => JSON.parse(sc.decode(m.data)) as Record<string, any>) }
}

/** Publish a request on `subject` and gather answers on a fresh reply subject until `done` holds. */
const gather = async (nc: NatsConnection, subject: string, body: string, done: (answers: Array<Record<string, any>>) => boolean, what: string) => {
  const reply = `sys.reply.${Math.random().toString(36).slice(2)}`
  const answers = await collect(nc, reply)
  nc.publish(subject, sc.encode(body), { reply })
  await waitUntil(what, () => done(answers.json()))
  return answers.json()
}

const request = async (nc: NatsConnection, subject: string, body = ""): Promise<Record<string, any>> =>
  JSON.parse(sc.decode((await nc.request(subject, sc.encode(body), { timeout: 5000 })).data)) as Record<string, any>

/**
 * Interest in the responders' subjects travels with the routes after they connect: PING (all on
 * one reply subject) until `members` distinct servers have answered.
 */
const warmUp = async (nc: NatsConnection, members: number) => {
  const reply = `sys.warmup.${Math.random().toString(36).slice(2)}`
  const answers = await collect(nc, reply)
  await waitUntilAsync(`${members} members answer PING`, async () => {
    nc.publish("$SYS.REQ.SERVER.PING", sc.encode(""), { reply })
    await nc.flush()
    return new Set(answers.json().map((x) => x["server"]["id"])).size === members
  }, 20_000)
}

/** nats-server's `ServerInfo` stamp keys, in order (no tags, no JetStream domain). */
const stampKeys = (clustered: boolean) => ["name", "host", "id", ...(clustered ? ["cluster"] : []), "ver", "seq", "jetstream", "time"]

describe("system account: client events", () => {
  let server: TestServer
  const conns: Array<NatsConnection> = []
  beforeAll(async () => {
    server = await startOurs(ACCOUNTS)
  })
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {})
    await server.stop()
  })

  it("CONNECT and DISCONNECT of a client of A reach a subscriber in SYS, with nats-server's fields", async () => {
    const sys = await connect({ port: server.port, user: "sys", pass: "pw" })
    conns.push(sys)
    const events = await collect(sys, "$SYS.ACCOUNT.>")
    const a = await connect({ port: server.port, user: "a", pass: "pw", name: "client-a" })
    const got = await collect(a, "a.echo")
    a.publish("a.echo", sc.encode("hi"))
    a.publish("a.other", sc.encode("hello"))
    await waitUntil("A got its own message", () => got.msgs.length === 1)
    await waitUntil("CONNECT event", () => events.msgs.some((m) => m.subject.endsWith(".CONNECT")))
    await a.close()
    await waitUntil("DISCONNECT event", () => events.msgs.some((m) => m.subject.endsWith(".DISCONNECT")))

    // (The account's CONNS events on the same wildcard: test/server/SystemAccount2.test.ts.)
    const clientEvents = events.msgs.filter((m) => /\.(DIS)?CONNECT$/.test(m.subject))
    expect(clientEvents.map((m) => m.subject)).toEqual(["$SYS.ACCOUNT.A.CONNECT", "$SYS.ACCOUNT.A.DISCONNECT"])
    const [connected, disconnected] = clientEvents.map((m) => JSON.parse(sc.decode(m.data))) as [Record<string, any>, Record<string, any>]
    expect(Object.keys(connected)).toEqual(["type", "id", "timestamp", "server", "client"])
    expect(connected["type"]).toBe("io.nats.server.advisory.v1.client_connect")
    expect(connected["id"]).toMatch(/^[A-Za-z0-9]{22}$/)
    expect(Object.keys(connected["server"])).toEqual(stampKeys(false))
    expect(connected["server"]).toMatchObject({ name: server.broker.serverName, host: "127.0.0.1", id: server.broker.serverId, ver: "2.9.10", jetstream: false })
    expect(Object.keys(connected["client"])).toEqual(["start", "host", "id", "acc", "user", "name", "lang", "ver", "kind", "client_type"])
    expect(connected["client"]).toMatchObject({ host: "127.0.0.1", acc: "A", user: "a", name: "client-a", lang: "nats.js", kind: "Client", client_type: "nats" })

    expect(Object.keys(disconnected)).toEqual(["type", "id", "timestamp", "server", "client", "sent", "received", "reason"])
    expect(disconnected["type"]).toBe("io.nats.server.advisory.v1.client_disconnect")
    expect(disconnected["id"]).not.toBe(connected["id"])
    expect(disconnected["server"]["seq"]).toBeGreaterThan(connected["server"]["seq"])
    expect(Object.keys(disconnected["client"])).toEqual(["start", "host", "id", "acc", "user", "name", "lang", "ver", "rtt", "stop", "kind", "client_type"])
    expect(disconnected["client"]["id"]).toBe(connected["client"]["id"])
    expect(disconnected["client"]["stop"]).toBe(disconnected["timestamp"])
    // `sent` is what the client published, `received` what it was delivered.
    expect(disconnected["sent"]).toEqual({ msgs: 2, bytes: 7 })
    expect(disconnected["received"]).toEqual({ msgs: 1, bytes: 2 })
    expect(disconnected["reason"]).toBe("Client Closed")
  })

  it("clients of the global account cause no events; clients outside SYS see no $SYS traffic and cannot ask", async () => {
    // Clients of A and of the global account that only ask (connected before SYS listens for events).
    const askA = await connect({ port: server.port, user: "a", pass: "pw" })
    const askG = await connect({ port: server.port, user: "g", pass: "pw" })
    conns.push(askA, askG)
    // Requests from other accounts find no responder (nobody else there listens yet).
    await expect(askA.request("$SYS.REQ.SERVER.PING", sc.encode(""), { timeout: 2000 })).rejects.toThrow(/503|NO_RESPONDERS/)
    await expect(askG.request("$SYS.REQ.SERVER.PING", sc.encode(""), { timeout: 2000 })).rejects.toThrow(/503|NO_RESPONDERS/)
    const sys = await connect({ port: server.port, user: "sys", pass: "pw" })
    conns.push(sys)
    const events = await collect(sys, "$SYS.>")
    const a = await connect({ port: server.port, user: "a", pass: "pw" })
    conns.push(a)
    const seenByA = await collect(a, ">")
    const g = await connect({ port: server.port, user: "g", pass: "pw" })
    conns.push(g)
    const seenByG = await collect(g, ">")
    // A second client of A: its CONNECT and DISCONNECT reach SYS only.
    const a2 = await connect({ port: server.port, user: "a", pass: "pw" })
    const count = (subject: string) => events.msgs.filter((m) => m.subject === subject).length
    await waitUntil("CONNECT of both A clients", () => count("$SYS.ACCOUNT.A.CONNECT") === 2)
    const a2Id = a2.info!.client_id
    await a2.close()
    await waitUntil("DISCONNECT of the second A client", () => events.msgs.some((m) => m.subject === "$SYS.ACCOUNT.A.DISCONNECT"))
    const answers = await gather(sys, "$SYS.REQ.SERVER.PING", "", (xs) => xs.length === 1, "PING answer")
    expect(answers[0]!["server"]["id"]).toBe(server.broker.serverId)
    // Everything SYS saw was delivered before these markers were published.
    a.publish("marker.a", sc.encode("m"))
    g.publish("marker.g", sc.encode("m"))
    await waitUntil("markers", () => seenByA.msgs.some((m) => m.subject === "marker.a") && seenByG.msgs.some((m) => m.subject === "marker.g"))
    expect(seenByA.msgs.map((m) => m.subject).filter((s) => !s.startsWith("_INBOX."))).toEqual(["marker.a"])
    expect(seenByG.msgs.map((m) => m.subject).filter((s) => !s.startsWith("_INBOX."))).toEqual(["marker.g"])
    // The global account's client logged in unseen: only A's clients' events.
    const accountEvents = events.msgs.filter((m) => m.subject.startsWith("$SYS.ACCOUNT.") && !m.subject.endsWith(".CONNS"))
    expect(accountEvents.map((m) => m.subject)).toEqual(["$SYS.ACCOUNT.A.CONNECT", "$SYS.ACCOUNT.A.CONNECT", "$SYS.ACCOUNT.A.DISCONNECT"])
    const cids = accountEvents.map((m) => (JSON.parse(sc.decode(m.data)) as Record<string, any>)["client"]["id"])
    expect(cids).toEqual([a.info!.client_id, a2Id, a2Id])
  })
})

describe("system account: requests in a cluster of three", () => {
  const servers: Array<TestServer> = []
  const conns: Array<NatsConnection> = []
  let sys: NatsConnection

  beforeAll(async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()])
    for (const [i, name] of ["S1", "S2", "S3"].entries()) {
      servers.push(await startOurs(clusterConf(name, ports[i]!, ports.filter((_, j) => j !== i)), { httpPort: -1 }))
    }
    await waitUntil("full mesh", () => servers.every((s) => s.cluster!.routes.size === 2), 20_000)
    sys = await connect({ port: servers[0]!.port, user: "sys", pass: "pw" })
    conns.push(sys)
  }, 60_000)
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {})
    for (const s of servers) await s.stop()
  })

  const ids = () => servers.map((s) => s.broker.serverId).sort()
  const answeredBy = (answers: Array<Record<string, any>>) => answers.map((x) => x["server"]["id"] as string).sort()

  it("$SYS.REQ.SERVER.PING is answered by all three members", async () => {
    await warmUp(sys, 3)
    const answers = await gather(sys, "$SYS.REQ.SERVER.PING", "", (xs) => xs.length === 3, "three PING answers")
    expect(answeredBy(answers)).toEqual(ids())
    for (const answer of answers) {
      expect(Object.keys(answer)).toEqual(["server", "statsz"])
      expect(Object.keys(answer["server"])).toEqual(stampKeys(true))
      expect(answer["server"]["cluster"]).toBe("sysc")
      const statsz = answer["statsz"]
      expect(Object.keys(statsz)).toEqual([
        "start", "mem", "cores", "cpu", "connections", "total_connections", "active_accounts", "subscriptions",
        "sent", "received", "slow_consumers", "routes", "active_servers"
      ])
      expect(statsz["active_servers"]).toBe(3)
      expect(statsz["routes"]).toHaveLength(2)
      const others = servers.filter((s) => s.broker.serverId !== answer["server"]["id"]).map((s) => s.broker.serverName).sort()
      expect(statsz["routes"].map((r: any) => r.name).sort()).toEqual(others)
      expect(Object.keys(statsz["routes"][0])).toEqual(["rid", "name", "sent", "received", "pending"])
    }
  })

  it("PING variants: every member answers .PING.VARZ; a filter selects one member", async () => {
    const varz = await gather(sys, "$SYS.REQ.SERVER.PING.VARZ", "", (xs) => xs.length === 3, "three VARZ answers")
    expect(answeredBy(varz)).toEqual(ids())
    for (const v of varz) expect(v["data"]["server_id"]).toBe(v["server"]["id"])
    const only = await gather(sys, "$SYS.REQ.SERVER.PING", JSON.stringify({ server_name: "S2" }), (xs) => xs.length === 1, "S2's answer")
    // A marker request everybody answers: S1 and S3's silence on the filtered one is settled once it is back.
    await gather(sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "", (xs) => xs.length === 3, "three HEALTHZ answers")
    expect(only.map((x) => x["server"]["name"])).toEqual(["S2"])
  })

  /** Time-varying fields of the monitoring documents. */
  const VARYING = new Set([
    "now", "uptime", "mem", "cpu", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "http_req_stats", "last_activity",
    "idle", "rtt", "pending_bytes", "pending_size", "num_cache", "num_inserts", "num_removes", "num_matches",
    "cache_hit_rate", "max_fanout", "avg_fanout", "start"
  ])
  const stable = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(stable) : v !== null && typeof v === "object"
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, VARYING.has(k) ? "*" : stable(x)]))
      : v

  it("$SYS.REQ.SERVER.<id>.VARZ|CONNZ|ROUTEZ|SUBSZ of another member: the JSON of its HTTP endpoint", async () => {
    const target = servers[1]!
    const id = target.broker.serverId
    const http = async (path: string) => (await fetch(`http://127.0.0.1:${target.broker.monitorAddress!.port}${path}`)).json()
    // Something to list on the target: a global-account client with a subscription.
    const g = await connect({ port: target.port, user: "g", pass: "pw", name: "lister" })
    conns.push(g)
    g.subscribe("g.listed")
    await g.flush()
    // First request: the requester's reply interest reaches the target (later documents stay put).
    await waitUntilAsync("the target answers", () => request(sys, `$SYS.REQ.SERVER.${id}.VARZ`).then(() => true, () => false), 10_000)

    const cases: Array<[string, string, string]> = [
      ["VARZ", "", "/varz"],
      ["CONNZ", "", "/connz"],
      ["CONNZ", JSON.stringify({ subscriptions: true, auth: true }), "/connz?subs=1&auth=1"],
      ["CONNZ", JSON.stringify({ sort: "cid", limit: 1, state: 2 }), "/connz?sort=cid&limit=1&state=all"],
      ["ROUTEZ", JSON.stringify({ subscriptions: true }), "/routez?subs=1"],
      ["SUBSZ", JSON.stringify({ subscriptions: true }), "/subsz?subs=1"]
    ]
    for (const [kind, body, path] of cases) {
      const answer = await request(sys, `$SYS.REQ.SERVER.${id}.${kind}`, body)
      expect(Object.keys(answer), kind).toEqual(["server", "data"])
      expect(answer["server"]["id"]).toBe(id)
      expect(stable(answer["data"]), `${kind} ${body}`).toEqual(stable(await http(path)))
    }
    // VARZ carries the monitor's address and names the system account, as nats-server's.
    const varz = (await request(sys, `$SYS.REQ.SERVER.${id}.VARZ`))["data"]
    expect(varz["http_port"]).toBe(target.broker.monitorAddress!.port)
    expect(varz["system_account"]).toBe("SYS")
    // SUBSZ lists what /subsz?subs=1 lists (the global account's subscription here).
    const subsz = (await request(sys, `$SYS.REQ.SERVER.${id}.SUBSZ`, JSON.stringify({ subscriptions: true })))["data"]
    expect(subsz["subscriptions_list"].map((s: any) => s.subject)).toContain("g.listed")
    // Without a list, SUBSZ is still the whole document (/subsz shows the statistics only).
    const bare = (await request(sys, `$SYS.REQ.SERVER.${id}.SUBSZ`))["data"]
    expect(Object.keys(bare)).toEqual(["server_id", "now", "num_subscriptions", "num_cache", "num_inserts", "num_removes", "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout", "total", "offset", "limit"])
  })

  it("bodies Go cannot decode get 400, options the endpoint refuses 500 (nats-server's shapes and texts)", async () => {
    const id = servers[2]!.broker.serverId
    const subject = `$SYS.REQ.SERVER.${id}.CONNZ`
    expect(await request(sys, subject, JSON.stringify({ subscriptions: "x" }))).toMatchObject({
      error: { code: 400, description: "json: cannot unmarshal string into Go struct field ConnzEventOptions.subscriptions of type bool" }
    })
    expect(await request(sys, subject, JSON.stringify({ state: "closed" }))).toMatchObject({
      error: { code: 400, description: "json: cannot unmarshal string into Go struct field ConnzEventOptions.state of type server.ConnState" }
    })
    expect(await request(sys, subject, JSON.stringify({ limit: 1.5 }))).toMatchObject({
      error: { code: 400, description: "json: cannot unmarshal number 1.5 into Go struct field ConnzEventOptions.limit of type int" }
    })
    expect(await request(sys, subject, "[1]")).toMatchObject({
      error: { code: 400, description: "json: cannot unmarshal array into Go value of type server.ConnzEventOptions" }
    })
    expect(await request(sys, subject, "  ")).toMatchObject({ error: { code: 400, description: "unexpected end of JSON input" } })
    const bad = await request(sys, subject, "{bad")
    expect(Object.keys(bad)).toEqual(["server", "error"])
    const refused = await request(sys, subject, JSON.stringify({ sort: "nope" }))
    expect(refused).toEqual({ server: refused["server"], data: null, error: { code: 500, description: "invalid sorting option: nope" } })
    expect(await request(sys, `$SYS.REQ.SERVER.${id}.SUBSZ`, JSON.stringify({ test: "a.*" }))).toMatchObject({
      data: null,
      error: { code: 500, description: "invalid test subject, must be valid publish subject: a.*" }
    })
    // Unknown keys are ignored, keys match case-insensitively, null leaves an option unset.
    const ok = await request(sys, subject, JSON.stringify({ zzz: 1, CID: 999_999, user: null }))
    expect(ok["data"]).toMatchObject({ num_connections: 0, total: 0, limit: 1 })
  })
})

describe.skipIf(natsServerPath === undefined)("system account: mixed cluster with nats-server 2.9", () => {
  const ours: Array<TestServer> = []
  let real: ChildServer
  const conns: Array<NatsConnection> = []

  beforeAll(async () => {
    const [pa, pb, pn] = await Promise.all([freePort(), freePort(), freePort()])
    ours.push(await startOurs(clusterConf("A", pa!, [pb!, pn!])))
    ours.push(await startOurs(clusterConf("B", pb!, [pa!, pn!])))
    real = await startNatsServer(["-c", writeConf(clusterConf("N", pn!, [pa!, pb!])), "-a", "127.0.0.1", "-p", "-1"])
    await waitUntil("our members route to both", () => ours.every((s) => s.cluster!.routes.size === 2), 20_000)
  }, 60_000)
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {})
    for (const s of ours) await s.stop()
    await real?.stop()
  })

  it("PING from a client of nats-server and from a client of ours: both kinds of server answer", async () => {
    const onReal = await connect({ port: real.port, user: "sys", pass: "pw" })
    const onOurs = await connect({ port: ours[0]!.port, user: "sys", pass: "pw" })
    conns.push(onReal, onOurs)
    await warmUp(onReal, 3)
    await warmUp(onOurs, 3)
    for (const nc of [onReal, onOurs]) {
      const answers = await gather(nc, "$SYS.REQ.SERVER.PING", "", (xs) => xs.length === 3, "three PING answers")
      expect(answers.map((x) => x["server"]["name"]).sort()).toEqual(["A", "B", "N"])
    }
    // nats-server's answer and ours have the same shape.
    const answers = await gather(onOurs, "$SYS.REQ.SERVER.PING", "", (xs) => xs.length === 3, "three answers")
    const byName = new Map(answers.map((x) => [x["server"]["name"] as string, x]))
    const n = byName.get("N")!
    const a = byName.get("A")!
    expect(Object.keys(a)).toEqual(Object.keys(n))
    expect(Object.keys(a["server"])).toEqual(Object.keys(n["server"]))
    expect(Object.keys(a["statsz"])).toEqual(Object.keys(n["statsz"]))
    expect(Object.keys(a["statsz"]["routes"][0])).toEqual(Object.keys(n["statsz"]["routes"][0]))
    // A request for one of ours, from nats-server's client.
    const varz = await request(onReal, `$SYS.REQ.SERVER.${ours[1]!.broker.serverId}.VARZ`)
    expect(varz["data"]["server_name"]).toBe("B")
  })
})
