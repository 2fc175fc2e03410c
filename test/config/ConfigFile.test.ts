import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  configFromString,
  configToOptions,
  type ConfigFileResult,
  loadConfigFile,
  printConfig
} from "../../src/config/ConfigFile.js"
import { type ConfigError, parseConfigSync, type ParseOptions } from "../../src/config/ConfigParser.js"
import { decodeServerOptions, type ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { format as formatDuration, parse as parseDuration } from "../../src/values/Duration.js"

const load = (text: string, opts: ParseOptions = {}): ConfigFileResult => {
  const r = configFromString(text, { file: "t.conf", ...opts })
  if (Result.isFailure(r)) throw new Error(`unexpected error: ${r.failure.message}`)
  return r.success
}
const options = (text: string, opts: ParseOptions = {}): ServerOptionsInput => load(text, opts).options
const failure = (text: string, opts: ParseOptions = {}): ConfigError => {
  const r = configFromString(text, { file: "t.conf", ...opts })
  if (Result.isSuccess(r)) throw new Error(`expected an error, got ${JSON.stringify(r.success)}`)
  return r.failure
}

describe("real-world config files", () => {
  it.each<[string, string, ServerOptionsInput]>([
    [
      "srvB (NATS-REFERENCE §3.3)",
      `server_name: srvB
listen: 127.0.0.1:24223
http: 127.0.0.1:24823
debug: true
trace: true
cluster {
  name: TESTC
  listen: 127.0.0.1:24249
  routes: [ nats-route://127.0.0.1:24250 ]
}
`,
      {
        serverName: "srvB",
        host: "127.0.0.1",
        port: 24223,
        httpHost: "127.0.0.1",
        httpPort: 24823,
        debug: true,
        trace: true,
        cluster: { name: "TESTC", host: "127.0.0.1", port: 24249, routes: ["nats-route://127.0.0.1:24250"] }
      }
    ],
    [
      "seed.conf",
      `listen: 127.0.0.1:4222
http: 8222
cluster {
  name: test-cluster
  listen: 127.0.0.1:4248
}
`,
      { host: "127.0.0.1", port: 4222, httpPort: 8222, cluster: { name: "test-cluster", host: "127.0.0.1", port: 4248 } }
    ],
    [
      "cluster with host and port",
      "cluster { host: 127.0.0.1, port: 4248 }\n",
      { cluster: { host: "127.0.0.1", port: 4248 } }
    ],
    [
      "a three-node member with route auth and several routes",
      `# node 2
port: 4223
net: 0.0.0.0
monitor_port: 8223
server_name: "n2"
cluster = {
  name = prod
  net = 10.0.0.2
  port = 6223
  authorization {
    user: route_user
    password: "s3cr3t pass"
    timeout: 0.75
  }
  routes = [
    nats-route://route_user:s3cr3t@10.0.0.1:6222
    nats-route://route_user:s3cr3t@10.0.0.3:6224
  ]
  cluster_advertise: 203.0.113.2:6223
  no_advertise: yes
  connect_retries: 5
}
`,
      {
        port: 4223,
        host: "0.0.0.0",
        httpPort: 8223,
        serverName: "n2",
        cluster: {
          name: "prod",
          host: "10.0.0.2",
          port: 6223,
          authorization: { user: "route_user", password: "s3cr3t pass", timeout: 750 },
          routes: ["nats-route://route_user:s3cr3t@10.0.0.1:6222", "nats-route://route_user:s3cr3t@10.0.0.3:6224"],
          advertise: "203.0.113.2:6223",
          noAdvertise: true,
          connectRetries: 5
        }
      }
    ],
    [
      "single-user authorization",
      "authorization {\n  user: derek\n  password: T0pS3cr3t\n  timeout: 1\n}\n",
      { authorization: { user: "derek", password: "T0pS3cr3t", timeout: 1000 } }
    ],
    [
      "token authorization (username/pass aliases elsewhere)",
      "authorization { token: \"s3cr3t\", timeout: 0.5 }",
      { authorization: { token: "s3cr3t", timeout: 500 } }
    ],
    [
      "users array",
      `authorization: {
  users: [
    {user: alice, password: foo}
    {username: bob, pass: $2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy}
    { user: "carol", password: 'b a r' },
  ]
}`,
      {
        authorization: {
          users: [
            { user: "alice", password: "foo" },
            { user: "bob", password: "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy" },
            { user: "carol", password: "b a r" }
          ]
        }
      }
    ],
    [
      "limits, durations and logging",
      `max_connections: 100
max_control_line: 2KB
max_payload: 2MB
max_pending: 10MB
max_subs: 1k
ping_interval: "1m30s"
ping_max: 3
write_deadline: 2s
lame_duck_duration: 45s
lame_duck_grace_period: "5s"
no_header_support: false
logtime: off
log_file: /var/log/nats.log
pid_file: "/var/run/nats.pid"
ports_file_dir: /tmp
client_advertise: nats.example.com:4222
`,
      {
        maxConnections: 100,
        maxControlLine: 2048,
        maxPayload: 2097152,
        maxPending: 10485760,
        maxSubscriptions: 1000,
        pingInterval: 90_000,
        pingMax: 3,
        writeDeadline: 2000,
        lameDuckDuration: 45_000,
        lameDuckGracePeriod: 5000,
        noHeaderSupport: false,
        logtime: false,
        logFile: "/var/log/nats.log",
        pidFile: "/var/run/nats.pid",
        portsFileDir: "/tmp",
        clientAdvertise: "nats.example.com:4222"
      }
    ],
    [
      "variables",
      `HOST: 127.0.0.1
PORT: 4333
SECRET: "pa ss"
host: $HOST
port: $PORT
authorization { user: me, password: $SECRET }
`,
      { host: "127.0.0.1", port: 4333, authorization: { user: "me", password: "pa ss" } }
    ],
    ["empty file", "# nothing here\n", {}]
  ])("%s", (_name, text, expected) => {
    const result = load(text)
    expect(result.options).toEqual(expected)
    expect(result.warnings).toEqual([])
    // Everything the files produce is a valid ServerOptions.
    expect(() => decodeServerOptions(result.options)).not.toThrow()
  })

  it("decodes seed.conf to a complete ServerOptions", () => {
    const o = decodeServerOptions(options("listen: 127.0.0.1:4222\nhttp: 8222\ncluster {\n  name: test-cluster\n  listen: 127.0.0.1:4248\n}\n"))
    expect(o).toMatchObject({ host: "127.0.0.1", port: 4222, httpPort: 8222, maxPayload: 1048576 })
    expect(o.cluster).toEqual({
      name: "test-cluster",
      host: "127.0.0.1",
      port: 4248,
      noAdvertise: false,
      connectRetries: 0,
      routes: []
    })
  })
})

describe("keys", () => {
  it("are case-insensitive", () => {
    expect(options("PORT: 1\nServer_Name: x\nCLUSTER { NAME: c, Listen: 5 }\nAuthorization { USER: u, PassWord: p }")).toEqual({
      port: 1,
      serverName: "x",
      cluster: { name: "c", port: 5 },
      authorization: { user: "u", password: "p" }
    })
  })

  it.each<[string, ServerOptionsInput]>([
    ["listen: 4333", { port: 4333 }],
    ["listen: \"4333\"", { port: 4333 }],
    ["listen: :4333", { port: 4333 }],
    ["listen: 0.0.0.0:-1", { host: "0.0.0.0", port: -1 }],
    ["listen: \"[::1]:4333\"", { host: "::1", port: 4333 }],
    ["host: ::", { host: "::" }],
    ["net: localhost", { host: "localhost" }],
    ["http: 8222", { httpPort: 8222 }],
    ["http: localhost:8222", { httpHost: "localhost", httpPort: 8222 }],
    ["http_port: 8222", { httpPort: 8222 }],
    ["monitor_port: 8222", { httpPort: 8222 }],
    ["max_conn: 5", { maxConnections: 5 }],
    ["max_connections: 5", { maxConnections: 5 }],
    ["max_subs: 5", { maxSubscriptions: 5 }],
    ["max_subscriptions: 5", { maxSubscriptions: 5 }],
    ["logfile: a.log", { logFile: "a.log" }],
    ["log_file: a.log", { logFile: "a.log" }],
    ["pidfile: a.pid", { pidFile: "a.pid" }],
    ["pid_file: a.pid", { pidFile: "a.pid" }],
    ["debug: on\ntrace: YES", { debug: true, trace: true }],
    ["cluster { listen: 7000 }", { cluster: { port: 7000 } }],
    ["cluster { advertise: a:1 }", { cluster: { advertise: "a:1" } }],
    ["cluster { routes: nats://a:1 }", { cluster: { routes: ["nats://a:1"] } }],
    ["cluster { authorization {} }", { cluster: {} }],
    ["authorization {}", { authorization: {} }],
    ["port: 1\nlisten: 2.2.2.2:3\nhost: h", { host: "h", port: 3 }]
  ])("%j", (text, expected) => {
    expect(options(text)).toEqual(expected)
  })

  it("a key that is only a referenced variable is not an unknown field", () => {
    expect(options("MY_PORT: 4333\nport: $MY_PORT\ncluster { R: nats://h:1, routes: [$R] }")).toEqual({
      port: 4333,
      cluster: { routes: ["nats://h:1"] }
    })
  })

  it("environment variables feed options with their parsed type", () => {
    expect(options("server_name: $MYNAME\nport: $MYNUM\nmax_payload: $MYSIZE", { env: { MYNAME: "envname", MYNUM: "10", MYSIZE: "2MB" } })).toEqual({
      serverName: "envname",
      port: 10,
      maxPayload: 2097152
    })
  })
})

describe("durations", () => {
  it.each<[string, number]>([
    ["0", 0],
    ["0s", 0],
    ["2s", 2000],
    ["1m30s", 90_000],
    ["250ms", 250],
    ["1h", 3_600_000],
    ["500us", 0.5],
    ["500\u00b5s", 0.5],
    ["500\u03bcs", 0.5],
    ["1000000ns", 1],
    ["1.5s", 1500],
    [".5s", 500],
    ["1.s", 1000],
    ["1h2m3s4ms", 3_723_004],
    ["+2m", 120_000],
    ["-1.5m", -90_000],
    ["2h45m", 9_900_000]
  ])("parseDuration(%j) = %d ms", (text, ms) => {
    expect(parseDuration(text)).toEqual(Result.succeed(ms))
  })

  it.each<[string, string]>([
    ["", "invalid duration \"\""],
    ["2", "missing unit in duration \"2\""],
    ["2x", "unknown unit \"x\" in duration \"2x\""],
    ["s", "invalid duration \"s\""],
    [".s", "invalid duration \".s\""],
    ["1m 30s", "unknown unit \"m \" in duration \"1m 30s\""],
    ["3000000h", "invalid duration \"3000000h\" (out of range)"]
  ])("parseDuration(%j) fails: %s", (text, reason) => {
    expect(Result.mapError(parseDuration(text), (e) => e.message)).toEqual(Result.fail(reason))
  })

  it.each<[number, string]>([
    [0, "0s"],
    [6000, "6s"],
    [120_000, "2m0s"],
    [90_500, "1m30.5s"],
    [3_600_000, "1h0m0s"],
    [3_723_004, "1h2m3.004s"],
    [250, "250ms"],
    [1.5, "1.5ms"],
    [0.5, "500\u00b5s"],
    [0.000_001, "1ns"],
    [-2000, "-2s"]
  ])("formatDuration(%d) = %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
    expect(parseDuration(text)).toEqual(Result.succeed(ms))
  })

  it("integer ping_interval / write_deadline / grace period are seconds, with a warning", () => {
    const r = load("ping_interval: 60\nwrite_deadline: 5\nlame_duck_grace_period: 3")
    expect(r.options).toEqual({ pingInterval: 60_000, writeDeadline: 5000, lameDuckGracePeriod: 3000 })
    expect(r.warnings).toEqual([
      "t.conf:1:16: ping_interval should be converted to a duration: integer 60 is taken as 60 seconds; write \"60s\" instead",
      "t.conf:2:17: write_deadline should be converted to a duration: integer 5 is taken as 5 seconds; write \"5s\" instead",
      "t.conf:3:25: lame_duck_grace_period should be converted to a duration: integer 3 is taken as 3 seconds; write \"3s\" instead"
    ])
  })

  it("bare 2m is the integer 2000000 (as in nats-server), so ping_interval: 2m means 2000000 seconds", () => {
    const r = load("ping_interval: 2m")
    expect(r.options).toEqual({ pingInterval: 2_000_000_000 })
    expect(r.warnings).toHaveLength(1)
  })
})

