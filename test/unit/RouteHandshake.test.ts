/**
 * The route handshake on the cores, as table tests: a `ClusterState` built directly over a
 * `ServerState` (no listener, no dialer), route connections with fake session I/O, and the peer's
 * CONNECT/INFO fed through the real parser and `applyRouteBatch` (what `RouteSession` runs per
 * read) into `ClusterState.handleConnect` / `handleInfo`. Expected texts are nats-server 2.9.10's
 * (NATS-REFERENCE §2.2–2.9).
 */
import { describe, expect, it } from "vitest"
import type { ImplicitDialer } from "../../src/cluster/Cluster.js"
import type { ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { LocalSubscription } from "../../src/server/Subscription.js"
import { makeCluster, makeServer, peerConnect, peerInfo, RecordingSubscriber, RouteDriver } from "./fakes.js"
import * as Effect from "effect/Effect"

/** Ids below and above ours (ours starts with N, as every server id). */
const LOW = "A" + "A".repeat(55)
const HIGH = "Z" + "Z".repeat(55)

const info = peerInfo
const connect = peerConnect

const setup = (cluster: ServerOptionsInput["cluster"] = {}, top: ServerOptionsInput = {}) => {
  const t = makeServer({ ...top, cluster: { host: "127.0.0.1", port: 6222, ...cluster } })
  const c = makeCluster(t.server)
  t.log.clear()
  return { ...t, cluster: c }
}

const PREFIX = (d: RouteDriver) => `${d.conn.ip}:${d.conn.port} - rid:${d.conn.cid} - `

describe("route handshake: who is let in", () => {
  interface Case {
    readonly name: string
    readonly cluster?: ServerOptionsInput["cluster"]
    readonly solicited?: boolean
    /** The peer's bytes; `$ID`/`$NAME` are our server id and name, `$CLUSTER` our cluster name. */
    readonly input: string
    readonly out: string
    readonly closed?: string
    readonly registered: boolean
    readonly logs?: string
    readonly clusterName?: string
  }
  const cases: ReadonlyArray<Case> = [
    {
      name: "same cluster, static name: registered",
      cluster: { name: "C" },
      input: connect({ name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C" }),
      out: "",
      registered: true
    },
    {
      name: "route to self (our own id in INFO): Duplicate Route, URL remembered, never an -ERR",
      cluster: { name: "C" },
      solicited: true,
      input: info({ server_id: "$ID", cluster: "C" }),
      out: "",
      closed: "Duplicate Route",
      registered: false,
      logs: '[DBG] Detected route to self, ignoring "nats-route://127.0.0.1:7001"'
    },
    {
      name: "CONNECT with another static cluster name: -ERR 'Rejecting connection, cluster name …'",
      cluster: { name: "DUP" },
      input: connect({ name: HIGH, cluster: "OTHER" }),
      out: "-ERR 'Rejecting connection, cluster name \"OTHER\" does not match \"DUP\"'\r\n",
      closed: "Cluster Name Conflict",
      registered: false,
      logs: '[ERR] $PREFIXRejecting connection, cluster name "OTHER" does not match "DUP"'
    },
    {
      name: "INFO with another static cluster name: Cluster Name Conflict without -ERR",
      cluster: { name: "DUP" },
      solicited: true,
      input: info({ server_id: HIGH, cluster: "OTHER" }),
      out: "",
      closed: "Cluster Name Conflict",
      registered: false
    },
    {
      name: "static here, dynamic peer: we keep ours and close (the peer adopts it and redials)",
      cluster: { name: "C" },
      solicited: true,
      input: info({ server_id: HIGH, cluster: "~peer", cluster_dynamic: true }),
      out: "",
      closed: "Cluster Name Conflict",
      registered: false,
      clusterName: "C"
    },
    {
      name: "dynamic here, static peer (INFO): adopt the peer's name",
      solicited: true,
      input: info({ server_id: HIGH, cluster: "STATIC" }),
      out: "",
      registered: true,
      logs: "[INF] Cluster name updated to STATIC",
      clusterName: "STATIC"
    },
    {
      name: "dynamic here, static peer (CONNECT): adopt the peer's name",
      input: connect({ name: HIGH, cluster: "STATIC" }) + info({ server_id: HIGH, cluster: "STATIC" }),
      out: "",
      registered: true,
      clusterName: "STATIC"
    },
    {
      name: "both dynamic, the peer's name greater: adopt it",
      solicited: true,
      input: info({ server_id: HIGH, cluster: "~greater", cluster_dynamic: true }),
      out: "",
      registered: true,
      clusterName: "~greater"
    },
    {
      name: "both dynamic, the peer's name smaller: keep ours, close (the peer adopts ours)",
      solicited: true,
      input: info({ server_id: HIGH, cluster: "!smaller", cluster_dynamic: true }),
      out: "",
      closed: "Cluster Name Conflict",
      registered: false,
      clusterName: "$CLUSTER"
    },
    {
      name: "both dynamic, the peer's name smaller, in CONNECT: keep ours and do not close",
      input: connect({ name: HIGH, cluster: "!smaller", cluster_dynamic: true }),
      out: "",
      registered: false,
      clusterName: "$CLUSTER"
    },
    {
      name: "a client's CONNECT (it has lang) on the route port: -ERR 'attempted to connect to route port'",
      cluster: { name: "C" },
      input: 'CONNECT {"verbose":false,"pedantic":false,"lang":"node","version":"2.0.0","protocol":1}\r\n',
      out: "-ERR 'attempted to connect to route port'\r\n",
      closed: "Incorrect Port",
      registered: false,
      logs: "[ERR] $PREFIXattempted to connect to route port"
    },
    {
      name: "a gateway on the route port: -ERR 'Rejecting connection from gateway …'",
      cluster: { name: "C" },
      input: connect({ name: HIGH, cluster: "C", gateway: "gw" }),
      out: "-ERR 'Rejecting connection from gateway \"gw\" on the Route port'\r\n",
      closed: "Wrong Gateway",
      registered: false
    },
    {
      name: "auth required, INFO without CONNECT: -ERR 'Authorization Violation'",
      cluster: { name: "C", authorization: { user: "ru", password: "rp" } },
      input: info({ server_id: HIGH, cluster: "C" }),
      out: "-ERR 'Authorization Violation'\r\n",
      closed: "Authentication Failure",
      registered: false,
      logs: "[ERR] $PREFIXauthentication error"
    },
    {
      name: "auth required, wrong password: -ERR 'Authorization Violation'",
      cluster: { name: "C", authorization: { user: "ru", password: "rp" } },
      input: connect({ user: "ru", pass: "nope", name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C" }),
      out: "-ERR 'Authorization Violation'\r\n",
      closed: "Authentication Failure",
      registered: false
    },
    {
      name: "auth required, right credentials: registered",
      cluster: { name: "C", authorization: { user: "ru", password: "rp" } },
      input: connect({ user: "ru", pass: "rp", name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C" }),
      out: "",
      registered: true
    },
    {
      name: "auth required, a route we dialed: the acceptor checks us, not we it",
      cluster: { name: "C", authorization: { user: "ru", password: "rp" } },
      solicited: true,
      input: info({ server_id: HIGH, cluster: "C", auth_required: true }),
      out: "",
      registered: true
    },
    {
      name: "accepted peer with our server name: Duplicate Server Name",
      cluster: { name: "C" },
      input: connect({ name: HIGH, cluster: "C" }) + info({ server_id: HIGH, server_name: "$NAME", cluster: "C" }),
      out: "",
      closed: "Duplicate Server Name",
      registered: false,
      logs: '[ERR] $PREFIXRemote server has a duplicate name: "$NAME"'
    },
    {
      name: "a -ERR from the peer closes the route (Parse Error), logged as Route Error",
      cluster: { name: "C" },
      input: "-ERR 'go away'\r\n",
      out: "",
      closed: "Parse Error",
      registered: false,
      logs: "[ERR] $PREFIXRoute Error 'go away'"
    },
    {
      name: "an unknown op from a route: -ERR 'Unknown Protocol Operation', Protocol Violation",
      cluster: { name: "C" },
      input: "FOO bar\r\n",
      out: "-ERR 'Unknown Protocol Operation'\r\n",
      closed: "Protocol Violation",
      registered: false
    }
  ]

  it.each(cases)("$name", (c) => {
    const { server, cluster, log } = setup(c.cluster, { serverName: "srvA" })
    const ourCluster = cluster.name
    const d = new RouteDriver(cluster, c.solicited === true ? { solicitedUrl: "nats-route://127.0.0.1:7001", explicit: true } : {})
    const fill = (s: string) => s.replaceAll("$ID", server.serverId).replaceAll("$NAME", server.serverName).replaceAll("$CLUSTER", ourCluster).replaceAll("$PREFIX", PREFIX(d))
    expect(d.send(fill(c.input))).toBe(c.out)
    expect(d.conn.closeReason).toBe(c.closed)
    expect(d.conn.registered).toBe(c.registered)
    expect(cluster.routes.size).toBe(c.registered ? 1 : 0)
    if (c.logs !== undefined) expect(log.lines()).toContain(fill(c.logs))
    if (c.clusterName !== undefined) expect(cluster.name).toBe(fill(c.clusterName))
    if (c.name.startsWith("route to self")) expect([...cluster.selfUrls]).toEqual(["nats-route://127.0.0.1:7001"])
  })
})

describe("route handshake: duplicate routes", () => {
  interface Case {
    readonly peer: "LOW" | "HIGH"
    readonly existing: "solicited" | "accepted"
    readonly next: "solicited" | "accepted"
    /** The peer is nats-server (its INFO has `go`): it keeps the first, so do we. */
    readonly natsServer?: boolean
    readonly keeps: "existing" | "new"
  }
  // Our rule between two of our servers: keep the link dialed by the smaller id (both ends agree).
  const cases: ReadonlyArray<Case> = [
    { peer: "HIGH", existing: "accepted", next: "solicited", keeps: "new" },
    { peer: "HIGH", existing: "solicited", next: "accepted", keeps: "existing" },
    { peer: "LOW", existing: "accepted", next: "solicited", keeps: "existing" },
    { peer: "LOW", existing: "solicited", next: "accepted", keeps: "new" },
    { peer: "HIGH", existing: "solicited", next: "solicited", keeps: "existing" },
    { peer: "LOW", existing: "accepted", next: "accepted", keeps: "existing" },
    { peer: "HIGH", existing: "accepted", next: "solicited", natsServer: true, keeps: "existing" },
    { peer: "LOW", existing: "solicited", next: "accepted", natsServer: true, keeps: "existing" }
  ]

  it.each(cases)("peer id $peer, $existing then $next, nats-server peer: $natsServer → keeps $keeps", (c) => {
    const { server, cluster, log } = setup({ name: "C" })
    const id = c.peer === "LOW" ? LOW : HIGH
    expect(server.serverId < HIGH && server.serverId > LOW).toBe(true)
    const url = "nats-route://127.0.0.1:7001"
    const open = (how: "solicited" | "accepted") => new RouteDriver(cluster, how === "solicited" ? { solicitedUrl: url, explicit: true } : {})
    const hello = (c.natsServer === true ? connect({ name: id, cluster: "C" }) : "") + info({ server_id: id, cluster: "C", ...(c.natsServer === true ? { go: "go1.19.8" } : {}) })
    // The first link carries interest, so we can see it go with the link that is dropped.
    const first = open(c.existing)
    first.send(hello + "RS+ $G foo\r\n")
    expect(cluster.routes.get(id)).toBe(first.conn)
    const second = open(c.next)
    second.send(hello)
    const [kept, dropped] = c.keeps === "existing" ? [first, second] : [second, first]
    expect(cluster.routes.get(id)).toBe(kept.conn)
    expect(dropped.conn.closeReason).toBe("Duplicate Route")
    expect(kept.conn.closing).toBe(false)
    expect(dropped.io.closes).toBe(1)
    // Silently: no -ERR to the peer.
    expect(dropped.output()).not.toContain("-ERR")
    expect(log.lines()).toContain(`[DBG] ${PREFIX(dropped)}Detected duplicate remote route "${id}"`)
    // A dropped link that was dialed hands its URL to the survivor, so that it is redialed if lost.
    if (c.existing === "solicited" || c.next === "solicited") expect(kept.conn.solicitedUrl).toBe(url)
    // The interest of a replaced link is gone with it.
    expect(server.router.index.match("foo").plain.length).toBe(c.keeps === "existing" ? 1 : 0)
  })
})

describe("route handshake: after registration", () => {
  it("the interest sync: every local interest as RS+ in one write, queues with their weight", () => {
    const { server, cluster } = setup({ name: "C" })
    const owner = new RecordingSubscriber(1)
    server.router.addLocal(new LocalSubscription(owner, "foo", undefined, "1"))
    server.router.addLocal(new LocalSubscription(owner, "foo", undefined, "2"))
    server.router.addLocal(new LocalSubscription(owner, "bar.*", "q", "3"))
    server.router.addLocal(new LocalSubscription(owner, "bar.*", "q", "4"))
    const d = new RouteDriver(cluster)
    d.feed(connect({ name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C" }))
    const chunk = d.conn.out.take()
    expect(Buffer.from(chunk!).toString("latin1")).toBe("RS+ $G foo\r\nRS+ $G bar.* q 2\r\n")
    expect(d.conn.out.take()).toBeUndefined()
    expect(d.io.wakes).toBeGreaterThan(0)
    // Then live changes through the ClusterPort: a plain subject on 0→1/1→0, a queue on every change.
    server.router.addLocal(new LocalSubscription(owner, "new", undefined, "5"))
    server.router.addLocal(new LocalSubscription(owner, "bar.*", "q", "6"))
    server.router.flush()
    expect(d.output()).toBe("RS+ $G new\r\nRS+ $G bar.* q 3\r\n")
  })

  it("gossip: a newcomer's INFO goes to the other routes without its nonce, with a dialable ip, without the space", () => {
    const { cluster } = setup({ name: "C" })
    const p1 = new RouteDriver(cluster, { ip: "127.0.0.1", port: 50001 })
    p1.send(connect({ name: "P1".padEnd(56, "1"), cluster: "C" }) + info({ server_id: "P1".padEnd(56, "1"), cluster: "C", port: 7001 }))
    const p2 = new RouteDriver(cluster, { ip: "127.0.0.2", port: 50002 })
    const p2Id = "P2".padEnd(56, "2")
    p2.send(connect({ name: p2Id, cluster: "C" }) + info({ server_id: p2Id, server_name: "srvB", cluster: "C", port: 7002, nonce: "secret", connect_urls: ["127.0.0.2:4222"], lnoc: true }))
    const forwarded = p1.output()
    expect(forwarded).toBe(
      `INFO {"server_id":"${p2Id}","server_name":"srvB","version":"2.9.10","proto":2,"host":"127.0.0.1","port":7002,"headers":true,` +
        `"max_payload":1048576,"ip":"nats-route://127.0.0.2:7002/","cluster":"C","connect_urls":["127.0.0.2:4222"],"lnoc":true}\r\n`
    )
    // The newcomer itself is not told about itself.
    expect(p2.output()).toBe("")
  })

  it("gossip with the peer's own ip (cluster.advertise) forwards that ip", () => {
    const { cluster } = setup({ name: "C" })
    new RouteDriver(cluster).send(connect({ name: LOW, cluster: "C" }) + info({ server_id: LOW, cluster: "C" }))
    const first = [...cluster.routes.values()][0]!
    first.out.clear()
    new RouteDriver(cluster).send(connect({ name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C", ip: "nats-route://10.0.0.9:6222/" }))
    let text = ""
    for (let b = first.out.take(); b !== undefined; b = first.out.take()) text += Buffer.from(b).toString("latin1")
    expect(JSON.parse(text.slice(5))["ip"]).toBe("nats-route://10.0.0.9:6222/")
  })

  it.each([
    { name: "an unknown server: dialed at its ip", about: "P3", ip: "nats-route://127.0.0.3:7003/", dial: ["nats-route://127.0.0.3:7003/"] },
    { name: "an unknown server without ip: dialed at host:port", about: "P3", ip: undefined, dial: ["nats-route://127.0.0.1:7001/"] },
    { name: "a server already connected: not dialed", about: "P2", ip: "nats-route://127.0.0.2:7002/", dial: [] },
    { name: "ourselves: not dialed", about: "SELF", ip: "nats-route://127.0.0.1:6222/", dial: [] },
    { name: "a configured route's address: left to its dialer", about: "P3", ip: "nats-route://127.0.0.9:7009/", dial: [] }
  ])("gossip received about $name", ({ about, ip, dial }) => {
    const { server, cluster } = setup({ name: "C", routes: ["nats-route://127.0.0.9:7009"] })
    const dialed: Array<[string, string]> = []
    const dialer: ImplicitDialer = { dial: (url, id) => Effect.sync(() => void dialed.push([url, id])) }
    cluster.dialer = dialer
    const ids: Record<string, string> = { P1: "P1".padEnd(56, "1"), P2: "P2".padEnd(56, "2"), P3: "P3".padEnd(56, "3"), SELF: server.serverId }
    const p1 = new RouteDriver(cluster)
    p1.send(connect({ name: ids["P1"], cluster: "C" }) + info({ server_id: ids["P1"], cluster: "C" }))
    new RouteDriver(cluster).send(connect({ name: ids["P2"], cluster: "C" }) + info({ server_id: ids["P2"], cluster: "C" }))
    p1.send(info({ server_id: ids[about], cluster: "C", ...(ip !== undefined ? { ip } : {}) }).replace(" \r\n", "\r\n"))
    expect(dialed).toEqual(dial.map((u) => [u, ids[about]]))
    expect(p1.conn.closing).toBe(false)
  })

  it("a later INFO from the peer itself updates its client URLs and pushes an async INFO to clients", () => {
    const { server, cluster } = setup({ name: "C" })
    const d = new RouteDriver(cluster)
    d.send(connect({ name: HIGH, cluster: "C" }) + info({ server_id: HIGH, cluster: "C", connect_urls: ["127.0.0.1:4223"] }))
    expect(server.connectUrls()).toEqual(["127.0.0.1:4222", "127.0.0.1:4223"])
    d.send(info({ server_id: HIGH, cluster: "C", connect_urls: ["127.0.0.1:4223"], ldm: true }))
    expect(server.connectUrls()).toEqual(["127.0.0.1:4222"])
    d.end()
    expect(cluster.routes.size).toBe(0)
  })
})
