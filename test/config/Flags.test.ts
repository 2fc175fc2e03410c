import { describe, expect, it } from "vitest"
import * as Result from "effect/Result"
import {
  FlagError,
  mergeOptions,
  parseFlags,
  usage,
  validateFlags,
  type ParsedFlags
} from "../../src/config/Flags.js"
import { decodeServerOptions } from "../../src/config/ServerOptions.js"
import { parseSecondsOrGo } from "../../src/values/Duration.js"
import { parse as parseSizeResult } from "../../src/values/Size.js"
import { parse as parseFlagUrl } from "../../src/values/Url.js"

const ok = (argv: ReadonlyArray<string>): ParsedFlags => {
  const r = parseFlags(argv)
  if (Result.isFailure(r)) throw new Error(`expected success, got: ${r.failure.message}`)
  return r.success
}

const err = (argv: ReadonlyArray<string>): string => {
  const r = parseFlags(argv)
  if (Result.isSuccess(r)) throw new Error(`expected failure, got: ${JSON.stringify(r.success)}`)
  expect(r.failure).toBeInstanceOf(FlagError)
  expect(r.failure._tag).toBe("FlagError")
  return r.failure.message
}

describe("parseFlags: forms", () => {
  it("no arguments → run with nothing set", () => {
    expect(ok([])).toEqual({ options: {}, command: "run" })
  })

  it("single and double dash long flags are the same", () => {
    for (const dash of ["-", "--"]) {
      expect(ok([`${dash}port`, "4333", `${dash}addr`, "127.0.0.1"]).options).toEqual({ port: 4333, host: "127.0.0.1" })
      expect(ok([`${dash}routes`, "nats://h:1", `${dash}cluster`, "nats://0.0.0.0:6222"]).options.cluster?.routes)
        .toEqual(["nats://h:1"])
    }
  })

  it("short aliases", () => {
    const p = ok(["-a", "10.0.0.1", "-p", "1234", "-n", "srvA", "-P", "/tmp/x.pid", "-m", "8222", "-l", "/tmp/x.log", "-c", "a.conf"])
    expect(p.options).toEqual({
      host: "10.0.0.1",
      port: 1234,
      serverName: "srvA",
      pidFile: "/tmp/x.pid",
      httpPort: 8222,
      logFile: "/tmp/x.log"
    })
    expect(p.configFile).toBe("a.conf")
    expect(ok(["--net", "h"]).options.host).toBe("h")
    expect(ok(["--server_name", "x"]).options.serverName).toBe("x")
    expect(ok(["--name=y"]).options.serverName).toBe("y")
  })

  it("= forms, including values containing =", () => {
    expect(ok(["--port=4223", "-a=::1"]).options).toEqual({ port: 4223, host: "::1" })
    expect(ok(["--pass=a=b"]).options.authorization).toEqual({ password: "a=b" })
    expect(ok(["--config=x.conf"]).configFile).toBe("x.conf")
  })

  it("boolean flags: bare, =true/=false, Go spellings", () => {
    expect(ok(["-D"]).options).toEqual({ debug: true })
    expect(ok(["--debug"]).options).toEqual({ debug: true })
    expect(ok(["--debug=false"]).options).toEqual({ debug: false })
    expect(ok(["-D=1", "-V=F"]).options).toEqual({ debug: true, trace: false })
    expect(ok(["-trace=TRUE"]).options).toEqual({ trace: true })
    expect(err(["-D=yes"])).toBe(`invalid boolean value "yes" for -D: parse error`)
  })

  it("a boolean flag does not take the next argument", () => {
    expect(err(["-D", "false"])).toBe(`unrecognized command: "false"`)
  })

  it("combined -DV, -DVV, -VV", () => {
    expect(ok(["-DV"]).options).toEqual({ debug: true, trace: true })
    expect(ok(["--DVV"]).options).toEqual({ debug: true, trace: true })
    expect(ok(["-VV"]).options).toEqual({ trace: true })
    expect(ok(["-DV=false"]).options).toEqual({})
  })

  it("-T / --logtime", () => {
    expect(ok(["-T=false"]).options).toEqual({ logtime: false })
    expect(ok(["--logtime=false"]).options).toEqual({ logtime: false })
    expect(ok(["-T"]).options).toEqual({ logtime: true })
  })

  it("later flags win", () => {
    expect(ok(["-p", "1", "--port", "2"]).options.port).toBe(2)
    expect(ok(["-D", "-D=false"]).options.debug).toBe(false)
  })

  it("-- ends flags", () => {
    expect(err(["-D", "--", "-V"])).toBe(`unrecognized command: "-V"`)
  })

  it("limits, sizes and durations", () => {
    const p = ok([
      "--max_payload", "2MB",
      "--max_pending=128mb",
      "--max_control_line", "8192",
      "--max_connections", "100",
      "--ping_interval", "1m30s"
    ])
    expect(p.options).toEqual({
      maxPayload: 2 * 1024 * 1024,
      maxPending: 128 * 1024 * 1024,
      maxControlLine: 8192,
      maxConnections: 100,
      pingInterval: 90_000
    })
    expect(ok(["--max_payload=1048576"]).options.maxPayload).toBe(1048576)
    expect(ok(["--max_payload=512k"]).options.maxPayload).toBe(512_000)
    expect(ok(["--ping_interval=20"]).options.pingInterval).toBe(20_000)
    expect(ok(["--ping_interval=250ms"]).options.pingInterval).toBe(250)
    expect(err(["--max_payload", "lots"])).toMatch(/^invalid value "lots" for flag -max_payload: /)
    expect(err(["--ping_interval", "soon"])).toMatch(/^invalid value "soon" for flag -ping_interval: /)
  })

  it("auth flags", () => {
    expect(ok(["--user", "u", "--pass", "p"]).options.authorization).toEqual({ user: "u", password: "p" })
    expect(ok(["--auth", "s3cret"]).options.authorization).toEqual({ token: "s3cret" })
  })

  it("other server flags", () => {
    expect(ok(["--client_advertise", "a:1", "--ports_file_dir", "/tmp"]).options)
      .toEqual({ clientAdvertise: "a:1", portsFileDir: "/tmp" })
  })
})

