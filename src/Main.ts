/**
 * The server process: options from the config file and the command line, the broker's Layers in
 * one scope, the pid and ports files, and nats-server's signals —
 *
 * | signal  | effect                                         | exit code |
 * |---------|------------------------------------------------|-----------|
 * | SIGINT  | shut down                                      | 0         |
 * | SIGTERM | shut down (ignored during lame duck)           | 1         |
 * | SIGHUP  | reload the config file                         |           |
 * | SIGUSR1 | reopen the log file                            |           |
 * | SIGUSR2 | lame-duck mode, then shut down                 | 0         |
 *
 * Shutting down closes the scope, so every client, route and listener is closed by its own
 * finalizer before the process exits.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { OperatorJwtError } from "./config/AccountsStartup.js"
import { readOperator } from "./accounts/Resolver.js"
import { mergeOptions, validateFlags } from "./config/Flags.js"
import { decodeOptions, type LoadOptionsError } from "./config/OptionsError.js"
import type { ServerOptions, ServerOptionsInput } from "./config/ServerOptions.js"
import { formatLine, nowMicros } from "./log/Log.js"
import { ErrText } from "./protocol/ProtocolError.js"
import * as Option from "effect/Option"
import { Cluster, type ClusterState } from "./cluster/Cluster.js"
import { Log } from "./log/Log.js"
import { loadTls } from "./net/Tls.js"
import { ServerCore } from "./server/ServerCore.js"
import * as ServerLayers from "./ServerLayers.js"
import { lameDuck } from "./server/LameDuck.js"
import { deletePortsFile, writePidFile, writePortsFile } from "./server/ProcessFiles.js"
import type { ServerState } from "./server/ServerState.js"

export interface StartInput {
  readonly configFile: string | undefined
  /** What the command line set; it wins over the file. */
  readonly flags: ServerOptionsInput
}

/**
 * Read the config file (if any), lay the flags over it, validate and decode. The config file's
 * parser is imported only when there is a file: a module evaluated at start-up stays in the idle
 * server's heap.
 */
export const loadOptions = (input: StartInput): Effect.Effect<{ options: ServerOptions; warnings: Array<string> }, LoadOptionsError> =>
  Effect.gen(function*() {
    let fromFile: ServerOptionsInput = {}
    let warnings: Array<string> = []
    if (input.configFile !== undefined) {
      const { loadConfigFile } = yield* Effect.promise(() => import("./config/ConfigFile.js"))
      const loaded = yield* loadConfigFile(input.configFile)
      fromFile = loaded.options
      warnings = loaded.warnings
    }
    const merged = validateFlags({ ...mergeOptions(fromFile, input.flags), ...(input.configFile !== undefined ? { configFile: input.configFile } : {}) })
    if (Result.isFailure(merged)) return yield* Effect.fail(merged.failure)
    const options = yield* decodeOptions(merged.success)
    // Operator JWT files too (nats-server's readOperatorJWT while parsing).
    for (const op of options.operators ?? []) {
      const read = readOperator(op)
      if (Result.isFailure(read)) return yield* Effect.fail(new OperatorJwtError({ entry: op, message: read.failure }))
    }
    // TLS files are read now, as nats-server does while parsing, so that -t reports them.
    for (const tls of [options.tls, options.cluster?.tls]) {
      if (tls !== undefined) yield* loadTls(tls)
    }
    return { options, warnings }
  })

type Signal = "SIGINT" | "SIGTERM" | "SIGHUP" | "SIGUSR1" | "SIGUSR2"
const SIGNAL_NAMES: Record<Signal, string> = {
  SIGINT: "interrupt",
  SIGTERM: "terminated",
  SIGHUP: "hangup",
  SIGUSR1: "user defined signal 1",
  SIGUSR2: "user defined signal 2"
}

/** Run the server until a signal ends it; resolves with the process exit code. */
export const serve = (input: StartInput, options: ServerOptions): Effect.Effect<number> =>
  Effect.gen(function*() {
    // Signals are trapped before anything starts, so none is lost while starting.
    const signals = yield* Queue.unbounded<Signal>()
    const handlers = (Object.keys(SIGNAL_NAMES) as Array<Signal>).map((sig) => {
      const handler = () => Queue.offerUnsafe(signals, sig)
      process.on(sig, handler)
      return [sig, handler] as const
    })
    const scope = yield* Scope.make()
    const built = yield* Effect.exit(Layer.buildWithScope(ServerLayers.layer(options).pipe(Layer.provide(Log.layer(options))), scope))
    if (Exit.isFailure(built)) {
      process.stderr.write(formatLine(process.pid, nowMicros(), "FTL", startupError(built.cause), { logtime: options.logtime }) + "\n")
      yield* Scope.close(scope, Exit.void)
      return 1
    }
    const server = Context.get(built.value, ServerCore)
    const cluster = Option.getOrUndefined(Context.getOption(built.value, Cluster))
    const log = server.log

    let inLameDuck = false
    let code: number | undefined
    while (code === undefined) {
      const sig = yield* Queue.take(signals)
      log.debug(`Trapped "${SIGNAL_NAMES[sig]}" signal`)
      switch (sig) {
        case "SIGINT":
          code = 0
          break
        case "SIGTERM":
          if (!inLameDuck) code = 1
          break
        case "SIGUSR1":
          log.reopen()
          break
        case "SIGHUP":
          yield* reload(input, server, cluster)
          break
        case "SIGUSR2":
          if (inLameDuck) break
          inLameDuck = true
          // Lame duck ends in a shutdown, signalled through the same queue.
          yield* lameDuck(server).pipe(
            Effect.andThen(Effect.sync(() => Queue.offerUnsafe(signals, "SIGINT"))),
            Effect.forkIn(scope)
          )
          break
      }
    }
    for (const [sig, handler] of handlers) process.off(sig, handler)
    yield* Scope.close(scope, Exit.void)
    return code
  })

