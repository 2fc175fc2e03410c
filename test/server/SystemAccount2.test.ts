/**
 * The system account's requests and events that operator tools use beyond PING and CONNECT,
 * on ours and on real nats-server 2.9.10 with the same config and the same clients, answers
 * compared after ids, times, ports and counters of the servers' own traffic are normalised:
 *
 * - `$SYS.REQ.SERVER.<id>.ACCOUNTZ` / `.PING.ACCOUNTZ` (with `account`);
 * - `$SYS.REQ.ACCOUNT.<acc>.CONNZ|SUBSZ|INFO|STATZ|CONNS|LEAFZ|JSZ`, `$SYS.REQ.ACCOUNT.PING.STATZ`
 *   and `.PING.CONNZ`, from the system account, and from a normal account through the `$SYS`
 *   imports every account has (also across a cluster of ours: every member answers);
 * - `$SYS.ACCOUNT.<acc>.SERVER.CONNS` / `$SYS.SERVER.ACCOUNT.<acc>.CONNS` on login and logout,
 *   the CONNECT that a `no_auth_user` login by first op does not get (as nats-server), the statsz
 *   heartbeat `$SYS.SERVER.<id>.STATSZ` and `$SYS.SERVER.<id>.SHUTDOWN`;
 * - the heartbeat's timing and the CONNS repeat on the TestClock (the schedule alone, and a server
 *   over the in-memory transport).
 */
import { it as effectIt } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Context from "effect/Context"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { decodeServerOptions } from "../../src/config/ServerOptions.js"
import { Log } from "../../src/log/Log.js"
import * as MemoryTransport from "../../src/net/MemoryTransport.js"
import * as ServerLayers from "../../src/ServerLayers.js"
import { ServerCore } from "../../src/server/ServerCore.js"
import { connect, type Msg, type NatsConnection, StringCodec } from "nats"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as SystemTimers from "../../src/monitor/SystemTimers.js"
import { ACCOUNT_CONNECTIONS_INTERVAL_MS } from "../../src/server/SystemEvents.js"
import { startOursWithConf, writeConf } from "../support/confServers.js"
import { RawClient } from "../support/raw.js"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"
import * as Result from "effect/Result"
import { configFromString } from "../../src/config/ConfigFile.js"

const sc = StringCodec()

const CONF = `
server_name: S
accounts {
  SYS: { users: [{ user: sys, password: pw }] }
  A: { users: [{ user: a, password: pw }] }
  B: { users: [{ user: b, password: pw }] }
}
system_account: SYS
no_auth_user: a
`

type Doc = Record<string, any>

interface Collected {
  readonly msgs: Array<Msg>
  readonly json: () => Array<Doc>
}

const collect = async (nc: NatsConnection, subject: string): Promise<Collected> => {
  const msgs: Array<Msg> = []
  const sub = nc.subscribe(subject)
  void (async () => {
    for await (const m of sub) msgs.push(m)
  })()
  await nc.flush()
  return { msgs, json: () => msgs.map((m) => JSON.parse(sc.decode(m.data)) as Doc) }
}

let replies = 0
/** Publish `subject` with a fresh reply; the answers that came once `done` holds. */
const gather = async (nc: NatsConnection, subject: string, body: string, done: (n: number) => boolean, what: string): Promise<Array<Doc>> => {
  const got = await collect(nc, `sys2.reply.${++replies}`)
  nc.publish(subject, sc.encode(body), { reply: `sys2.reply.${replies}` })
  await waitUntil(what, () => done(got.msgs.length))
  return got.json()
}

const request = async (nc: NatsConnection, subject: string, body = ""): Promise<Doc> =>
  (await gather(nc, subject, body, (n) => n >= 1, subject))[0]!

/**
 * Publish `silent` and then `marker` (answered) on one reply subject: the answers once the
 * marker's is in. Both servers answer in order, so anything the silent one said is there too.
 */