describe("errors report file:line:col and a clear message", () => {
  it.each<[string, string]>([
    ["foo: 1", "t.conf:1:1: unknown field \"foo\""],
    ["port: 4222\n\n\nfoo_unknown: 1", "t.conf:4:1: unknown field \"foo_unknown\""],
    ["cluster {\n  name: a\n  bogus: 1\n}", "t.conf:3:3: unknown field \"bogus\""],
    ["authorization { users: [ { user: a, password: b, extra: 1 } ] }", "t.conf:1:50: unknown field \"extra\""],
    ["cluster { authorization { user: a, password: b, x: 1 } }", "t.conf:1:49: unknown field \"x\""],
    ["jetstream {}", "t.conf:1:1: jetstream is not supported by effect-nats-server"],
    ["JetStream: enabled", "t.conf:1:1: JetStream is not supported by effect-nats-server"],
    ["leafnodes { port: 7422 }", "t.conf:1:1: leafnodes is not supported by effect-nats-server"],
    ["leaf { port: 7422 }", "t.conf:1:1: leaf is not supported by effect-nats-server"],
    ["gateway { name: a }", "t.conf:1:1: gateway is not supported by effect-nats-server"],
    ["websocket { port: 8080 }", "t.conf:1:1: websocket is not supported by effect-nats-server"],
    ["ws { port: 8080 }", "t.conf:1:1: ws is not supported by effect-nats-server"],
    ["mqtt { port: 1883 }", "t.conf:1:1: mqtt is not supported by effect-nats-server"],
    ["tls { cert_file: a }", "t.conf:1:5: missing 'key_file' in TLS configuration"],
    ["tls { cert_file: a, key_file: b, cipher_suites: [ TLS_FOO ] }", "t.conf:1:51: unrecognized cipher TLS_FOO"],
    ["tls { cert_file: a, key_file: b, curve_preferences: [ P256 ] }", "t.conf:1:55: unrecognized curve preference P256"],
    ["tls { cert_file: a, key_file: b, cipher_suites: [] }", "t.conf:1:49: error parsing tls config, 'cipher_suites' cannot be empty"],
    ["tls { cert_file: a, key_file: b, pinned_certs: [] }", "t.conf:1:34: pinned_certs is not supported by effect-nats-server"],
    ["tls { cert_file: a, key_file: b, handshake_first: true }", "t.conf:1:34: unknown field \"handshake_first\""],
    ["cluster { tls { cert_file: a, key_file: b, verify_and_map: true } }", "t.conf:1:11: verify_and_map in the cluster tls block (route users from certificates) is not supported by effect-nats-server"],
    ["tls { cert_file: a, key_file: b, verify: 1 }", "t.conf:1:42: verify must be a boolean (true/false, yes/no, on/off), got integer 1"],
    // accounts, operator and resolver: MEMORY are read (test/config/AccountsConfig.test.ts); these are not.
    ["accounts { A: { limits: { max_connections: 1 } } }", "t.conf:1:17: limits in an account is not supported by effect-nats-server"],
    ["resolver_pinned_accounts: [A]", "t.conf:1:1: resolver_pinned_accounts is not supported by effect-nats-server"],
    ["resolver: \"URL(http://x)\"", "t.conf:1:1: the URL account resolver is not supported by effect-nats-server (only MEMORY)"],
    ["cluster {\n  tls { }\n}", "t.conf:2:7: missing 'cert_file' in TLS configuration"],
    ["cluster { permissions { import: a } }", "t.conf:1:11: permissions is not supported by effect-nats-server"],
    ["authorization {\n  users: [\n    {user: a, password: b, permissions: {publish: \"a..b\"}}\n  ]\n}", "t.conf:3:51: subject \"a..b\" is not a valid subject"],
    ["authorization {\n  users: [\n    {user: a, password: b, account: A}\n  ]\n}", "t.conf:3:28: account is not supported by effect-nats-server"],
    ["authorization { users: [ {nkey: UBAD} ] }", "t.conf:1:26: Not a valid public nkey for a user"],
    ["authorization { users: [ {user: a, password: b} ] }\nno_auth_user: b", "t.conf:2:1: no_auth_user: \"b\" not present as user in authorization block or account configuration"],
    ["no_auth_user: b", "t.conf:1:1: no_auth_user: \"b\" present, but users are not defined"],
    ["authorization { users: [ {user: a, permissions: {publish: {allow: x, bogus: y}}} ] }", "t.conf:1:70: Unknown field name \"bogus\" parsing subject permissions, only 'allow' or 'deny' are permitted"],
    ["max_payload: \"1MB\"", "t.conf:1:14: max_payload must be an integer, got string \"1MB\" (write sizes without quotes, e.g. max_payload: 1MB)"],
    ["max_payload: 1.5", "t.conf:1:14: max_payload must be an integer, got float 1.5"],
    ["max_payload: -1", "t.conf:1:14: max_payload must not be negative, got -1"],
    ["max_payload: 1e", "t.conf:1:14: max_payload: integer 1e is too large"],
    ["port: abc", "t.conf:1:7: port must be an integer, got string \"abc\""],
    ["port: 70000", "t.conf:1:7: port: invalid port 70000, must be between -1 and 65535"],
    ["listen: \"localhost\"", "t.conf:1:9: listen: could not parse \"localhost\" as host:port or port"],
    ["listen: a:b", "t.conf:1:9: listen: could not parse \"a:b\" as host:port or port"],
    ["listen: ::1:4222", "t.conf:1:9: listen: could not parse \"::1:4222\" as host:port or port"],
    ["listen: true", "t.conf:1:9: listen must be a port or a \"host:port\" string, got boolean true"],
    ["http: 1.2.3.4:99999", "t.conf:1:7: http: invalid port 99999, must be between -1 and 65535"],
    ["debug: \"true\"", "t.conf:1:8: debug must be a boolean (true/false, yes/no, on/off), got string \"true\""],
    ["debug: 1", "t.conf:1:8: debug must be a boolean (true/false, yes/no, on/off), got integer 1"],
    ["server_name: 123", "t.conf:1:14: server_name must be a string, got integer 123 (put it in quotes: \"123\")"],
    ["server_name: \"a b\"", "t.conf:1:14: server_name \"a b\" cannot contain spaces"],
    ["cluster: 1", "t.conf:1:10: cluster must be a map ({ … }), got integer 1"],
    ["cluster { name: \"my cluster\" }", "t.conf:1:17: cluster name \"my cluster\" cannot contain spaces"],
    ["ping_interval: \"2x\"", "t.conf:1:16: ping_interval: unknown unit \"x\" in duration \"2x\" (expected e.g. \"2m\", \"1m30s\", \"250ms\")"],
    ["ping_interval: true", "t.conf:1:16: ping_interval must be a duration string such as \"2m\" or \"30s\", got boolean true"],
    ["write_deadline: \"-1s\"", "t.conf:1:17: write_deadline must not be negative, got -1s"],
    ["lame_duck_duration: 6s", "t.conf:1:21: invalid lame_duck_duration of 6s, minimum is 30 seconds"],
    ["lame_duck_duration: \"6000ms\"", "t.conf:1:21: invalid lame_duck_duration of 6s, minimum is 30 seconds"],
    ["lame_duck_duration: 60", "t.conf:1:21: lame_duck_duration must be a duration string such as \"2m\" or \"30s\", got integer 60"],
    ["lame_duck_grace_period: 3m", "t.conf:1:1: lame_duck_grace_period (833h20m0s) must be less than lame_duck_duration (2m0s)"],
    ["lame_duck_duration: 40s\nlame_duck_grace_period: \"40s\"", "t.conf:2:1: lame_duck_grace_period (40s) must be less than lame_duck_duration (40s)"],
    ["max_payload: 2MB\nmax_pending: 1MB", "t.conf:1:1: max_payload (2097152) cannot be higher than max_pending (1048576)"],
    ["max_payload: 100MB", "t.conf:1:1: max_payload (104857600) cannot be higher than max_pending (67108864)"],
    ["max_pending: 1000", "t.conf:1:1: max_payload (1048576) cannot be higher than max_pending (1000)"],
    ["authorization: yes", "t.conf:1:16: authorization must be a map ({ … }), got boolean yes"],
    ["authorization { user: a, password: 1234 }", "t.conf:1:36: password must be a string, got integer 1234 (put it in quotes: \"1234\")"],
    ["authorization { timeout: -1 }", "t.conf:1:26: timeout must not be negative, got -1"],
    ["authorization { timeout: yes }", "t.conf:1:26: timeout must be a number of seconds, got boolean yes"],
    ["authorization { users: {user: a} }", "t.conf:1:24: users must be an array of { user, password } maps, got a map"],
    ["authorization { users: [ a ] }", "t.conf:1:26: users entries must be maps like { user: name, password: secret }, got string \"a\""],
    ["authorization { users: [ {password: b} ] }", "t.conf:1:26: users entry has no user"],
    ["authorization {\n users: [ {user: a, password: b}, {user: a, password: c} ]\n}", "t.conf:2:35: duplicate user \"a\" in users"],
    ["authorization {\n user: a\n users: [ {user: b, password: c} ]\n}", "t.conf:3:2: can not have a single user/password and a users array"],
    ["authorization {\n token: t\n users: []\n}", "t.conf:3:2: can not have a token and a users array"],
    ["cluster { authorization { token: x } }", "t.conf:1:27: cluster authorization does not support tokens"],
    ["cluster { authorization { users: [] } }", "t.conf:1:27: cluster authorization does not allow multiple users"],
    ["cluster {\n  authorization { user: a }\n}", "t.conf:2:17: cluster authorization needs both a user and a password"],
    ["cluster { routes: [ \"not a url\" ] }", "t.conf:1:21: routes: invalid route URL \"not a url\" (expected e.g. nats-route://host:6222)"],
    ["cluster { routes: [ 4222 ] }", "t.conf:1:21: routes must be route URLs, got integer 4222"],
    ["cluster { connect_retries: -2 }", "t.conf:1:28: connect_retries must not be negative, got -2"],
    ["cluster { no_advertise: 1 }", "t.conf:1:25: no_advertise must be a boolean (true/false, yes/no, on/off), got integer 1"],
    ["port: $NOPE", "t.conf:1:7: variable reference for 'NOPE' on line 1 can not be found"]
  ])("%j → %s", (text, message) => {
    const e = failure(text)
    expect(e.message).toBe(message)
    expect(e._tag).toBe("ConfigError")
    expect(e.file).toBe("t.conf")
    expect(`${e.file}:${e.line}:${e.column}: ${e.reason}`).toBe(message)
  })

  it("configToOptions works on a tree parsed separately", () => {
    const tree = parseConfigSync("port: 1\nfoo: 2", { file: "x.conf" })
    const r = configToOptions(tree)
    expect(Result.isFailure(r) && r.failure.message).toBe("x.conf:2:1: unknown field \"foo\"")
  })
})

