/**
 * Server processes under test: command templates, free ports, start (optionally pinned with
 * taskset), readiness (connect until INFO arrives), route readiness for 2-node clusters (probe
 * messages flow both ways), CPU accounting from /proc and stop (SIGTERM, then SIGKILL, by PID).
 *
 * Template placeholders: {port} {cport} {routes} {name} {repo}. Templates are split on
 * whitespace (no shell). When a node has no routes, a `{routes}` token is dropped together with a
 * directly preceding `--routes`/`-routes` flag, so one cluster template serves both nodes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { HOST, RawConn, sleep, withTimeout } from "./client.js"

export interface Templates {
  /** Standalone server. */
  single: string
  /** Cluster node; node A gets no routes, node B routes to A. */
  cluster: string
}

export const refTemplates: Templates = {
  single: "nats-server -a 127.0.0.1 -p {port}",
  cluster: "nats-server -a 127.0.0.1 -p {port} --cluster nats://127.0.0.1:{cport} --cluster_name bench --routes {routes}"
}

export const oursTemplates: Templates = {
  single: "{repo}/bin/effect-nats-server.js -a 127.0.0.1 -p {port}",
  cluster:
    "{repo}/bin/effect-nats-server.js -a 127.0.0.1 -p {port} --cluster nats://127.0.0.1:{cport} --cluster_name bench --routes {routes}"
}

export interface Placeholders {
  port: number
  cport?: number
  routes?: string
  name: string
  repo: string
}

/** Expands a template into argv (see the module comment for the `{routes}` rule). */
export const expandTemplate = (template: string, p: Placeholders): string[] => {
  const tokens = template.trim().split(/\s+/).filter((t) => t.length > 0)
  const routes = p.routes ?? ""
  const out: string[] = []
  for (const token of tokens) {
    if (token === "{routes}" && routes === "") {
      const prev = out[out.length - 1]
      if (prev === "--routes" || prev === "-routes") out.pop()
      continue
    }
    out.push(
      token
        .replaceAll("{port}", String(p.port))
        .replaceAll("{cport}", String(p.cport ?? 0))
        .replaceAll("{routes}", routes)
        .replaceAll("{name}", p.name)
        .replaceAll("{repo}", p.repo)
    )
  }
  return out
}

/** True if `cmd` is an executable on PATH (or an existing path). */
export const onPath = (cmd: string): boolean => {
  if (cmd.includes("/")) return fs.existsSync(cmd)
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    if (dir === "") continue
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK)
      return true
    } catch {
      // not in this directory
    }
  }
  return false
}

/**
 * `n` distinct free ports: bind port 0 n times while holding all listeners (so the kernel hands
 * out n different ports), then close them.
 */
export const freePorts = async (n: number): Promise<number[]> => {
  const servers: net.Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < n; i++) {
      const s = net.createServer()
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject)
        s.listen(0, HOST, () => resolve())
      })
      const addr = s.address()
      if (addr === null || typeof addr === "string") throw new Error("no port")
      ports.push(addr.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}

/** One free port (see `freePorts`). */
export const freePort = async (): Promise<number> => (await freePorts(1))[0]!

/** Every child we started, so that an interrupted run still stops them (by PID only). */
const live = new Set<ChildProcess>()
export const killAllSync = (): void => {
  for (const c of live) {
    try {
      c.kill("SIGKILL")
    } catch {
      // already gone
    }
  }
  live.clear()
}

export interface ServerProcess {
  readonly name: string
  readonly port: number
  readonly argv: ReadonlyArray<string>
  readonly pid: number
  /** Last lines of stdout/stderr, for error messages. */
  logTail(): string
  exited(): boolean
  stop(): Promise<void>
}

export interface StartOptions {
  repo: string
  /** taskset CPU list for servers, or undefined for no pinning. */
  cpus: string | undefined
  readyTimeoutMs: number
}

const startProcess = (name: string, argv: ReadonlyArray<string>, port: number, opts: StartOptions): ServerProcess => {
  const [cmd, ...args] = opts.cpus === undefined ? argv : ["taskset", "-c", opts.cpus, ...argv]
  if (cmd === undefined) throw new Error("empty server command")
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] })
  live.add(child)
  const tail: string[] = []
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue
      tail.push(line)
      if (tail.length > 40) tail.shift()
    }
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  let exitedFlag = false
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exitedFlag = true
      live.delete(child)
      resolve()
    })
    child.once("error", (err) => {
      tail.push(`spawn error: ${err.message}`)
      exitedFlag = true
      live.delete(child)
      resolve()
    })
  })
  return {
    name,
    port,
    argv,
    pid: child.pid ?? -1,
    logTail: () => tail.join("\n"),
    exited: () => exitedFlag,
    stop: async () => {
      if (exitedFlag) return
      child.kill("SIGTERM")
      const t = setTimeout(() => child.kill("SIGKILL"), 5000)
      await exit
      clearTimeout(t)
    }
  }
}