const silence = async (nc: NatsConnection, silent: string, body = ""): Promise<Array<Doc>> => {
  const got = await collect(nc, `sys2.reply.${++replies}`)
  nc.publish(silent, sc.encode(body), { reply: `sys2.reply.${replies}` })
  nc.publish("$SYS.REQ.SERVER.PING.HEALTHZ", sc.encode(""), { reply: `sys2.reply.${replies}` })
  await waitUntil(`marker after ${silent}`, () => got.json().some((d) => d["data"]?.["status"] === "ok"))
  return got.json().filter((d) => d["data"]?.["status"] !== "ok")
}

/** Fields that differ between any two servers or runs. */
const VARYING = new Set([
  "server_id", "now", "start", "last_activity", "uptime", "idle", "rtt", "port", "cid", "update_time", "id", "timestamp",
  "time", "seq", "mem", "cpu", "version", "num_cache", "num_inserts", "num_removes", "num_matches", "cache_hit_rate",
  "max_fanout", "avg_fanout", "sid"
])
const normal = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(normal)
    : v !== null && typeof v === "object"
    ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, VARYING.has(k) && x !== "" ? "*" : normal(x)]))
    : v

const COUNTERS = new Set(["in_msgs", "out_msgs", "in_bytes", "out_bytes", "sent", "received", "pending_bytes"])

/** A subsz list in one order (nats-server's comes in Go map order). */
const sortSubs = (doc: Doc): Doc => {
  const data = doc["data"]
  if (data !== null && Array.isArray(data?.["subscriptions_list"])) {
    data["subscriptions_list"] = [...data["subscriptions_list"]].sort((x: Doc, y: Doc) => (x["subject"] < y["subject"] ? -1 : 1))
  }
  if (data !== null && Array.isArray(data?.["imports"])) {
    data["imports"] = [...data["imports"]].sort((x: Doc, y: Doc) => (x["subject"] + x["to"] < y["subject"] + y["to"] ? -1 : 1))
  }
  const detail = data?.["account_detail"]
  if (detail !== undefined && Array.isArray(detail["imports"])) {
    detail["imports"] = [...detail["imports"]].sort((x: Doc, y: Doc) => (x["subject"] + x["to"] < y["subject"] + y["to"] ? -1 : 1))
  }
  if (data !== null && Array.isArray(data?.["accounts"])) data["accounts"] = [...data["accounts"]].sort()
  return doc
}

/** nats-server's stamp keys of a standalone server without tags. */
const STAMP_KEYS = ["name", "host", "id", "ver", "seq", "jetstream", "time"]

interface Side {
  readonly name: string
  readonly port: number
  readonly serverId: () => string
  readonly stop: () => Promise<void>
  /** A shutdown that runs the server's own shutdown (SIGINT for nats-server). */
  readonly shutdown: () => Promise<void>
  sys?: NatsConnection
  a?: NatsConnection
  events?: Collected
  /** What the heartbeat subscription got (subscribed at start). */
  statsz?: Collected
}

const startOurSide = async (): Promise<Side> => {
  const s = await startOursWithConf(CONF, { debug: false, trace: false })
  return { name: "ours", port: s.port, serverId: () => s.ours!.broker.serverId, stop: s.stop, shutdown: s.stop }
}

const startRealSide = async (): Promise<Side> => {
  const child: ChildServer = await startNatsServer(["-c", writeConf(CONF), "-a", "127.0.0.1", "-p", "-1"])
  const id = () => /ID:\s+(N[A-Z0-9]{55})/.exec(child.output())![1]!
  return {
    name: "nats-server",
    port: child.port,
    serverId: id,
    stop: child.stop,
    shutdown: async () => {
      child.child.kill("SIGINT")
      await child.exited
    }
  }
}

