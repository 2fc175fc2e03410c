/**
 * `--signal <cmd>[=<pid|pidfile>]`: send a signal to a running server, as `nats-server --signal`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import type { SignalCommand } from "./Flags.js"

const SIGNALS: Record<SignalCommand, NodeJS.Signals> = {
  stop: "SIGKILL",
  quit: "SIGINT",
  term: "SIGTERM",
  reopen: "SIGUSR1",
  reload: "SIGHUP",
  ldm: "SIGUSR2"
}

/** Processes of this server other than ourselves (by command line), from /proc. */
const findServers = (): Array<number> => {
  const out: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      const isOurs = cmd.some((a) => a.endsWith("effect-nats-server") || a.endsWith("effect-nats-server.js") || a.endsWith("dist/src/bin.js"))
      if (isOurs && !cmd.includes("--signal") && !cmd.includes("-sl") && !cmd.some((a) => a.startsWith("--signal=") || a.startsWith("-signal"))) out.push(pid)
    } catch {
      // the process went away
    }
  }
  return out
}

/** `--signal` could not be delivered: no (or several) servers, an unreadable pid file, or `kill` failed (`cause`). */
export class SignalError extends Data.TaggedError("SignalError")<{ readonly message: string; readonly cause?: unknown }> {}

/** Resolve the target pid: a number, a pid file, or the one running server. */
export const resolvePid = (pid: string | undefined): Result.Result<number, SignalError> => {
  if (pid === undefined) {
    const found = findServers()
    if (found.length === 0) return Result.fail(new SignalError({ message: "no effect-nats-server process running" }))
    if (found.length > 1) return Result.fail(new SignalError({ message: `multiple effect-nats-server processes running:\n${found.join("\n")}` }))
    return Result.succeed(found[0]!)
  }
  if (/^\d+$/.test(pid)) return Result.succeed(Number(pid))
  try {
    const text = fs.readFileSync(pid, "utf8").trim()
    if (/^\d+$/.test(text)) return Result.succeed(Number(text))
    return Result.fail(new SignalError({ message: `could not read pid from file ${pid}` }))
  } catch (e) {
    return Result.fail(new SignalError({ message: `could not read pid file ${pid}: ${(e as Error).message}`, cause: e }))
  }
}

export const sendSignal = (command: SignalCommand, pid: string | undefined): Result.Result<void, SignalError> =>
  Result.flatMap(resolvePid(pid), (target) => {
    try {
      process.kill(target, SIGNALS[command])
      return Result.succeed(undefined)
    } catch (e) {
      return Result.fail(new SignalError({ message: `could not send ${command} to process ${target}: ${(e as Error).message}`, cause: e }))
    }
  })
