/**
 * The value modules (`src/values/`): round trips and the forms nats-server 2.9.10 accepts and
 * refuses (checked with `nats-server -t -c file` on this machine: sizes `1k`, `1kb`, `1KiB`, `2Mi`
 * accepted, `1b`, `1.5MB`, `1 k`, `0x10`, `1z` refused; durations `"1.5h"`, `"-1s"`, `".5s"`, `"+2s"`,
 * `"0"`, `"00s"`, `"1µs"` accepted, `"1.5"`, `"5."`, `"1s2"` refused with `missing unit`).
 */
import * as Result from "effect/Result"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Duration from "../../src/values/Duration.js"
import * as HostPort from "../../src/values/HostPort.js"
import * as Size from "../../src/values/Size.js"
import * as Url from "../../src/values/Url.js"
import { InvalidValue } from "../../src/values/InvalidValue.js"
import * as Schema from "effect/Schema"
import { ClusterOptions, decodeServerOptions } from "../../src/config/ServerOptions.js"

describe("Duration", () => {
  it.each([
    ["1.5h", 5_400_000], ["-1s", -1000], ["1h30m", 5_400_000], [".5s", 500], ["+2s", 2000], ["0", 0], ["00s", 0],
    ["1us", 0.001], ["1\u00b5s", 0.001], ["1\u03bcs", 0.001], ["250ms", 250], ["1ns", 0.000001]
  ])("accepts %j as nats-server does", (text, ms) => {
    expect(Duration.parse(text)).toEqual(Result.succeed(ms))
  })
  it.each([
    ["1.5", 'missing unit in duration "1.5"'], ["5.", 'missing unit in duration "5."'], ["1s2", 'missing unit in duration "1s2"'],
    ["", 'invalid duration ""'], ["1x", 'unknown unit "x" in duration "1x"'], ["3000000h", 'invalid duration "3000000h" (out of range)']
  ])("refuses %j: %s", (text, reason) => {
    const r = Duration.parse(text)
    expect(r).toEqual(Result.fail(new InvalidValue({ kind: "duration", input: text, reason })))
    // The message is the reason, as the config file quotes it.
    expect(Result.isFailure(r) && r.failure.message).toBe(reason)
  })
  it("format then parse gives the same nanoseconds back", () => {
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), (ns) => {
      const ms = Number(ns) / 1e6
      const back = Duration.parse(Duration.format(ms))
      expect(Result.isSuccess(back)).toBe(true)
      expect(Math.round(Result.getOrThrow(back) * 1e6)).toBe(Math.round(ms * 1e6))
    }))
  })
  it("the command line's bare number is seconds, anything else Go syntax", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), (n) => {
      expect(Duration.parseSecondsOrGo(String(n))).toEqual(Result.succeed(n * 1000))
      expect(Duration.parseSecondsOrGo(` ${n}s `)).toEqual(Result.succeed(n * 1000))
    }))
    expect(Duration.parseSecondsOrGo("1.5")).toEqual(Result.succeed(1500))
    expect(Duration.parseSecondsOrGo("soon")).toEqual(Result.fail(new InvalidValue({ kind: "duration", input: "soon", reason: 'invalid duration "soon"' })))
  })
})

describe("Size", () => {
  it.each([["1k", 1000], ["1kb", 1024], ["1KiB", 1024], ["2Mi", 2 * 1024 ** 2], ["1G", 1e9], ["1gb", 1024 ** 3], ["1048576", 1048576]])(
    "accepts %j as nats-server does",
    (text, n) => expect(Size.parse(text)).toEqual(Result.succeed(n))
  )
  it.each(["1b", "1.5MB", "1 k", "0x10", "1z", "-1", "", "k"])("refuses %j", (text) => {
    const r = Size.parse(text)
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "InvalidValue", kind: "size", input: text })
  })
  it("says why a size is refused", () => {
    const z = Size.parse("1z")
    expect(Result.isFailure(z) && z.failure.message).toBe('unknown unit "z" in size "1z"')
    expect(Size.parse("1.5MB")).toEqual(Result.fail(new InvalidValue({ kind: "size", input: "1.5MB", reason: 'invalid size "1.5MB"' })))
    expect(Size.parse("99999999999e")).toEqual(Result.fail(new InvalidValue({ kind: "size", input: "99999999999e", reason: 'size "99999999999e" is out of range' })))
  })
  it("n<suffix> is n × (1000 or 1024)^k for every suffix, any case", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4000 }), fc.constantFrom(...Size.suffixes), fc.boolean(), (n, suffix, upper) => {
      const k = "kmgtpe".indexOf(suffix[0]!) + 1
      const base = suffix.length === 1 ? 1000n : 1024n
      const want = BigInt(n) * base ** BigInt(k)
      const got = Size.parse(`${n}${upper ? suffix.toUpperCase() : suffix}`)
      if (want > BigInt(Number.MAX_SAFE_INTEGER)) expect(Result.isFailure(got)).toBe(true)
      else expect(got).toEqual(Result.succeed(Number(want)))
    }))
  })
})

