/**
 * `--signal <cmd>[=<pid|pidfile>]`: send a signal to a running server, as `nats-server --signal`.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
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

/** Resolve the target pid: a number, a pid file, or the one running server. */
export const resolvePid = (pid: string | undefined): Result.Result<number, string> => {
  if (pid === undefined) {
    const found = findServers()
    if (found.length === 0) return Result.fail("no effect-nats-server process running")
    if (found.length > 1) return Result.fail(`multiple effect-nats-server processes running:\n${found.join("\n")}`)
    return Result.succeed(found[0]!)
  }
  if (/^\d+$/.test(pid)) return Result.succeed(Number(pid))
  try {
    const text = fs.readFileSync(pid, "utf8").trim()
    if (/^\d+$/.test(text)) return Result.succeed(Number(text))
    return Result.fail(`could not read pid from file ${pid}`)
  } catch (e) {
    return Result.fail(`could not read pid file ${pid}: ${(e as Error).message}`)
  }
}

export const sendSignal = (command: SignalCommand, pid: string | undefined): Result.Result<void, string> =>
  Result.flatMap(resolvePid(pid), (target) => {
    try {
      process.kill(target, SIGNALS[command])
      return Result.succeed(undefined)
    } catch (e) {
      return Result.fail(`could not send ${command} to process ${target}: ${(e as Error).message}`)
    }
  })
