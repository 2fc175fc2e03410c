/**
 * One client connection on the cores: protocol text goes through the real `Parser.step` into
 * `ClientConnection.apply`, and the test compares the exact bytes the connection appended to its
 * `OutBuffer` (and its close reason, log lines, registry and interest) with what nats-server 2.9.10
 * sends — the same texts `test/protocol/RawProtocol.test.ts` checks against the real server.
 */
import { describe, expect, it } from "vitest"
import { ClientDriver, makeServer, RecordingListener } from "./fakes.js"
import type { ServerOptionsInput } from "../../src/config/ServerOptions.js"
import * as bcrypt from "@node-rs/bcrypt"

const QUIET = 'CONNECT {"verbose":false}\r\n'

interface Case {
  readonly name: string
  readonly options?: ServerOptionsInput
  readonly input: string
  readonly out: string
  /** The close reason, when the input closes the connection. */
  readonly closed?: string
  /** An `[ERR]` line the server logs (after the connection prefix). */
  readonly logs?: string
}

const cases: ReadonlyArray<Case> = [
  {
    name: "CONNECT {} is verbose: +OK after CONNECT, SUB, PUB and UNSUB, none after PING",
    input: "CONNECT {}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nUNSUB 1\r\nPING\r\n",
    out: "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 5\r\nhello\r\n+OK\r\nPONG\r\n"
  },
  {
    name: "verbose false: only the MSG and the PONG",
    input: QUIET + "SUB foo 1\r\nPUB foo reply.x 3\r\nabc\r\nUNSUB 1\r\nPUB foo 1\r\nz\r\nPING\r\n",
    out: "MSG foo 1 reply.x 3\r\nabc\r\nPONG\r\n"
  },
  {
    name: "ops before CONNECT are fine without auth (nats-server's defaults: verbose)",
    input: "SUB foo 1\r\nPING\r\n",
    out: "+OK\r\nPONG\r\n"
  },
  {
    name: "a client PONG, INFO and +OK are ignored",
    input: QUIET + "PONG\r\nINFO {}\r\n+OK\r\nPING\r\n",
    out: "PONG\r\n"
  },
  {
    name: "invalid SUB subject → -ERR 'Invalid Subject', no +OK, stays open",
    input: "CONNECT {}\r\nSUB foo..bar 1\r\nSUB foo.>.x 2\r\nPING\r\n",
    out: "+OK\r\n-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\n"
  },
  {
    name: "pedantic PUB to a wildcard → -ERR 'Invalid Publish Subject', +OK, and it is still delivered (live 2.9.10)",
    input: 'CONNECT {"pedantic":true}\r\nSUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n',
    out: "+OK\r\n+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nMSG foo.* 1 1\r\nx\r\n"
  },
  {
    name: "re-SUB with a live sid is ignored (+OK), the first subscription stays",
    input: "CONNECT {}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\n",
    out: "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\nMSG foo 1 1\r\nf\r\n"
  },
  {
    name: "`SUB foo 3; UNSUB 3 2` delivers exactly 2 messages",
    input: QUIET + "SUB foo 3\r\nUNSUB 3 2\r\n" + "PUB foo 1\r\nx\r\n".repeat(3) + "PING\r\n",
    out: "MSG foo 3 1\r\nx\r\n".repeat(2) + "PONG\r\n"
  },
  {
    name: "echo:false: the client's own message is not delivered to it",
    input: 'CONNECT {"verbose":false,"echo":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n',
    out: "PONG\r\n"
  },
  {
    name: "no_responders: a request nobody listens to gets the 503 on the requester's reply subscription (after +OK)",
    input: 'CONNECT {"headers":true,"no_responders":true}\r\nSUB _INBOX.a 9\r\nPUB nobody _INBOX.a 0\r\n\r\n',
    out: "+OK\r\n+OK\r\n+OK\r\nHMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
  },
  {
    name: "HPUB from a client that did not negotiate headers → closed without -ERR",
    input: QUIET + "SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
    out: "",
    closed: "Protocol Violation",
    logs: "message headers not supported"
  },
  {
    name: "headers negotiated: HPUB comes back as HMSG",
    input: 'CONNECT {"verbose":false,"headers":true}\r\nSUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
    out: "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
  },
  {
    name: "headers refused by the server (no_header_support): the client's headers:true does not count",
    options: { noHeaderSupport: true },
    input: 'CONNECT {"verbose":false,"headers":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
    out: "",
    closed: "Protocol Violation",
    logs: "message headers not supported"
  },
  {
    name: "unknown op → -ERR 'Unknown Protocol Operation' and close (Protocol Violation, live 2.9.10)",
    input: QUIET + "FOO bar\r\n",
    out: "-ERR 'Unknown Protocol Operation'\r\n",
    closed: "Protocol Violation"
  },
  {
    name: "MSG from a client → -ERR 'Unknown Protocol Operation'",
    input: QUIET + "MSG foo 1 1\r\nx\r\n",
    out: "-ERR 'Unknown Protocol Operation'\r\n",
    closed: "Protocol Violation"
  },
  {
    name: "wrong payload length → -ERR 'Unknown Protocol Operation'",
    input: QUIET + "PUB foo 2\r\nabc\r\n",
    out: "-ERR 'Unknown Protocol Operation'\r\n",
    closed: "Protocol Violation"
  },
  {
    name: "above max_payload → -ERR 'Maximum Payload Violation' at the PUB line; exactly max_payload is delivered",
    options: { maxPayload: 4 },
    input: QUIET + "SUB foo 1\r\nPUB foo 4\r\nabcd\r\nPUB foo 5\r\nabcde\r\n",
    out: "MSG foo 1 4\r\nabcd\r\n-ERR 'Maximum Payload Violation'\r\n",
    closed: "Maximum Message Payload Exceeded",
    logs: "maximum payload exceeded: 5 vs 4"
  },
  {
    name: "a control line above max_control_line → -ERR 'maximum control line exceeded'",
    options: { maxControlLine: 16 },
    input: QUIET + `SUB ${"a".repeat(20)} 1\r\n`,
    out: "-ERR 'maximum control line exceeded'\r\n",
    closed: "Maximum Control Line Exceeded"
  },
  {
    name: "protocol 2 → -ERR 'invalid client protocol'",
    input: 'CONNECT {"protocol":2}\r\n',
    out: "-ERR 'invalid client protocol'\r\n",
    closed: "Protocol Violation"
  },
  {
    name: "no_responders without headers → -ERR 'no responders requires headers support'",
    input: 'CONNECT {"no_responders":true}\r\n',
    out: "-ERR 'no responders requires headers support'\r\n",
    closed: "Protocol Violation"
  },
  {
    name: "non-JSON CONNECT → closed without -ERR",
    input: "CONNECT {nope\r\n",
    out: "",
    closed: "Protocol Violation"
  },
  {
    name: "-ERR from a client → closed (Parse Error), logged as Client Error",
    input: QUIET + "-ERR 'boom'\r\n",
    out: "",
    closed: "Parse Error",
    logs: "Client Error 'boom'"
  },
  {
    name: "beyond max_subscriptions → -ERR 'maximum subscriptions exceeded', stays open",
    options: { maxSubscriptions: 1 },
    input: QUIET + "SUB a 1\r\nSUB b 2\r\nPING\r\n",
    out: "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n",
    logs: "maximum subscriptions exceeded"
  },
  {
    name: "auth: a first op other than CONNECT → -ERR 'Authorization Violation'",
    options: { authorization: { user: "u", password: "p" } },
    input: "PING\r\n",
    out: "-ERR 'Authorization Violation'\r\n",
    closed: "Authentication Failure",
    logs: "authentication error"
  },
  {
    name: "auth: wrong password → -ERR 'Authorization Violation'",
    options: { authorization: { users: [{ user: "u", password: "p" }] } },
    input: 'CONNECT {"user":"u","pass":"x"}\r\nPING\r\n',
    out: "-ERR 'Authorization Violation'\r\n",
    closed: "Authentication Failure",
    logs: 'authentication error - User "u"'
  },
  {
    name: "auth: credentials are checked before the protocol",
    options: { authorization: { user: "u", password: "p" } },
    input: 'CONNECT {"user":"u","pass":"x","protocol":2}\r\n',
    out: "-ERR 'Authorization Violation'\r\n",
    closed: "Authentication Failure"
  },
  {
    name: "permissions: publish and subscribe violations are -ERRs, the connection stays open",
    options: {
      authorization: {
        users: [{ user: "u", password: "p", permissions: { publish: { deny: ["secret.>"] }, subscribe: { allow: ["ok.>", "q.* workers"] } } }]
      }
    },
    input: 'CONNECT {"verbose":false,"user":"u","pass":"p"}\r\nSUB ok.a 1\r\nSUB nope 2\r\nSUB q.x other 3\r\nPUB secret.x 1\r\nx\r\nPUB ok.a 1\r\ny\r\nPING\r\n',
    out: "-ERR 'Permissions Violation for Subscription to \"nope\"'\r\n" +
      "-ERR 'Permissions Violation for Subscription to \"q.x\" using queue \"other\"'\r\n" +
      "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n" +
      "MSG ok.a 1 1\r\ny\r\n" +
      "PONG\r\n",
    logs: 'Publish Violation - User "u", Subject "secret.x"'
  }
]

