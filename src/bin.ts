/**
 * The executable: nats-server's command line in front of the broker. The process that runs this
 * is the server itself (no wrapper), so signals and exit codes reach it (see `Main`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { parseFlags, usage } from "./config/Flags.js"
import { sendSignal } from "./config/Signal.js"
import { SERVER_NAME, SERVER_VERSION } from "./server/ServerState.js"

const fail = (message: string): never => {
  process.stderr.write(`${SERVER_NAME}: ${message}\n`)
  process.exit(1)
}

const main = async (): Promise<void> => {
  const parsed = parseFlags(process.argv.slice(2))
  if (Result.isFailure(parsed)) return fail(parsed.failure.message)
  const { command, configFile, options: flags } = parsed.success
  if (command === "help") {
    process.stdout.write(usage())
    return
  }
  if (command === "version") {
    process.stdout.write(`${SERVER_NAME}: v${SERVER_VERSION}\n`)
    return
  }
  if (typeof command === "object" && "signal" in command) {
    const sent = sendSignal(command.signal, command.pid)
    if (Result.isFailure(sent)) return fail(sent.failure.message)
    return
  }
  // `pub` / `sub`: a client, not a server (see client/Cli.ts).
  // nats-server's wording (main.go): -t needs a file to test.
  if (command === "test-config" && configFile === undefined) return fail("must specify [-c, --config] option to check configuration file syntax")
  // Loaded only for what this run does: start-up time is module loading (see docs/DESIGN.md).
  if (typeof command === "object") return (await import("./client/Cli.js")).main(command)
  const { runLoadOptions, runServe } = await import("./Main.js")
  const input = { configFile, flags }
  const loaded = await runLoadOptions(input)
  if (Result.isFailure(loaded)) return fail(loaded.failure.message)
  for (const w of loaded.success.warnings) process.stderr.write(`${w}\n`)
  if (command === "test-config") {
    process.stderr.write(`${SERVER_NAME}: configuration file ${configFile} is valid\n`)
    return
  }
  const code = await runServe(input, loaded.success.options)
  process.exit(code)
}

void main()