describe("parseFlags: errors", () => {
  it("unknown flags", () => {
    expect(err(["-foo"])).toBe("flag provided but not defined: -foo")
    expect(err(["--foo=1"])).toBe("flag provided but not defined: -foo")
    expect(err(["-p", "1", "--bogus"])).toBe("flag provided but not defined: -bogus")
  })

  it("bad int values and ranges", () => {
    expect(err(["-p", "abc"])).toBe(`invalid value "abc" for flag -p: parse error`)
    expect(err(["--port=70000"])).toMatch(/^invalid value "70000" for flag -port: port must be between/)
    expect(err(["--max_connections", "-5"])).toMatch(/^invalid value "-5" for flag -max_connections: /)
    expect(err(["--connect_retries", "x"])).toBe(`invalid value "x" for flag -connect_retries: parse error`)
  })

  it("missing value", () => {
    expect(err(["-p"])).toBe("flag needs an argument: -p")
  })

  it("bad syntax", () => {
    expect(err(["---p"])).toBe("bad flag syntax: ---p")
    expect(err(["-=x"])).toBe("bad flag syntax: -=x")
  })

  it("unexpected positional arguments", () => {
    expect(err(["foo"])).toBe(`unrecognized command: "foo"`)
    expect(err(["-D", "pub", "x"])).toMatch(/unrecognized command: "pub" \(pub must be the first argument\)/)
  })
})