const startupError = (cause: Cause.Cause<unknown>): string => {
  const err = Cause.squash(cause) as { message?: string; cause?: { message?: string; cause?: unknown } } | undefined
  const inner = (err as { reason?: { cause?: { message?: string } } })?.reason?.cause?.message
  return `Error starting server: ${inner ?? err?.message ?? String(err)}`
}

/** SIGHUP: read the file again and apply what may change; keep running either way. */
const reload = (input: StartInput, server: ServerState, cluster: ClusterState | undefined): Effect.Effect<void> =>
  Effect.gen(function*() {
    const log = server.log
    // Loaded with the first reload (see loadOptions).
    const [{ planReload }, { reloadAuthorization }] = yield* Effect.promise(() => Promise.all([import("./config/Reload.js"), import("./server/auth/AuthReload.js")]))
    if (input.configFile === undefined) {
      log.error("Failed to reload server configuration: can only reload config when a file is provided using -c or --config")
      return
    }
    const loaded = yield* Effect.result(loadOptions(input))
    if (Result.isFailure(loaded)) {
      log.error(`Failed to reload server configuration: ${loaded.failure.message}`)
      return
    }
    const next = loaded.success.options
    const plan = planReload(server.options, next)
    if (Result.isFailure(plan)) {
      log.error(`Failed to reload server configuration: ${plan.failure.message}`)
      return
    }
    const previous = server.options
    const authChanged = JSON.stringify(previous.authorization) !== JSON.stringify(next.authorization)
    const accountsChanged = JSON.stringify(previous.accounts) !== JSON.stringify(next.accounts)
    server.options = next
    if (accountsChanged) server.reloadAccounts()
    if (authChanged || accountsChanged) yield* reloadAuthorization(server)
    // nats-server's pidFileOption / portsFileDirOption.
    if (next.pidFile !== undefined && next.pidFile !== previous.pidFile) writePidFile(server)
    if (next.portsFileDir !== previous.portsFileDir) {
      if (previous.portsFileDir !== undefined) deletePortsFile(previous.portsFileDir)
      if (next.portsFileDir !== undefined) writePortsFile(server, next.portsFileDir)
    }
    if (cluster !== undefined && next.cluster !== undefined) cluster.reload(next.cluster)
    log.setLevels({ debug: next.debug, trace: next.trace, logtime: next.logtime })
    const file = log.setFile(next.logFile)
    if (Result.isFailure(file)) log.error(file.failure.message)
    const routes = plan.success.routes
    if (cluster?.explicitRoutes !== undefined && routes !== undefined) {
      for (const url of routes.remove) yield* cluster.explicitRoutes.remove(url)
      for (const url of routes.add) yield* cluster.explicitRoutes.add(url)
    }
    // nats-server's maxConnOption: close clients until within the new limit.
    if (next.maxConnections > 0 && server.clients.size > next.maxConnections) {
      const excess = [...server.clients.values()].slice(0, server.clients.size - next.maxConnections)
      for (const client of excess) client.close("Maximum Connections Exceeded", ErrText.maxConnections)
      log.info(`Closed ${excess.length} connections to fall within max_connections`)
    }
    for (const change of plan.success.changes) log.info(change)
    log.info("Reloaded server configuration")
  })

/**
 * {@link loadOptions} and {@link serve} run as Promises: the executable's way in (`bin.ts`). The
 * executable importing `effect/Effect` itself made its bundle build a namespace object for that
 * module — a getter per export, ~230 — for these two calls.
 */
export const runLoadOptions = (input: StartInput): Promise<Result.Result<{ options: ServerOptions; warnings: Array<string> }, LoadOptionsError>> =>
  Effect.runPromise(Effect.result(loadOptions(input)))

/** {@link serve} run: resolves with the process exit code. */
export const runServe = (input: StartInput, options: ServerOptions): Promise<number> => Effect.runPromise(serve(input, options))