describe("ClientConnection: bytes out for bytes in", () => {
  it.each(cases)("$name", (c) => {
    const { server, log } = makeServer(c.options)
    const client = new ClientDriver(server)
    expect(client.send(c.input)).toBe(c.out)
    expect(client.conn.closeReason).toBe(c.closed)
    expect(client.io.closes).toBe(c.closed === undefined ? 0 : 1)
    if (c.logs !== undefined) expect(log.lines()).toContain(`[ERR] 127.0.0.1:50000 - cid:1 - ${c.logs}`)
  })

  it("a subscriber without headers gets an HPUB's body only, as MSG; one with headers gets a PUB as MSG", () => {
    const { server } = makeServer()
    const plain = new ClientDriver(server)
    const withHeaders = new ClientDriver(server)
    const pub = new ClientDriver(server)
    plain.send(QUIET + "SUB foo 1\r\n")
    withHeaders.send('CONNECT {"verbose":false,"headers":true}\r\nSUB foo 2\r\n')
    pub.send('CONNECT {"verbose":false,"headers":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB foo 1\r\nx\r\n')
    expect(plain.output()).toBe("MSG foo 1 2\r\nhi\r\nMSG foo 1 1\r\nx\r\n")
    expect(withHeaders.output()).toBe("HMSG foo 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nMSG foo 2 1\r\nx\r\n")
  })

  it("the same input split at every byte gives the same output (the parser carries the rest)", () => {
    const input = 'CONNECT {"verbose":true}\r\nSUB foo 1\r\nPUB foo r 5\r\nhello\r\nUNSUB 1 1\r\nPING\r\n'
    const whole = new ClientDriver(makeServer().server).send(input)
    for (let cut = 1; cut < input.length; cut++) {
      const split = new ClientDriver(makeServer().server)
      expect(split.send(input.slice(0, cut)) + split.send(input.slice(cut))).toBe(whole)
    }
  })

  it("nothing is written after the close, and later input is not applied", () => {
    const { server } = makeServer()
    const client = new ClientDriver(server)
    expect(client.send(QUIET + "FOO\r\n")).toBe("-ERR 'Unknown Protocol Operation'\r\n")
    expect(client.send("SUB foo 1\r\nPING\r\n")).toBe("")
    expect(server.router.global.localInterest.size).toBe(0)
  })
})

