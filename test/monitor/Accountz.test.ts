/**
 * `/accountz`, `/accstatz` and the `acc` filter of `/connz` and `/subsz` with accounts on the
 * message path: one config with accounts A (exports), B (stream and service imports from A), C and
 * a system account, served by ours and by real nats-server 2.9.10 side by side, the same clients
 * and traffic on both, and every document compared key by key — ids, ports, times and what
 * nats-server's own system services add (the `$SYS.REQ.…` imports and subscriptions every account
 * gets, the system account's exports — ours has the same imports, checked by name once) aside.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ConfServer, startNatsWithConf, startOursWithConf } from "../support/confServers.js"
import { RawClient } from "../support/raw.js"
import { natsServerPath } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const CONF = `
http: "127.0.0.1:-1"
system_account: SYS
accounts {
  A: {
    users: [ {user: a, password: a} ]
    exports: [
      {stream: "st.>"}
      {stream: "pub.*", accounts: [C, B]}
      {service: "svc.echo", accounts: [B]}
      {service: "svc.stream", response: stream}
      {service: "svc.wild.*", response: chunked}
    ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: "st.>"}, prefix: "pfx"}
      {stream: {account: A, subject: "pub.*"}, to: "mine.$1"}
      {service: {account: A, subject: "svc.echo"}, to: "echo"}
      {service: {account: A, subject: "svc.stream"}}
      {service: {account: A, subject: "svc.wild.*"}, to: "call.*"}
    ]
  }
  C: {
    users: [ {user: c, password: c} ]
    imports: [ {stream: {account: A, subject: "st.>"}} ]
  }
  SYS: { users: [ {user: sys, password: sys} ] }
}
`

type Doc = Record<string, unknown>
type Json = unknown

interface Side {
  readonly server: ConfServer
  readonly base: string
  readonly clients: Map<string, RawClient>
}

/** Where the server's monitor listens (its `Starting http monitor on …` line, both servers log it). */
const monitorBase = async (server: ConfServer): Promise<string> => {
  const find = () => server.lines().map((l) => /Starting http monitor on (\S+)/.exec(l)?.[1]).find((x) => x !== undefined)
  await waitUntil("monitor listening", () => find() !== undefined)
  return `http://${find()!}`
}

/** PING until PONG, skipping what arrives before it (MSGs, keepalive PINGs): the server has processed everything sent. */
const sync = async (c: RawClient): Promise<void> => {
  c.send("PING\r\n")
  for (;;) {
    const line = await c.readLine()
    if (line === "PONG\r\n") return
    if (line === "PING\r\n") c.send("PONG\r\n")
  }
}

/** Like `sync`, returning the lines that came before the PONG. */
const syncLines = async (c: RawClient): Promise<Array<string>> => {
  c.send("PING\r\n")
  const lines: Array<string> = []
  for (;;) {
    const line = await c.readLine()
    if (line === "PONG\r\n") return lines
    if (line === "PING\r\n") c.send("PONG\r\n")
    else lines.push(line)
  }
}

const connect = async (side: Side, user: string, cmds: string): Promise<void> => {
  const c = await RawClient.connect(side.server.port)
  c.send(`CONNECT {"verbose":false,"pedantic":false,"user":"${user}","pass":"${user}","name":"c${user}","lang":"raw","version":"1","protocol":1}\r\n${cmds}`)
  await sync(c)
  side.clients.set(user, c)
}

const get = async (side: Side, path: string): Promise<{ status: number; type: string | null; text: string }> => {
  const res = await fetch(`${side.base}${path}`)
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() }
}

const getJson = async (side: Side, path: string): Promise<Doc> => {
  const r = await get(side, path)
  expect(r.status, path).toBe(200)
  expect(r.type, path).toBe("application/json")
  return JSON.parse(r.text) as Doc
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
const isObject = (v: Json): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v)
const byKey = (...keys: ReadonlyArray<string>) => (x: Json, y: Json) => {
  const k = (v: Json) => keys.map((key) => JSON.stringify((v as Doc)[key])).join(" ")
  return k(x) < k(y) ? -1 : k(x) > k(y) ? 1 : 0
}

/** nats-server's own system services in an account: imports from the system account, `$SYS.` subscriptions of internal clients. */
const isSystemImport = (system: Json) => (i: Json) => isObject(i) && i["account"] === system && String(i["subject"]).startsWith("$SYS.")
const isSystemExport = (e: Json) => isObject(e) && String(e["subject"]).startsWith("$SYS.")