describe("parseFlags: unsupported features are refused, one line each", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, RegExp]> = [
    [["-js"], "-js", /JetStream/],
    [["--jetstream"], "--jetstream", /JetStream/],
    [["--jetstream=true"], "--jetstream", /JetStream/],
    [["-sd", "/data"], "-sd", /JetStream/],
    [["--store_dir=/data"], "--store_dir", /JetStream/],
    [["--help_tls"], "--help_tls", /help_tls/],
    [["--tls_handshake_first"], "--tls_handshake_first", /TLS option/],
    [["-s"], "-s", /syslog/],
    [["--syslog"], "--syslog", /syslog/],
    [["-r", "udp://h:514"], "-r", /syslog/],
    [["--remote_syslog", "udp://h:514"], "--remote_syslog", /syslog/],
    [["--profile", "6060"], "--profile", /profil/],
    [["--leafnodes", "x"], "--leafnodes", /leafnode/],
    [["--gateway=x"], "--gateway", /gateway/],
    [["--websocket", "x"], "--websocket", /websocket/],
    [["--mqtt_port=1883"], "--mqtt_port", /MQTT/]
  ]
  for (const [argv, written, reason] of cases) {
    it(argv.join(" "), () => {
      const message = err(argv)
      expect(message.split("\n")).toHaveLength(1)
      expect(message.startsWith(`${written}: `)).toBe(true)
      expect(message).toMatch(reason)
      expect(message).toMatch(/not supported/)
    })
  }

  it("several refusals are all reported, and their values are skipped", () => {
    const message = err(["-js", "-sd", "/data", "--profile", "6060", "-p", "4222"])
    expect(message.split("\n")).toEqual([
      expect.stringMatching(/^-js: JetStream/),
      expect.stringMatching(/^-sd: JetStream/),
      expect.stringMatching(/^--profile: the profiling port/)
    ])
  })
})

describe("parseFlags: TLS", () => {
  it("--tlsverify with a certificate, key and CA is the tls block nats-server's overrideTLS builds", () => {
    const p = ok(["--tlsverify", "--tlscert", "s.pem", "--tlskey", "s-key.pem", "--tlscacert", "ca.pem"])
    expect(p.options.tls).toEqual({ certFile: "s.pem", keyFile: "s-key.pem", caFile: "ca.pem", verify: true })
  })
  it("--tls turns TLS on without client verification; any --tls* flag does", () => {
    expect(ok(["--tls", "--tlscert", "s.pem", "--tlskey", "k.pem"]).options.tls).toEqual({ certFile: "s.pem", keyFile: "k.pem", verify: false })
    expect(ok(["--tlscert=s.pem", "-tlskey", "k.pem"]).options.tls).toEqual({ certFile: "s.pem", keyFile: "k.pem", verify: false })
  })
  it("a certificate and a key are required, with nats-server's messages", () => {
    expect(err(["--tls"])).toBe("TLS Server certificate must be present and valid")
    expect(err(["--tlsverify", "--tlscert", "s.pem"])).toBe("TLS Server private key must be present and valid")
  })
  it("--tls=false (turning off the file's TLS) is refused, not ignored", () => {
    expect(err(["--tls=false"])).toMatch(/^--tls=false: .*not supported/)
  })
  it("-ms / --https_port set the HTTPS monitoring port", () => {
    expect(ok(["-ms", "8443"]).options.httpsPort).toBe(8443)
    expect(ok(["--https_port=-1"]).options.httpsPort).toBe(-1)
  })
  it("the flags replace the config file's tls block", () => {
    const merged = mergeOptions({ tls: { certFile: "a", keyFile: "b", verify: true, cipherSuites: ["TLS_AES_128_GCM_SHA256"] } }, ok(["--tls", "--tlscert", "c", "--tlskey", "d"]).options)
    expect(merged.tls).toEqual({ certFile: "c", keyFile: "d", verify: false })
  })
})