/** Connects until the server greets with INFO (or the process dies, or the deadline passes). */
export const waitReady = async (server: ServerProcess, timeoutMs: number, tlsCa?: string): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  let lastError = ""
  while (Date.now() < deadline) {
    if (server.exited()) throw new Error(`${server.name} exited during startup:\n${server.logTail()}`)
    try {
      const conn = await RawConn.connect(server.port, { timeoutMs: 1000, ...(tlsCa !== undefined ? { tlsCa } : {}) })
      await conn.close()
      return
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err)
      await sleep(25)
    }
  }
  throw new Error(`${server.name} not ready after ${timeoutMs} ms (${lastError}):\n${server.logTail()}`)
}

/** Resolves once a message published on `pubPort` reaches a subscriber on `subPort`. */
const routeFlows = async (subPort: number, pubPort: number, timeoutMs: number): Promise<void> => {
  const subject = `_bench.route.${subPort}.${pubPort}.${Math.floor(Math.random() * 1e9)}`
  const sub = await RawConn.connect(subPort, { subs: [{ subject, sid: 1 }] })
  const pub = await RawConn.connect(pubPort)
  try {
    let seen = false
    sub.onMsg = () => (seen = true)
    await withTimeout(
      (async () => {
        while (!seen) {
          pub.write(`PUB ${subject} 0\r\n\r\n`)
          await sleep(20)
        }
      })(),
      timeoutMs,
      `route ${pubPort} -> ${subPort}`
    )
  } finally {
    await Promise.all([sub.close(), pub.close()])
  }
}

/** A running topology: standalone (A = B) or a 2-node cluster. */
export interface Deployment {
  readonly a: ServerProcess
  readonly b: ServerProcess
  readonly servers: ReadonlyArray<ServerProcess>
  /** The CA clients verify the servers with, when they serve TLS. */
  readonly tlsCa?: string
  stop(): Promise<void>
}

/** A standalone server; with `tls` it also gets `--tls --tlscert … --tlskey …` (the same flags for both). */
export const startStandalone = async (templates: Templates, opts: StartOptions, tls?: BenchCerts): Promise<Deployment> => {
  const [port] = await freePorts(1)
  const argv = [
    ...expandTemplate(templates.single, { port: port!, name: "S", repo: opts.repo }),
    ...(tls !== undefined ? ["--tls", "--tlscert", tls.cert, "--tlskey", tls.key] : [])
  ]
  const s = startProcess("S", argv, port!, opts)
  const stop = async (): Promise<void> => s.stop()
  try {
    await waitReady(s, opts.readyTimeoutMs, tls?.ca)
  } catch (err) {
    await stop()
    throw err
  }
  return { a: s, b: s, servers: [s], stop, ...(tls !== undefined ? { tlsCa: tls.ca } : {}) }
}

export interface BenchCerts {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

let certs: BenchCerts | undefined

/** A CA and a server certificate for 127.0.0.1/localhost, made once per process with openssl. */
export const benchCerts = (): BenchCerts => {
  if (certs !== undefined) return certs
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tls-"))
  const run = (args: ReadonlyArray<string>) => {
    const r = spawnSync("openssl", [...args], { cwd: dir, encoding: "utf8" })
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`)
  }
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  run(["req", "-x509", ...ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA"])
  run(["req", ...ec, "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost"])
  fs.writeFileSync(path.join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
  run(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"])
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  certs = { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server-key.pem") }
  return certs
}

export const startCluster = async (templates: Templates, opts: StartOptions): Promise<Deployment> => {
  const [pa, ca, pb, cb] = (await freePorts(4)) as [number, number, number, number]
  const argvA = expandTemplate(templates.cluster, { port: pa, cport: ca, name: "A", repo: opts.repo })
  const argvB = expandTemplate(templates.cluster, {
    port: pb,
    cport: cb,
    routes: `nats://127.0.0.1:${ca}`,
    name: "B",
    repo: opts.repo
  })
  const started: ServerProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop()))
  }
  try {
    // A first, so B's route finds A listening and does not wait for a reconnect interval.
    const a = startProcess("A", argvA, pa, opts)
    started.push(a)
    await waitReady(a, opts.readyTimeoutMs)
    const b = startProcess("B", argvB, pb, opts)
    started.push(b)
    await waitReady(b, opts.readyTimeoutMs)
    await routeFlows(pa, pb, opts.readyTimeoutMs)
    await routeFlows(pb, pa, opts.readyTimeoutMs)
    return { a, b, servers: [a, b], stop }
  } catch (err) {
    await stop()
    throw err
  }
}

const CLK_TCK = 100

/** CPU seconds (user + system) a process has used so far, from /proc; NaN when unavailable. */
export const processCpuSeconds = (pid: number): number => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return NaN
  }
}

/** CPU seconds the whole host has been busy (all CPUs, from /proc/stat); NaN when unavailable. */
export const hostBusySeconds = (): number => {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
    return (total - v[3]! - v[4]!) / CLK_TCK
  } catch {
    return NaN
  }
}

/** True if `taskset` can be used (present and allowed to set affinity). */
export const tasksetWorks = (): boolean => {
  if (!onPath("taskset")) return false
  const r = spawnSync("taskset", ["-p", String(process.pid)], { encoding: "utf8" })
  return r.status === 0
}

/** Pins every thread of this process (workers created later inherit it). */
export const pinSelf = (cpus: string): boolean => {
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(process.pid)], { encoding: "utf8" })
  return r.status === 0
}