describe("system account 2: requests and events, against nats-server 2.9.10 when installed", () => {
  const sides: Array<Side> = []
  const closers: Array<NatsConnection> = []

  beforeAll(async () => {
    sides.push(await startOurSide())
    if (natsServerPath !== undefined) sides.push(await startRealSide())
    for (const side of sides) {
      side.sys = await connect({ port: side.port, user: "sys", pass: "pw", name: "csys" })
      closers.push(side.sys)
      side.statsz = await collect(side.sys, `$SYS.SERVER.${side.serverId()}.STATSZ`)
      side.events = await collect(side.sys, "$SYS.ACCOUNT.>")
      side.a = await connect({ port: side.port, user: "a", pass: "pw", name: "ca" })
      closers.push(side.a)
      side.a.subscribe("foo")
      await side.a.flush()
    }
  }, 30_000)

  afterAll(async () => {
    for (const c of closers) await c.close().catch(() => {})
    for (const s of sides) await s.stop()
  })

  /** The same request on every side, normalised; the first side's answer, raw. */
  const same = async (
    subject: (side: Side) => string,
    body = "",
    from: (side: Side) => NatsConnection = (s) => s.sys!,
    /** Counters left out (the asker's own, which nats-server counts once its read batch is done). */
    counters = false
  ): Promise<Array<Doc>> => {
    const docs: Array<Doc> = []
    for (const side of sides) docs.push(await request(from(side), subject(side), body))
    const drop = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(drop) : v !== null && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).filter(([k]) => !counters || !COUNTERS.has(k)).map(([k, x]) => [k, drop(x)]))
        : v
    const [ours, real] = docs.map((d) => drop(normal(sortSubs(structuredClone(d)))))
    if (real !== undefined) expect(ours, `${subject(sides[0]!)} ${body}`).toEqual(real)
    return docs
  }

  it("CONNS on login: both subjects, one id, before CONNECT; the account's AccountStat", async () => {
    for (const side of sides) {
      await waitUntil(`${side.name}: CONNECT of ca`, () => side.events!.msgs.some((m) => m.subject === "$SYS.ACCOUNT.A.CONNECT"))
      const seen = side.events!.msgs.filter((m) => m.subject.includes(".A."))
      expect(seen.map((m) => m.subject), side.name).toEqual(["$SYS.ACCOUNT.A.SERVER.CONNS", "$SYS.ACCOUNT.A.CONNECT"])
      const conns = JSON.parse(sc.decode(seen[0]!.data)) as Doc
      expect(Object.keys(conns)).toEqual(["type", "id", "timestamp", "server", "acc", "conns", "leafnodes", "total_conns", "sent", "received", "slow_consumers"])
      expect(conns).toMatchObject({ type: "io.nats.server.advisory.v1.account_connections", acc: "A", conns: 1, leafnodes: 0, total_conns: 1 })
      expect(Object.keys(conns["server"])).toEqual(STAMP_KEYS)
    }
  })

  it("ACCOUNTZ: the /accountz document, with account the detail (its $SYS imports), an unknown one a 500", async () => {
    const [list] = await same((s) => `$SYS.REQ.SERVER.${s.serverId()}.ACCOUNTZ`)
    expect(Object.keys(list!)).toEqual(["server", "data"])
    expect(Object.keys(list!["data"])).toEqual(["server_id", "now", "system_account", "accounts"])
    expect([...list!["data"]["accounts"]].sort()).toEqual(["$G", "A", "B", "SYS"])
    const [detail] = await same((s) => `$SYS.REQ.SERVER.${s.serverId()}.ACCOUNTZ`, JSON.stringify({ account: "A" }))
    expect(detail!["data"]["account_detail"]["imports"]).toHaveLength(3)
    await same(() => "$SYS.REQ.SERVER.PING.ACCOUNTZ", JSON.stringify({ account: "A" }))
    const [nope] = await same(() => "$SYS.REQ.SERVER.PING.ACCOUNTZ", JSON.stringify({ account: "nope" }))
    expect(nope).toMatchObject({ data: null, error: { code: 500, description: "Account nope does not exist" } })
  })

  it("$SYS.REQ.ACCOUNT.A.<KIND> from the system account", async () => {
    const [connz] = await same(() => "$SYS.REQ.ACCOUNT.A.CONNZ")
    expect(connz!["data"]["connections"].map((c: Doc) => c["name"])).toEqual(["ca"])
    const [subsz] = await same(() => "$SYS.REQ.ACCOUNT.A.SUBSZ")
    expect(subsz!["data"]["subscriptions_list"].map((s: Doc) => s["subject"]).sort()).toEqual([
      "$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.SERVER.PING.CONNZ", "foo"
    ])
    const [info] = await same(() => "$SYS.REQ.ACCOUNT.A.INFO")
    expect(info!["data"]).toMatchObject({ account_name: "A", client_connections: 1, subscriptions: 4 })
    const [statz] = await same(() => "$SYS.REQ.ACCOUNT.A.STATZ")
    expect(statz!["data"]["account_statz"]).toEqual([
      { acc: "A", conns: 1, leafnodes: 0, total_conns: 1, sent: { msgs: 0, bytes: 0 }, received: { msgs: 0, bytes: 0 }, slow_consumers: 0 }
    ])
    const [leafz] = await same(() => "$SYS.REQ.ACCOUNT.A.LEAFZ")
    expect(Object.keys(leafz!["data"])).toEqual(["server_id", "now", "leafnodes", "leafs"])
    const [jsz] = await same(() => "$SYS.REQ.ACCOUNT.A.JSZ")
    expect(jsz).toMatchObject({ data: null, error: { code: 500, description: "jetstream not enabled" } })
    const [conns] = await same(() => "$SYS.REQ.ACCOUNT.A.CONNS")
    expect(conns).toMatchObject({ type: "io.nats.server.advisory.v1.account_connections", acc: "A", conns: 1 })
    const [unknown] = await same(() => "$SYS.REQ.ACCOUNT.nope.INFO")
    expect(unknown).toMatchObject({ data: null, error: { code: 500, description: "Account nope does not exist" } })
    const [empty] = await same(() => "$SYS.REQ.ACCOUNT.nope.CONNZ")
    expect(empty!["data"]).toMatchObject({ server_id: "", connections: null })
  })

  it("silent: STATZ and CONNS of an account without connections, PING.STATZ that lists nothing", async () => {
    for (const side of sides) {
      expect(await silence(side.sys!, "$SYS.REQ.ACCOUNT.B.STATZ"), side.name).toEqual([])
      expect(await silence(side.sys!, "$SYS.REQ.ACCOUNT.B.CONNS"), side.name).toEqual([])
      expect(await silence(side.sys!, "$SYS.REQ.ACCOUNT.PING.STATZ", JSON.stringify({ accounts: ["B"] })), side.name).toEqual([])
      // A CONNS body that names another account is ignored.
      expect(await silence(side.sys!, "$SYS.REQ.ACCOUNT.A.CONNS", JSON.stringify({ acc: "B" })), side.name).toEqual([])
      // B's STATZ with include_unused answers.
      const unused = await request(side.sys!, "$SYS.REQ.ACCOUNT.B.STATZ", JSON.stringify({ include_unused: true }))
      expect(unused["data"]["account_statz"].map((s: Doc) => s["acc"]), side.name).toEqual(["B"])
    }
  })

  it("$SYS.REQ.ACCOUNT.PING.STATZ and .PING.CONNZ in the system account", async () => {
    for (const side of sides) {
      const statz = await request(side.sys!, "$SYS.REQ.ACCOUNT.PING.STATZ")
      expect(statz["data"]["account_statz"].map((s: Doc) => s["acc"]).sort(), side.name).toEqual(["A", "SYS"])
      const all = await request(side.sys!, "$SYS.REQ.ACCOUNT.PING.STATZ", JSON.stringify({ include_unused: true }))
      expect(all["data"]["account_statz"].map((s: Doc) => s["acc"]).sort(), side.name).toEqual(["$G", "A", "B", "SYS"])
    }
    // In the system account `PING` stands where the account goes: an empty CONNZ.
    const [connz] = await same(() => "$SYS.REQ.ACCOUNT.PING.CONNZ")
    expect(connz!["data"]).toMatchObject({ server_id: "", num_connections: 0, connections: null })
  })

  it("a client of A asks about A through its $SYS imports; other $SYS requests find no responder", async () => {
    for (const subject of ["$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ"]) {
      const [connz] = await same(() => subject, "", (s) => s.a!, true)
      expect(connz!["data"]["connections"].map((c: Doc) => c["name"]), subject).toEqual(["ca"])
    }
    const [statz] = await same(() => "$SYS.REQ.ACCOUNT.PING.STATZ", "", (s) => s.a!, true)
    expect(statz!["data"]["account_statz"].map((s: Doc) => s["acc"])).toEqual(["A"])
    for (const side of sides) {
      for (const subject of ["$SYS.REQ.SERVER.PING", "$SYS.REQ.ACCOUNT.A.CONNZ", `$SYS.REQ.SERVER.${side.serverId()}.VARZ`]) {
        await expect(side.a!.request(subject, sc.encode(""), { timeout: 2000 }), `${side.name} ${subject}`).rejects.toThrow(/503|NO_RESPONDERS/)
      }
    }
  })

  it("logout: CONNS with conns 0 before DISCONNECT; a no_auth_user login by first op gets CONNS and DISCONNECT, no CONNECT", async () => {
    for (const side of sides) {
      const events = side.events!
      const from = events.msgs.length
      const b = await connect({ port: side.port, user: "b", pass: "pw", name: "cb" })
      await waitUntil(`${side.name}: CONNECT of cb`, () => events.msgs.some((m) => m.subject === "$SYS.ACCOUNT.B.CONNECT"))
      await b.close()
      await waitUntil(`${side.name}: DISCONNECT of cb`, () => events.msgs.some((m) => m.subject === "$SYS.ACCOUNT.B.DISCONNECT"))
      const raw = await RawClient.connect(side.port)
      raw.send("SUB x 1\r\nPING\r\n")
      // Without a CONNECT the client is verbose (both servers).
      await raw.expectPastPings("+OK\r\nPONG\r\n")
      raw.close()
      await waitUntil(`${side.name}: DISCONNECT of the first-op client`, () => events.msgs.filter((m) => m.subject === "$SYS.ACCOUNT.A.DISCONNECT").length === 1)
      // nats-server also reports every accepted client in $G until it logs in (not ours).
      const seen = events.msgs.slice(from).filter((m) => !m.subject.includes(".$G."))
      expect(seen.map((m) => m.subject), side.name).toEqual([
        "$SYS.ACCOUNT.B.SERVER.CONNS", "$SYS.ACCOUNT.B.CONNECT", "$SYS.ACCOUNT.B.SERVER.CONNS", "$SYS.ACCOUNT.B.DISCONNECT",
        "$SYS.ACCOUNT.A.SERVER.CONNS", "$SYS.ACCOUNT.A.SERVER.CONNS", "$SYS.ACCOUNT.A.DISCONNECT"
      ])
      const docs = seen.map((m) => JSON.parse(sc.decode(m.data)) as Doc)
      expect(docs.map((d) => d["conns"] ?? null), side.name).toEqual([1, null, 0, null, 2, 1, null])
      expect(docs[6]!["client"]).toMatchObject({ acc: "A", user: "a", kind: "Client" })
    }
  })

  it("the statsz heartbeat: $SYS.SERVER.<id>.STATSZ in nats-server's shape, beats 0.5–2 s apart at first", async () => {
    for (const side of sides) await waitUntil(`${side.name}: two heartbeats`, () => side.statsz!.msgs.length >= 2, 8000)
    const [ours, real] = sides.map((s) => s.statsz!.json()[0]!)
    expect(Object.keys(ours!)).toEqual(["server", "statsz"])
    expect(Object.keys(ours!["server"])).toEqual(STAMP_KEYS)
    expect(ours!["server"]["id"]).toBe(sides[0]!.serverId())
    if (real !== undefined) {
      expect(Object.keys(ours!["statsz"])).toEqual(Object.keys(real["statsz"]))
      expect(Object.keys(ours!)).toEqual(Object.keys(real))
    }
    // The delays double from 500 ms: the first two beats a client sees are 0.5, 1 or 2 s apart
    // (wall clock, so loosely); never the same beat twice.
    for (const side of sides) {
      const [b0, b1] = side.statsz!.json()
      const gap = Date.parse(b1!["server"]["time"]) - Date.parse(b0!["server"]["time"])
      expect(gap, side.name).toBeGreaterThan(400)
      expect(gap, side.name).toBeLessThan(2600)
      expect(b1!["server"]["seq"]).toBeGreaterThan(b0!["server"]["seq"])
    }
  })

  it("shutdown: $SYS.SERVER.<id>.SHUTDOWN, the bare ServerInfo stamp", async () => {
    for (const side of [...sides].reverse()) {
      // A second system client on the side's own server, gone with it.
      const watcher = await connect({ port: side.port, user: "sys", pass: "pw", reconnect: false })
      const got = await collect(watcher, "$SYS.SERVER.*.SHUTDOWN")
      await side.shutdown()
      await waitUntil(`${side.name}: SHUTDOWN`, () => got.msgs.length === 1)
      expect(got.msgs[0]!.subject).toBe(`$SYS.SERVER.${side.serverId()}.SHUTDOWN`)
      const stamp = got.json()[0]!
      expect(Object.keys(stamp), side.name).toEqual(STAMP_KEYS)
      expect(stamp["id"]).toBe(side.serverId())
      await watcher.close().catch(() => {})
    }
  })
})