describe("loadConfigFile", () => {
  let dir = ""
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nats-conffile-"))
    fs.mkdirSync(path.join(dir, "conf.d"))
    fs.writeFileSync(
      path.join(dir, "server.conf"),
      [
        "server_name: $NODE_NAME",
        "host: 127.0.0.1",
        "port: $CLIENT_PORT",
        "include conf.d/auth.conf",
        "cluster {",
        "  name: c1",
        "  include ./conf.d/routes.conf",
        "}",
        "ping_interval: 30",
        ""
      ].join("\n")
    )
    fs.writeFileSync(path.join(dir, "conf.d", "auth.conf"), "authorization {\n  users = [\n    {user: a, password: b}\n  ]\n}\n")
    fs.writeFileSync(path.join(dir, "conf.d", "routes.conf"), "routes: [\n  nats-route://127.0.0.1:6223\n]\nport: 6222\n")
    fs.writeFileSync(path.join(dir, "bad.conf"), "port: 1\ninclude conf.d/bad-inner.conf\n")
    fs.writeFileSync(path.join(dir, "conf.d", "bad-inner.conf"), "\n  gateway {}\n")
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("reads includes (also inside blocks) and env variables", async () => {
    const r = await Effect.runPromise(
      loadConfigFile(path.join(dir, "server.conf"), { env: { NODE_NAME: "n1", CLIENT_PORT: "4333" } })
    )
    expect(r.options).toEqual({
      serverName: "n1",
      host: "127.0.0.1",
      port: 4333,
      authorization: { users: [{ user: "a", password: "b" }] },
      cluster: { name: "c1", routes: ["nats-route://127.0.0.1:6223"], port: 6222 },
      pingInterval: 30_000
    })
    expect(r.warnings).toEqual([
      `${path.join(dir, "server.conf")}:9:16: ping_interval should be converted to a duration: integer 30 is taken as 30 seconds; write "30s" instead`
    ])
  })

  it("reports an unsupported key in an included file at its own position", async () => {
    const e = await Effect.runPromise(Effect.flip(loadConfigFile(path.join(dir, "bad.conf"))))
    expect(e.message).toBe(`${path.join(dir, "conf.d", "bad-inner.conf")}:2:3: gateway is not supported by effect-nats-server`)
  })

  it("fails when the file is missing", async () => {
    const e = await Effect.runPromise(Effect.flip(loadConfigFile(path.join(dir, "nope.conf"))))
    expect(e.message).toMatch(/nope\.conf: can not read config file: ENOENT/)
  })
})

