/**
 * The executable: nats-server's command line in front of `NatsServer.layer`. The process that runs
 * this is the server itself, so signals reach it: SIGINT and SIGTERM close the Layer's scope, which
 * closes every client and route cleanly.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { loadConfigFile } from "./config/ConfigFile.js"
import { mergeOptions, parseFlags, usage, validateFlags } from "./config/Flags.js"
import { decodeServerOptions, type ServerOptionsInput } from "./config/ServerOptions.js"
import * as NatsServer from "./NatsServer.js"
import { SERVER_NAME, SERVER_VERSION } from "./server/ServerState.js"

const fail = (message: string): never => {
  process.stderr.write(`${SERVER_NAME}: ${message}\n`)
  process.exit(1)
}

const main = async () => {
  const parsed = parseFlags(process.argv.slice(2))
  if (Result.isFailure(parsed)) return fail(parsed.failure.message)
  const { command, configFile } = parsed.success
  if (command === "help") {
    process.stdout.write(usage())
    return
  }
  if (command === "version") {
    process.stdout.write(`${SERVER_NAME}: v${SERVER_VERSION}\n`)
    return
  }
  let fromFile: ServerOptionsInput = {}
  if (configFile !== undefined) {
    const loaded = await Effect.runPromise(Effect.result(loadConfigFile(configFile)))
    if (Result.isFailure(loaded)) return fail(loaded.failure.message)
    fromFile = loaded.success.options
    for (const w of loaded.success.warnings) process.stderr.write(`${w}\n`)
  }
  const merged = validateFlags(mergeOptions(fromFile, parsed.success.options))
  if (Result.isFailure(merged)) return fail(merged.failure.message)
  let options
  try {
    options = decodeServerOptions(merged.success)
  } catch (e) {
    return fail(String((e as Error).message))
  }
  if (command === "test-config") {
    process.stdout.write(`${SERVER_NAME}: configuration file ${configFile ?? "(none)"} test is successful\n`)
    return
  }
  if (typeof command === "object") return fail(`command not supported yet: ${JSON.stringify(command)}`)
  NodeRuntime.runMain(Layer.launch(NatsServer.layer(options)), { disableErrorReporting: false })
}

void main()