/**
 * `$SYS.REQ.SERVER.PING.CONNZ` from `asker` until both cluster members answered (the interest in
 * the request subjects travels with the route): server name → the names of its connections.
 */
const connzOfBoth = async (asker: NatsConnection): Promise<Map<string, Array<string>>> => {
  let answers: Array<Doc> = []
  await waitUntilAsync("both members answer", async () => {
    const got = await collect(asker, `sys2.reply.${++replies}`)
    asker.publish("$SYS.REQ.SERVER.PING.CONNZ", sc.encode(""), { reply: `sys2.reply.${replies}` })
    await waitUntil("two answers", () => got.msgs.length >= 2, 1000).catch(() => {})
    answers = got.json()
    return answers.length === 2
  }, 20_000)
  return new Map(answers.map((d) => [d["server"]["name"], d["data"]["connections"].map((c: Doc) => c["name"])]))
}

describe("system account 2: account requests in a cluster of ours", () => {
  const servers: Array<TestServer> = []
  const conns: Array<NatsConnection> = []
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {})
    for (const s of servers) await s.stop()
  })

  it("a client of A on one member asks $SYS.REQ.SERVER.PING.CONNZ: every member answers about A's clients there", async () => {
    const ports = await Promise.all([freePort(), freePort()])
    for (const [i, name] of ["C1", "C2"].entries()) {
      const conf = `${CONF.replace("server_name: S", `server_name: ${name}`)}\ncluster { name: sys2, listen: 127.0.0.1:${ports[i]}, routes: [nats://127.0.0.1:${ports[1 - i]}] }\n`
      const r = configFromString(conf, { file: "test.conf" })
      if (Result.isFailure(r)) throw new Error(r.failure.message)
      servers.push(await startServer({ ...r.success.options, host: "127.0.0.1", port: -1 }))
    }
    await waitUntil("route up", () => servers.every((s) => s.cluster!.routes.size === 1), 20_000)
    for (const [i, s] of servers.entries()) {
      const a = await connect({ port: s.port, user: "a", pass: "pw", name: `a${i + 1}` })
      conns.push(a)
    }
    const b = await connect({ port: servers[1]!.port, user: "b", pass: "pw", name: "b2" })
    conns.push(b)
    const asker = conns[0]!
    // The interest in SYS's request subjects and the response wildcard travels with the route.
    expect(await connzOfBoth(asker)).toEqual(new Map([["C1", ["a1"]], ["C2", ["a2"]]]))
    // STATZ through the import: A on both members, B not.
    const statz = await gather(asker, "$SYS.REQ.ACCOUNT.PING.STATZ", "", (n) => n >= 2, "two STATZ answers")
    expect(statz.map((d) => d["data"]["account_statz"].map((s: Doc) => s["acc"]))).toEqual([["A"], ["A"]])
  }, 40_000)
})

