/**
 * `npm run soak -- [--duration SECONDS] [--rate MSGS_PER_S] [--sample SECONDS]`
 *
 * A mixed load held for a while against our server and real nats-server side by side (same load,
 * same config, at the same time): publishers, fast subscribers, a slow consumer that stops
 * reading every few seconds (each is stalled against, then cut), and connection churn
 * (connect, subscribe, PING, close). Prints RSS of both server processes over time, then what each
 * delivered, how many slow consumers it cut, and the churn it served. The machine load is whatever
 * else runs: read the two columns against each other.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import { NATS_SERVER, type Proc, startProc } from "./fuzz/servers.js"
import { freePort } from "./servers.js"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(args[at + 1])
}
const DURATION = flag("duration", 120) * 1000
const RATE = flag("rate", 20_000)
const SAMPLE = flag("sample", 10) * 1000

const config = (httpPort: number) => `write_deadline: "2s"
ping_interval: "10m"
http: "127.0.0.1:${httpPort}"
`


/** `slow_consumers` from the server's /varz (a paused socket cannot see its own close). */
const slowConsumers = async (httpPort: number): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${httpPort}/varz`)
  return ((await res.json()) as { slow_consumers: number }).slow_consumers
}

const rssMiB = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

interface Stats {
  delivered: number
  published: number
  slowCut: number
  slowStarted: number
  churn: number
  errors: number
}

const connect = (port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" })
    s.setNoDelay(true)
    s.once("data", () => resolve(s)) // INFO
    s.once("error", reject)
  })

/** The whole load against one server until `until`. */
const load = async (port: number, until: number, stats: Stats): Promise<void> => {
  const sockets: Array<net.Socket> = []
  const track = (s: net.Socket) => {
    sockets.push(s)
    s.on("error", () => stats.errors++)
    return s
  }
  // Two fast subscribers, counting MSG lines.
  for (let i = 0; i < 2; i++) {
    const s = track(await connect(port))
    s.write(`CONNECT {"verbose":false}\r\nSUB soak.> ${i + 1}\r\n`)
    let tail = ""
    s.on("data", (d: Buffer) => {
      const text = tail + d.toString("latin1")
      let at = text.indexOf("MSG ")
      while (at >= 0) {
        stats.delivered++
        at = text.indexOf("MSG ", at + 4)
      }
      tail = text.slice(-3)
    })
  }
  // Two publishers, paced in 10 ms ticks; a stalled server makes their writes wait.
  const payload = "p".repeat(512)
  const perTick = Math.max(1, Math.round(RATE / 2 / 100))
  const frame = `PUB soak.data ${payload.length}\r\n${payload}\r\n`
  const publishers = await Promise.all([0, 1].map(async () => {
    const s = track(await connect(port))
    s.write('CONNECT {"verbose":false}\r\n')
    return s
  }))
  const pubLoop = async (s: net.Socket) => {
    while (Date.now() < until) {
      const ok = s.write(frame.repeat(perTick))
      stats.published += perTick
      if (!ok) await new Promise<void>((r) => s.once("drain", () => r()))
      await new Promise((r) => setTimeout(r, 10))
    }
  }
  // A slow consumer every 5 s: subscribes, then never reads again.
  const slowLoop = async () => {
    while (Date.now() < until) {
      const s = track(await connect(port))
      s.write('CONNECT {"verbose":false}\r\nSUB soak.data 9\r\n')
      s.pause()
      stats.slowStarted++
      await new Promise((r) => setTimeout(r, 5000))
    }
  }
  // Churn: short connections, 25 at a time.
  const churnLoop = async () => {
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 25 }, async () => {
        try {
          const s = await connect(port)
          await new Promise<void>((resolve) => {
            s.on("data", (d: Buffer) => {
              if (d.toString("latin1").includes("PONG")) s.destroy()
            })
            s.on("close", () => resolve())
            s.on("error", () => resolve())
            s.write('CONNECT {"verbose":false}\r\nSUB soak.churn 1\r\nPING\r\n')
          })
          stats.churn++
        } catch {
          stats.errors++
        }
      }))
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  await Promise.all([...publishers.map(pubLoop), slowLoop(), churnLoop()])
  for (const s of sockets) s.destroy()
}

const main = async () => {
  if (NATS_SERVER === undefined) {
    console.error("nats-server not found (set NATS_SERVER or install it)")
    process.exit(2)
  }
  const http = [await freePort(), await freePort()] as const
  const procs: Array<Proc> = await Promise.all([startProc("ours", config(http[0])), startProc("ref", config(http[1]))])
  const [ours, ref] = procs as [Proc, Proc]
  const stats: Record<string, Stats> = {
    ours: { delivered: 0, published: 0, slowCut: 0, slowStarted: 0, churn: 0, errors: 0 },
    ref: { delivered: 0, published: 0, slowCut: 0, slowStarted: 0, churn: 0, errors: 0 }
  }
  const started = Date.now()
  const until = started + DURATION
  console.log(`soak: ${DURATION / 1000} s, ${RATE} msgs/s offered per server (512 B), slow consumer every 5 s, churn in batches of 25`)
  console.log("   t(s)  ours RSS MiB  ref RSS MiB")
  const sample = () => console.log(`${String(Math.round((Date.now() - started) / 1000)).padStart(7)}  ${rssMiB(ours.child.pid!).toFixed(1).padStart(12)}  ${rssMiB(ref.child.pid!).toFixed(1).padStart(11)}`)
  sample()
  const timer = setInterval(sample, SAMPLE)
  try {
    await Promise.all([load(ours.port, until, stats["ours"]!), load(ref.port, until, stats["ref"]!)])
    clearInterval(timer)
    stats["ours"]!.slowCut = await slowConsumers(http[0])
    stats["ref"]!.slowCut = await slowConsumers(http[1])
    sample()
    // Idle for a moment: what does each hold once the load is gone?
    await new Promise((r) => setTimeout(r, 5000))
    sample()
    for (const name of ["ours", "ref"]) {
      const s = stats[name]!
      console.log(`${name.padEnd(4)}: published ${s.published}, delivered to fast subscribers ${s.delivered}, slow consumers cut ${s.slowCut} of ${s.slowStarted}, churn connections ${s.churn}, socket errors ${s.errors}`)
    }
  } finally {
    clearInterval(timer)
    await Promise.all(procs.map((p) => p.stop()))
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