describe("parseFlags: cluster", () => {
  it("--routes is split on commas and trimmed", () => {
    const p = ok(["--cluster", "nats://127.0.0.1:6222", "--routes", " nats-route://a:1 , nats://u:p@b:2,,nats-route://c:3/ "])
    expect(p.options.cluster?.routes).toEqual(["nats-route://a:1", "nats://u:p@b:2", "nats-route://c:3/"])
  })

  it("--routes rejects bad URLs", () => {
    expect(err(["--routes", "a:1"])).toMatch(/^invalid value "a:1" for flag -routes: route URL "a:1"/)
    expect(err(["--routes", "tls://a:1"])).toMatch(/scheme must be nats-route:\/\/ or nats:\/\//)
    expect(err(["--routes", "nats://a"])).toMatch(/port/)
  })

  it("--cluster sets host and port", () => {
    expect(ok(["--cluster", "nats://127.0.0.1:6333"]).options.cluster).toEqual({ host: "127.0.0.1", port: 6333 })
    expect(ok(["-cluster_listen=nats://0.0.0.0:-1"]).options.cluster).toEqual({ host: "0.0.0.0", port: -1 })
    expect(ok(["--cluster", "nats://[::1]:6222"]).options.cluster).toEqual({ host: "::1", port: 6222 })
    expect(ok(["--cluster", "nats://:6222"]).options.cluster).toEqual({ host: "0.0.0.0", port: 6222 })
  })

  it("--cluster userinfo becomes cluster authorization (percent-decoded)", () => {
    expect(ok(["--cluster", "nats://ruser:T0p%40ss@127.0.0.1:6222"]).options.cluster).toEqual({
      host: "127.0.0.1",
      port: 6222,
      authorization: { user: "ruser", password: "T0p@ss" }
    })
    expect(err(["--cluster", "nats://ruser@127.0.0.1:6222"])).toMatch(/expected cluster password to be set/)
  })

  it("--cluster rejects URLs without scheme or port", () => {
    expect(err(["--cluster", "127.0.0.1:6222"])).toMatch(/^invalid value "127.0.0.1:6222" for flag -cluster: expected/)
    expect(err(["--cluster", "nats://127.0.0.1"])).toMatch(/missing port/)
    expect(err(["--cluster", "nats://127.0.0.1:99999"])).toMatch(/invalid port/)
  })

  it("other cluster flags", () => {
    const p = ok([
      "--cluster", "nats://127.0.0.1:6222",
      "--cluster_name", "TESTC",
      "--no_advertise",
      "--cluster_advertise", "10.0.0.1:6222",
      "--connect_retries", "5"
    ])
    expect(p.options.cluster).toEqual({
      host: "127.0.0.1",
      port: 6222,
      name: "TESTC",
      noAdvertise: true,
      advertise: "10.0.0.1:6222",
      connectRetries: 5
    })
    expect(ok(["--no_advertise=false"]).options.cluster).toEqual({ noAdvertise: false })
  })

  it("--routes without --cluster is an error after merging", () => {
    const p = ok(["--routes", "nats://a:1"])
    const merged = mergeOptions({}, p.options)
    const r = validateFlags(merged)
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) expect(r.failure.message).toMatch(/^--routes requires a cluster listen address/)
    const other = validateFlags(mergeOptions({}, ok(["--cluster_name", "X"]).options))
    expect(Result.isFailure(other)).toBe(true)
  })

  it("--routes with the cluster listen from the config file is fine", () => {
    const p = ok(["--routes", "nats://a:1"])
    const merged = mergeOptions({ cluster: { host: "127.0.0.1", port: 6222 } }, p.options)
    expect(Result.isSuccess(validateFlags(merged))).toBe(true)
    expect(Result.isSuccess(validateFlags(mergeOptions({}, ok(["--cluster", "nats://h:1", "--routes", "nats://a:1"]).options))))
      .toBe(true)
    expect(Result.isSuccess(validateFlags({}))).toBe(true)
  })
})