describe.skipIf(natsServerPath === undefined)("system account 2: account requests in a mixed cluster with nats-server 2.9", () => {
  let ours: TestServer | undefined
  let real: ChildServer | undefined
  const conns: Array<NatsConnection> = []
  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {})
    await ours?.stop()
    await real?.stop()
  })

  it("a client of A on either server asks $SYS.REQ.SERVER.PING.CONNZ and .ACCOUNT.PING.STATZ: both servers answer about A", async () => {
    const [po, pn] = await Promise.all([freePort(), freePort()])
    const conf = (name: string, port: number, peer: number) =>
      `${CONF.replace("server_name: S", `server_name: ${name}`)}\ncluster { name: sys2m, listen: 127.0.0.1:${port}, routes: [nats://127.0.0.1:${peer}] }\n`
    const r = configFromString(conf("O", po!, pn!), { file: "test.conf" })
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    ours = await startServer({ ...r.success.options, host: "127.0.0.1", port: -1 })
    real = await startNatsServer(["-c", writeConf(conf("N", pn!, po!)), "-a", "127.0.0.1", "-p", "-1"])
    await waitUntil("route up", () => ours!.cluster!.routes.size === 1, 20_000)
    const onOurs = await connect({ port: ours.port, user: "a", pass: "pw", name: "ao" })
    const onReal = await connect({ port: real.port, user: "a", pass: "pw", name: "an" })
    conns.push(onOurs, onReal)
    for (const asker of [onOurs, onReal]) {
      expect(await connzOfBoth(asker)).toEqual(new Map([["O", ["ao"]], ["N", ["an"]]]))
      const statz = await gather(asker, "$SYS.REQ.ACCOUNT.PING.STATZ", "", (n) => n >= 2, "two STATZ answers")
      expect(statz.map((d) => d["server"]["name"]).sort()).toEqual(["N", "O"])
      for (const d of statz) expect(d["data"]["account_statz"].map((s: Doc) => [s["acc"], s["conns"]])).toEqual([["A", 1]])
    }
  }, 40_000)
})

