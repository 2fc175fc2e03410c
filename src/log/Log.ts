/**
 * nats-server's log format: `[<pid>] <YYYY/MM/DD HH:MM:SS.micro> [<LVL>] <message>` (local time, real
 * microseconds), or `[<pid>] [<LVL>] <message>` with `logtime: false`. Lines go to stderr, or are
 * appended to a plain file (`-l FILE`) that `reopen()` reopens (SIGUSR1, for log rotation).
 *
 * The `Log` service is synchronous and cheap when a level is off: hot paths check `traceEnabled` /
 * `debugEnabled` before building a message. `Log.effectLogger` routes `Effect.log*` through it too.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as HostPort from "../values/HostPort.js"

// ---------------------------------------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------------------------------------

/** nats-server's level labels. */
export type Level = "INF" | "DBG" | "TRC" | "WRN" | "ERR" | "FTL"

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`)

let cachedSecond = Number.NaN
let cachedSecondText = ""

/** `YYYY/MM/DD HH:MM:SS.uuuuuu` in the local time zone, from microseconds since the epoch. */
export const formatTimestamp = (epochMicros: number): string => {
  const micros = Math.floor(epochMicros)
  const second = Math.floor(micros / 1_000_000)
  if (second !== cachedSecond) {
    const d = new Date(second * 1000)
    cachedSecondText = `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ` +
      `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
    cachedSecond = second
  }
  return `${cachedSecondText}.${String(micros - second * 1_000_000).padStart(6, "0")}`
}

/** One log line, without the trailing newline. */
export const formatLine = (
  pid: number,
  epochMicros: number,
  level: Level,
  message: string,
  options: { readonly logtime: boolean }
): string =>
  options.logtime
    ? `[${pid}] ${formatTimestamp(epochMicros)} [${level}] ${message}`
    : `[${pid}] [${level}] ${message}`

let clockOffset = Number.NaN

/**
 * Wall-clock time in microseconds since the epoch. `Date` only has milliseconds, so the sub-millisecond
 * part comes from the monotonic `process.hrtime()`, kept within the current `Date.now()` millisecond
 * (clock steps are followed at once). Not `performance.now()`: `node:perf_hooks` (and the global
 * `performance`, which loads it) is ~0.3 MiB of an idle server's RSS that nothing else needs.
 */
export const nowMicros = (): number => {
  const [s, ns] = process.hrtime()
  const mono = s * 1e6 + ns / 1000
  const wall = Date.now() * 1000
  if (Number.isNaN(clockOffset)) clockOffset = wall + 500 - mono
  let t = clockOffset + mono
  if (t < wall) {
    clockOffset += wall - t
    t = wall
  } else if (t >= wall + 1000) {
    clockOffset -= t - (wall + 999)
    t = wall + 999
  }
  return Math.floor(t)
}

const hostPort = (ip: string, port: number): string => {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (v4 !== null) return `${v4[1]}:${port}`
  return HostPort.format(ip, port)
}

/** What a client's CONNECT said about itself. */
export interface ClientIdentity {
  readonly version?: string | undefined
  readonly lang?: string | undefined
  readonly name?: string | undefined
}

/**
 * The prefix of connection-scoped messages: `127.0.0.1:50496 - cid:5 - `, and once the client's CONNECT
 * gave a version/lang/name, `127.0.0.1:50496 - cid:5 - "v0.1:node:t1" - `. IPv4-mapped IPv6 addresses
 * are shown as IPv4, other IPv6 addresses in brackets.
 */
export const connPrefix = (
  ip: string,
  port: number,
  kind: "cid" | "rid",
  id: number | string,
  client?: ClientIdentity
): string => {
  const base = `${hostPort(ip, port)} - ${kind}:${id} - `
  if (client === undefined) return base
  const version = client.version ?? ""
  const lang = client.lang ?? ""
  const name = client.name ?? ""
  if (version === "" && lang === "" && name === "") return base
  return `${base}${JSON.stringify(`v${version}:${lang}:${name}`)} - `
}

// ---------------------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------------------

/** Could not open (or reopen) the log file at `path`; `cause` is the file system's error. */
export class LogError extends Data.TaggedError("LogError")<{ readonly path: string; readonly cause: unknown }> {
  override get message(): string {
    return `unable to open log file ${this.path}: ${errorText(this.cause)}`
  }
}

/** Where formatted lines go (without newline). */
export interface LogSink {
  readonly write: (line: string) => void
  /** Reopen the underlying file; `undefined` when the sink is not a file. */
  readonly reopen?: () => Result.Result<void, LogError>
  readonly close?: () => void
}