describe("ClientConnection: a CONNECT whose verdict comes later (bcrypt)", () => {
  it("holds the rest of the batch until the verdict, then runs it in order", async () => {
    const { server } = makeServer({ authorization: { users: [{ user: "bob", password: bcrypt.hashSync("pw", 4) }] } })
    const client = new ClientDriver(server)
    expect(client.send('CONNECT {"user":"bob","pass":"pw"}\r\nSUB foo 1\r\nPING\r\n')).toBe("")
    const pending = client.conn.auth.pending
    expect(pending).toBeInstanceOf(Promise)
    // Nothing of the held ops happened yet.
    expect(client.conn.subs.size).toBe(0)
    await pending
    client.conn.resume()
    expect(client.output()).toBe("+OK\r\n+OK\r\nPONG\r\n")
    expect(client.conn.subs.has("1")).toBe(true)
    expect(client.conn.user).toBe("bob")
  })

  it("a wrong password found later closes with -ERR 'Authorization Violation', the held ops never run", async () => {
    const { server } = makeServer({ authorization: { users: [{ user: "bob", password: bcrypt.hashSync("pw", 4) }] } })
    const client = new ClientDriver(server)
    client.send('CONNECT {"user":"bob","pass":"nope"}\r\nSUB foo 1\r\nPING\r\n')
    await client.conn.auth.pending
    client.conn.resume()
    expect(client.output()).toBe("-ERR 'Authorization Violation'\r\n")
    expect(client.conn.closeReason).toBe("Authentication Failure")
    expect(server.router.global.localInterest.size).toBe(0)
  })
})

