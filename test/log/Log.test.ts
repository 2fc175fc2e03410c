import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import {
  Log,
  LogError,
  LogLines,
  connPrefix,
  formatLine,
  formatTimestamp,
  makeTestLog,
  nowMicros
} from "../../src/log/Log.js"

/** nats-server's line, exactly: `[pid] YYYY/MM/DD HH:MM:SS.micro [LVL] message`. */
const LINE = /^\[(\d+)\] (\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) \[(INF|DBG|TRC|WRN|ERR|FTL)\] (.*)$/
const LINE_NO_TIME = /^\[(\d+)\] \[(INF|DBG|TRC|WRN|ERR|FTL)\] (.*)$/

/** Microseconds since the epoch for a local wall-clock time. */
const localMicros = (y: number, mo: number, d: number, h: number, mi: number, s: number, micros: number) =>
  new Date(y, mo - 1, d, h, mi, s).getTime() * 1000 + micros

const tmpDirs: Array<string> = []
const tmpDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "enats-log-"))
  tmpDirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  vi.restoreAllMocks()
})

describe("formatLine", () => {
  it("matches nats-server's format with time (local zone, 6-digit microseconds)", () => {
    const t = localMicros(2026, 11, 26, 1, 6, 2, 505947)
    const line = formatLine(24949, t, "INF", "Starting nats-server", { logtime: true })
    expect(line).toBe("[24949] 2026/11/26 01:06:02.505947 [INF] Starting nats-server")
    expect(line).toMatch(LINE)
  })

  it("pads microseconds and date fields", () => {
    expect(formatTimestamp(localMicros(2026, 1, 2, 3, 4, 5, 42))).toBe("2026/01/02 03:04:05.000042")
    expect(formatTimestamp(localMicros(2026, 1, 2, 3, 4, 5, 0))).toBe("2026/01/02 03:04:05.000000")
    expect(formatTimestamp(localMicros(2026, 12, 31, 23, 59, 59, 999999))).toBe("2026/12/31 23:59:59.999999")
  })

  it("is right across seconds (timestamp cache)", () => {
    const a = localMicros(2026, 3, 1, 10, 0, 0, 999999)
    expect(formatTimestamp(a)).toBe("2026/03/01 10:00:00.999999")
    expect(formatTimestamp(a + 1)).toBe("2026/03/01 10:00:01.000000")
    expect(formatTimestamp(a)).toBe("2026/03/01 10:00:00.999999")
    expect(formatTimestamp(a + 0.7)).toBe("2026/03/01 10:00:00.999999")
  })

  it("-T=false drops the timestamp", () => {
    const line = formatLine(7, 123, "DBG", "x y", { logtime: false })
    expect(line).toBe("[7] [DBG] x y")
    expect(line).toMatch(LINE_NO_TIME)
  })

  it("uses every level label", () => {
    for (const level of ["INF", "DBG", "TRC", "WRN", "ERR", "FTL"] as const) {
      expect(formatLine(1, nowMicros(), level, "m", { logtime: true })).toMatch(LINE)
    }
  })
})

describe("nowMicros", () => {
  it("tracks the wall clock with real microseconds", () => {
    const samples: Array<number> = []
    for (let i = 0; i < 2000; i++) {
      const before = Date.now() * 1000
      const t = nowMicros()
      const after = Date.now() * 1000
      expect(t).toBeGreaterThanOrEqual(before)
      expect(t).toBeLessThan(after + 1000)
      expect(Number.isInteger(t)).toBe(true)
      samples.push(t)
    }
    // Not just milliseconds × 1000.
    expect(samples.some((t) => t % 1000 !== 0)).toBe(true)
  })
})

