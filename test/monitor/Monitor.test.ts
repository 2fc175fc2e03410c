/**
 * The HTTP monitor against our server in-process with real clients: /varz, /connz, /routez,
 * /subsz, /healthz, the index page, 404 and JSONP — field names and order compared with the
 * captures from nats-server 2.9.10 (NATS-REFERENCE.md §4), values compared with live traffic.
 */
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { monitorAddress } from "../../src/monitor/Monitor.js"
import { NATS_COMPAT_VERSION } from "../../src/server/ServerState.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"
import { systemImports } from "../../src/server/SystemImports.js"

type Json = Record<string, any>

// --- captures from nats-server 2.9.10 (NATS-REFERENCE.md §4) ----------------------------------

const VARZ_CAPTURE: Json = JSON.parse(
  `{"server_id":"NATLQK7OY3EF6JQQLLS37R73KUB2DWEZRFWEOT7GVBX2ZRNC7CU3W4E6","server_name":"srvA","version":"2.9.10","proto":1,"go":"go1.19.8","host":"127.0.0.1","port":24222,"connect_urls":["127.0.0.1:24222","127.0.0.1:24223"],"max_connections":65536,"ping_interval":120000000000,"ping_max":2,"http_host":"127.0.0.1","http_port":24822,"http_base_path":"","https_port":0,"auth_timeout":2,"max_control_line":4096,"max_payload":1048576,"max_pending":67108864,"cluster":{"name":"TESTC","addr":"127.0.0.1","cluster_port":24248,"auth_timeout":2,"tls_timeout":2},"gateway":{},"leaf":{},"mqtt":{},"websocket":{},"jetstream":{},"tls_timeout":2,"write_deadline":10000000000,"start":"2026-11-26T01:06:02.505896151Z","now":"2026-11-26T01:14:21.300757037Z","uptime":"8m18s","mem":16912384,"cores":2,"gomaxprocs":2,"cpu":1,"connections":1,"total_connections":14,"routes":1,"remotes":1,"leafnodes":0,"in_msgs":917,"out_msgs":1735,"in_bytes":40796,"out_bytes":39071,"slow_consumers":0,"subscriptions":89,"http_req_stats":{"/":1,"/connz":2,"/healthz":2,"/routez":2,"/subsz":2,"/varz":4},"config_load_time":"2026-11-26T01:06:02.505896151Z","system_account":"$SYS"}`
)
const VARZ_CLUSTER_B_CAPTURE: Json = JSON.parse(
  `{"name":"TESTC","addr":"127.0.0.1","cluster_port":24249,"auth_timeout":2,"urls":["127.0.0.1:24250"],"tls_timeout":2}`
)
const CONNZ_CAPTURE: Json = JSON.parse(
  `{"server_id":"NATLQK7OY3EF6JQQLLS37R73KUB2DWEZRFWEOT7GVBX2ZRNC7CU3W4E6","now":"2026-11-26T01:14:21.323720553Z","num_connections":1,"total":1,"offset":0,"limit":1024,"connections":[{"cid":24,"kind":"Client","type":"nats","ip":"127.0.0.1","port":47164,"start":"2026-11-26T01:14:18.881013514Z","last_activity":"2026-11-26T01:14:21.291447347Z","rtt":"1.858255ms","uptime":"2s","idle":"0s","pending_bytes":0,"in_msgs":12,"out_msgs":36,"in_bytes":60,"out_bytes":180,"subscriptions":3,"name":"holderA","lang":"node","version":"0.0.1"}]}`
)
const CONNZ_DETAIL_CAPTURE: Json = JSON.parse(`{"subject":"orders.*","qgroup":"workers","sid":"1","msgs":12,"cid":7}`)
const ROUTEZ_CAPTURE: Json = JSON.parse(
  `{"server_id":"NATLQK7OY3EF6JQQLLS37R73KUB2DWEZRFWEOT7GVBX2ZRNC7CU3W4E6","now":"2026-11-26T01:14:21.345413241Z","num_routes":1,"routes":[{"rid":21,"remote_id":"NCW6TGYUF77XTH6ZRLLL5G43Q66LLIQQKHHHCWIITSWE3CKBHEI7D7IW","did_solicit":false,"is_configured":false,"ip":"127.0.0.1","port":52656,"start":"2026-11-26T01:12:00.84715997Z","last_activity":"2026-11-26T01:14:21.291447347Z","rtt":"1.544959ms","uptime":"2m20s","idle":"0s","pending_size":0,"in_msgs":26,"out_msgs":26,"in_bytes":8583,"out_bytes":7920,"subscriptions":42}]}`
)
const SUBSZ_CAPTURE: Json = JSON.parse(
  `{"num_subscriptions":89,"num_cache":5,"num_inserts":269,"num_removes":180,"num_matches":67,"cache_hit_rate":0.22388059701492538,"max_fanout":3,"avg_fanout":1.8}`
)
const SUBSZ_ENTRY_CAPTURE: Json = JSON.parse(`{"account":"$G","subject":"orders.new","sid":"1","msgs":0,"cid":2}`)

