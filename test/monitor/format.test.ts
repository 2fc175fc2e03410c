/**
 * Go-compatible formatting of monitor values: Duration strings, nats-server's uptime format,
 * RFC3339Nano times and Go's HTML-safe JSON.
 */
import { describe, expect, it } from "vitest"
import { goDuration, goJson, goJsonIndent, goRtt, goTime, goUptime, joinHostPort } from "../../src/monitor/format.js"

describe("goDuration (Go time.Duration.String)", () => {
  it.each([
    [0, "0s"],
    [1, "1ns"],
    [999, "999ns"],
    [1_000, "1µs"],
    [962_000, "962µs"],
    [1_500, "1.5µs"],
    [1_544_959, "1.544959ms"],
    [2_000_000, "2ms"],
    [1_000_000_000, "1s"],
    [2_500_000_000, "2.5s"],
    [60_000_000_000, "1m0s"],
    [90_000_000_000, "1m30s"],
    [3_600_000_000_000, "1h0m0s"],
    [7_384_000_000_000, "2h3m4s"],
    [-1_500_000, "-1.5ms"]
  ])("%d ns → %s", (ns, text) => {
    expect(goDuration(ns)).toBe(text)
  })
})

describe("goRtt (client.getRTT().String())", () => {
  it("is 0s until measured", () => {
    expect(goRtt(undefined)).toBe("0s")
    expect(goRtt(0)).toBe("0s")
  })
  it("truncates to whole microseconds below a millisecond", () => {
    expect(goRtt(0.962345)).toBe("962µs")
    expect(goRtt(0.0005)).toBe("500ns")
  })
  it("keeps nanoseconds from a millisecond on", () => {
    expect(goRtt(1.544959)).toBe("1.544959ms")
    expect(goRtt(1.858255)).toBe("1.858255ms")
  })
})

describe("goUptime (nats-server myUptime)", () => {
  it.each([
    [0, "0s"],
    [999, "0s"],
    [2_000, "2s"],
    [498_000, "8m18s"],
    [140_000, "2m20s"],
    [(2 * 3600 + 3 * 60 + 4) * 1000, "2h3m4s"],
    [(86400 + 2 * 3600 + 3 * 60 + 4) * 1000, "1d2h3m4s"],
    [(365 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5) * 1000, "1y2d3h4m5s"]
  ])("%d ms → %s", (ms, text) => {
    expect(goUptime(ms)).toBe(text)
  })
})

describe("goTime (RFC3339Nano, UTC)", () => {
  it("drops trailing zeros of the fraction, and the fraction on whole seconds", () => {
    expect(goTime(new Date("2026-11-26T01:06:02.505Z"))).toBe("2026-11-26T01:06:02.505Z")
    expect(goTime(new Date("2026-11-26T01:06:02.500Z"))).toBe("2026-11-26T01:06:02.5Z")
    expect(goTime(new Date("2026-11-26T01:06:02.000Z"))).toBe("2026-11-26T01:06:02Z")
  })
  it("takes epoch milliseconds too", () => {
    expect(goTime(Date.UTC(2026, 10, 26, 1, 6, 2) + 50)).toBe("2026-11-26T01:06:02.05Z")
  })
})

describe("Go JSON", () => {
  it("indents by two spaces, escapes <, > and & as Go does, leaves out undefined fields", () => {
    expect(goJsonIndent({ a: 1, b: undefined, s: "<a&b>", l: [], o: {} })).toBe(
      '{\n  "a": 1,\n  "s": "\\u003ca\\u0026b\\u003e",\n  "l": [],\n  "o": {}\n}'
    )
    expect(goJson({ status: "ok" })).toBe('{"status":"ok"}')
  })
  it("joinHostPort brackets IPv6", () => {
    expect(joinHostPort("127.0.0.1", 8222)).toBe("127.0.0.1:8222")
    expect(joinHostPort("::1", 8222)).toBe("[::1]:8222")
  })
})
