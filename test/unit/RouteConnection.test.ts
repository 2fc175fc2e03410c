/**
 * An established route link on the cores: RS+/RS-/RMSG/HMSG/PING from the peer, fed through the
 * real parser into `RouteConnection.apply`, change the router's remote interest and reach local
 * clients (one hop); local publishes come out as exact RMSG bytes. Clients are `ClientConnection`s
 * with fake session I/O. Expected texts: nats-server 2.9.10 (NATS-REFERENCE §2.4–2.6).
 */
import { describe, expect, it } from "vitest"
import { ClientDriver, makeCluster, makeServer, registeredRoute } from "./fakes.js"

const QUIET = 'CONNECT {"verbose":false}\r\n'
const PEER_A = "PA".padEnd(56, "A")
const PEER_B = "PB".padEnd(56, "B")

const setup = () => {
  const t = makeServer({ cluster: { name: "C", host: "127.0.0.1", port: 6222 } })
  const cluster = makeCluster(t.server)
  const route = registeredRoute(cluster, PEER_A)
  const pub = new ClientDriver(t.server)
  pub.send(QUIET)
  return { ...t, cluster, route, pub }
}

describe("RouteConnection: interest from the peer", () => {
  it.each([
    {
      name: "RS+ plain: local publishes on matching subjects go to the route",
      input: "RS+ $G foo.*\r\n",
      publish: ["foo.a", "bar"],
      out: "RMSG $G foo.a 1\r\nx\r\n"
    },
    {
      name: "RS+ then RS-: nothing goes",
      input: "RS+ $G foo\r\nRS- $G foo\r\n",
      publish: ["foo"],
      out: ""
    },
    {
      name: "RS+ queue with weight: the route is the group's only member, the RMSG names it",
      input: "RS+ $G work q 3\r\n",
      publish: ["work"],
      out: "RMSG $G work | q 1\r\nx\r\n"
    },
    {
      name: "RS- of a queue names subject and group (no weight)",
      input: "RS+ $G work q 3\r\nRS- $G work q\r\n",
      publish: ["work"],
      out: ""
    },
    {
      name: "several matching interests: one RMSG",
      input: "RS+ $G a.b\r\nRS+ $G a.*\r\nRS+ $G >\r\nRS+ $G a.> grp 2\r\n",
      publish: ["a.b"],
      out: "RMSG $G a.b | grp 1\r\nx\r\n"
    },
    {
      name: "another account's interest is never matched in ours",
      input: "RS+ $SYS foo\r\nRS+ NOPE foo\r\n",
      publish: ["foo"],
      out: ""
    },
    {
      name: "an RS- that matches nothing is ignored",
      input: "RS- $G never\r\nRS+ $G foo\r\n",
      publish: ["foo"],
      out: "RMSG $G foo 1\r\nx\r\n"
    }
  ])("$name", ({ input, publish, out }) => {
    const { route, pub } = setup()
    expect(route.send(input)).toBe("")
    pub.send(publish.map((s) => `PUB ${s} 1\r\nx\r\n`).join(""))
    expect(route.output()).toBe(out)
  })

  it("the route's interest entries, keyed as RS- names them; a repeated queue RS+ updates the weight", () => {
    const { route, server } = setup()
    route.send("RS+ $G foo\r\nRS+ $G foo\r\nRS+ $G work q 3\r\nRS+ $G work q 5\r\n")
    expect([...route.conn.interest.keys()]).toEqual(["$G foo", "$G work q"])
    expect(route.conn.interest.get("$G work q")?.weight).toBe(5)
    expect(route.conn.subscriptionCount).toBe(2)
    expect(server.router.index.match("foo").plain.length).toBe(1)
    route.send("RS- $G work q\r\n")
    expect(route.conn.subscriptionCount).toBe(1)
    expect(server.router.index.match("work").queues.length).toBe(0)
  })

  it("an account this server does not serve: nothing kept or counted, nats-server's error and debug lines", () => {
    const { route, log } = setup()
    const prefix = `127.0.0.1:${route.conn.port} - rid:${route.conn.cid} - `
    route.send("RS+ NOPE x\r\nRS+ NOPE w q 2\r\nRS- NOPE x\r\nRMSG NOPE x 1\r\ny\r\nHMSG NOPE x 12 13\r\nNATS/1.0\r\n\r\ny\r\nRS- $G never\r\n")
    expect(route.conn.interest.size).toBe(0)
    expect(route.conn.subscriptionCount).toBe(0)
    // Both messages count as received (nats-server's in_msgs does too).
    expect(route.conn.inMsgs).toBe(2)
    expect(log.lines().filter((l) => l.includes("Unknown account"))).toEqual([
      `[ERR] ${prefix}Unknown account "NOPE" for remote subject "x"`,
      `[ERR] ${prefix}Unknown account "NOPE" for remote subject "w"`,
      `[DBG] ${prefix}Unknown account "NOPE" for subject "x"`,
      `[DBG] ${prefix}Unknown account "NOPE" for routed message on subject: "x"`,
      `[DBG] ${prefix}Unknown account "NOPE" for routed message on subject: "x"`
    ])
    expect(route.output()).toBe("")
  })

  it("interest in another account this server serves ($SYS) sits in that account's index only", () => {
    const { route, server } = setup()
    route.send("RS+ $SYS $SYS.REQ.SERVER.PING\r\n")
    expect([...route.conn.interest.keys()]).toEqual(["$SYS $SYS.REQ.SERVER.PING"])
    expect(server.router.lookup("$SYS")!.index.match("$SYS.REQ.SERVER.PING").plain.length).toBe(1)
    expect(server.router.index.match("$SYS.REQ.SERVER.PING").plain.length).toBe(0)
    route.send("RS- $SYS $SYS.REQ.SERVER.PING\r\n")
    expect(server.router.lookup("$SYS")!.index.size).toBe(0)
  })

  it("interest from a route is not announced to other routes (one hop)", () => {
    const { cluster, route } = setup()
    const other = registeredRoute(cluster, PEER_B)
    route.send("RS+ $G foo\r\nRS+ $G work q 1\r\n")
    expect(other.output()).toBe("")
  })

  it("when the route ends, its interest goes with it", () => {
    const { route, pub, log } = setup()
    route.send("RS+ $G foo\r\nRS+ $G bar q 1\r\nRS+ $SYS s.x\r\n")
    route.end()
    pub.send("PUB foo 1\r\nx\r\nPUB bar 1\r\nx\r\n")
    expect(route.output()).toBe("")
    // One line per account, as nats-server.
    expect(log.lines()).toContain(`[DBG] 127.0.0.1:${route.conn.port} - rid:${route.conn.cid} - Removing 2 subscriptions for account "$G"`)
    expect(log.lines()).toContain(`[DBG] 127.0.0.1:${route.conn.port} - rid:${route.conn.cid} - Removing 1 subscriptions for account "$SYS"`)
    expect(log.lines()).toContain(`[INF] 127.0.0.1:${route.conn.port} - rid:${route.conn.cid} - Router connection closed: Client Closed`)
  })
})