/**
 * A document without what differs between any two servers: times are checked and dropped, ids
 * and ports dropped, lists that come in Go map order sorted, cids replaced by the client's name
 * (`internal` for a server's internal subscriptions, whose sids are dropped too), and nats-server's
 * system imports, exports and subscriptions removed — with the counts they add.
 */
const comparable = (doc: Doc, cids: ReadonlyMap<number, string>, systemSubs?: number): Doc => {
  const out = structuredClone(doc)
  if ("server_id" in out) {
    expect(out["server_id"] === "" || /^N[A-Z0-9]{55}$/.test(String(out["server_id"]))).toBe(true)
    delete out["server_id"]
  }
  if ("now" in out) {
    expect(out["now"]).toMatch(TIME)
    delete out["now"]
  }
  if (Array.isArray(out["accounts"])) out["accounts"] = [...(out["accounts"] as Array<string>)].sort()
  if (Array.isArray(out["account_statz"])) out["account_statz"] = [...(out["account_statz"] as Array<Json>)].sort(byKey("acc"))
  const listed = systemSubscriptions(out, cids)
  const system = systemSubs ?? listed
  if (Array.isArray(out["subscriptions_list"])) {
    out["subscriptions_list"] = (out["subscriptions_list"] as Array<Doc>)
      .filter((s) => cids.has(s["cid"] as number) || !String(s["subject"]).startsWith("$SYS."))
      .map((s) => {
        const who = cids.get(s["cid"] as number)
        return who === undefined ? { ...s, cid: "internal", sid: "internal" } : { ...s, cid: who }
      })
      .sort(byKey("account", "subject", "cid"))
    out["total"] = (out["total"] as number) - listed
  }
  if ("num_subscriptions" in out) {
    out["num_subscriptions"] = (out["num_subscriptions"] as number) - system
    sublistShape(out)
  }
  if (Array.isArray(out["connections"])) {
    out["connections"] = (out["connections"] as Array<Doc>).map((c) => {
      for (const k of ["start", "last_activity", "stop"]) if (k in c) expect(c[k]).toMatch(TIME)
      const { cid: _cid, port: _port, start: _start, last_activity: _last, stop: _stop, rtt: _rtt, uptime: _up, idle: _idle, ...rest } = c
      // A client's subscriptions come in Go map order.
      if (Array.isArray(rest["subscriptions_list"])) rest["subscriptions_list"] = [...(rest["subscriptions_list"] as Array<string>)].sort()
      if (Array.isArray(rest["subscriptions_list_detail"])) {
        rest["subscriptions_list_detail"] = (rest["subscriptions_list_detail"] as Array<Doc>)
          .map((d) => ({ ...d, cid: cids.get(d["cid"] as number) }))
          .sort(byKey("sid"))
      }
      return rest
    })
  }
  const detail = out["account_detail"]
  if (isObject(detail)) {
    expect(detail["update_time"]).toMatch(TIME)
    delete detail["update_time"]
    const sysAccount = out["system_account"]
    const imports = ((detail["imports"] ?? []) as Array<Json>).filter((i) => !isSystemImport(sysAccount)(i))
    const systemImports = ((detail["imports"] ?? []) as Array<Json>).length - imports.length
    if (imports.length > 0) detail["imports"] = imports.sort(byKey("type", "subject"))
    else delete detail["imports"]
    const exports = ((detail["exports"] ?? []) as Array<Doc>).filter((e) => !isSystemExport(e))
      .map((e) => (Array.isArray(e["approved_accounts"]) ? { ...e, approved_accounts: [...(e["approved_accounts"] as Array<string>)].sort() } : e))
    if (exports.length > 0) detail["exports"] = exports.sort(byKey("type", "subject"))
    else delete detail["exports"]
    // Each system import is one subscription; the system account's are its service handlers.
    const internal = detail["account_name"] === sysAccount ? detail["subscriptions"] as number : systemImports
    detail["subscriptions"] = (detail["subscriptions"] as number) - internal
    const stats = detail["sublist_stats"] as Doc
    stats["num_subscriptions"] = (stats["num_subscriptions"] as number) - internal
    sublistShape(stats)
    // Responses are keyed by random `_R_` replies: compare what they map to.
    if (isObject(detail["responses"])) {
      detail["responses"] = Object.entries(detail["responses"]).map(([reply, r]) => {
        expect(reply).toMatch(/^_R_\.[0-9A-Za-z]{6}\.[0-9A-Za-z]{6}$/)
        expect((r as Doc)["subject"]).toBe(reply)
        return { ...(r as Doc), subject: "_R_" }
      }).sort(byKey("account", "to"))
    }
  }
  return out
}