export const stderrSink: LogSink = {
  write: (line) => {
    process.stderr.write(`${line}\n`)
  }
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Appends to `path` (created with mode 0640 if missing), one synchronous write per line. */
export const fileSink = (path: string): Result.Result<LogSink, LogError> => {
  const open = (): Result.Result<number, LogError> => {
    try {
      return Result.succeed(fs.openSync(path, "a", 0o640))
    } catch (e) {
      return Result.fail(new LogError({ path, cause: e }))
    }
  }
  const first = open()
  if (Result.isFailure(first)) return Result.fail(first.failure)
  let fd: number | undefined = first.success
  const closeFd = () => {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd)
      } catch {
        // already closed
      }
      fd = undefined
    }
  }
  return Result.succeed({
    write: (line) => {
      if (fd === undefined) return
      try {
        fs.writeSync(fd, `${line}\n`)
      } catch {
        // Nowhere better to report it; a full disk must not take the server down.
      }
    },
    reopen: () => {
      const next = open()
      if (Result.isFailure(next)) return Result.fail(next.failure)
      closeFd()
      fd = next.success
      return Result.succeed(undefined)
    },
    close: closeFd
  })
}

// ---------------------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------------------

export interface LogLevels {
  readonly debug: boolean
  readonly trace: boolean
  /** Leave out to keep the current setting. */
  readonly logtime?: boolean
}

export interface LogShape {
  readonly info: (message: string) => void
  readonly debug: (message: string) => void
  readonly trace: (message: string) => void
  readonly warn: (message: string) => void
  readonly error: (message: string) => void
  /** Logs at `[FTL]`; stopping the server is the caller's business. */
  readonly fatal: (message: string) => void
  /** Current setting (changes with `setLevels`): check before building an expensive message. */
  readonly debugEnabled: boolean
  readonly traceEnabled: boolean
  readonly logtime: boolean
  /** For config reload. */
  readonly setLevels: (levels: LogLevels) => void
  /**
   * Reopen the log file (SIGUSR1): logs `File log re-opened`, or `File log re-open ignored, not a file
   * logger` when logging to stderr; on failure keeps the old file and logs the error.
   */
  readonly reopen: () => void
  /**
   * Switch output to another file (`undefined` → stderr), for config reload. On failure the current
   * output is kept and the error returned.
   */
  readonly setFile: (path: string | undefined) => Result.Result<void, LogError>
}

export interface LogOptions {
  readonly debug?: boolean | undefined
  readonly trace?: boolean | undefined
  readonly logtime?: boolean | undefined
  readonly logFile?: string | undefined
  /** Defaults to `process.pid`. */
  readonly pid?: number | undefined
  /** Microseconds since the epoch; defaults to `nowMicros`. */
  readonly now?: (() => number) | undefined
}

/**
 * Builds a logger over a sink. `openFile` is used by `setFile` (defaults to `fileSink`); the returned
 * `close` releases the current sink.
 */
export const makeLog = (
  options: LogOptions,
  sink: LogSink,
  openFile: (path: string) => Result.Result<LogSink, LogError> = fileSink
): { readonly log: LogShape; readonly close: () => void } => {
  const pid = options.pid ?? process.pid
  const now = options.now ?? nowMicros
  let debugOn = options.debug ?? false
  let traceOn = options.trace ?? false
  let logtime = options.logtime ?? true
  let current = sink

  const emit = (level: Level, message: string) => {
    current.write(formatLine(pid, logtime ? now() : 0, level, message, { logtime }))
  }

  const log: LogShape = {
    info: (message) => emit("INF", message),
    debug: (message) => {
      if (debugOn) emit("DBG", message)
    },
    trace: (message) => {
      if (traceOn) emit("TRC", message)
    },
    warn: (message) => emit("WRN", message),
    error: (message) => emit("ERR", message),
    fatal: (message) => emit("FTL", message),
    get debugEnabled() {
      return debugOn
    },
    get traceEnabled() {
      return traceOn
    },
    get logtime() {
      return logtime
    },
    setLevels: (levels) => {
      debugOn = levels.debug
      traceOn = levels.trace
      if (levels.logtime !== undefined) logtime = levels.logtime
    },
    reopen: () => {
      if (current.reopen === undefined) {
        emit("INF", "File log re-open ignored, not a file logger")
        return
      }
      const r = current.reopen()
      if (Result.isFailure(r)) emit("ERR", r.failure.message)
      else emit("INF", "File log re-opened")
    },
    setFile: (path) => {
      if (path === undefined) {
        if (current !== stderrSink) {
          current.close?.()
          current = stderrSink
        }
        return Result.succeed(undefined)
      }
      const next = openFile(path)
      if (Result.isFailure(next)) return Result.fail(next.failure)
      current.close?.()
      current = next.success
      return Result.succeed(undefined)
    }
  }
  return { log, close: () => current.close?.() }
}

