/**
 * Start-up benchmark: exec → first INFO byte on the client port, for our server, real nats-server
 * (when installed) and a bare `node` listener, interleaved in one run so they share the machine's
 * load; three of ours started at once; and restart → full mesh for a three-node cluster (a member
 * with a configured route is stopped gracefully and started again; the mesh is full when every
 * member's client INFO lists all three client URLs).
 *
 *   npm run bench:startup [-- --runs N]      (node dist/bench/startup.js)
 *
 * Prints best and median per row, in milliseconds. A measurement, not a test: numbers vary with
 * what else the machine runs — read the rows side by side.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "./servers.js"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const ours = path.join(repo, "bin/effect-nats-server.js")
const natsServer = (() => {
  const r = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
})()

const runsArg = process.argv.indexOf("--runs")
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10


/** Resolves with the first chunk a connection to `port` receives, retrying until it connects. */
const firstInfo = (port: number, deadlineMs = 20_000): Promise<string> => {
  const deadline = Date.now() + deadlineMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ port, host: "127.0.0.1" })
      let buf = ""
      s.on("data", (d) => {
        buf += d.toString()
        const end = buf.indexOf("\r\n")
        if (end >= 0) {
          s.destroy()
          resolve(buf.slice(0, end))
        }
      })
      s.on("error", () => {
        s.destroy()
        if (Date.now() > deadline) reject(new Error(`nothing accepted on ${port}`))
        else setTimeout(attempt, 2)
      })
    }
    attempt()
  })
}

const kill = (child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill(signal)
  })

const run = (cmd: string, args: ReadonlyArray<string>) => spawn(cmd, [...args], { stdio: ["ignore", "ignore", "pipe"] })

const BARE = `require("node:net").createServer((s) => s.end("INFO {}\\r\\n")).listen(Number(process.argv[1]), "127.0.0.1")`

type Impl = { readonly name: string; readonly start: (port: number) => ChildProcess }
const impls: Array<Impl> = [
  { name: "bare node listener", start: (port) => run(process.execPath, ["-e", BARE, String(port)]) },
  { name: "effect-nats-server", start: (port) => run(ours, ["-a", "127.0.0.1", "-p", String(port)]) }
]
if (natsServer !== undefined) impls.push({ name: "nats-server", start: (port) => run(natsServer, ["-a", "127.0.0.1", "-p", String(port)]) })

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; 10 ms ticks). */
const cpuMs = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return NaN
  }
}

const execToAccept = async (impl: Impl): Promise<{ wall: number; cpu: number }> => {
  const port = await freePort()
  const t0 = performance.now()
  const child = impl.start(port)
  await firstInfo(port)
  const wall = performance.now() - t0
  const cpu = cpuMs(child.pid!)
  await kill(child)
  return { wall, cpu }
}

const threeAtOnce = async (): Promise<number> => {
  const ports = await Promise.all([freePort(), freePort(), freePort()])
  const t0 = performance.now()
  const children = ports.map((p) => impls[1]!.start(p))
  await Promise.all(ports.map((p) => firstInfo(p)))
  const ms = performance.now() - t0
  await Promise.all(children.map((c) => kill(c)))
  return ms
}

interface Node {
  readonly port: number
  readonly cport: number
  child?: ChildProcess
}

const clusterArgs = (n: Node, seed: Node | undefined) => {
  const args = ["-a", "127.0.0.1", "-p", String(n.port), "--cluster", `nats://127.0.0.1:${n.cport}`, "--cluster_name", "startup"]
  if (seed !== undefined) args.push("--routes", `nats://127.0.0.1:${seed.cport}`)
  return args
}

/** Every member's client INFO lists all three client URLs. */
const fullMesh = async (nodes: ReadonlyArray<Node>, deadlineMs = 20_000): Promise<void> => {
  const want = nodes.map((n) => `127.0.0.1:${n.port}`).sort().join(",")
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const infos = await Promise.all(nodes.map((n) => firstInfo(n.port, deadlineMs)))
    const ok = infos.every((line) => {
      const urls = (JSON.parse(line.slice(5)) as { connect_urls?: Array<string> }).connect_urls ?? []
      return [...urls].sort().join(",") === want
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error("no full mesh")
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Restart a member with a configured route (SIGINT, exec again) and time exec → full mesh. */
const restartToMesh = async (cmd: string, prefix: ReadonlyArray<string>): Promise<Array<number>> => {
  const nodes: Array<Node> = []
  for (let i = 0; i < 3; i++) nodes.push({ port: await freePort(), cport: await freePort() })
  const start = (n: Node) => {
    n.child = run(cmd, [...prefix, ...clusterArgs(n, n === nodes[0] ? undefined : nodes[0])])
  }
  start(nodes[0]!)
  await firstInfo(nodes[0]!.port)
  start(nodes[1]!)
  start(nodes[2]!)
  await fullMesh(nodes)
  const out: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    const b = nodes[1 + (i % 2)]!
    await kill(b.child!, "SIGINT")
    const t0 = performance.now()
    start(b)
    await fullMesh(nodes)
    out.push(performance.now() - t0)
  }
  await Promise.all(nodes.map((n) => kill(n.child!)))
  return out
}

const stats = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return { best: s[0]!, median: s[Math.floor((s.length - 1) / 2)]! }
}
const fmt = (n: number) => `${n.toFixed(0).padStart(6)} ms`

const main = async () => {
  console.log(`start-up, ${RUNS} runs each (Node ${process.version}, interleaved)`)
  const times = new Map<string, Array<{ wall: number; cpu: number }>>(impls.map((i) => [i.name, []]))
  for (let r = 0; r < RUNS; r++) {
    for (const impl of impls) times.get(impl.name)!.push(await execToAccept(impl))
  }
  const wallOf = (name: string) => stats(times.get(name)!.map((t) => t.wall))
  const cpuOf = (name: string) => stats(times.get(name)!.map((t) => t.cpu))
  const bare = wallOf("bare node listener")
  const bareCpu = cpuOf("bare node listener")
  console.log(`${"exec → accept (wall)".padEnd(40)} ${"best".padStart(9)} ${"median".padStart(9)}  best/bare median/bare | CPU used until accept: median, /bare`)
  for (const name of times.keys()) {
    const s = wallOf(name)
    const c = cpuOf(name)
    console.log(
      `  ${name.padEnd(38)} ${fmt(s.best)} ${fmt(s.median)}  ${(s.best / bare.best).toFixed(2).padStart(9)} ${(s.median / bare.median).toFixed(2).padStart(11)} | ${fmt(c.median)} ${(c.median / bareCpu.median).toFixed(2)}`
    )
  }
  const three: Array<number> = []
  for (let r = 0; r < RUNS; r++) three.push(await threeAtOnce())
  const t = stats(three)
  console.log(`  ${"effect-nats-server ×3 at once (all)".padEnd(38)} ${fmt(t.best)} ${fmt(t.median)}`)
  console.log("restart a member → full mesh (3 nodes)")
  const oursMesh = stats(await restartToMesh(process.execPath, [ours]))
  console.log(`  ${"effect-nats-server".padEnd(38)} ${fmt(oursMesh.best)} ${fmt(oursMesh.median)}`)
  if (natsServer !== undefined) {
    const refMesh = stats(await restartToMesh(natsServer, []))
    console.log(`  ${"nats-server".padEnd(38)} ${fmt(refMesh.best)} ${fmt(refMesh.median)}`)
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