// -----------------------------------------------------------------------------------------------
// Property: printConfig → configFromString gives back the same options.
// -----------------------------------------------------------------------------------------------

const opt = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })
const anyString = fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 12 }))
const noSpace = fc.string({ minLength: 1 }).filter((s) => !s.includes(" "))
const hostArb = fc.oneof(
  fc.constantFrom("0.0.0.0", "127.0.0.1", "localhost", "::", "::1", "fe80::1%eth0", "[odd]", "a:b"),
  fc.string({ minLength: 1 })
)
const portArb = fc.integer({ min: -1, max: 65535 })
const ms = (max: number) => fc.integer({ min: 0, max })
const size = fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.constantFrom(1024, 1024 * 1024, 8 * 1024 * 1024))
const routeArb = fc
  .tuple(
    fc.constantFrom("nats-route", "nats"),
    fc.option(fc.tuple(fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.stringMatching(/^[a-z0-9]{1,6}$/)), { nil: undefined }),
    fc.constantFrom("127.0.0.1", "10.0.0.7", "host.example", "[::1]"),
    fc.integer({ min: 1, max: 65535 })
  )
  .map(([scheme, auth, host, port]) => `${scheme}://${auth ? `${auth[0]}:${auth[1]}@` : ""}${host}:${port}`)

