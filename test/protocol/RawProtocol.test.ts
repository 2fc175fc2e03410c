/**
 * Raw-socket protocol tests that pin exact bytes, written once and run against both our server and
 * the real nats-server 2.9 (the oracle): every expectation below must hold for both targets.
 *
 * Tests wait on events only (bytes arriving, the socket closing). To prove that something did NOT
 * arrive they send PING and expect PONG next: servers process a connection's input in order.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { natsServerPath, startNatsServer, startServer } from "../support/servers.js"

/** The settings the tests need, in one vocabulary; each target maps them to its own options. */
interface Settings {
  readonly maxPayload?: number
  readonly maxControlLine?: number
  /** Milliseconds. */
  readonly pingInterval?: number
  readonly pingMax?: number
  readonly maxSubscriptions?: number
  readonly maxConnections?: number
  /** `timeout` in milliseconds. */
  readonly auth?: { readonly user: string; readonly password: string; readonly timeout: number }
}

interface Running {
  readonly port: number
  readonly stop: () => Promise<void>
}

interface Target {
  readonly name: string
  readonly available: boolean
  readonly start: (settings?: Settings) => Promise<Running>
}

let tmpDir: string | undefined
let confCount = 0

/** A nats-server config file with the settings (listen address and port come from the flags). */
const natsConfig = (s: Settings): string => {
  const lines: Array<string> = []
  if (s.maxPayload !== undefined) lines.push(`max_payload: ${s.maxPayload}`)
  if (s.maxControlLine !== undefined) lines.push(`max_control_line: ${s.maxControlLine}`)
  if (s.pingInterval !== undefined) lines.push(`ping_interval: "${s.pingInterval}ms"`)
  if (s.pingMax !== undefined) lines.push(`ping_max: ${s.pingMax}`)
  if (s.maxSubscriptions !== undefined) lines.push(`max_subscriptions: ${s.maxSubscriptions}`)
  if (s.maxConnections !== undefined) lines.push(`max_connections: ${s.maxConnections}`)
  if (s.auth !== undefined) {
    lines.push(`authorization {`, `  user: "${s.auth.user}"`, `  password: "${s.auth.password}"`, `  timeout: ${s.auth.timeout / 1000}`, `}`)
  }
  return lines.join("\n") + "\n"
}

const targets: ReadonlyArray<Target> = [
  {
    name: "effect-nats-server",
    available: true,
    start: async (s = {}) => {
      const server = await startServer({
        ...(s.maxPayload !== undefined ? { maxPayload: s.maxPayload } : {}),
        ...(s.maxControlLine !== undefined ? { maxControlLine: s.maxControlLine } : {}),
        ...(s.pingInterval !== undefined ? { pingInterval: s.pingInterval } : {}),
        ...(s.pingMax !== undefined ? { pingMax: s.pingMax } : {}),
        ...(s.maxSubscriptions !== undefined ? { maxSubscriptions: s.maxSubscriptions } : {}),
        ...(s.maxConnections !== undefined ? { maxConnections: s.maxConnections } : {}),
        ...(s.auth !== undefined ? { authorization: { user: s.auth.user, password: s.auth.password, timeout: s.auth.timeout } } : {})
      })
      return { port: server.port, stop: server.stop }
    }
  },
  {
    name: "nats-server",
    available: natsServerPath !== undefined,
    start: async (s = {}) => {
      tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "raw-protocol-"))
      const file = path.join(tmpDir, `nats-${++confCount}.conf`)
      fs.writeFileSync(file, natsConfig(s))
      const server = await startNatsServer(["-c", file, "-a", "127.0.0.1", "-p", "-1"])
      return { port: server.port, stop: server.stop }
    }
  }
]

afterAll(() => {
  if (tmpDir !== undefined) fs.rmSync(tmpDir, { recursive: true, force: true })
})

const OK = "+OK\r\n"
const PONG = "PONG\r\n"
const err = (text: string) => `-ERR '${text}'\r\n`
const QUIET = `CONNECT {"verbose":false}\r\n`
const QUIET_HEADERS = `CONNECT {"verbose":false,"headers":true}\r\n`
/** A header block of 18 bytes and a 5-byte body: 23 bytes in all. */
const HDR = "NATS/1.0\r\nA: b\r\n\r\n"