describe("HostPort", () => {
  it("split(format(host, port)) gives back any host and port", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.constantFrom("::1", "fe80::1%eth0", "[odd]", "a:b", "")), fc.integer({ min: -1, max: 65535 }), (host, port) => {
      expect(HostPort.split(HostPort.format(host, port))).toEqual(Result.succeed({ host, port: String(port) }))
    }))
  })
  it("brackets IPv6 hosts only", () => {
    expect(HostPort.format("::1", 4222)).toBe("[::1]:4222")
    expect(HostPort.format("127.0.0.1", 4222)).toBe("127.0.0.1:4222")
    expect(HostPort.parse("[::1]:4222")).toEqual(Result.succeed({ host: "::1", port: 4222 }))
    expect(HostPort.parse(":4222")).toEqual(Result.succeed({ host: "", port: 4222 }))
  })
  it.each(["::1:4222", "host", "[::1]", "[::1", "h:70000", "h:x", "h:-1"])("refuses %j", (text) => {
    const r = HostPort.parse(text)
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "InvalidValue", kind: "address", input: text })
  })
  it("says why an address is refused, as Go's net.SplitHostPort does", () => {
    expect(HostPort.parse("host")).toEqual(Result.fail(new InvalidValue({ kind: "address", input: "host", reason: 'missing port in address "host"' })))
    expect(HostPort.parse("h:70000")).toEqual(Result.fail(new InvalidValue({ kind: "address", input: "h:70000", reason: 'invalid port "70000" in address "h:70000"' })))
    expect(HostPort.parsePort("x")).toEqual(Result.fail(new InvalidValue({ kind: "port", input: "x", reason: 'invalid port "x"' })))
  })
  it("-1 is a port only where a random port is allowed", () => {
    expect(HostPort.parse("h:-1", { allowRandom: true })).toEqual(Result.succeed({ host: "h", port: -1 }))
  })
})

describe("Url", () => {
  const userArb = fc.string({ minLength: 1, maxLength: 8 })
  const hostArb = fc.oneof(fc.domain(), fc.ipV4(), fc.constantFrom("::1", "fe80::1"))
  it("parse(format(url)) gives back scheme, host, port, user and password", () => {
    fc.assert(fc.property(
      fc.constantFrom("nats", "nats-route", "tls"), hostArb, fc.option(fc.integer({ min: -1, max: 65535 }), { nil: undefined }),
      fc.option(fc.tuple(userArb, fc.option(userArb, { nil: undefined })), { nil: undefined }),
      (scheme, host, port, info) => {
        const url: Url.NatsUrl = {
          scheme, host,
          ...(port !== undefined ? { port } : {}),
          ...(info !== undefined ? { user: info[0], ...(info[1] !== undefined ? { password: info[1] } : {}) } : {})
        }
        expect(Url.parse(Url.format(url))).toEqual(Result.succeed(url))
      }
    ))
  })
  it("route URLs: a host and a port are required; a bare host:port is a nats-route URL; the text is kept", () => {
    expect(Url.parseRoute(" nats-route://u:p%40ss@[::1]:6222/ ")).toEqual(
      Result.succeed({ host: "::1", port: 6222, user: "u", password: "p@ss", raw: "nats-route://u:p%40ss@[::1]:6222/" })
    )
    expect(Url.parseRoute("127.0.0.1:6222")).toEqual(Result.succeed({ host: "127.0.0.1", port: 6222, user: undefined, password: undefined, raw: "127.0.0.1:6222" }))
    expect(Url.parseRoute("nats://h:1/some/path")).toEqual(Result.succeed({ host: "h", port: 1, user: undefined, password: undefined, raw: "nats://h:1/some/path" }))
    for (const bad of ["nats://h", "nats://:6222", "nats://h:0", "nats://h:-1", "nats://::1:6222", "nats://[::1:6222"]) {
      const r = Url.parseRoute(bad)
      expect(Result.isFailure(r) && r.failure, bad).toMatchObject({ _tag: "InvalidValue", kind: "route-url", input: bad })
    }
  })
  it("a flag URL refuses a path", () => {
    expect(Url.parse("nats://h:1/path")).toEqual(Result.fail(new InvalidValue({ kind: "url", input: "nats://h:1/path", reason: 'unexpected path or query "/path"' })))
    expect(Result.isSuccess(Url.parse("nats://h:1/"))).toBe(true)
  })
  it("cluster.routes are decoded once, with the configured text kept; they encode back to that text", () => {
    const o = decodeServerOptions({ cluster: { routes: [" nats://u:p@h:1 ", "nats-route://h"] } })
    expect(o.cluster?.routes).toEqual([
      { raw: "nats://u:p@h:1", url: { host: "h", port: 1, user: "u", password: "p", raw: "nats://u:p@h:1" } },
      // nats-server accepts a route without a port in the config; it is never dialable.
      { raw: "nats-route://h", url: undefined }
    ])
    expect(Schema.encodeSync(ClusterOptions)(o.cluster!).routes).toEqual(["nats://u:p@h:1", "nats-route://h"])
  })
})