describe("RouteConnection: messages from the peer", () => {
  it.each([
    { name: "RMSG to a plain subscriber", input: "RMSG $G foo 5\r\nhello\r\n", plain: "MSG foo 1 5\r\nhello\r\n", queue: "" },
    { name: "RMSG with reply", input: "RMSG $G foo r.1 2\r\nhi\r\n", plain: "MSG foo 1 r.1 2\r\nhi\r\n", queue: "" },
    { name: "RMSG naming the group: one member gets it", input: "RMSG $G foo | grp 1\r\nq\r\n", plain: "MSG foo 1 1\r\nq\r\n", queue: "MSG foo 2 1\r\nq\r\n" },
    { name: "RMSG + reply + group", input: "RMSG $G foo + r.2 grp 1\r\nq\r\n", plain: "MSG foo 1 r.2 1\r\nq\r\n", queue: "MSG foo 2 r.2 1\r\nq\r\n" },
    { name: "RMSG naming another group: queue members get nothing", input: "RMSG $G foo | other 1\r\nq\r\n", plain: "MSG foo 1 1\r\nq\r\n", queue: "" },
    { name: "HMSG to a subscriber with headers", input: "HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", plain: "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", queue: "" },
    { name: "another account's message is dropped", input: "RMSG $SYS foo 1\r\nx\r\n", plain: "", queue: "" }
  ])("$name", ({ input, plain, queue }) => {
    const { server, route } = setup()
    const sub = new ClientDriver(server)
    const member = new ClientDriver(server)
    sub.send('CONNECT {"verbose":false,"headers":true}\r\nSUB foo 1\r\n')
    member.send(QUIET + "SUB foo grp 2\r\n")
    // The local interest went to the peer.
    expect(route.output()).toBe("RS+ $G foo\r\nRS+ $G foo grp 1\r\n")
    expect(route.send(input)).toBe("")
    expect(sub.output()).toBe(plain)
    expect(member.output()).toBe(queue)
  })

  it("an HMSG reaches a subscriber without headers as MSG with the body only", () => {
    const { server, route } = setup()
    const sub = new ClientDriver(server)
    sub.send(QUIET + "SUB foo 1\r\n")
    route.send("HMSG $G foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
    expect(sub.output()).toBe("MSG foo 1 r 2\r\nhi\r\n")
  })

  it("a message from a route never goes to another route (one hop), however much interest", () => {
    const { server, cluster, route } = setup()
    const other = registeredRoute(cluster, PEER_B)
    other.send("RS+ $G foo\r\nRS+ $G foo q 1\r\n")
    const sub = new ClientDriver(server)
    sub.send(QUIET + "SUB foo 1\r\n")
    expect(other.output()).toBe("RS+ $G foo\r\n")
    route.send("RMSG $G foo | q 1\r\nx\r\n")
    expect(other.output()).toBe("")
    expect(sub.output()).toBe("MSG foo 1 1\r\nx\r\n")
  })

  it("a batch of messages from the route wakes each client's writer once", () => {
    const { server, route } = setup()
    const sub = new ClientDriver(server)
    sub.send(QUIET + "SUB foo 1\r\n")
    const wakes = sub.io.wakes
    route.send("RMSG $G foo 1\r\nx\r\n".repeat(50))
    expect(sub.io.wakes).toBe(wakes + 1)
    expect(route.conn.inMsgs).toBe(50)
  })

  it("PING is answered with PONG; a PONG clears the outstanding PINGs", () => {
    const { route } = setup()
    route.conn.sendPing()
    expect(route.output()).toBe("PING\r\n")
    expect(route.conn.pingsOut).toBe(1)
    expect(route.send("PING\r\nPONG\r\n")).toBe("PONG\r\n")
    expect(route.conn.pingsOut).toBe(0)
  })

  it("a message to a client past its max_pending (slow consumer) does not close the route", () => {
    const t = makeServer({ maxPending: 200, maxPayload: 100, cluster: { name: "C", host: "127.0.0.1", port: 6222 } })
    const route = registeredRoute(makeCluster(t.server), PEER_A)
    const sub = new ClientDriver(t.server)
    sub.send(QUIET + "SUB foo 1\r\n")
    route.send(`RMSG $G foo 90\r\n${"x".repeat(90)}\r\n`.repeat(3))
    expect(sub.conn.closeReason).toBe("Slow Consumer (Pending Bytes)")
    expect(route.conn.closing).toBe(false)
  })
})