/** Drops undefined fields so the arbitrary's shape matches exactOptionalPropertyTypes inputs. */
const compact = <A extends object>(a: A): A =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as A

const authArb = fc
  .record({
    user: opt(anyString),
    password: opt(anyString),
    token: opt(anyString),
    timeout: opt(ms(600_000)),
    users: opt(fc.uniqueArray(fc.record({ user: anyString, password: anyString }), { maxLength: 4, selector: (u) => u.user }))
  })
  .map(compact)
  .filter((a) => a.users === undefined || (a.user === undefined && a.password === undefined && a.token === undefined))

const clusterArb = fc
  .record({
    name: opt(noSpace),
    host: opt(hostArb),
    port: opt(portArb),
    advertise: opt(anyString),
    noAdvertise: opt(fc.boolean()),
    connectRetries: opt(fc.integer({ min: 0, max: 1000 })),
    routes: opt(fc.array(routeArb, { maxLength: 4 })),
    authorization: opt(
      fc.record({ user: anyString, password: anyString, timeout: opt(ms(600_000)) }).map(compact)
    )
  })
  .map(compact)

const optionsArb: fc.Arbitrary<ServerOptionsInput> = fc
  .record({
    serverName: opt(noSpace),
    host: opt(hostArb),
    port: opt(portArb),
    clientAdvertise: opt(anyString),
    maxPayload: opt(size),
    maxPending: opt(fc.oneof(size, fc.integer({ min: 1 << 20, max: 1 << 30 }))),
    maxControlLine: opt(fc.integer({ min: 0, max: 1 << 20 })),
    maxConnections: opt(fc.integer({ min: 0, max: 1 << 20 })),
    maxSubscriptions: opt(fc.integer({ min: 0, max: 1 << 20 })),
    pingInterval: opt(ms(10 * 24 * 3_600_000)),
    pingMax: opt(fc.integer({ min: 0, max: 100 })),
    writeDeadline: opt(ms(3_600_000)),
    lameDuckDuration: opt(fc.integer({ min: 30_000, max: 24 * 3_600_000 })),
    lameDuckGracePeriod: opt(ms(60_000)),
    noHeaderSupport: opt(fc.boolean()),
    debug: opt(fc.boolean()),
    trace: opt(fc.boolean()),
    logtime: opt(fc.boolean()),
    logFile: opt(anyString),
    pidFile: opt(anyString),
    portsFileDir: opt(anyString),
    http: opt(fc.tuple(opt(hostArb), portArb)),
    authorization: opt(authArb),
    cluster: opt(clusterArb)
  })
  .map(({ http, ...rest }) => {
    const o: Record<string, unknown> = compact(rest)
    if (http !== undefined) {
      if (http[0] !== undefined) o["httpHost"] = http[0]
      o["httpPort"] = http[1]
    }
    return o as ServerOptionsInput
  })
  .filter((o) => (o.maxPayload ?? 1 << 20) <= (o.maxPending ?? 64 << 20))
  .filter((o) => (o.lameDuckGracePeriod ?? 10_000) < (o.lameDuckDuration ?? 120_000))