/** The subscriptions of a `/subsz?subs=1` list that belong to nats-server's system services. */
const systemSubscriptions = (doc: Doc, cids: ReadonlyMap<number, string>): number =>
  Array.isArray(doc["subscriptions_list"])
    ? (doc["subscriptions_list"] as Array<Doc>).filter((s) => !cids.has(s["cid"] as number) && String(s["subject"]).startsWith("$SYS.")).length
    : 0

/** SublistStats: the counters of the two servers' caches differ; the fields and their types must not. */
const sublistShape = (stats: Doc) => {
  const keys = ["num_cache", "num_inserts", "num_removes", "num_matches", "cache_hit_rate", "max_fanout", "avg_fanout"]
  for (const k of keys) {
    expect(typeof stats[k], k).toBe("number")
    stats[k] = "number"
  }
}

const cidsOf = async (side: Side): Promise<Map<number, string>> => {
  const doc = await getJson(side, "/connz?state=all")
  return new Map((doc["connections"] as Array<Doc>).map((c) => [c["cid"] as number, c["name"] as string]))
}

describe("/accountz, /accstatz and acc filters, against nats-server when it is installed", () => {
  /** Ours, then nats-server (when installed). */
  const sides: Array<Side> = []
  const ours = () => sides[0]!

  /**
   * Fetch `path` from both and compare; returns ours (as is). `listing`: the unfiltered
   * `/subsz?…&subs=1` that counts the system subscriptions (when `path` filters with `test=`).
   */
  const same = async (path: string, listing?: string): Promise<Doc> => {
    const [a, b] = await Promise.all(sides.map((s) => getJson(s, path)))
    const [ca, cb] = await Promise.all(sides.map(cidsOf))
    if (b === undefined) {
      comparable(a!, ca!) // its shape checks only
      return a!
    }
    const system = listing === undefined
      ? [undefined, undefined]
      : await Promise.all(sides.map(async (s, i) => systemSubscriptions(await getJson(s, listing), [ca!, cb!][i]!)))
    expect(comparable(a!, ca!, system[0]), path).toEqual(comparable(b!, cb!, system[1]))
    return a!
  }

  const both = (f: (side: Side) => Promise<void>) => Promise.all(sides.map(f))

  /** `/subsz` statistics: the system subscriptions to leave out are counted in the `subs=1` list. */
  const sameStats = async (query: string): Promise<void> => {
    const sep = query === "" ? "?" : "&"
    const docs = await Promise.all(sides.map(async (s) => {
      const [plain, listed, cids] = await Promise.all([getJson(s, `/subsz${query}`), getJson(s, `/subsz${query}${sep}subs=1`), cidsOf(s)])
      return comparable(plain, cids, systemSubscriptions(listed, cids))
    }))
    if (docs.length === 2) expect(docs[0], query).toEqual(docs[1])
  }

  beforeAll(async () => {
    for (const start of natsServerPath === undefined ? [startOursWithConf] : [startOursWithConf, startNatsWithConf]) {
      const server = await start(CONF)
      sides.push({ server, base: await monitorBase(server), clients: new Map() })
    }
    await both(async (s) => {
      await connect(s, "a", "SUB st.> 1\r\nSUB svc.echo q 2\r\nSUB svc.stream 3\r\nSUB svc.wild.* 4\r\n")
      await connect(s, "b", "SUB pfx.st.> 1\r\nSUB _INBOX.x 2\r\nSUB mine.* 3\r\n")
      await connect(s, "c", "SUB foo 1\r\nSUB st.x 2\r\n")
      // Traffic inside one account only: no stream import takes it.
      const c = s.clients.get("c")!
      c.send("PUB foo 3\r\nbar\r\n")
      await sync(c)
    })
  }, 30_000)

  afterAll(async () => {
    for (const s of sides) {
      for (const c of s.clients.values()) c.close()
      await s.server.stop()
    }
  })

  it("/accountz lists the served accounts and the system account", async () => {
    const doc = await same("/accountz")
    expect([...(doc["accounts"] as Array<string>)].sort()).toEqual(["$G", "A", "B", "C", "SYS"])
    expect(doc["system_account"]).toBe("SYS")
    await same("/accountz?acc=")
  })

  it("/accountz?acc=X: each account's detail, exports and imports", async () => {
    for (const acc of ["A", "B", "C", "SYS", "$G"]) await same(`/accountz?acc=${encodeURIComponent(acc)}`)
    const a = (await getJson(ours(), "/accountz?acc=A"))["account_detail"] as Doc
    expect(Object.keys(a)).toEqual([
      "account_name", "update_time", "expired", "complete", "jetstream_enabled", "leafnode_connections",
      "client_connections", "subscriptions", "exports", "imports", "sublist_stats"
    ])
    // Every account imports nats-server's account-scoped system requests from the system account.
    expect((a["imports"] as Array<Doc>).map((i) => [i["subject"], i["account"], i["to"]])).toEqual([
      ["$SYS.REQ.ACCOUNT.PING.CONNZ", "SYS", "$SYS.REQ.ACCOUNT.A.CONNZ"],
      ["$SYS.REQ.SERVER.PING.CONNZ", "SYS", "$SYS.REQ.ACCOUNT.A.CONNZ"],
      ["$SYS.REQ.ACCOUNT.PING.STATZ", "SYS", "$SYS.REQ.ACCOUNT.A.STATZ"]
    ])
    expect(a["client_connections"]).toBe(1)
    expect(a["exports"]).toContainEqual({ subject: "svc.echo", type: "service", response_type: "Singleton", approved_accounts: ["B"] })
    const sys = (await getJson(ours(), "/accountz?acc=SYS"))["account_detail"] as Doc
    expect(sys["is_system"]).toBe(true)
    const b = (await getJson(ours(), "/accountz?acc=B"))["account_detail"] as Doc
    expect(b["imports"]).toContainEqual({ subject: "pub.*", account: "A", local_subject: "mine.*", type: "stream", invalid: false, share: false, tracking: false })
  })

  it("an unknown account: 400 from /accountz, an empty document from /connz and /subsz", async () => {
    for (const side of sides) {
      const r = await get(side, "/accountz?acc=nope")
      expect(r.status).toBe(400)
      expect(r.type).toBe("text/plain; charset=utf-8")
      expect(r.text).toBe("Account nope does not exist")
    }
    const connz = await same("/connz?acc=nope")
    expect(connz["server_id"]).toBe("")
    expect(connz["connections"]).toBeNull()
    await sameStats("?acc=nope")
    await same("/subsz?acc=nope&subs=1")
    for (const side of sides) {
      const r = await get(side, "/accstatz?unused=x")
      expect(r.status).toBe(400)
      expect(r.text).toBe(`Error decoding boolean for 'unused': strconv.ParseBool: parsing "x": invalid syntax`)
    }
  })

  it("/connz?acc=X: only that account's connections, with the account under auth=1", async () => {
    for (const q of ["acc=A", "acc=B&auth=1", "acc=C&auth=1&subs=1", "acc=B&subs=detail", "acc=SYS", "acc=%24G", "auth=1"]) {
      await same(`/connz?${q}`)
    }
    for (const [acc, name] of [["A", "ca"], ["B", "cb"], ["C", "cc"]] as const) {
      const doc = await getJson(ours(), `/connz?acc=${acc}&auth=1`)
      expect((doc["connections"] as Array<Doc>).map((c) => [c["name"], c["account"], c["authorized_user"]])).toEqual([[name, acc, name.slice(1)]])
      expect(doc["total"]).toBe(1)
    }
    // Without auth=1 the account is not shown.
    const plain = await getJson(ours(), "/connz?acc=A")
    expect((plain["connections"] as Array<Doc>)[0]!["account"]).toBeUndefined()
  })

  it("/subsz?acc=X: that account's index — its subscriptions, shadows and internal ones", async () => {
    for (const q of ["", "?acc=A", "?acc=B", "?acc=C", "?acc=SYS"]) await sameStats(q)
    for (const q of ["?subs=1", "?acc=A&subs=1", "?acc=B&subs=1"]) await same(`/subsz${q}`)
    await same("/subsz?acc=C&subs=1&test=foo", "/subsz?acc=C&subs=1")
    await same("/subsz?subs=1&test=st.x", "/subsz?subs=1")
    const b = await getJson(ours(), "/subsz?acc=B&subs=1")
    const list = b["subscriptions_list"] as Array<Doc>
    expect(new Set(list.map((s) => s["account"]))).toEqual(new Set(["B"]))
    expect(list.map((s) => s["subject"]).sort()).toEqual([
      "$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.STATZ", "$SYS.REQ.SERVER.PING.CONNZ",
      "_INBOX.x", "call.*", "echo", "mine.*", "pfx.st.>", "svc.stream"
    ])
    // A's index holds the shadows of B's and C's stream-import subscriptions, in their accounts.
    const a = (await getJson(ours(), "/subsz?acc=A&subs=1"))["subscriptions_list"] as Array<Doc>
    expect(a.filter((s) => s["account"] !== "A").map((s) => [s["account"], s["subject"]]).sort()).toEqual([["B", "pub.*"], ["B", "st.>"], ["C", "st.x"]])
  })

  it("/accstatz: per-account connections and traffic, as nats-server counts it", async () => {
    await both(async (s) => {
      const a = s.clients.get("a")!
      // Published in A: A's own subscriber, B (prefixed) and C (two subscriptions) through stream imports.
      a.send("PUB st.x 5\r\nhello\r\nPUB pub.one 2\r\nhi\r\n")
      await sync(a)
    })
    for (const q of ["", "?unused=1", "?unused=true&accounts=A,B", "?accounts=A"]) await same(`/accstatz${q}`)
    const doc = await getJson(ours(), "/accstatz")
    const stat = (acc: string) => (doc["account_statz"] as Array<Doc>).find((s) => s["acc"] === acc)
    expect(stat("A")).toEqual({
      acc: "A", conns: 1, leafnodes: 0, total_conns: 1,
      // st.x to A's st.>, B's pfx.st.> and C's st.x; pub.one to B's mine.*.
      sent: { msgs: 4, bytes: 3 * 5 + 2 },
      received: { msgs: 2, bytes: 7 },
      slow_consumers: 0
    })
    expect(stat("C")!["received"]).toEqual({ msgs: 1, bytes: 3 })
    expect(stat("SYS")).toBeUndefined()
    for (const q of ["acc=A", "acc=B&auth=1", "acc=C"]) await same(`/connz?${q}`)
  })

  it("service imports: the exporter's outstanding responses in /accountz, requests counted once", async () => {
    const replies = new Map<Side, string>()
    await both(async (s) => {
      const b = s.clients.get("b")!
      b.send("PUB echo _INBOX.x 3\r\nreq\r\nPUB svc.stream _INBOX.x 4\r\nreq2\r\nPUB call.one _INBOX.x 1\r\nw\r\n")
      await sync(b)
      // The singleton request's mapped reply, as A's client got it.
      const lines = await syncLines(s.clients.get("a")!)
      const reply = lines.map((l) => /^MSG svc\.echo 2 (\S+) 3\r\n$/.exec(l)?.[1]).find((x) => x !== undefined)
      expect(reply, s.server.name).toBeDefined()
      replies.set(s, reply!)
    })
    const a = await same("/accountz?acc=A")
    const responses = Object.values((a["account_detail"] as Doc)["responses"] as Doc) as Array<Doc>
    expect(responses.map((r) => [r["account"], r["to"], r["type"]])).toEqual([["B", "_INBOX.x", 2], ["B", "_INBOX.x", 2], ["B", "_INBOX.x", 2]])
    await same("/accountz?acc=B")
    // nats-server adds a Nats-Request-Info header to a request crossing a service import (we do
    // not): compare the message counts, and the bytes of what carries no such header.
    const docs = await Promise.all(sides.map((s) => getJson(s, "/accstatz")))
    const [o, r] = docs.map((d) => new Map((d["account_statz"] as Array<Doc>).map((s) => [s["acc"] as string, s])))
    for (const acc of ["A", "B", "C"]) {
      if (r === undefined) break
      expect((o!.get(acc)!["sent"] as Doc)["msgs"], acc).toBe((r.get(acc)!["sent"] as Doc)["msgs"])
      expect(o!.get(acc)!["received"], acc).toEqual(r.get(acc)!["received"])
      if (acc !== "A") expect(o!.get(acc)!["sent"], acc).toEqual(r.get(acc)!["sent"])
    }
    // B's three requests; A's client got them (and its earlier st.x), B's nothing yet.
    expect(o!.get("B")!["received"]).toEqual({ msgs: 3, bytes: 8 })
    expect(o!.get("B")!["sent"]).toEqual({ msgs: 0, bytes: 0 })
    expect((o!.get("A")!["sent"] as Doc)["msgs"]).toBe(4 + 3)
    // A's client answers the singleton request: its mapping is gone, the streamed ones stay.
    await both(async (s) => {
      const c = s.clients.get("a")!
      c.send(`PUB ${replies.get(s)!} 2\r\nok\r\n`)
      await sync(c)
      const got = await syncLines(s.clients.get("b")!)
      expect(got, s.server.name).toContain("MSG _INBOX.x 2 2\r\n")
    })
    const after = await same("/accountz?acc=A")
    expect(Object.keys((after["account_detail"] as Doc)["responses"] as Doc)).toHaveLength(2)
    const stats = await Promise.all(sides.map((s) => getJson(s, "/accstatz")))
    const sentB = stats.map((d) => (d["account_statz"] as Array<Doc>).find((x) => x["acc"] === "B")!["sent"])
    expect(sentB[0]).toEqual({ msgs: 1, bytes: 2 })
    if (sentB.length === 2) expect(sentB[0]).toEqual(sentB[1])
  })

  it("closed connections keep their account for /connz?state=closed&acc=", async () => {
    await both(async (s) => {
      s.clients.get("c")!.close()
      s.clients.delete("c")
      await waitUntilClosed(s)
    })
    for (const q of ["state=closed&acc=C&auth=1", "state=closed&acc=A", "state=all&acc=C&auth=1"]) {
      const doc = await same(`/connz?${q}`)
      if (q.includes("acc=C")) expect((doc["connections"] as Array<Doc>).map((c) => c["account"])).toEqual(["C"])
    }
  })
})

