/**
 * `npm run bench:auth` — does a storm of bcrypt logins stall other clients?
 *
 * For ours and nats-server side by side (same run, same machine): a server with a bcrypt user
 * (cost 11 by default) and a plain user; an unrelated client logged in as the plain user sends
 * PING after PING, each after the previous PONG, and we record every round trip — first alone
 * (baseline), then while N connections (100 by default) log in at once with the bcrypt password.
 * Reported: PING round-trip p50/p99/max alone and during the storm, how long the storm took and
 * how many logins succeeded.
 *
 * Options: `--logins N`, `--cost C`, `--no-ref`, `--baseline-ms MS`, `--runs R` (rows per server).
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as bcrypt from "@node-rs/bcrypt"
import { freePort } from "./servers.js"

const args = process.argv.slice(2)
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : def
}
const LOGINS = opt("logins", 100)
const COST = opt("cost", 11)
const BASELINE_MS = opt("baseline-ms", 1500)
const RUNS = opt("runs", 1)
const NO_REF = args.includes("--no-ref")
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")


/** A raw connection that collects lines. */
class Conn {
  private buf = ""
  private waiters: Array<() => void> = []
  closed = false
  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on("data", (d) => {
      this.buf += d.toString("latin1")
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on("close", () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on("error", () => {})
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1" })
      s.once("connect", () => resolve(new Conn(s)))
      s.once("error", reject)
    })
  }
  /** Wait until the buffer contains `text` (consumed up to it) or the socket closed. */
  async until(text: string): Promise<boolean> {
    for (;;) {
      const i = this.buf.indexOf(text)
      if (i >= 0) {
        this.buf = this.buf.slice(i + text.length)
        return true
      }
      if (this.closed) return false
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }
  send(s: string) {
    this.socket.write(s)
  }
}

const start = async (kind: "ours" | "nats-server", conf: string): Promise<{ port: number; child: ChildProcess }> => {
  const port = await freePort()
  const file = path.join(os.tmpdir(), `bench-auth-${kind}-${process.pid}.conf`)
  fs.writeFileSync(file, `listen: 127.0.0.1:${port}\n${conf}`)
  const child = kind === "ours"
    ? spawn(process.execPath, [path.join(repo, "bin/effect-nats-server.js"), "-c", file], { stdio: "ignore" })
    : spawn("nats-server", ["-c", file], { stdio: "ignore" })
  for (let i = 0; i < 200; i++) {
    try {
      const c = await Conn.open(port)
      const ok = await c.until("INFO ")
      c.socket.destroy()
      if (ok) return { port, child }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill("SIGKILL")
  throw new Error(`${kind} did not start`)
}

const quantile = (xs: ReadonlyArray<number>, q: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

interface Result {
  readonly server: string
  readonly base: ReadonlyArray<number>
  readonly storm: ReadonlyArray<number>
  readonly stormMs: number
  readonly ok: number
}

const measure = async (kind: "ours" | "nats-server", hash: string): Promise<Result> => {
  const { port, child } = await start(kind, `authorization { users: [ { user: storm, password: "${hash}" }, { user: pinger, password: plain } ] }\n`)
  try {
    const pinger = await Conn.open(port)
    pinger.send(`CONNECT {"verbose":false,"pedantic":false,"user":"pinger","pass":"plain"}\r\nPING\r\n`)
    await pinger.until("PONG\r\n")
    const rtts: Array<{ t: number; rtt: number }> = []
    let pinging = true
    const loop = (async () => {
      while (pinging) {
        const t0 = performance.now()
        pinger.send("PING\r\n")
        if (!(await pinger.until("PONG\r\n"))) throw new Error("pinger closed")
        rtts.push({ t: t0, rtt: (performance.now() - t0) * 1000 })
      }
    })()
    await new Promise((r) => setTimeout(r, BASELINE_MS))
    const stormStart = performance.now()
    const logins = await Promise.all(Array.from({ length: LOGINS }, async () => {
      const c = await Conn.open(port)
      await c.until("INFO ")
      c.send(`CONNECT {"verbose":false,"pedantic":false,"user":"storm","pass":"pw"}\r\nPING\r\n`)
      const ok = await c.until("PONG\r\n")
      c.socket.destroy()
      return ok
    }))
    const stormEnd = performance.now()
    pinging = false
    await loop
    pinger.socket.destroy()
    return {
      server: kind,
      base: rtts.filter((r) => r.t < stormStart).map((r) => r.rtt),
      storm: rtts.filter((r) => r.t >= stormStart && r.t < stormEnd).map((r) => r.rtt),
      stormMs: stormEnd - stormStart,
      ok: logins.filter(Boolean).length
    }
  } finally {
    child.kill("SIGKILL")
  }
}

const main = async () => {
  const hash = bcrypt.hashSync("pw", COST)
  const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`)
  const rows: Array<Result> = []
  for (let r = 0; r < RUNS; r++) {
    rows.push(await measure("ours", hash))
    if (!NO_REF) rows.push(await measure("nats-server", hash))
  }
  console.log(`PING round trip of an unrelated client during ${LOGINS} concurrent bcrypt logins (cost ${COST}); ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`)
  console.log("| server | alone p50 / p99 | during storm p50 / p99 / max | pings in storm | storm took | logins ok |")
  console.log("|---|---|---|---|---|---|")
  for (const x of rows) {
    console.log(`| ${x.server} | ${fmt(quantile(x.base, 0.5))} / ${fmt(quantile(x.base, 0.99))} | ${fmt(quantile(x.storm, 0.5))} / ${fmt(quantile(x.storm, 0.99))} / ${fmt(Math.max(...x.storm))} | ${x.storm.length} | ${(x.stormMs / 1000).toFixed(2)} s | ${x.ok}/${LOGINS} |`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