describe("printConfig", () => {
  it("writes the srvB example in NATS syntax", () => {
    expect(
      printConfig({
        serverName: "srvB",
        host: "127.0.0.1",
        port: 24223,
        httpHost: "127.0.0.1",
        httpPort: 24823,
        debug: true,
        pingInterval: 120_000,
        authorization: { user: "a", password: "p\"w", timeout: 1500 },
        cluster: { name: "TESTC", port: 24249, routes: ["nats-route://127.0.0.1:24250"] }
      })
    ).toBe(
      [
        "server_name: \"srvB\"",
        "host: \"127.0.0.1\"",
        "port: 24223",
        "ping_interval: \"2m0s\"",
        "debug: true",
        "http: \"127.0.0.1:24823\"",
        "authorization {",
        "  user: \"a\"",
        "  password: \"p\\\"w\"",
        "  timeout: 1.5",
        "}",
        "cluster {",
        "  name: \"TESTC\"",
        "  port: 24249",
        "  routes: [",
        "    \"nats-route://127.0.0.1:24250\"",
        "  ]",
        "}",
        ""
      ].join("\n")
    )
  })

  it("round-trips random options", () => {
    fc.assert(
      fc.property(optionsArb, (o) => {
        const text = printConfig(o)
        const r = configFromString(text, { file: "printed.conf" })
        if (Result.isFailure(r)) throw new Error(`${r.failure.message}\n--- printed:\n${text}`)
        expect(r.success.options).toEqual(o)
        expect(r.success.warnings).toEqual([])
      }),
      { numRuns: 500 }
    )
  })
})