/** A raw protocol client over the in-memory network: what it read so far. */
const memoryClient = (network: MemoryTransport.MemoryNetwork, port: number) =>
  Effect.gen(function*() {
    const state = { received: "" }
    const writer = Latch.makeUnsafe(false)
    let write: Socket.Writer | undefined
    const fiber = yield* network.transport("client").dial("127.0.0.1", port, (socket) =>
      Effect.gen(function*() {
        const pull = yield* Socket.readerBytes(socket)
        write = yield* socket.writer
        yield* writer.open
        yield* Stream.fromPull(Effect.succeed(pull)).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => (state.received += new TextDecoder().decode(chunk)))),
          Effect.ignore
        )
      }).pipe(Effect.scoped)
    ).pipe(Effect.forkScoped)
    yield* writer.await
    return { state, fiber, send: (line: string) => write!.write(new TextEncoder().encode(line)).pipe(Effect.orDie) }
  })

/** Let every fiber that can run, run (no time passes). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1

describe("system account 2: timers on the TestClock", () => {
  effectIt.effect("statsz heartbeats at 250 ms, then doubling delays up to 30 s; CONNS repeats looked for every second", () =>
    Effect.gen(function*() {
      let beats = 0
      let checks = 0
      const fiber = yield* Effect.forkChild(SystemTimers.run({
        statsz: () => beats++,
        accountConnections: () => checks++
      }))
      const times: Array<number> = []
      for (let t = 250; t <= 100_000; t += 250) {
        yield* TestClock.adjust(250)
        if (beats > times.length) times.push(t)
      }
      yield* Fiber.interrupt(fiber)
      expect(times).toEqual([250, 750, 1750, 3750, 7750, 15750, 31750, 61750, 91750])
      // At 0 s, then every second: 101 checks over 100 s.
      expect(checks).toBe(101)
    }))

  effectIt.effect("over the in-memory transport: the CONNS repeat every 30 s while A has a client, none after; heartbeats at their times", () =>
    Effect.gen(function*() {
      const r = configFromString(CONF, { file: "test.conf" })
      if (Result.isFailure(r)) throw new Error(r.failure.message)
      const network = new MemoryTransport.MemoryNetwork()
      const options = decodeServerOptions({ ...r.success.options, host: "127.0.0.1", port: -1 })
      const context = yield* Layer.build(
        ServerLayers.layer(options).pipe(
          Layer.provideMerge(Log.layerTestWith({ debug: false, trace: false })),
          Layer.provide(MemoryTransport.layer(network, "127.0.0.1"))
        )
      )
      const port = Context.get(context, ServerCore).listen!.port
      const sys = yield* memoryClient(network, port)
      yield* sys.send(`CONNECT {"verbose":false,"user":"sys","pass":"pw"}\r\nSUB $SYS.SERVER.ACCOUNT.A.CONNS 1\r\nSUB $SYS.SERVER.*.STATSZ 2\r\nPING\r\n`)
      yield* settle
      const a = yield* memoryClient(network, port)
      yield* a.send(`CONNECT {"verbose":false,"user":"a","pass":"pw"}\r\nPING\r\n`)
      yield* settle
      const conns = () => count(sys.state.received, "MSG $SYS.SERVER.ACCOUNT.A.CONNS 1 ")
      const beats = () => count(sys.state.received, ".STATSZ 2 ")
      expect(conns()).toBe(1)
      expect(beats()).toBe(0)
      yield* TestClock.adjust(250)
      expect(beats()).toBe(1)
      yield* TestClock.adjust(29_749)
      expect(conns()).toBe(1)
      // 250, 750, 1750, 3750, 7750, 15750 ms.
      expect(beats()).toBe(6)
      yield* TestClock.adjust(1)
      expect(conns()).toBe(2)
      yield* TestClock.adjust(30_000)
      expect(conns()).toBe(3)
      // 31750 ms; then every 30 s: 61750 ms.
      expect(beats()).toBe(7)
      yield* TestClock.adjust(1_750)
      expect(beats()).toBe(8)
      // A's client goes: one CONNS with conns 0, then no repeat.
      yield* Fiber.interrupt(a.fiber)
      yield* settle
      expect(conns()).toBe(4)
      expect(sys.state.received).toMatch(/"acc":"A","conns":0,/)
      yield* TestClock.adjust(90_000)
      expect(conns()).toBe(4)
    }).pipe(Effect.scoped))

  it("an account's CONNS repeat is due 30 s after its last CONNS event, and not once it has no connections", async () => {
    const r = configFromString(CONF, { file: "test.conf" })
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    const server = await startServer({ ...r.success.options, host: "127.0.0.1", port: -1 })
    try {
      const system = server.broker.system
      const before = Date.now()
      const a = await connect({ port: server.port, user: "a", pass: "pw" })
      const after = Date.now()
      const A = server.broker.router.lookup("A")!
      expect(system.dueAccountConnections(before + ACCOUNT_CONNECTIONS_INTERVAL_MS - 1)).not.toContain(A)
      expect(system.dueAccountConnections(after + ACCOUNT_CONNECTIONS_INTERVAL_MS)).toContain(A)
      await a.close()
      await waitUntil("A has no connections", () => A.connections === 0)
      await waitUntil("A's repeat is off", () => !system.dueAccountConnections(Date.now() + 10 * ACCOUNT_CONNECTIONS_INTERVAL_MS).includes(A))
    } finally {
      await server.stop()
    }
  })
})