const keys = (o: unknown): Array<string> => Object.keys(o as object)
const without = (list: Array<string>, ...drop: Array<string>) => list.filter((k) => !drop.includes(k))

// --- helpers ----------------------------------------------------------------------------------

interface Got {
  readonly status: number
  readonly contentType: string
  readonly text: string
  readonly json: Json
}

const httpBase = (s: TestServer) => {
  const a = monitorAddress(s.broker)
  if (a === undefined) throw new Error("monitor not listening")
  return `http://127.0.0.1:${a.port}`
}

const get = async (s: TestServer, path: string): Promise<Got> => {
  const res = await fetch(`${httpBase(s)}${path}`)
  const text = await res.text()
  let json: Json = {}
  if ((res.headers.get("content-type") ?? "").startsWith("application/json")) json = JSON.parse(text) as Json
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text, json }
}

const getJson = async (s: TestServer, path: string): Promise<Json> => {
  const r = await get(s, path)
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${r.text}`)
  return r.json
}

const enc = new TextEncoder()

const count = (sub: AsyncIterable<Msg>, box: { n: number }) =>
  void (async () => {
    for await (const _ of sub) box.n++
  })()

// --- a standalone server with two clients ------------------------------------------------------

/** The system account's internal subscriptions (its `$SYS.REQ.SERVER…` responders). */
const systemSubs = (s: { readonly broker: { readonly router: { lookup(name: string): { readonly index: { readonly size: number } } | undefined } } }): number =>
  // The system account's request subscriptions, and the $SYS imports of the global account (one each).
  (s.broker.router.lookup("$SYS")?.index.size ?? 0) + systemImports("$G", "$SYS").length

describe("monitor on a standalone server", () => {
  let server: TestServer
  let holder: NatsConnection
  let pub: NatsConnection
  const clients: Array<NatsConnection> = []
  const counted = { n: 0 }

  beforeAll(async () => {
    server = await startServer({ httpPort: -1, serverName: "mon-a" })
    holder = await connect({ servers: server.url, name: "holderA" })
    pub = await connect({ servers: server.url, name: "pubB" })
    clients.push(holder, pub)
    holder.subscribe("orders.*", { queue: "workers" })
    holder.subscribe("orders.>")
    count(holder.subscribe("count.x"), counted)
    await holder.flush()
  })
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await server?.stop()
  })

  it("binds a random port for httpPort -1, records it and logs nats-server's line", () => {
    const a = monitorAddress(server.broker)!
    expect(a.host).toBe("127.0.0.1")
    expect(a.port).toBeGreaterThan(0)
    expect(server.broker.monitorAddress).toEqual(a)
    expect(server.lines().some((l) => l.includes(`[INF] Starting http monitor on 127.0.0.1:${a.port}`))).toBe(true)
  })

  it("/healthz answers {\"status\":\"ok\"}", async () => {
    const r = await get(server, "/healthz")
    expect(r.status).toBe(200)
    expect(r.contentType).toBe("application/json")
    expect(r.text).toBe('{"status":"ok"}')
  })

  it("unknown paths are 404", async () => {
    for (const path of ["/nope", "/varz/", "/connz/x", "/VARZ"]) {
      const r = await get(server, path)
      expect(r.status, path).toBe(404)
    }
  })

  it("/ is an HTML index linking the endpoints", async () => {
    const r = await get(server, "/")
    expect(r.status).toBe(200)
    expect(r.contentType).toContain("text/html")
    for (const path of ["varz", "connz", "accountz", "accstatz", "routez", "subsz", "healthz"]) expect(r.text).toContain(`href=./${path}`)
  })

  it("JSONP: ?callback=cb wraps the document", async () => {
    const r = await get(server, "/varz?callback=cb")
    expect(r.status).toBe(200)
    expect(r.contentType).toBe("application/javascript")
    expect(r.text.startsWith("cb({\n  \"server_id\"")).toBe(true)
    expect(r.text.endsWith("})")).toBe(true)
    const inner = JSON.parse(r.text.slice(3, -1)) as Json
    expect(inner["server_id"]).toBe(server.broker.serverId)
    const h = await get(server, "/healthz?callback=f")
    expect(h.text).toBe('f({"status":"ok"})')
  })

  it("/varz has nats-server 2.9's fields in its order, and our INFO's version", async () => {
    const r = await get(server, "/varz")
    expect(r.contentType).toBe("application/json")
    // Go's MarshalIndent: two-space indent.
    expect(r.text.startsWith('{\n  "server_id": ')).toBe(true)
    const v = r.json
    // Standalone: no connect_urls; the system account is `$SYS`, as nats-server's default.
    expect(keys(v)).toEqual(without(keys(VARZ_CAPTURE), "connect_urls"))
    expect(v["system_account"]).toBe("$SYS")
    expect(v["cluster"]).toEqual({})
    for (const k of ["gateway", "leaf", "mqtt", "websocket", "jetstream"]) expect(v[k]).toEqual({})
    expect(v["version"]).toBe(NATS_COMPAT_VERSION)
    expect(v["server_id"]).toBe(server.broker.serverId)
    expect(v["server_name"]).toBe("mon-a")
    expect(v["port"]).toBe(server.port)
    expect(v["http_host"]).toBe("127.0.0.1")
    expect(v["http_port"]).toBe(monitorAddress(server.broker)!.port)
    expect(v["ping_interval"]).toBe(120_000_000_000)
    expect(v["write_deadline"]).toBe(10_000_000_000)
    expect(v["max_payload"]).toBe(1024 * 1024)
    expect(v["connections"]).toBe(2)
    expect(v["total_connections"]).toBeGreaterThanOrEqual(2)
    expect(v["routes"]).toBe(0)
    // The client subscriptions and the system account's internal ones (nats-server counts both).
    expect(v["subscriptions"]).toBe(3 + systemSubs(server))
    expect(v["mem"]).toBeGreaterThan(1024 * 1024)
    expect(v["cores"]).toBeGreaterThanOrEqual(1)
    expect(typeof v["cpu"]).toBe("number")
    expect(v["uptime"]).toMatch(/^\d+s$/)
    expect(v["start"]).toBe(server.broker.start.toISOString().replace(/\.?0*Z$/, "Z"))
  })

  it("/varz in_msgs/out_msgs move by exactly N after N messages through one subscription", async () => {
    const N = 25
    const before = await getJson(server, "/varz")
    for (let i = 0; i < N; i++) pub.publish("count.x", enc.encode(`m${i}`))
    await pub.flush()
    await waitUntil("N deliveries", () => counted.n >= N)
    await holder.flush()
    const after = await getJson(server, "/varz")
    expect(after["in_msgs"] - before["in_msgs"]).toBe(N)
    expect(after["out_msgs"] - before["out_msgs"]).toBe(N)
    // Payloads "m0".."m24": 10×2 + 15×3 bytes.
    expect(after["in_bytes"] - before["in_bytes"]).toBe(65)
    expect(after["out_bytes"] - before["out_bytes"]).toBe(65)
  })

  it("/varz http_req_stats counts requests per path (including the current one)", async () => {
    const before = (await getJson(server, "/varz"))["http_req_stats"] as Record<string, number>
    await get(server, "/connz")
    await get(server, "/subscriptionsz")
    await get(server, "/nope")
    const after = (await getJson(server, "/varz"))["http_req_stats"] as Record<string, number>
    expect(after["/varz"]).toBe((before["/varz"] ?? 0) + 1)
    expect(after["/connz"]).toBe((before["/connz"] ?? 0) + 1)
    expect(after["/subsz"]).toBe((before["/subsz"] ?? 0) + 1)
    expect(keys(after)).toEqual([...keys(after)].sort())
    expect(after["/nope"]).toBeUndefined()
  })

  it("/connz lists both clients in cid order with nats-server's fields", async () => {
    const c = await getJson(server, "/connz")
    expect(keys(c)).toEqual(keys(CONNZ_CAPTURE))
    expect(c["server_id"]).toBe(server.broker.serverId)
    expect(c["num_connections"]).toBe(2)
    expect(c["total"]).toBe(2)
    expect(c["offset"]).toBe(0)
    expect(c["limit"]).toBe(1024)
    const [a, b] = c["connections"] as Array<Json>
    expect(a!["name"]).toBe("holderA")
    expect(b!["name"]).toBe("pubB")
    expect(a!["cid"]).toBeLessThan(b!["cid"])
    expect(keys(a)).toEqual(keys(CONNZ_CAPTURE["connections"][0]))
    expect(a!["kind"]).toBe("Client")
    expect(a!["type"]).toBe("nats")
    expect(a!["ip"]).toBe("127.0.0.1")
    expect(a!["subscriptions"]).toBe(3)
    expect(b!["subscriptions"]).toBe(0)
    expect(a!["lang"]).toBe("nats.js")
    expect(a!["rtt"]).toMatch(/^(\d+(\.\d+)?(ns|µs|ms|s)|0s)$/)
    expect(a!["uptime"]).toMatch(/^\d+s$/)
    // The holder got the N counted messages; the publisher sent them.
    expect(a!["out_msgs"]).toBeGreaterThanOrEqual(25)
    expect(b!["in_msgs"]).toBeGreaterThanOrEqual(25)
    expect(a!["subscriptions_list"]).toBeUndefined()
  })

  it("/connz asks an unmeasured client for its RTT, as nats-server, and shows it next time", async () => {
    const holderRtt = async () =>
      ((await getJson(server, "/connz"))["connections"] as Array<Json>).find((x) => x["name"] === "holderA")!["rtt"] as string
    await waitUntilAsync("rtt measured", async () => (await holderRtt()) !== "0s")
    expect(await holderRtt()).toMatch(/^\d+(\.\d+)?(ns|µs|ms)$/)
  })

  it("/connz?subs=1 lists subjects; subs=detail lists subscription details", async () => {
    const c = await getJson(server, "/connz?subs=1")
    const a = (c["connections"] as Array<Json>).find((x) => x["name"] === "holderA")!
    expect([...a["subscriptions_list"]].sort()).toEqual(["count.x", "orders.*", "orders.>"])
    expect(keys(a).at(-1)).toBe("subscriptions_list")
    // No list on a connection without subscriptions (omitempty).
    const b = (c["connections"] as Array<Json>).find((x) => x["name"] === "pubB")!
    expect(b["subscriptions_list"]).toBeUndefined()

    const d = await getJson(server, "/connz?subs=detail")
    const ad = (d["connections"] as Array<Json>).find((x) => x["name"] === "holderA")!
    expect(ad["subscriptions_list"]).toBeUndefined()
    const details = ad["subscriptions_list_detail"] as Array<Json>
    expect(details).toHaveLength(3)
    const queue = details.find((x) => x["subject"] === "orders.*")!
    expect(keys(queue)).toEqual(keys(CONNZ_DETAIL_CAPTURE))
    expect(queue["qgroup"]).toBe("workers")
    expect(queue["cid"]).toBe(ad["cid"])
    expect(typeof queue["sid"]).toBe("string")
    const counter = details.find((x) => x["subject"] === "count.x")!
    expect(keys(counter)).toEqual(["subject", "sid", "msgs", "cid"])
    expect(counter["msgs"]).toBe(25)
  })

  it("/connz sorts (descending for counters) and pages with limit/offset", async () => {
    const bySubs = (await getJson(server, "/connz?sort=subs"))["connections"] as Array<Json>
    expect(bySubs.map((x) => x["name"])).toEqual(["holderA", "pubB"])
    const byFrom = (await getJson(server, "/connz?sort=msgs_from"))["connections"] as Array<Json>
    expect(byFrom.map((x) => x["name"])).toEqual(["pubB", "holderA"])
    const byTo = (await getJson(server, "/connz?sort=msgs_to"))["connections"] as Array<Json>
    expect(byTo.map((x) => x["name"])).toEqual(["holderA", "pubB"])
    const byBytesFrom = (await getJson(server, "/connz?sort=bytes_from"))["connections"] as Array<Json>
    expect(byBytesFrom[0]!["name"]).toBe("pubB")

    const page = await getJson(server, "/connz?limit=1&offset=1")
    expect(page["num_connections"]).toBe(1)
    expect(page["total"]).toBe(2)
    expect(page["limit"]).toBe(1)
    expect(page["offset"]).toBe(1)
    expect((page["connections"] as Array<Json>)[0]!["name"]).toBe("pubB")
    const past = await getJson(server, "/connz?offset=5")
    expect(past["num_connections"]).toBe(0)
    expect(past["connections"]).toEqual([])

    const one = await getJson(server, `/connz?cid=${bySubs[0]!["cid"]}`)
    expect(one["num_connections"]).toBe(1)
    expect(one["limit"]).toBe(1)
    expect((one["connections"] as Array<Json>)[0]!["name"]).toBe("holderA")
  })

  it("/connz rejects bad options with 400 as nats-server", async () => {
    expect((await get(server, "/connz?sort=bogus")).text).toBe("invalid sorting option: bogus")
    expect((await get(server, "/connz?sort=stop")).status).toBe(400)
    expect((await get(server, "/connz?limit=x")).text).toBe(`Error decoding int for 'limit': strconv.Atoi: parsing "x": invalid syntax`)
    expect((await get(server, "/connz?state=weird")).status).toBe(400)
  })

  it("/subsz: plain statistics, subs=1 lists subscriptions, test= filters, offset/limit page", async () => {
    const plain = await getJson(server, "/subsz")
    expect(keys(plain)).toEqual(keys(SUBSZ_CAPTURE))
    expect(plain["num_subscriptions"]).toBe(3 + systemSubs(server))
    expect(plain["num_inserts"]).toBeGreaterThanOrEqual(3)
    expect(plain["num_matches"]).toBeGreaterThanOrEqual(25)
    expect(plain["cache_hit_rate"]).toBeGreaterThan(0)
    expect(plain["max_fanout"]).toBeGreaterThanOrEqual(1)

    const alias = await getJson(server, "/subscriptionsz")
    expect(keys(alias)).toEqual(keys(SUBSZ_CAPTURE))

    const list = await getJson(server, "/subsz?subs=1")
    expect(keys(list)).toEqual(["server_id", "now", ...keys(SUBSZ_CAPTURE), "total", "offset", "limit", "subscriptions_list"])
    expect(list["server_id"]).toBe(server.broker.serverId)
    // The client subscriptions, besides the system account's internal ones and $G's $SYS imports.
    const subs = (list["subscriptions_list"] as Array<Json>).filter((s) => s["account"] !== "$SYS" && !String(s["subject"]).startsWith("$SYS."))
    expect(subs.map((s) => s["subject"]).sort()).toEqual(["count.x", "orders.*", "orders.>"])
    const plainSub = subs.find((s) => s["subject"] === "count.x")!
    expect(keys(plainSub)).toEqual(keys(SUBSZ_ENTRY_CAPTURE))
    expect(plainSub["account"]).toBe("$G")
    expect(plainSub["msgs"]).toBe(25)
    expect(keys(subs.find((s) => s["subject"] === "orders.*"))).toEqual(["account", "subject", "qgroup", "sid", "msgs", "cid"])

    const test = await getJson(server, "/subsz?subs=1&test=orders.new")
    expect((test["subscriptions_list"] as Array<Json>).map((s) => s["subject"]).sort()).toEqual(["orders.*", "orders.>"])
    const deep = await getJson(server, "/subsz?subs=1&test=orders.new.deep")
    expect((deep["subscriptions_list"] as Array<Json>).map((s) => s["subject"])).toEqual(["orders.>"])
    // Nothing matches: only the statistics, as nats-server.
    const none = await getJson(server, "/subsz?subs=1&test=nothing.here")
    expect(keys(none)).toEqual(keys(SUBSZ_CAPTURE))
    expect((await get(server, "/subsz?test=orders.*")).status).toBe(400)

    const page = await getJson(server, "/subsz?subs=1&offset=1&limit=1")
    expect(page["offset"]).toBe(1)
    expect(page["limit"]).toBe(1)
    expect(page["total"]).toBe(1)
    expect(page["subscriptions_list"]).toHaveLength(1)
  })

  it("/routez on a standalone server is empty", async () => {
    const r = await getJson(server, "/routez")
    expect(keys(r)).toEqual(keys(ROUTEZ_CAPTURE))
    expect(r["num_routes"]).toBe(0)
    expect(r["routes"]).toEqual([])
  })

  it("/connz?state=closed lists a client that left, with stop and reason", async () => {
    const gone = await connect({ servers: server.url, name: "leaver" })
    gone.subscribe("leaver.topic")
    await gone.flush()
    const open = (await getJson(server, "/connz"))["connections"] as Array<Json>
    const cid = open.find((x) => x["name"] === "leaver")!["cid"] as number
    expect((await getJson(server, "/subsz"))["num_subscriptions"]).toBe(4 + systemSubs(server))
    await gone.close()
    await waitUntil("closed client remembered", () => server.broker.closed.some((c) => c.cid === cid))

    const closed = await getJson(server, "/connz?state=closed")
    const entry = (closed["connections"] as Array<Json>).find((x) => x["cid"] === cid)!
    expect(entry["name"]).toBe("leaver")
    expect(entry["reason"]).toBe("Client Closed")
    expect(typeof entry["stop"]).toBe("string")
    expect(keys(entry).slice(0, 10)).toEqual(["cid", "kind", "type", "ip", "port", "start", "last_activity", "stop", "reason", "rtt"])
    expect(Date.parse(entry["stop"])).toBeGreaterThanOrEqual(Date.parse(entry["start"]))

    // Not among the open ones any more; both with state=all.
    const nowOpen = await getJson(server, "/connz")
    expect((nowOpen["connections"] as Array<Json>).some((x) => x["cid"] === cid)).toBe(false)
    const all = await getJson(server, "/connz?state=all")
    expect(all["total"]).toBe((nowOpen["total"] as number) + (closed["total"] as number))
    const byCid = await getJson(server, `/connz?state=closed&cid=${cid}`)
    expect((byCid["connections"] as Array<Json>).map((x) => x["cid"])).toEqual([cid])
    const byReason = await getJson(server, "/connz?state=closed&sort=reason")
    expect(byReason["num_connections"]).toBeGreaterThanOrEqual(1)
    const byStop = await getJson(server, "/connz?state=closed&sort=stop")
    expect(byStop["num_connections"]).toBeGreaterThanOrEqual(1)

    // Its subscription is gone from the index.
    await waitUntilAsync("subscription removed", async () => (await getJson(server, "/subsz"))["num_subscriptions"] === 3 + systemSubs(server))
    expect((await getJson(server, "/varz"))["connections"]).toBe(2)
  })

  it("escapes <, > and & in strings as Go's encoder does", async () => {
    const odd = await connect({ servers: server.url, name: "<odd&name>" })
    try {
      await odd.flush()
      const r = await get(server, "/connz")
      expect(r.text).toContain('"name": "\\u003codd\\u0026name\\u003e"')
      expect((r.json["connections"] as Array<Json>).some((x) => x["name"] === "<odd&name>")).toBe(true)
    } finally {
      await odd.close()
    }
  })
})

// --- starting and not starting ------------------------------------------------------------------

describe("monitor lifecycle", () => {
  it("is not started without httpPort", async () => {
    const s = await startServer({})
    try {
      expect(monitorAddress(s.broker)).toBeUndefined()
      expect(s.lines().some((l) => l.includes("Starting http monitor"))).toBe(false)
    } finally {
      await s.stop()
    }
  })

  it("fails to start on a port that is taken, and frees its port when stopped", async () => {
    const s = await startServer({ httpPort: -1 })
    const port = monitorAddress(s.broker)!.port
    await expect(startServer({ httpPort: port })).rejects.toThrow(/can't listen to the monitor port/)
    await s.stop()
    expect(monitorAddress(s.broker)).toBeUndefined()
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow()
    // The same fixed port binds again once the first monitor is gone.
    const again = await startServer({ httpPort: port })
    try {
      expect(monitorAddress(again.broker)!.port).toBe(port)
      expect((await get(again, "/healthz")).text).toBe('{"status":"ok"}')
    } finally {
      await again.stop()
    }
  })
})

// --- a 2-node cluster ----------------------------------------------------------------------------

describe("monitor in a 2-node cluster", () => {
  let A: TestServer
  let B: TestServer
  const clients: Array<NatsConnection> = []
  const routePort = (s: TestServer) => s.cluster!.listen!.port

  beforeAll(async () => {
    A = await startServer({ httpPort: -1, serverName: "A", cluster: { name: "MON", host: "127.0.0.1", port: -1 } })
    B = await startServer({
      httpPort: -1,
      serverName: "B",
      cluster: { name: "MON", host: "127.0.0.1", port: -1, routes: [`nats-route://127.0.0.1:${routePort(A)}`] }
    })
    await waitUntil("route up", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1)
  })
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await B?.stop()
    await A?.stop()
  })

  it("/routez lists the route on both sides: acceptor and dialer", async () => {
    const ra = await getJson(A, "/routez")
    const rb = await getJson(B, "/routez")
    for (const r of [ra, rb]) {
      expect(keys(r)).toEqual(keys(ROUTEZ_CAPTURE))
      expect(r["num_routes"]).toBe(1)
      expect(keys((r["routes"] as Array<Json>)[0])).toEqual(keys(ROUTEZ_CAPTURE["routes"][0]))
    }
    const a = (ra["routes"] as Array<Json>)[0]!
    const b = (rb["routes"] as Array<Json>)[0]!
    expect(a["remote_id"]).toBe(B.broker.serverId)
    expect(a["did_solicit"]).toBe(false)
    expect(a["is_configured"]).toBe(false)
    expect(b["remote_id"]).toBe(A.broker.serverId)
    expect(b["did_solicit"]).toBe(true)
    expect(b["is_configured"]).toBe(true)
    expect(b["ip"]).toBe("127.0.0.1")
    expect(b["port"]).toBe(routePort(A))
    expect(a["port"]).not.toBe(routePort(B))
  })

  it("/routez shows remote interest and moves its counters with routed messages", async () => {
    const sub = await connect({ servers: A.url, name: "subOnA" })
    const pub = await connect({ servers: B.url, name: "pubOnB" })
    clients.push(sub, pub)
    const got = { n: 0 }
    count(sub.subscribe("rz.hello"), got)
    await sub.flush()
    await waitUntilAsync("interest on B", async () => {
      const r = (await getJson(B, "/routez?subs=1"))["routes"] as Array<Json>
      return (r[0]?.["subscriptions_list"] as Array<string> | undefined)?.includes("rz.hello") === true
    })
    const detail = ((await getJson(B, "/routez?subs=detail"))["routes"] as Array<Json>)[0]!
    const entry = (detail["subscriptions_list_detail"] as Array<Json>).find((s) => s["subject"] === "rz.hello")!
    expect(entry["cid"]).toBe(detail["rid"])
    expect(detail["subscriptions"]).toBeGreaterThanOrEqual(1)

    const N = 10
    const beforeB = ((await getJson(B, "/routez"))["routes"] as Array<Json>)[0]!
    const beforeA = ((await getJson(A, "/routez"))["routes"] as Array<Json>)[0]!
    for (let i = 0; i < N; i++) pub.publish("rz.hello", enc.encode("x"))
    await pub.flush()
    await waitUntil("routed messages delivered", () => got.n >= N)
    const afterB = ((await getJson(B, "/routez"))["routes"] as Array<Json>)[0]!
    const afterA = ((await getJson(A, "/routez"))["routes"] as Array<Json>)[0]!
    expect(afterB["out_msgs"] - beforeB["out_msgs"]).toBe(N)
    expect(afterA["in_msgs"] - beforeA["in_msgs"]).toBe(N)
    expect(afterA["in_bytes"] - beforeA["in_bytes"]).toBe(N)
  })

  it("/varz shows the cluster block, routes and connect_urls", async () => {
    const va = await getJson(A, "/varz")
    const vb = await getJson(B, "/varz")
    expect(keys(va)).toEqual(keys(VARZ_CAPTURE))
    expect(keys(va["cluster"])).toEqual(without(keys(VARZ_CLUSTER_B_CAPTURE), "urls"))
    expect(keys(vb["cluster"])).toEqual(keys(VARZ_CLUSTER_B_CAPTURE))
    expect(va["cluster"]).toEqual({ name: "MON", addr: "127.0.0.1", cluster_port: routePort(A), auth_timeout: 2, tls_timeout: 2 })
    expect(vb["cluster"]["urls"]).toEqual([`127.0.0.1:${routePort(A)}`])
    for (const v of [va, vb]) {
      expect(v["routes"]).toBe(1)
      expect(v["remotes"]).toBe(1)
      expect([...v["connect_urls"]].sort()).toEqual([`127.0.0.1:${A.port}`, `127.0.0.1:${B.port}`].sort())
    }
  })
})
