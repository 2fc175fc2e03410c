/**
 * One nats-server config text, two servers: ours (in process, the text decoded by our config
 * reader) and real nats-server (a child process with that file), both on 127.0.0.1 and a random
 * port — so one test can pin the same behaviour on both.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Result from "effect/Result"
import { configFromString } from "../../src/config/ConfigFile.js"
import { natsServerPath, startNatsServer, startServer, type TestServer } from "./servers.js"

export interface ConfServer {
  readonly name: string
  readonly port: number
  readonly url: string
  /** Log output so far (lines). */
  readonly lines: () => ReadonlyArray<string>
  readonly stop: () => Promise<void>
  /** Ours only. */
  readonly ours?: TestServer
}

export interface ConfTarget {
  readonly name: string
  readonly available: boolean
  readonly start: (conf: string) => Promise<ConfServer>
}

let tmp: string | undefined
let n = 0

export const writeConf = (text: string): string => {
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), "conf-servers-"))
  const file = path.join(tmp, `s${++n}.conf`)
  fs.writeFileSync(file, text)
  return file
}

export const startOursWithConf = async (conf: string, extra: Record<string, unknown> = {}): Promise<ConfServer> => {
  const r = configFromString(conf, { file: "test.conf" })
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  const s = await startServer({ ...r.success.options, host: "127.0.0.1", port: -1, debug: true, trace: true, ...extra })
  return { name: "effect-nats-server", port: s.port, url: s.url, lines: s.lines, stop: s.stop, ours: s }
}

export const startNatsWithConf = async (conf: string): Promise<ConfServer> => {
  const s = await startNatsServer(["-c", writeConf(conf), "-a", "127.0.0.1", "-p", "-1", "-DV"])
  return { name: "nats-server", port: s.port, url: s.url, lines: () => s.output().split("\n"), stop: s.stop }
}

export const confTargets: ReadonlyArray<ConfTarget> = [
  { name: "effect-nats-server", available: true, start: (c) => startOursWithConf(c) },
  { name: "nats-server", available: natsServerPath !== undefined, start: startNatsWithConf }
]