describe("Log (in memory)", () => {
  it("filters debug and trace by default", () => {
    const { log, lines } = makeTestLog({ pid: 42 })
    expect(log.debugEnabled).toBe(false)
    expect(log.traceEnabled).toBe(false)
    log.info("i")
    log.debug("d")
    log.trace("t")
    log.warn("w")
    log.error("e")
    log.fatal("f")
    expect(lines.lines.map((l) => l.replace(LINE, "$9 $10"))).toEqual(["INF i", "WRN w", "ERR e", "FTL f"])
    for (const l of lines.lines) expect(l).toMatch(/^\[42\] /)
  })

  it("debug and trace on; setLevels changes them (reload)", () => {
    const { log, lines } = makeTestLog({ debug: true, trace: true })
    log.debug("d1")
    log.trace("t1")
    log.setLevels({ debug: false, trace: true })
    expect(log.debugEnabled).toBe(false)
    expect(log.traceEnabled).toBe(true)
    log.debug("d2")
    log.trace("t2")
    log.setLevels({ debug: true, trace: false, logtime: false })
    log.debug("d3")
    log.trace("t3")
    expect(log.logtime).toBe(false)
    expect(lines.lines.slice(0, 3).map((l) => l.replace(LINE, "$9 $10"))).toEqual(["DBG d1", "TRC t1", "TRC t2"])
    expect(lines.lines[3]).toMatch(LINE_NO_TIME)
    expect(lines.lines[3]).toMatch(/\[DBG\] d3$/)
    expect(lines.lines).toHaveLength(4)
  })

  it("logtime false and an injected clock", () => {
    const a = makeTestLog({ pid: 1, logtime: false })
    a.log.info("hello")
    expect(a.lines.lines).toEqual(["[1] [INF] hello"])
    const t = localMicros(2026, 11, 26, 1, 6, 45, 35272)
    const b = makeTestLog({ pid: 24949, trace: true, now: () => t })
    b.log.trace(`${connPrefix("127.0.0.1", 50496, "cid", 5)}<<- [PING]`)
    expect(b.lines.lines).toEqual(["[24949] 2026/11/26 01:06:45.035272 [TRC] 127.0.0.1:50496 - cid:5 - <<- [PING]"])
    b.lines.clear()
    expect(b.lines.lines).toEqual([])
  })

  it("reopen without a file says so", () => {
    const { log, lines } = makeTestLog({ pid: 1, logtime: false })
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true)
    log.setFile(undefined)
    log.reopen()
    expect(stderr).toHaveBeenCalledWith("[1] [INF] File log re-open ignored, not a file logger\n")
    expect(lines.lines).toEqual([])
  })
})

describe("connPrefix", () => {
  it("client and route prefixes", () => {
    expect(connPrefix("127.0.0.1", 50496, "cid", 5)).toBe("127.0.0.1:50496 - cid:5 - ")
    expect(connPrefix("127.0.0.1", 24250, "rid", 4)).toBe("127.0.0.1:24250 - rid:4 - ")
    expect(connPrefix("127.0.0.1", 50496, "cid", 5, { version: "0.1", lang: "node", name: "t1" }))
      .toBe(`127.0.0.1:50496 - cid:5 - "v0.1:node:t1" - `)
    expect(connPrefix("127.0.0.1", 35630, "cid", 7, { version: "0.0.1", lang: "node", name: "holderB" }))
      .toBe(`127.0.0.1:35630 - cid:7 - "v0.0.1:node:holderB" - `)
  })

  it("no identity part until CONNECT said something; IPv6 forms", () => {
    expect(connPrefix("127.0.0.1", 1, "cid", 1, {})).toBe("127.0.0.1:1 - cid:1 - ")
    expect(connPrefix("127.0.0.1", 1, "cid", 1, { lang: "go" })).toBe(`127.0.0.1:1 - cid:1 - "v:go:" - `)
    expect(connPrefix("::ffff:10.1.2.3", 9, "cid", 2)).toBe("10.1.2.3:9 - cid:2 - ")
    expect(connPrefix("::1", 9, "rid", 3)).toBe("[::1]:9 - rid:3 - ")
  })
})