describe("ClientConnection: INFO", () => {
  it("the greeting: nats-server's fields in its order, `INFO {json} \\r\\n`", () => {
    const { server } = makeServer({ serverName: "srvA", maxPayload: 1024 })
    const client = new ClientDriver(server)
    client.conn.sendInfo()
    expect(client.output()).toBe(
      `INFO {"server_id":"${server.serverId}","server_name":"srvA","version":"2.9.10","proto":1,"host":"127.0.0.1","port":4222,` +
        `"headers":true,"max_payload":1024,"client_id":${client.conn.cid},"client_ip":"127.0.0.1"} \r\n`
    )
    // A seeded Random gives the same id again.
    expect(makeServer({ serverName: "srvA" }).server.serverId).toBe(server.serverId)
    expect(server.serverId).toMatch(/^N[A-Z2-7]{55}$/)
  })

  it("auth_required before max_payload; the nonce only with nkey users, only in the greeting", () => {
    const { server } = makeServer({ authorization: { nkeys: [{ nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4" }] } })
    const client = new ClientDriver(server)
    client.conn.sendInfo()
    const greeting = JSON.parse(client.output().slice(5)) as Record<string, unknown>
    expect(Object.keys(greeting)).toEqual([
      "server_id", "server_name", "version", "proto", "host", "port", "headers", "auth_required", "max_payload", "client_id", "client_ip", "nonce"
    ])
    expect(greeting["nonce"]).toBe(client.conn.auth.nonce)
    client.conn.sendInfo()
    expect(client.output()).not.toContain("nonce")
  })

  it.each([
    { protocol: 1, ping: "INFO", after: "INFO" },
    { protocol: 0, ping: "", after: "" }
  ])("protocol $protocol: an async INFO only after the first PING (INFO before its PONG)", ({ protocol, ping, after }) => {
    const { server } = makeServer()
    const client = new ClientDriver(server)
    expect(client.send(`CONNECT {"verbose":false,"protocol":${protocol}}\r\n`)).toBe("")
    server.infoChanged()
    expect(client.output()).toBe("")
    const answer = client.send("PING\r\n")
    expect(answer.endsWith("PONG\r\n")).toBe(true)
    expect(answer.startsWith("INFO {")).toBe(ping === "INFO")
    server.infoChanged()
    expect(client.output().startsWith("INFO {")).toBe(after === "INFO")
  })

  it("async INFO carries connect_urls from the cluster port (own URL first) and no nonce", () => {
    const { server } = makeServer()
    const client = new ClientDriver(server)
    client.send('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n')
    server.attachCluster({
      name: "C1",
      noAdvertise: false,
      peerClientUrls: ["127.0.0.1:4223"],
      routeAddress: undefined,
      interestChanged: () => {},
      announceLameDuck: () => {},
      roundTrip: () => {
        throw new Error("not used")
      }
    })
    server.infoChanged()
    const info = JSON.parse(client.output().slice(5)) as Record<string, unknown>
    expect(info["cluster"]).toBe("C1")
    expect(info["connect_urls"]).toEqual(["127.0.0.1:4222", "127.0.0.1:4223"])
  })
})

describe("ClientConnection: registry and interest", () => {
  it("SUB/UNSUB change the connection's subscriptions and the router's interest; the listener hears 0↔1", () => {
    const { server } = makeServer()
    const listener = new RecordingListener()
    server.attachCluster({
      name: "C",
      noAdvertise: true,
      peerClientUrls: [],
      routeAddress: undefined,
      interestChanged: (c) => listener.interestChanged(c),
      announceLameDuck: () => {},
      roundTrip: () => {
        throw new Error("not used")
      }
    })
    const a = new ClientDriver(server)
    const b = new ClientDriver(server)
    a.send(QUIET + "SUB foo 1\r\nSUB foo 2\r\nSUB work q 3\r\n")
    b.send(QUIET + "SUB work q 1\r\n")
    expect([...a.conn.subs.keys()]).toEqual(["1", "2", "3"])
    expect(server.router.global.localInterest.get("foo")?.count).toBe(2)
    expect(server.router.global.localInterest.get("work q")?.count).toBe(2)
    a.send("UNSUB 1\r\nUNSUB 3\r\nUNSUB 99\r\n")
    expect([...a.conn.subs.keys()]).toEqual(["2"])
    a.send("UNSUB 2\r\n")
    expect(server.router.global.localInterest.has("foo")).toBe(false)
    expect(listener.changes.map((c) => [c.subject, c.queue, c.count])).toEqual([
      ["foo", undefined, 1],
      ["work", "q", 1],
      ["work", "q", 2],
      ["work", "q", 1],
      ["foo", undefined, 0]
    ])
    // Closing withdraws the rest; the map stays as the record /connz?state=closed shows.
    b.conn.close("Client Closed")
    b.conn.removeAllSubscriptions()
    expect(server.router.global.localInterest.size).toBe(0)
    expect(b.conn.subs.size).toBe(1)
  })

  it("auto-unsubscribe: after max the subscription is gone from the connection and from the router", () => {
    const { server } = makeServer()
    const sub = new ClientDriver(server)
    const pub = new ClientDriver(server)
    sub.send(QUIET + "SUB foo 7\r\nUNSUB 7 2\r\n")
    pub.send(QUIET + "PUB foo 1\r\na\r\n")
    expect(sub.conn.subs.has("7")).toBe(true)
    pub.send("PUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
    expect(sub.output()).toBe("MSG foo 7 1\r\na\r\nMSG foo 7 1\r\nb\r\n")
    expect(sub.conn.subs.has("7")).toBe(false)
    expect(server.router.global.localInterest.size).toBe(0)
    // UNSUB with max ≤ delivered removes at once.
    sub.send("SUB bar 8\r\n")
    pub.send("PUB bar 1\r\nx\r\n")
    sub.send("UNSUB 8 1\r\n")
    expect(sub.conn.subs.has("8")).toBe(false)
  })

  it("a slow consumer past max_pending is closed without -ERR and its buffer dropped", () => {
    const { server, log } = makeServer({ maxPending: 256, maxPayload: 200 })
    const sub = new ClientDriver(server)
    const pub = new ClientDriver(server)
    sub.send(QUIET + "SUB foo 1\r\n")
    pub.send(QUIET + `PUB foo 100\r\n${"x".repeat(100)}\r\n`.repeat(3))
    expect(sub.conn.closeReason).toBe("Slow Consumer (Pending Bytes)")
    expect(sub.output()).toBe("")
    expect(server.router.stats.slowConsumers).toBe(1)
    expect(log.lines()).toContain("[INF] 127.0.0.1:50000 - cid:1 - Slow Consumer Detected: MaxPending of 256 Exceeded")
  })
})
