/**
 * Test servers: ours in-process (a Layer on an ephemeral port, logs kept in memory), ours as a
 * child process (for signals and crashes), and real nats-server when it is installed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { Cluster, type ClusterState } from "../../src/cluster/Cluster.js"
import { decodeServerOptions, type ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { Log, LogLines } from "../../src/log/Log.js"
import { ServerCore } from "../../src/server/ServerCore.js"
import type { ServerState } from "../../src/server/ServerState.js"
import * as ServerLayers from "../../src/ServerLayers.js"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const binPath = path.join(repoRoot, "bin/effect-nats-server.js")

export interface TestServer {
  readonly port: number
  readonly url: string
  /** The server's internal state (router, clients, registries). */
  readonly broker: ServerState
  /** The cluster's state (routes, membership), when the server has a `cluster {}` block. */
  readonly cluster: ClusterState | undefined
  readonly lines: () => ReadonlyArray<string>
  readonly stop: () => Promise<void>
}

/** Our server in this process, on 127.0.0.1 and a random port. */
export const startServer = async (input: ServerOptionsInput = {}): Promise<TestServer> => {
  const options = decodeServerOptions({ host: "127.0.0.1", port: -1, ...input })
  const layer = ServerLayers.layer(options).pipe(
    Layer.provideMerge(Log.layerTestWith({ debug: options.debug, trace: options.trace }))
  )
  const runtime = ManagedRuntime.make(layer)
  const broker = await runtime.runPromise(Effect.service(ServerCore))
  const cluster = Option.getOrUndefined(await runtime.runPromise(Effect.serviceOption(Cluster)))
  const lines = await runtime.runPromise(Effect.service(LogLines))
  const port = broker.listen!.port
  return { port, url: `nats://127.0.0.1:${port}`, broker, cluster, lines: () => lines.lines, stop: () => runtime.dispose() }
}

/** The kernel's ephemeral port range (where listen(0) and outgoing connections take ports). */
const ephemeralRange = (): [number, number] => {
  try {
    const [lo, hi] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number)
    if (lo !== undefined && hi !== undefined && lo > 0) return [lo, hi]
  } catch {
    // not Linux
  }
  return [32768, 60999]
}

const canListen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = net.createServer()
    srv.once("error", () => resolve(false))
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)))
  })

const handedOut = new Set<number>()

/**
 * A port that was free a moment ago, for a server a test starts later (or restarts on the same
 * port). It is picked at random *below* the ephemeral range: a port from `listen(0)` can be handed
 * to some other test's outgoing connection (the suite makes tens of thousands) before the server
 * binds it — EADDRINUSE. Never the same port twice in one process.
 */
export const freePort = async (): Promise<number> => {
  const [lo] = ephemeralRange()
  const base = Math.max(1024, lo - 12_000)
  for (;;) {
    const port = base + Math.floor(Math.random() * (lo - base))
    if (handedOut.has(port)) continue
    if (await canListen(port)) {
      handedOut.add(port)
      return port
    }
  }
}

export interface ChildServer {
  readonly child: ChildProcess
  readonly port: number
  readonly url: string
  /** Everything the process wrote to stderr/stdout so far. */
  readonly output: () => string
  /** Resolves when a line containing `text` has been written (now or later). */
  readonly waitFor: (text: string | RegExp, timeoutMs?: number) => Promise<string>
  readonly exited: Promise<number | null>
  readonly stop: () => Promise<void>
}

/**
 * Run `command args` and wait until it logs that it listens for clients. Port placeholders are the
 * caller's business; the port is read back from the log line.
 */
export const startProcess = async (command: string, args: ReadonlyArray<string>, readyText: string | RegExp = "Server is ready"): Promise<ChildServer> => {
  const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  const waiters = new Set<() => void>()
  const onData = (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) w()
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    for (const w of [...waiters]) w()
    resolve(code)
  }))
  const waitFor = (text: string | RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const lines = out.split("\n")
        const hit = lines.find((l) => (typeof text === "string" ? l.includes(text) : text.test(l)))
        if (hit !== undefined) {
          waiters.delete(check)
          clearTimeout(timer)
          resolve(hit)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check)
          clearTimeout(timer)
          reject(new Error(`process exited before "${String(text)}":\n${out}`))
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`timed out waiting for "${String(text)}":\n${out}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  await waitFor(readyText)
  const listening = await waitFor(/Listening for client connections on/)
  const port = Number(/:(\d+)\s*$/.exec(listening.trim())?.[1])
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await exited
  }
  return { child, port, url: `nats://127.0.0.1:${port}`, output: () => out, waitFor, exited, stop }
}

/** Our binary as a child process. */
export const startOurs = (args: ReadonlyArray<string>) => startProcess(process.execPath, [binPath, ...args])

export const natsServerPath: string | undefined = (() => {
  const r = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
})()

/** Real nats-server as a child process (tests that need it are skipped when it is missing). */
export const startNatsServer = (args: ReadonlyArray<string>) => startProcess(natsServerPath!, args)