const waitUntilClosed = async (side: Side) => {
  const deadline = Date.now() + 10_000
  for (;;) {
    const doc = await getJson(side, "/connz?state=closed")
    if ((doc["connections"] as Array<Doc>).length > 0) return
    if (Date.now() > deadline) throw new Error("client not closed")
    await new Promise((r) => setImmediate(r))
  }
}

describe("without an accounts block every client is in $G", () => {
  const sides: Array<Side> = []
  afterAll(async () => {
    for (const s of sides) {
      for (const c of s.clients.values()) c.close()
      await s.server.stop()
    }
  })

  it("/accstatz, /accountz?acc=$G, /connz?acc=$G and /subsz?acc=$G show it, as nats-server", async () => {
    const conf = `http: "127.0.0.1:-1"\n`
    for (const start of natsServerPath === undefined ? [startOursWithConf] : [startOursWithConf, startNatsWithConf]) {
      const server = await start(conf)
      const side: Side = { server, base: await monitorBase(server), clients: new Map() }
      sides.push(side)
      const c = await RawClient.connect(server.port)
      c.send(`CONNECT {"verbose":false,"name":"cg","lang":"raw","version":"1","protocol":1}\r\nSUB g 1\r\n`)
      await sync(c)
      c.send("PUB g 2\r\nhi\r\n")
      await sync(c)
      side.clients.set("g", c)
    }
    const docs = async (path: string) =>
      Promise.all(sides.map(async (s) => comparable(await getJson(s, path), await cidsOf(s))))
    const statz = await docs("/accstatz")
    expect(statz[0]).toEqual({
      account_statz: [{ acc: "$G", conns: 1, leafnodes: 0, total_conns: 1, sent: { msgs: 1, bytes: 2 }, received: { msgs: 1, bytes: 2 }, slow_consumers: 0 }]
    })
    const connz = await docs("/connz?acc=%24G&auth=1")
    expect((connz[0]!["connections"] as Array<Doc>).map((c) => [c["name"], c["account"]])).toEqual([["cg", undefined]])
    const detail = await docs("/accountz?acc=%24G")
    expect((detail[0]!["account_detail"] as Doc)["client_connections"]).toBe(1)
    const subs = await docs("/subsz?acc=%24G&subs=1")
    expect((subs[0]!["subscriptions_list"] as Array<Doc>).map((s) => [s["account"], s["subject"], s["cid"]])).toEqual([["$G", "g", "cg"]])
    if (sides.length === 2) {
      for (const [i, d] of [statz, connz, detail, subs].entries()) expect(d[0], String(i)).toEqual(d[1])
    }
  })
})
