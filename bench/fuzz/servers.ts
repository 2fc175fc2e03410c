/**
 * The two servers a fuzz run compares: ours (the built binary) and real nats-server, started as
 * child processes on free loopback ports with the same config file, and stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "../servers.js"

/** Real nats-server: `$NATS_SERVER`, else the first on the PATH (Debian installs it in /usr/sbin). */
export const NATS_SERVER: string | undefined = process.env["NATS_SERVER"] ??
  [...(process.env["PATH"] ?? "").split(":"), "/usr/sbin", "/usr/bin"].map((d) => path.join(d, "nats-server")).find((f) => fs.existsSync(f))

/** The limits both servers run with: small, so that cases reach them. */
export const FUZZ_LIMITS = { maxControlLine: 512, maxPayload: 4096 } as const
export const FUZZ_CONFIG = `max_payload: ${FUZZ_LIMITS.maxPayload}
max_control_line: ${FUZZ_LIMITS.maxControlLine}
ping_interval: "10m"
`

export interface Proc {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
  readonly output: () => string
  readonly stop: () => Promise<void>
}


const ready = async (port: number, deadline: number): Promise<void> => {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: "127.0.0.1" })
      s.once("data", () => {
        s.destroy()
        resolve(true)
      })
      s.once("error", () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Find the repository root from this file (bench/fuzz or dist/bench/fuzz). */
export const repoRoot = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir)
  return dir
}

export const startProc = async (name: "ours" | "ref", config = FUZZ_CONFIG): Promise<Proc> => {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fuzz-${name}-`))
  const conf = path.join(dir, "fuzz.conf")
  fs.writeFileSync(conf, config)
  const argv = name === "ours"
    ? [process.execPath, path.join(repoRoot(), "bin/effect-nats-server.js"), "-a", "127.0.0.1", "-p", String(port), "-c", conf]
    : [NATS_SERVER ?? "nats-server", "-a", "127.0.0.1", "-p", String(port), "-c", conf]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  const keep = (d: Buffer) => {
    out += d.toString()
    if (out.length > 1_000_000) out = out.slice(-500_000)
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  await ready(port, Date.now() + 30_000)
  return {
    name,
    port,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once("exit", () => {
          fs.rmSync(dir, { recursive: true, force: true })
          resolve()
        })
        child.kill("SIGTERM")
        setTimeout(() => child.kill("SIGKILL"), 5000).unref()
      })
  }
}