describe("parseFlags: commands", () => {
  it("help and version", () => {
    expect(ok(["-h"]).command).toBe("help")
    expect(ok(["--help"]).command).toBe("help")
    expect(ok(["-v"]).command).toBe("version")
    expect(ok(["--version"]).command).toBe("version")
    expect(ok(["version"]).command).toBe("version")
    expect(ok(["help"]).command).toBe("help")
    expect(ok(["-v", "-h"]).command).toBe("help")
  })

  it("-t tests the config", () => {
    expect(ok(["-t", "-c", "a.conf"])).toEqual({ options: {}, configFile: "a.conf", command: "test-config" })
  })

  it("--signal", () => {
    expect(ok(["--signal", "reload"]).command).toEqual({ signal: "reload" })
    expect(ok(["-sl", "ldm=1234"]).command).toEqual({ signal: "ldm", pid: "1234" })
    expect(ok(["--signal=reopen=/var/run/nats.pid"]).command).toEqual({ signal: "reopen", pid: "/var/run/nats.pid" })
    for (const s of ["ldm", "stop", "quit", "term", "reopen", "reload"]) {
      expect(ok(["-sl", s]).command).toEqual({ signal: s })
    }
    expect(err(["--signal", "bogus"])).toMatch(/unknown signal "bogus"/)
    expect(err(["--signal", "reload="])).toMatch(/expected <signal>=<pid or pid file>/)
  })

  it("pub and sub", () => {
    expect(ok(["pub", "-s", "nats://a:1, nats://b:2", "foo", "hello"]).command).toEqual({
      client: "pub",
      servers: ["nats://a:1", "nats://b:2"],
      subject: "foo",
      payload: "hello"
    })
    expect(ok(["pub", "foo"]).command).toEqual({ client: "pub", servers: ["nats://127.0.0.1:4222"], subject: "foo" })
    expect(ok(["pub", "--server=nats://a:1", "--count", "10", "foo", "-x-"]).command).toEqual({
      client: "pub",
      servers: ["nats://a:1"],
      subject: "foo",
      payload: "-x-",
      count: 10
    })
    expect(ok(["sub", "-s", "nats://a:1", "--count=3", "foo.>"]).command).toEqual({
      client: "sub",
      servers: ["nats://a:1"],
      subject: "foo.>",
      count: 3
    })
    expect(ok(["pub", "--", "foo", "-1"]).command).toMatchObject({ subject: "foo", payload: "-1" })
    expect(ok(["sub", "-h"]).command).toBe("help")
    expect(err(["pub"])).toMatch(/^pub: missing subject/)
    expect(err(["sub", "a", "b"])).toMatch(/^sub: unexpected argument "b"/)
    expect(err(["pub", "--count", "0", "x"])).toMatch(/for flag -count/)
    expect(err(["sub", "-D", "x"])).toBe("flag provided but not defined: -D")
  })
})

describe("mergeOptions", () => {
  it("flags override the file; untouched file values stay", () => {
    const merged = mergeOptions(
      { port: 4222, host: "127.0.0.1", debug: true, maxPayload: 100 },
      { port: 5222, debug: false }
    )
    expect(merged).toEqual({ port: 5222, host: "127.0.0.1", debug: false, maxPayload: 100 })
  })

  it("cluster is merged field by field", () => {
    const merged = mergeOptions(
      {
        cluster: {
          name: "FILE",
          host: "127.0.0.1",
          port: 6222,
          routes: ["nats://x:1"],
          authorization: { user: "fu", password: "fp", timeout: 5000 }
        }
      },
      ok(["--cluster_name", "FLAG", "--routes", "nats://y:2"]).options
    )
    expect(merged.cluster).toEqual({
      name: "FLAG",
      host: "127.0.0.1",
      port: 6222,
      routes: ["nats://y:2"],
      authorization: { user: "fu", password: "fp", timeout: 5000 }
    })
    const withAuth = mergeOptions(merged, ok(["--cluster", "nats://u:p@0.0.0.0:7222"]).options)
    expect(withAuth.cluster).toEqual({
      name: "FLAG",
      host: "0.0.0.0",
      port: 7222,
      routes: ["nats://y:2"],
      authorization: { user: "u", password: "p", timeout: 5000 }
    })
  })

  it("authorization is merged field by field; file-only or flag-only sections pass through", () => {
    expect(mergeOptions({ authorization: { user: "a", password: "b", timeout: 1000 } }, { authorization: { password: "c" } }).authorization)
      .toEqual({ user: "a", password: "c", timeout: 1000 })
    expect(mergeOptions({ cluster: { port: 1 } }, {}).cluster).toEqual({ port: 1 })
    expect(mergeOptions({}, { cluster: { port: 2 } }).cluster).toEqual({ port: 2 })
  })

  it("the merged options decode", () => {
    const p = ok(["-p", "-1", "--cluster", "nats://u:p@127.0.0.1:-1", "--routes", "nats://a:1", "-DV", "--max_payload", "2MB"])
    const merged = mergeOptions({ serverName: "srv" }, p.options)
    const decoded = decodeServerOptions(merged)
    expect(decoded.port).toBe(-1)
    expect(decoded.cluster?.port).toBe(-1)
    expect(decoded.cluster?.authorization).toEqual({ user: "u", password: "p", timeout: 2000 })
    expect(decoded.maxPayload).toBe(2 * 1024 * 1024)
    expect(decoded.debug && decoded.trace).toBe(true)
  })
})