/** In-memory lines written through `Log.layerTest`. */
export interface LogLinesShape {
  readonly lines: ReadonlyArray<string>
  readonly clear: () => void
}

export class LogLines extends Context.Service<LogLines, LogLinesShape>()("effect-nats-server/LogLines") {}

/** A logger that keeps its lines in memory (for tests). */
export const makeTestLog = (options: LogOptions = {}): { readonly log: LogShape; readonly lines: LogLinesShape } => {
  const lines: Array<string> = []
  const memory: LogSink = { write: (line) => void lines.push(line) }
  const { log } = makeLog(options, memory, () => Result.succeed(memory))
  return { log, lines: { lines, clear: () => void lines.splice(0, lines.length) } }
}

const levelOf = (level: string): Level | undefined => {
  switch (level) {
    case "Fatal":
      return "FTL"
    case "Error":
      return "ERR"
    case "Warn":
      return "WRN"
    case "Info":
      return "INF"
    case "Debug":
      return "DBG"
    case "Trace":
    case "All":
      return "TRC"
    default:
      return undefined
  }
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts
    .map((part) => {
      if (typeof part === "string") return part
      if (part instanceof Error) return part.message
      try {
        return JSON.stringify(part) ?? String(part)
      } catch {
        return String(part)
      }
    })
    .join(" ")
}

/** An Effect `Logger` that writes through `log` (used by `Log.effectLogger`). */
export const toEffectLogger = (log: LogShape): Logger.Logger<unknown, void> =>
  Logger.make((options) => {
    const level = levelOf(options.logLevel)
    if (level === undefined) return
    if (level === "DBG" && !log.debugEnabled) return
    if (level === "TRC" && !log.traceEnabled) return
    let text = messageText(options.message)
    if (options.cause.reasons.length > 0) text = `${text}${text === "" ? "" : " "}${Cause.pretty(options.cause)}`
    switch (level) {
      case "INF":
        return log.info(text)
      case "DBG":
        return log.debug(text)
      case "TRC":
        return log.trace(text)
      case "WRN":
        return log.warn(text)
      case "ERR":
        return log.error(text)
      case "FTL":
        return log.fatal(text)
    }
  })

export class Log extends Context.Service<Log, LogShape>()("effect-nats-server/Log") {
  /**
   * Logs to stderr, or appends to `options.logFile`; the file is closed with the layer. Accepts the
   * decoded `ServerOptions` directly.
   */
  static readonly layer = (options: LogOptions): Layer.Layer<Log, LogError> =>
    Layer.effect(
      Log,
      Effect.acquireRelease(
        Effect.suspend(() => {
          if (options.logFile === undefined) return Effect.succeed(makeLog(options, stderrSink))
          const sink = fileSink(options.logFile)
          return Result.isFailure(sink)
            ? Effect.fail(sink.failure)
            : Effect.succeed(makeLog(options, sink.success))
        }),
        (made) => Effect.sync(made.close)
      ).pipe(Effect.map((made) => made.log))
    )

  /** Collects lines in memory (every level on, timestamps on); read them through `LogLines`. */
  static readonly layerTest: Layer.Layer<Log | LogLines> = Layer.effectContext(
    Effect.sync(() => {
      const { log, lines } = makeTestLog({ debug: true, trace: true })
      return Context.make(Log, log).pipe(Context.add(LogLines, lines))
    })
  )

  /** Like `layerTest`, with chosen levels / pid / clock. */
  static readonly layerTestWith = (options: LogOptions): Layer.Layer<Log | LogLines> =>
    Layer.effectContext(
      Effect.sync(() => {
        const { log, lines } = makeTestLog(options)
        return Context.make(Log, log).pipe(Context.add(LogLines, lines))
      })
    )

  /**
   * Replaces Effect's default logger so `Effect.log*` (and errors logged by Effect modules) come out in
   * the same format, filtered by the same debug/trace settings (it also lowers Effect's
   * `MinimumLogLevel` to `All`, so that `Log`'s own settings decide).
   */
  static readonly effectLogger: Layer.Layer<never, never, Log> = Layer.merge(
    Layer.succeed(References.MinimumLogLevel, "All"),
    Logger.layer([Effect.gen(function*() {
      return toEffectLogger(yield* Log)
    })])
  )
}