describe("Log layers", () => {
  it("layerTest collects lines, all levels on", async () => {
    const lines = await Effect.runPromise(
      Effect.gen(function*() {
        const log = yield* Log
        log.info("a")
        log.debug("b")
        log.trace("c")
        return (yield* LogLines).lines
      }).pipe(Effect.provide(Log.layerTest))
    )
    expect(lines.map((l) => l.replace(LINE, "$9 $10"))).toEqual(["INF a", "DBG b", "TRC c"])
  })

  it("layerTestWith filters", async () => {
    const lines = await Effect.runPromise(
      Effect.gen(function*() {
        const log = yield* Log
        log.debug("hidden")
        log.warn("shown")
        return (yield* LogLines).lines
      }).pipe(Effect.provide(Log.layerTestWith({ pid: 3, logtime: false })))
    )
    expect(lines).toEqual(["[3] [WRN] shown"])
  })

  it("layer writes to stderr by default", async () => {
    const writes: Array<string> = []
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk))
      return true
    })
    await Effect.runPromise(
      Effect.gen(function*() {
        const log = yield* Log
        log.info("to stderr")
        log.debug("not shown")
      }).pipe(Effect.provide(Log.layer({ debug: false, trace: false, logtime: true })))
    )
    expect(writes).toHaveLength(1)
    expect(writes[0]).toMatch(/\n$/)
    expect(writes[0]?.slice(0, -1)).toMatch(LINE)
    expect(writes[0]).toMatch(new RegExp(`^\\[${process.pid}\\] .* \\[INF\\] to stderr\\n$`))
  })

  it("layer appends plain lines to the log file and reopens it (rotation)", async () => {
    const dir = tmpDir()
    const file = path.join(dir, "server.log")
    fs.writeFileSync(file, "previous line\n")
    await Effect.runPromise(
      Effect.gen(function*() {
        const log = yield* Log
        log.info("first")
        log.trace("traced")
        fs.renameSync(file, `${file}.1`)
        log.reopen()
        log.warn("after rotation")
      }).pipe(Effect.provide(Log.layer({ logFile: file, trace: true, pid: 99 })))
    )
    const rotated = fs.readFileSync(`${file}.1`, "utf8").split("\n")
    expect(rotated[0]).toBe("previous line")
    expect(rotated.slice(1, 3).map((l) => l.replace(LINE, "$1 $9 $10"))).toEqual(["99 INF first", "99 TRC traced"])
    expect(rotated[3]).toBe("")
    const fresh = fs.readFileSync(file, "utf8")
    const freshLines = fresh.split("\n")
    expect(freshLines.map((l) => l.replace(LINE, "$9 $10"))).toEqual(["INF File log re-opened", "WRN after rotation", ""])
    // Plain text: no ANSI colors in files.
    expect(fresh).not.toMatch(/\u001b\[/)
  })

  it("setFile switches output (reload of log_file)", async () => {
    const dir = tmpDir()
    const a = path.join(dir, "a.log")
    const b = path.join(dir, "b.log")
    await Effect.runPromise(
      Effect.gen(function*() {
        const log = yield* Log
        log.info("in a")
        expect(Result.isSuccess(log.setFile(b))).toBe(true)
        log.info("in b")
        const failed = log.setFile(path.join(dir, "missing", "c.log"))
        expect(Result.isFailure(failed)).toBe(true)
        log.info("still b")
      }).pipe(Effect.provide(Log.layer({ logFile: a, logtime: false, pid: 5 })))
    )
    expect(fs.readFileSync(a, "utf8")).toBe("[5] [INF] in a\n")
    expect(fs.readFileSync(b, "utf8")).toBe("[5] [INF] in b\n[5] [INF] still b\n")
  })

  it("layer fails with LogError when the file cannot be opened", async () => {
    const dir = tmpDir()
    const exit = await Effect.runPromiseExit(
      Effect.void.pipe(Effect.provide(Log.layer({ logFile: path.join(dir, "no", "such", "x.log") })))
    )
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const error = exit.cause.reasons[0]
      expect(error?._tag).toBe("Fail")
      if (error?._tag === "Fail") {
        expect(error.error).toBeInstanceOf(LogError)
        expect((error.error as LogError).message).toMatch(/unable to open log file/)
      }
    }
  })

  it("effectLogger routes Effect.log* through Log with the same filtering", async () => {
    const lines = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Effect.gen(function*() {
          yield* Effect.log("from effect")
          yield* Effect.logWarning("careful", 42)
          yield* Effect.logDebug("dbg hidden")
          yield* Effect.logTrace("trc hidden")
        }).pipe(Effect.provide(Log.effectLogger))
        return (yield* LogLines).lines
      }).pipe(Effect.provide(Log.layerTestWith({ pid: 1, logtime: false })))
    )
    expect(lines).toEqual(["[1] [INF] from effect", "[1] [WRN] careful 42"])

    const all = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Effect.logDebug("dbg shown").pipe(Effect.provide(Log.effectLogger))
        return (yield* LogLines).lines
      }).pipe(Effect.provide(Layer.fresh(Log.layerTestWith({ pid: 1, logtime: false, debug: true }))))
    )
    expect(all).toEqual(["[1] [DBG] dbg shown"])
  })
})