describe("value parsers", () => {
  const orUndefined = <A>(r: Result.Result<A, unknown>): A | undefined => (Result.isSuccess(r) ? r.success : undefined)
  const parseSize = (text: string) => orUndefined(parseSizeResult(text))
  const parseDuration = (text: string) => orUndefined(parseSecondsOrGo(text))
  it("parseSize", () => {
    expect(parseSize("1MB")).toBe(1048576)
    expect(parseSize("1mb")).toBe(1048576)
    expect(parseSize("1M")).toBe(1_000_000)
    expect(parseSize("2KiB")).toBe(2048)
    expect(parseSize("1G")).toBe(1e9)
    expect(parseSize("-1")).toBeUndefined()
    expect(parseSize("1XB")).toBeUndefined()
  })

  it("parseDuration", () => {
    expect(parseDuration("2m")).toBe(120_000)
    expect(parseDuration("1h2m3s")).toBe(3_723_000)
    expect(parseDuration("1.5s")).toBe(1500)
    expect(parseDuration("500us")).toBe(0.5)
    expect(parseDuration("3")).toBe(3000)
    expect(parseDuration("3x")).toBeUndefined()
    expect(parseDuration("")).toBeUndefined()
  })

  it("parseFlagUrl", () => {
    expect(Result.getOrThrow(parseFlagUrl("nats-route://a:b@h:1/"))).toEqual({ scheme: "nats-route", host: "h", port: 1, user: "a", password: "b" })
    expect(Result.isFailure(parseFlagUrl("nats://h:1/path"))).toBe(true)
    expect(Result.isFailure(parseFlagUrl("nats://::1:4222"))).toBe(true)
  })
})

describe("usage", () => {
  const text = usage()
  it("names effect-nats-server and lists what we support", () => {
    expect(text.startsWith("Usage: effect-nats-server [options]")).toBe(true)
    for (const flag of [
      "-a, --addr, --net", "-p, --port", "-n, --name, --server_name", "-P, --pid", "-m, --http_port",
      "-c, --config", "-t ", "-sl, --signal", "--client_advertise", "--ports_file_dir", "-l, --log",
      "-T, --logtime", "-D, --debug", "-V, --trace", "-VV", "-DV", "-DVV", "--max_payload", "--max_pending",
      "--max_control_line", "--max_connections", "--ping_interval", "--user", "--pass", "--auth", "--routes",
      "--cluster ", "--cluster_listen", "--cluster_name", "--no_advertise", "--cluster_advertise",
      "--connect_retries", "-h, --help", "-v, --version", "pub", "sub", "-s, --server", "--count"
    ]) {
      expect(text, flag).toContain(flag)
    }
    for (const section of ["Server Options:", "Logging Options:", "Authorization Options:", "Cluster Options:", "Common Options:"]) {
      expect(text).toContain(section)
    }
  })

  it("does not offer unsupported features as options", () => {
    expect(text).not.toMatch(/^\s+-js, --jetstream/m)
    expect(text).not.toMatch(/(?<!effect-)nats-server \[options\]/)
  })

  it("every long flag named in the usage parses", () => {
    const flags = new Set(text.match(/(?<![\w-])--?[A-Za-z_]+/g) ?? [])
    const needsValue = new Set(["-a", "--addr", "--net", "-p", "--port", "-n", "--name", "--server_name", "-P", "--pid", "-m",
      "--http_port", "-c", "--config", "-l", "--log", "--client_advertise", "--ports_file_dir", "--user", "--pass", "--auth",
      "--cluster_name", "--cluster_advertise", "--https_port"])
    for (const flag of flags) {
      if (["-js", "-sd", "-s", "-r", "-ms", "--tls", "--tlscert", "--tlskey", "--tlsverify", "--tlscacert", "--help_tls", "--profile", "--server", "--count", "--option", "--routes", "-routes",
        "--cluster", "--cluster_listen", "--signal", "-sl", "--max_payload", "--max_pending", "--max_control_line",
        "--max_connections", "--ping_interval", "--connect_retries", "--no_advertise"].includes(flag)) continue
      const argv = needsValue.has(flag) ? [flag, "1"] : [flag]
      expect(Result.isSuccess(parseFlags(argv)), flag).toBe(true)
    }
  })
})
