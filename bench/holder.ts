/**
 * The load of the memory rows, run as a child process of the benchmark (so that its sockets count
 * against its own open-file limit, which the parent may raise for it with `prlimit`): either N
 * idle client connections, or one connection with M subscriptions.
 *
 *   node dist/bench/holder.js --port P --conns N            N connections, each INFO → CONNECT + PING → PONG
 *   node dist/bench/holder.js --port P --subs M             1 connection, M × `SUB bench.sub.<i> <i>`, then PING → PONG
 *
 * Every connection completes CONNECT + PING/PONG before it counts, so the server has accepted and
 * registered it fully (and, with --subs, processed every SUB before the PONG). When all are done
 * it prints one JSON line `{"ready":true,"conns":N,"subs":M,"ms":T}` on stdout (T: set-up time); on a failure
 * `{"ready":false,"error":"…"}` and exit status 1. It then holds everything (answering server
 * PINGs) until stdin closes or it gets SIGTERM, and exits.
 *
 * Per idle connection it keeps a socket and a few bytes of parse state: no read buffer of its own.
 */
import * as net from "node:net"
import { CONNECT_LINE } from "./protocol.js"

const HOST = "127.0.0.1"
/** Connections being set up at once (the server's accept queue and the loopback are not flooded). */
const IN_FLIGHT = 200
/** SUB lines per write of the --subs mode. */
const SUBS_PER_WRITE = 5_000

interface Args {
  port: number
  conns: number
  subs: number
  timeoutMs: number
  inFlight: number
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const out: Args = { port: 0, conns: 0, subs: 0, timeoutMs: 120_000, inFlight: IN_FLIGHT }
  for (let i = 0; i < argv.length; i += 2) {
    const v = Number(argv[i + 1])
    if (!Number.isInteger(v) || v < 0) throw new Error(`${argv[i]} needs a non-negative integer`)
    switch (argv[i]) {
      case "--port":
        out.port = v
        break
      case "--conns":
        out.conns = v
        break
      case "--subs":
        out.subs = v
        break
      case "--timeout-ms":
        out.timeoutMs = v
        break
      case "--in-flight":
        out.inFlight = Math.max(1, v)
        break
      default:
        throw new Error(`unknown option ${argv[i]}`)
    }
  }
  if (out.port === 0) throw new Error("--port is required")
  if ((out.conns === 0) === (out.subs === 0)) throw new Error("give exactly one of --conns N or --subs M")
  return out
}

const sockets: net.Socket[] = []

/**
 * One connection: after the INFO line it sends CONNECT (+ `extra`, e.g. the SUBs) + PING and
 * resolves on the PONG. Afterwards it only answers PINGs. The parse state is a short string tail
 * (enough to find `PONG\r\n` / `PING\r\n` split across reads).
 */
const open = (port: number, extra: (s: net.Socket) => Promise<void>): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: HOST, port })
    sockets.push(s)
    let phase: "info" | "pong" | "idle" = "info"
    let tail = ""
    s.on("error", (err) => (phase === "idle" ? fail(`connection failed: ${err.message}`) : reject(err)))
    s.on("close", () => {
      if (!stopping) (phase === "idle" ? fail("a held connection was closed by the server") : reject(new Error("closed by the server during the handshake")))
    })
    s.on("data", (d: Buffer) => {
      const text = tail + d.toString("latin1")
      if (text.includes("-ERR")) {
        const line = text.slice(text.indexOf("-ERR")).split("\r\n", 1)[0]
        if (phase === "idle") fail(`server error: ${line}`)
        else reject(new Error(`server error: ${line}`))
        return
      }
      if (phase === "info" && text.includes("\r\n")) {
        phase = "pong"
        s.write(CONNECT_LINE)
        extra(s).then(() => s.write("PING\r\n"), reject)
      }
      if (phase === "pong" && text.includes("PONG\r\n")) {
        phase = "idle"
        resolve()
      }
      if (phase === "idle" && text.includes("PING\r\n")) {
        s.write("PONG\r\n")
        tail = ""
        return
      }
      tail = text.slice(-8)
    })
  })

let stopping = false
const stop = (code: number): void => {
  stopping = true
  for (const s of sockets) s.destroy()
  process.exit(code)
}
const fail = (message: string): void => {
  if (stopping) return
  process.stdout.write(JSON.stringify({ ready: false, error: message }) + "\n")
  stop(1)
}

const writeSubs = async (s: net.Socket, count: number): Promise<void> => {
  for (let first = 1; first <= count; first += SUBS_PER_WRITE) {
    let chunk = ""
    for (let i = first; i < Math.min(count + 1, first + SUBS_PER_WRITE); i++) chunk += `SUB bench.sub.${i} ${i}\r\n`
    if (!s.write(chunk)) await new Promise<void>((resolve) => s.once("drain", () => resolve()))
  }
}

const main = async (): Promise<void> => {
  const args = parseArgs(process.argv.slice(2))
  const t0 = Date.now()
  const timer = setTimeout(() => fail(`not ready within ${args.timeoutMs} ms`), args.timeoutMs)
  process.on("SIGTERM", () => stop(0))
  process.stdin.on("end", () => stop(0))
  process.stdin.on("close", () => stop(0))
  process.stdin.resume()
  if (args.subs > 0) {
    await open(args.port, (s) => writeSubs(s, args.subs))
  } else {
    let next = 0
    const lane = async (): Promise<void> => {
      while (next < args.conns) {
        next++
        await open(args.port, () => Promise.resolve())
      }
    }
    await Promise.all(Array.from({ length: Math.min(args.inFlight, args.conns) }, lane))
  }
  clearTimeout(timer)
  process.stdout.write(JSON.stringify({ ready: true, conns: sockets.length, subs: args.subs, ms: Date.now() - t0 }) + "\n")
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)))