// The nats-server target is skipped only where nats-server is not installed (.ci/run installs it).
for (const target of targets) describe.skipIf(!target.available)(`raw protocol: ${target.name}`, () => {

  // One server with default settings for most tests; tests that need other settings start their own.
  let server: Running
  const open: Array<RawClient> = []
  beforeAll(async () => {
    server = await target.start()
  })
  afterEach(() => {
    for (const c of open.splice(0)) c.close()
  })
  afterAll(async () => {
    await server?.stop()
  })

  const connect = async (port = server.port): Promise<RawClient> => {
    const c = await RawClient.connect(port)
    open.push(c)
    return c
  }

  /** A connection that has sent `connectLine` and is known to be in sync (PING answered). */
  const ready = async (connectLine = QUIET, port = server.port): Promise<RawClient> => {
    const c = await connect(port)
    c.send(connectLine)
    await c.expectOpen()
    return c
  }

  /** Run `body` against a server started with `settings`, stopped afterwards. */
  const withServer = async (settings: Settings, body: (port: number) => Promise<void>): Promise<void> => {
    const s = await target.start(settings)
    try {
      await body(s.port)
    } finally {
      await s.stop()
    }
  }

  /** The connection is closed by the server with exactly `expected` (maybe nothing) before the close. */
  const expectClosedWith = async (c: RawClient, expected: string): Promise<void> => {
    expect(await c.waitClosed()).toBe(expected)
  }

  // --- INFO ------------------------------------------------------------------------------------

  describe("INFO", () => {
    // Fields only one server sends: nats-server's Go build and git commit. Anything else either of
    // them sends must appear in both, in the same order.
    const ONE_SIDED = new Set(["go", "git_commit"])

    it("is `INFO {json} \\r\\n` with nats-server's fields in its order", async () => {
      const c = await connect()
      expect(c.infoLine.startsWith("INFO {")).toBe(true)
      expect(c.infoLine.endsWith("} \r\n")).toBe(true)
      const info = c.info
      expect(Object.keys(info).filter((k) => !ONE_SIDED.has(k))).toEqual([
        "server_id",
        "server_name",
        "version",
        "proto",
        "host",
        "port",
        "headers",
        "max_payload",
        "client_id",
        "client_ip"
      ])
      expect(info["server_id"]).toMatch(/^N[A-Z2-7]{55}$/)
      // Without a configured name, the name is the id.
      expect(info["server_name"]).toBe(info["server_id"])
      expect(info["version"]).toMatch(/^2\.\d+\.\d+$/)
      expect(info["proto"]).toBe(1)
      expect(info["host"]).toBe("127.0.0.1")
      expect(info["port"]).toBe(server.port)
      expect(info["headers"]).toBe(true)
      expect(info["max_payload"]).toBe(1048576)
      expect(Number.isInteger(info["client_id"])).toBe(true)
      expect(info["client_ip"]).toBe("127.0.0.1")
    })

    it("gives each connection its own client_id", async () => {
      const a = await connect()
      const b = await connect()
      expect(a.info["client_id"]).not.toBe(b.info["client_id"])
      expect(a.info["server_id"]).toBe(b.info["server_id"])
    })

    it("shows max_payload and auth_required (before max_payload) when configured", async () => {
      await withServer({ maxPayload: 1024, auth: { user: "u", password: "p", timeout: 2000 } }, async (port) => {
        const c = await connect(port)
        expect(c.info["max_payload"]).toBe(1024)
        expect(c.info["auth_required"]).toBe(true)
        expect(Object.keys(c.info).filter((k) => !ONE_SIDED.has(k))).toEqual([
          "server_id",
          "server_name",
          "version",
          "proto",
          "host",
          "port",
          "headers",
          "auth_required",
          "max_payload",
          "client_id",
          "client_ip"
        ])
        c.close()
      })
    })
  })

  // --- verbose, PING/PONG --------------------------------------------------------------------------

  describe("verbose and keepalive ops", () => {
    it("CONNECT {} is verbose: +OK after CONNECT, SUB, PUB and UNSUB, none after PING", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\n")
      await c.expect(OK)
      c.send("PING\r\n")
      await c.expect(PONG)
      c.send("SUB foo 1\r\n")
      await c.expect(OK)
      c.send("PUB bar 5\r\nhello\r\n")
      await c.expect(OK)
      c.send("UNSUB 1\r\n")
      await c.expect(OK)
      // An unknown sid is ignored but still acknowledged.
      c.send("UNSUB 99\r\n")
      await c.expect(OK)
      await c.expectOpen()
    })

    it("verbose: +OK for a PUB comes before the message it delivers to the publisher itself", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\nSUB foo 1\r\n")
      await c.expect(OK + OK)
      c.send("PUB foo 5\r\nhello\r\n")
      await c.expect(OK + "MSG foo 1 5\r\nhello\r\n")
      await c.expectOpen()
    })

    it("answers PING with PONG, tolerates `PINGX` and lower-case ops, ignores a client PONG", async () => {
      const c = await ready()
      c.send("PING\r\n")
      await c.expect(PONG)
      c.send("PINGX\r\n")
      await c.expect(PONG)
      c.send("ping\r\n")
      await c.expect(PONG)
      c.send("PONG\r\n")
      c.send("sub foo 1\r\npub foo 2\r\nhi\r\n")
      await c.expect("MSG foo 1 2\r\nhi\r\n")
      await c.expectOpen()
    })

    it("ignores a client's INFO and +OK and unknown CONNECT fields; LF-only lines and tabs work", async () => {
      const c = await ready(`CONNECT {"verbose":false,"lang":"x","unknown":1,"protocol":1}\r\n`)
      c.send("INFO {}\r\n+OK\r\nSUB\tfoo  1\npub\tfoo  bar  1\nx\r\n")
      await c.expect("MSG foo 1 bar 1\r\nx\r\n")
      await c.expectOpen()
    })

    it("a second CONNECT changes the options", async () => {
      const c = await ready()
      c.send(`SUB foo 1\r\nCONNECT {"verbose":true}\r\n`)
      await c.expect(OK)
      c.send("PUB foo 1\r\na\r\n")
      await c.expect(OK + "MSG foo 1 1\r\na\r\n")
      await c.expectOpen()
    })

    it("accepts ops before CONNECT when no auth is configured", async () => {
      const c = await connect()
      c.send("SUB foo 1\r\nPUB foo 2\r\nhi\r\n")
      // Before CONNECT the connection has nats-server's defaults: verbose.
      await c.expect(OK + OK + "MSG foo 1 2\r\nhi\r\n")
      await c.expectOpen()
    })
  })

  // --- -ERR and closes -------------------------------------------------------------------------

  describe("errors that close the connection", () => {
    it("unknown op → -ERR 'Unknown Protocol Operation' and close", async () => {
      const c = await ready()
      c.send("FOO bar\r\n")
      await expectClosedWith(c, err("Unknown Protocol Operation"))
    })

    it("wrong payload length → -ERR 'Unknown Protocol Operation' and close", async () => {
      const c = await ready()
      c.send("PUB foo 2\r\nabc\r\n")
      await expectClosedWith(c, err("Unknown Protocol Operation"))
    })

    it("MSG from a client → -ERR 'Unknown Protocol Operation' and close", async () => {
      const c = await ready()
      c.send("MSG foo 1 5\r\nhello\r\n")
      await expectClosedWith(c, err("Unknown Protocol Operation"))
    })

    it("an empty line, UNSUB without arguments, a payload ended by LF only → -ERR 'Unknown Protocol Operation'", async () => {
      for (const input of ["\r\n", "UNSUB\r\n", "PUB foo 1\r\na\nPING\r\n", "RS+ $G foo\r\n", "HMSG foo 1 2 2\r\nab\r\n"]) {
        const c = await ready()
        c.send(input)
        await expectClosedWith(c, err("Unknown Protocol Operation"))
      }
    })

    it("protocol 2 → -ERR 'invalid client protocol' and close", async () => {
      const c = await connect()
      c.send(`CONNECT {"verbose":false,"protocol":2}\r\n`)
      await expectClosedWith(c, err("invalid client protocol"))
    })

    it("no_responders without headers → -ERR 'no responders requires headers support' and close", async () => {
      const c = await connect()
      c.send(`CONNECT {"verbose":false,"no_responders":true}\r\n`)
      await expectClosedWith(c, err("no responders requires headers support"))
    })

    it("Maximum Payload Violation above max_payload; exactly max_payload is delivered", async () => {
      await withServer({ maxPayload: 1024 }, async (port) => {
        const c = await ready(QUIET, port)
        const body = "x".repeat(1024)
        c.send(`SUB foo 1\r\nPUB foo 1024\r\n${body}\r\n`)
        await c.expect(`MSG foo 1 1024\r\n${body}\r\n`)
        await c.expectOpen()
        // Checked on the control line, before any payload byte arrives.
        c.send("PUB foo 1025\r\n")
        await expectClosedWith(c, err("Maximum Payload Violation"))
      })
    })

    describe("max_control_line 256", () => {
      // nats-server 2.9.10 checks the arguments of a complete line (measured from their first
      // non-blank byte, CR excluded) and, for a line still without its LF, the arguments received
      // so far at the end of every read.
      const limited = (body: (port: number) => Promise<void>) => withServer({ maxControlLine: 256 }, body)

      it("a complete line with 256 bytes of arguments is fine, 257 → -ERR and close", async () => {
        await limited(async (port) => {
          const c = await ready(QUIET, port)
          c.send(`SUB ${"a".repeat(254)} 1\r\nPUB ${"a".repeat(254)} 1\r\nx\r\n`)
          await c.expect(`MSG ${"a".repeat(254)} 1 1\r\nx\r\n`)
          await c.expectOpen()
          c.send(`PUB ${"a".repeat(255)} 1\r\nx\r\n`)
          await expectClosedWith(c, err("maximum control line exceeded"))
          const d = await ready(QUIET, port)
          d.send(`SUB ${"a".repeat(255)} 1\r\n`)
          await expectClosedWith(d, err("maximum control line exceeded"))
        })
      })

      it("an unfinished argument longer than the limit → -ERR and close at once", async () => {
        await limited(async (port) => {
          const c = await ready(QUIET, port)
          c.send(`SUB ${"a".repeat(257)}`)
          await expectClosedWith(c, err("maximum control line exceeded"))
          const d = await connect(port)
          d.send(`CONNECT {"verbose":false,"name":"${"a".repeat(300)}"}`)
          await expectClosedWith(d, err("maximum control line exceeded"))
        })
      })

      it("the rest of a PING line is ignored, however long", async () => {
        await limited(async (port) => {
          const c = await ready(QUIET, port)
          c.send(`PING${"x".repeat(600)}\r\n`)
          await c.expect(PONG)
          await c.expectOpen()
          c.close()
        })
      })
    })

    it("wrong password → -ERR 'Authorization Violation' and close", async () => {
      await withServer({ auth: { user: "u", password: "p", timeout: 2000 } }, async (port) => {
        const c = await connect(port)
        c.send(`CONNECT {"verbose":false,"user":"u","pass":"wrong"}\r\n`)
        await expectClosedWith(c, err("Authorization Violation"))
        // The right credentials are accepted.
        const ok = await connect(port)
        ok.send(`CONNECT {"verbose":false,"user":"u","pass":"p"}\r\n`)
        await ok.expectOpen()
        ok.close()
      })
    })

    it("first op not CONNECT with auth → -ERR 'Authorization Violation' and close", async () => {
      await withServer({ auth: { user: "u", password: "p", timeout: 2000 } }, async (port) => {
        const c = await connect(port)
        c.send("PING\r\n")
        await expectClosedWith(c, err("Authorization Violation"))
        const d = await connect(port)
        d.send("SUB foo 1\r\n")
        await expectClosedWith(d, err("Authorization Violation"))
        // Checked on the first byte, before the op is parsed: garbage, an empty line and an
        // oversized PUB are all Authorization Violations too.
        for (const first of ["FOO\r\n", "\r\n", "PUB foo 2000000\r\n", "+OK\r\n", "INFO {}\r\n"]) {
          const e = await connect(port)
          e.send(first)
          await expectClosedWith(e, err("Authorization Violation"))
        }
        // A first op that starts with C is parsed as usual.
        const f = await connect(port)
        f.send("CONNEX {}\r\n")
        await expectClosedWith(f, err("Unknown Protocol Operation"))
      })
    })

    it("with auth, credentials are checked before protocol and no_responders", async () => {
      await withServer({ auth: { user: "u", password: "p", timeout: 2000 } }, async (port) => {
        const a = await connect(port)
        a.send(`CONNECT {"verbose":false,"protocol":2}\r\n`)
        await expectClosedWith(a, err("Authorization Violation"))
        const b = await connect(port)
        b.send(`CONNECT {"verbose":false,"no_responders":true}\r\n`)
        await expectClosedWith(b, err("Authorization Violation"))
        const c = await connect(port)
        c.send(`CONNECT {"verbose":false,"protocol":2,"user":"u","pass":"p"}\r\n`)
        await expectClosedWith(c, err("invalid client protocol"))
        const d = await connect(port)
        d.send(`CONNECT {"verbose":false,"user":"u","pass":"p"}\r\nCONNECT {"verbose":false,"user":"u","pass":"x"}\r\n`)
        await expectClosedWith(d, err("Authorization Violation"))
        const ok = await connect(port)
        ok.send(`CONNECT {"user":"u","pass":"p"}\r\n`)
        await ok.expect(OK)
        await ok.expectOpen()
      })
    })

    it("no CONNECT within the auth timeout → -ERR 'Authentication Timeout' and close", async () => {
      await withServer({ auth: { user: "u", password: "p", timeout: 500 } }, async (port) => {
        const c = await connect(port)
        await expectClosedWith(c, err("Authentication Timeout"))
      })
    })

    it("unanswered server PINGs → -ERR 'Stale Connection' and close", async () => {
      await withServer({ pingInterval: 500, pingMax: 2 }, async (port) => {
        const c = await ready(QUIET, port)
        // PINGs at ~0.5s and ~1s go unanswered; at ~1.5s a third would exceed ping_max.
        await expectClosedWith(c, "PING\r\nPING\r\n" + err("Stale Connection"))
      })
    })

    it("beyond max_connections → INFO, then -ERR 'maximum connections exceeded' and close", async () => {
      await withServer({ maxConnections: 1 }, async (port) => {
        const first = await ready(QUIET, port)
        const second = await connect(port)
        expect(second.infoLine.startsWith("INFO {")).toBe(true)
        await expectClosedWith(second, err("maximum connections exceeded"))
        await first.expectOpen()
        first.close()
      })
    })
  })

  describe("errors that keep the connection open", () => {
    it("invalid SUB subject → -ERR 'Invalid Subject', no +OK, stays open", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\n")
      await c.expect(OK)
      c.send("SUB foo..bar 1\r\n")
      await c.expect(err("Invalid Subject"))
      c.send("SUB foo.>.x 2\r\n")
      await c.expect(err("Invalid Subject"))
      await c.expectOpen()
      // Neither subscription exists.
      c.send("PUB foo..bar 1\r\nx\r\n")
      await c.expect(err("Invalid Publish Subject") + OK)
      await c.expectOpen()
    })

    it("pedantic PUB to a wildcard subject → -ERR 'Invalid Publish Subject', +OK, and it is still delivered", async () => {
      // nats-server 2.9.10 only reports the bad subject: the message is routed all the same
      // (live; NATS-REFERENCE.md §1.4 says "dropped", which the real server does not do).
      const watcher = await ready()
      watcher.send("SUB foo.> 1\r\n")
      await watcher.expectOpen()
      const c = await connect()
      c.send("CONNECT {}\r\nSUB foo.> 1\r\n")
      await c.expect(OK + OK)
      c.send("PUB foo.* 5\r\nhello\r\n")
      await c.expect(err("Invalid Publish Subject") + OK + "MSG foo.* 1 5\r\nhello\r\n")
      await c.expectOpen()
      await watcher.expect("MSG foo.* 1 5\r\nhello\r\n")
      await watcher.expectOpen()
    })

    it("a publish subject with empty tokens reaches nobody, pedantic or not", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\nSUB foo.> 1\r\nSUB > 2\r\nSUB *.*.* 3\r\n")
      await c.expect(OK + OK + OK + OK)
      c.send("PUB foo..bar 1\r\na\r\n")
      await c.expect(err("Invalid Publish Subject") + OK)
      await c.expectOpen()
      const quiet = await ready(`CONNECT {"verbose":false,"pedantic":false}\r\n`)
      quiet.send("PUB foo..bar 1\r\na\r\nPUB .foo 1\r\nb\r\nPUB foo. 1\r\nc\r\n")
      await quiet.expectOpen()
      await c.expectOpen()
    })

    it("non-pedantic PUB to a wildcard subject is delivered as a literal subject", async () => {
      const c = await ready(`CONNECT {"verbose":false,"pedantic":false}\r\n`)
      c.send("SUB foo.> 1\r\nPUB foo.* 5\r\nhello\r\n")
      await c.expect("MSG foo.* 1 5\r\nhello\r\n")
      await c.expectOpen()
    })

    it("beyond max_subscriptions → -ERR 'maximum subscriptions exceeded', stays open", async () => {
      await withServer({ maxSubscriptions: 2 }, async (port) => {
        const c = await connect(port)
        c.send("CONNECT {}\r\nSUB a 1\r\nSUB b 2\r\n")
        await c.expect(OK + OK + OK)
        c.send("SUB c 3\r\n")
        await c.expect(err("maximum subscriptions exceeded"))
        await c.expectOpen()
        // The refused subscription does not exist; the others do.
        c.send("PUB c 1\r\nx\r\nPUB b 1\r\ny\r\n")
        await c.expect(OK + OK + "MSG b 2 1\r\ny\r\n")
        await c.expectOpen()
        c.close()
      })
    })
  })

  describe("silent closes (no -ERR)", () => {
    it("PUB without a size", async () => {
      const c = await ready()
      c.send("PUB foo\r\n")
      await expectClosedWith(c, "")
    })

    it("PUB with a size that is not a number", async () => {
      const c = await ready()
      c.send("PUB foo bar\r\n")
      await expectClosedWith(c, "")
    })

    it("PUB with too many arguments", async () => {
      const c = await ready()
      c.send("PUB foo bar baz 5\r\nhello\r\n")
      await expectClosedWith(c, "")
    })

    it("HPUB without headers negotiated", async () => {
      const c = await ready()
      c.send(`HPUB foo 18 23\r\n${HDR}hello\r\n`)
      await expectClosedWith(c, "")
    })

    it("HPUB with a header size above the total size, or without sizes", async () => {
      for (const input of [`HPUB foo 24 23\r\n${HDR}hello\r\n`, `HPUB foo 23\r\n${HDR}hello\r\n`]) {
        const c = await ready(QUIET_HEADERS)
        c.send(input)
        await expectClosedWith(c, "")
      }
    })

    it("SUB or UNSUB with the wrong number of arguments", async () => {
      for (const input of ["SUB foo\r\n", "SUB foo q 1 2\r\n", "UNSUB 1 2 3\r\n"]) {
        const c = await ready()
        c.send(input)
        await expectClosedWith(c, "")
      }
    })

    it("non-JSON CONNECT, a CONNECT that is not an object, trailing bytes, a wrong field type", async () => {
      for (const input of ["CONNECT foo\r\n", "CONNECT\r\n", "CONNECT [1]\r\n", `CONNECT {"verbose":false} x\r\n`, `CONNECT {"verbose":"yes"}\r\n`]) {
        const c = await connect()
        c.send(input)
        await expectClosedWith(c, "")
      }
    })

    it("a fractional protocol (Go cannot unmarshal it into an int)", async () => {
      const c = await connect()
      c.send(`CONNECT {"verbose":false,"protocol":1.5}\r\n`)
      await expectClosedWith(c, "")
    })

    it("-ERR from a client, or an INFO that is not JSON", async () => {
      for (const input of ["-ERR 'boom'\r\n", "INFO foo\r\n"]) {
        const c = await ready()
        c.send(input)
        await expectClosedWith(c, "")
      }
    })
  })

  // --- messages --------------------------------------------------------------------------------

  describe("MSG and HMSG framing", () => {
    it("MSG without and with reply subject", async () => {
      const c = await ready()
      c.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\nPUB foo bar 5\r\nhello\r\nPUB foo 0\r\n\r\n")
      await c.expect("MSG foo 1 5\r\nhello\r\nMSG foo 1 bar 5\r\nhello\r\nMSG foo 1 0\r\n\r\n")
      await c.expectOpen()
    })

    it("a payload may contain CRLF and binary bytes", async () => {
      const c = await ready()
      const body = "a\r\nb\u0000\u00ff"
      c.send(`SUB foo 1\r\nPUB foo ${body.length}\r\n${body}\r\n`)
      await c.expect(`MSG foo 1 ${body.length}\r\n${body}\r\n`)
      await c.expectOpen()
    })

    it("HMSG without and with reply subject", async () => {
      const c = await ready(QUIET_HEADERS)
      c.send(`SUB foo 1\r\nHPUB foo 18 23\r\n${HDR}hello\r\nHPUB foo bar 18 23\r\n${HDR}hello\r\n`)
      await c.expect(`HMSG foo 1 18 23\r\n${HDR}hello\r\nHMSG foo 1 bar 18 23\r\n${HDR}hello\r\n`)
      await c.expectOpen()
    })

    it("a subscriber without headers gets the message without its header block", async () => {
      const sub = await ready()
      sub.send("SUB foo 1\r\n")
      await sub.expectOpen()
      const pub = await ready(QUIET_HEADERS)
      pub.send(`HPUB foo 18 23\r\n${HDR}hello\r\nHPUB foo bar 18 23\r\n${HDR}hello\r\n`)
      await pub.expectOpen()
      await sub.expect("MSG foo 1 5\r\nhello\r\nMSG foo 1 bar 5\r\nhello\r\n")
      await sub.expectOpen()
    })

    it("an empty header block: `HPUB foo 0 5` is delivered as MSG, `HPUB foo 12 12` as HMSG", async () => {
      const c = await ready(QUIET_HEADERS)
      c.send("SUB foo 1\r\nHPUB foo 0 5\r\nhello\r\nHPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nHPUB foo r 3 5\r\nabcde\r\n")
      // The header block itself is not validated.
      await c.expect("MSG foo 1 5\r\nhello\r\nHMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\nHMSG foo 1 r 3 5\r\nabcde\r\n")
      await c.expectOpen()
    })

    it("a subscriber with headers gets a plain PUB as MSG", async () => {
      const c = await ready(QUIET_HEADERS)
      c.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\n")
      await c.expect("MSG foo 1 5\r\nhello\r\n")
      await c.expectOpen()
    })

    it("wildcard subscriptions deliver with the published subject", async () => {
      const c = await ready()
      c.send("SUB foo.* 1\r\nSUB foo.> 2\r\nPUB foo.bar 1\r\nx\r\n")
      const got = [await c.readLine(), await c.readLine(), await c.readLine(), await c.readLine()].join("")
      // One copy per subscription; which comes first is not pinned.
      expect([
        "MSG foo.bar 1 1\r\nx\r\nMSG foo.bar 2 1\r\nx\r\n",
        "MSG foo.bar 2 1\r\nx\r\nMSG foo.bar 1 1\r\nx\r\n"
      ]).toContain(got)
      await c.expectOpen()
    })
  })

  describe("match order (one subscription per subject-tree node; nats-server's sublist order)", () => {
    // nats-server collects matches level by level: `>` first, then what is under `*`, and at the
    // last level the literal node before the `*` node. Ours does the same.
    it("one message to `>`, `foo.>`, `foo.bar`, `foo.*` arrives in that order", async () => {
      const c = await ready()
      c.send("SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB foo.bar 4\r\nPUB foo.bar 1\r\na\r\n")
      await c.expect(["3", "2", "4", "1"].map((sid) => `MSG foo.bar ${sid} 1\r\na\r\n`).join(""))
      await c.expectOpen()
    })

    it("the 503 goes to the literal reply subscription rather than to a `*` one", async () => {
      const c = await ready(`CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n`)
      c.send("SUB _INBOX.* 7\r\nSUB _INBOX.a 8\r\nPUB svc _INBOX.a 1\r\nx\r\n")
      await c.expect("HMSG _INBOX.a 8 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
    })

    it("the 503 goes to the first match: a `>` subscription before a literal one", async () => {
      const c = await ready(`CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n`)
      c.send("SUB _INBOX.a 8\r\nSUB _INBOX.> 9\r\nPUB svc _INBOX.a 1\r\nx\r\n")
      await c.expect("HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
    })
  })

  describe("subscriptions", () => {
    it("a queue group gets one copy, plain subscribers each get one", async () => {
      const c = await ready()
      c.send("SUB foo q 1\r\nSUB foo q 2\r\nSUB foo 3\r\nPUB foo 2\r\nhi\r\n")
      // Plain subscribers first, then one member of the group.
      await c.expect("MSG foo 3 2\r\nhi\r\n")
      expect(["MSG foo 1 2\r\n", "MSG foo 2 2\r\n"]).toContain(await c.readLine())
      await c.expect("hi\r\n")
      await c.expectOpen()
    })

    it("a queue group across connections gets each message exactly once", async () => {
      const a = await ready()
      const b = await ready()
      a.send("SUB work q 1\r\n")
      b.send("SUB work q 1\r\n")
      await a.expectOpen()
      await b.expectOpen()
      const pub = await ready()
      const n = 20
      pub.send(Array.from({ length: n }, (_, i) => `PUB work ${String(i).length}\r\n${i}\r\n`).join(""))
      await pub.expectOpen()
      // Both subscribers have received everything for them once they answer a PING after the publisher's.
      const received: Array<string> = []
      for (const c of [a, b]) {
        c.send("PING\r\n")
        for (;;) {
          const line = await c.readLine()
          if (line === PONG) break
          expect(line).toMatch(/^MSG work 1 \d+\r\n$/)
          received.push((await c.readLine()).trim())
        }
      }
      expect(received.map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i))
    })

    it("`SUB foo 3; UNSUB 3 2` delivers exactly 2 messages", async () => {
      const c = await ready()
      c.send("SUB foo 3\r\nUNSUB 3 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
      await c.expect("MSG foo 3 1\r\na\r\nMSG foo 3 1\r\nb\r\n")
      await c.expectOpen()
    })

    it("UNSUB with max ≤ delivered removes the subscription at once", async () => {
      const c = await ready()
      c.send("SUB foo 1\r\nPUB foo 1\r\na\r\n")
      await c.expect("MSG foo 1 1\r\na\r\n")
      c.send("UNSUB 1 1\r\nPUB foo 1\r\nb\r\n")
      await c.expectOpen()
    })

    it("plain UNSUB stops delivery, also after an UNSUB with max", async () => {
      const c = await ready()
      c.send("SUB foo 1\r\nUNSUB 1\r\nPUB foo 1\r\na\r\nSUB bar 2\r\nUNSUB 2 5\r\nUNSUB 2\r\nPUB bar 1\r\nb\r\n")
      await c.expectOpen()
    })

    it("verbose: +OK for every PUB, MSGs only up to the UNSUB max", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
      await c.expect(OK + OK + OK + OK + "MSG foo 1 1\r\na\r\n" + OK + "MSG foo 1 1\r\nb\r\n" + OK)
      await c.expectOpen()
    })

    it("re-SUB with a sid in use is ignored (the first subscription stays)", async () => {
      const c = await connect()
      c.send("CONNECT {}\r\nSUB foo 1\r\nSUB bar 1\r\n")
      await c.expect(OK + OK + OK)
      c.send("PUB bar 1\r\nx\r\n")
      await c.expect(OK)
      await c.expectOpen()
      c.send("PUB foo 1\r\ny\r\n")
      await c.expect(OK + "MSG foo 1 1\r\ny\r\n")
      await c.expectOpen()
    })

    it("sids are opaque tokens", async () => {
      const c = await ready()
      c.send("SUB foo abc\r\nPUB foo 1\r\nx\r\n")
      await c.expect("MSG foo abc 1\r\nx\r\n")
      await c.expectOpen()
    })

    it("echo:false does not deliver a client's own messages, others' are delivered", async () => {
      const c = await ready(`CONNECT {"verbose":false,"echo":false}\r\n`)
      c.send("SUB foo 1\r\nSUB foo q 2\r\nPUB foo 1\r\na\r\n")
      await c.expectOpen()
      const other = await ready()
      other.send("PUB foo 1\r\nb\r\n")
      await other.expectOpen()
      await c.expect("MSG foo 1 1\r\nb\r\nMSG foo 2 1\r\nb\r\n")
      await c.expectOpen()
    })
  })

  describe("no responders", () => {
    const NR = `CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n`

    it("a request nobody listens to gets a 503 HMSG on the requester's reply subscription", async () => {
      const c = await ready(NR)
      c.send("SUB _INBOX.a 9\r\nPUB nobody _INBOX.a 5\r\nhello\r\n")
      await c.expect("HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
      // Also for HPUB requests.
      c.send(`HPUB nobody _INBOX.a 18 23\r\n${HDR}hello\r\n`)
      await c.expect("HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
    })

    it("no 503 when someone listens, without a reply subject, or without no_responders", async () => {
      const c = await ready(NR)
      c.send("SUB _INBOX.a 9\r\nSUB svc 1\r\nPUB svc _INBOX.a 1\r\nx\r\n")
      await c.expect("MSG svc 1 _INBOX.a 1\r\nx\r\n")
      c.send("PUB nobody 1\r\nx\r\n")
      await c.expectOpen()
      const plain = await ready(QUIET_HEADERS)
      plain.send("SUB _INBOX.b 9\r\nPUB nobody _INBOX.b 1\r\nx\r\n")
      await plain.expectOpen()
    })

    it("503 also when the only matching subscriber is the publisher itself with echo:false", async () => {
      const c = await ready(`CONNECT {"verbose":false,"headers":true,"no_responders":true,"echo":false}\r\n`)
      c.send("SUB _INBOX.a 9\r\nSUB svc 1\r\nPUB svc _INBOX.a 1\r\nx\r\n")
      await c.expect("HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
    })

    it("no 503 without a reply subscription, or with only a queue subscription on the reply", async () => {
      const c = await ready(NR)
      c.send("PUB svc _INBOX.a 1\r\nx\r\nSUB _INBOX.* q 9\r\nPUB svc _INBOX.b 1\r\nx\r\n")
      await c.expectOpen()
    })

    it("the 503 does not count towards the reply subscription's UNSUB max; a request to itself is a MSG", async () => {
      const c = await ready(NR)
      c.send("SUB _INBOX.a 9\r\nUNSUB 9 1\r\nPUB svc _INBOX.a 1\r\nx\r\nPUB svc _INBOX.a 1\r\nx\r\n")
      await c.expect("HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n".repeat(2))
      await c.expectOpen()
      c.send("PUB _INBOX.a _INBOX.a 1\r\nx\r\n")
      await c.expect("MSG _INBOX.a 9 _INBOX.a 1\r\nx\r\n")
      await c.expectOpen()
    })

    it("with verbose, +OK comes before the 503", async () => {
      const c = await connect()
      c.send(`CONNECT {"headers":true,"no_responders":true}\r\nSUB _INBOX.a 9\r\n`)
      await c.expect(OK + OK)
      c.send("PUB nobody _INBOX.a 0\r\n\r\n")
      await c.expect(OK + "HMSG _INBOX.a 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")
      await c.expectOpen()
    })
  })
})
