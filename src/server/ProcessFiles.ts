/**
 * The pid file (`-P`, `pid_file`) and the ports file (`--ports_file_dir`, `ports_file_dir`):
 * `<dir>/<program name>_<pid>.ports` with the URLs of every listener, the JSON that client
 * test harnesses read. The program name is the base name the process was started as, as
 * nats-server's `filepath.Base(os.Args[0])`: run through a symlink named `nats-server`, the file
 * is `nats-server_<pid>.ports`, which is what harnesses written for nats-server wait for. Written once the listeners are bound; the ports file is removed at
 * shutdown (the pid file stays, as with nats-server).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { ServerCore } from "./ServerCore.js"
import { SERVER_NAME, type ServerState } from "./ServerState.js"
import * as HostPort from "../values/HostPort.js"

/**
 * The name this process was started as: `argv0` when a wrapper set it (`exec -a nats-server
 * node …`), else the script's base name without its `.js`/`.cjs`/`.mjs` extension (Node keeps
 * the symlink's path in `argv[1]`).
 */
export const programName = (argv0: string = process.argv0, script: string | undefined = process.argv[1]): string => {
  const zero = path.basename(argv0)
  if (zero !== "" && !/^node(js)?(\.exe)?$/i.test(zero)) return zero
  if (script === undefined || script === "") return SERVER_NAME
  return path.basename(script).replace(/\.(c|m)?js$/, "")
}

/** What the ports file lists for `server`. */
export const portsOf = (server: ServerState): Record<string, Array<string>> => {
  const ports: Record<string, Array<string>> = { nats: server.ownClientUrls().map((u) => `nats://${u}`) }
  if (server.monitorAddress !== undefined) ports["monitoring"] = [`${server.options.httpsPort !== undefined ? "https" : "http"}://${HostPort.format(server.monitorAddress.host, server.monitorAddress.port)}`]
  const route = server.cluster?.routeAddress
  if (route !== undefined) ports["cluster"] = [`nats://${HostPort.format(route.host, route.port)}`]
  return ports
}

const portsFile = (dir: string): string => path.join(dir, `${programName()}_${process.pid}.ports`)

/** Write `options.pidFile` (if set); errors are logged, as nats-server does. */
export const writePidFile = (server: ServerState): void => {
  const { pidFile } = server.options
  if (pidFile === undefined) return
  try {
    fs.writeFileSync(pidFile, String(process.pid))
  } catch (e) {
    server.log.error(`Could not write pidfile: ${String(e)}`)
  }
}

/** Write the ports file into `dir`; errors are logged. */
export const writePortsFile = (server: ServerState, dir: string): void => {
  const file = portsFile(dir)
  try {
    fs.writeFileSync(file, JSON.stringify(portsOf(server)))
  } catch (e) {
    server.log.error(`Error writing ports file (${file}): ${String(e)}`)
  }
}

/** Remove the ports file from `dir` (shutdown, or `ports_file_dir` changed by a reload). */
export const deletePortsFile = (dir: string): void => {
  fs.rmSync(portsFile(dir), { force: true })
}

export const layer: Layer.Layer<never, never, ServerCore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* ServerCore
    yield* Effect.sync(() => writePidFile(server))
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        if (server.options.portsFileDir !== undefined) writePortsFile(server, server.options.portsFileDir)
      }),
      // The directory at shutdown: a reload may have moved the file.
      () =>
        Effect.sync(() => {
          if (server.options.portsFileDir !== undefined) deletePortsFile(server.options.portsFileDir)
        })
    )
  })
)