describe("tls blocks", () => {
  it("the client and route tls blocks, https and password-less (certificate-mapped) users", () => {
    const r = configFromString([
      "https: 127.0.0.1:8443",
      "tls {",
      "  cert_file: ./s.pem, key_file: ./s-key.pem, ca_file: ./ca.pem",
      "  verify_and_map: true, timeout: 0.5",
      "  cipher_suites: [ TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ], curve_preferences: [ X25519, CurveP256 ]",
      "}",
      "authorization { users: [ { user: \"CN=alice,O=Acme\" }, { user: b, password: c } ] }",
      "cluster { listen: 127.0.0.1:6222, tls { cert_file: r.pem, key_file: r-key.pem, ca_file: ca.pem, timeout: \"3s\" } }"
    ].join("\n"), { file: "t.conf" })
    expect(Result.isSuccess(r)).toBe(true)
    const o = Result.getOrThrow(r).options
    expect(o.httpHost).toBe("127.0.0.1")
    expect(o.httpsPort).toBe(8443)
    expect(o.tls).toEqual({
      certFile: "./s.pem", keyFile: "./s-key.pem", caFile: "./ca.pem", verify: true, verifyAndMap: true, timeout: 500,
      cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"], curvePreferences: ["X25519", "CurveP256"]
    })
    expect(o.authorization?.users).toEqual([{ user: "CN=alice,O=Acme" }, { user: "b", password: "c" }])
    expect(o.cluster?.tls).toEqual({ certFile: "r.pem", keyFile: "r-key.pem", caFile: "ca.pem", timeout: 3000 })
    // And printConfig writes it back to the same options.
    const again = Result.getOrThrow(configFromString(printConfig(o), { file: "p.conf" })).options
    expect(decodeServerOptions(again)).toEqual(decodeServerOptions(o))
  })
})
