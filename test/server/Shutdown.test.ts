/**
 * What a client sees while a cluster member goes away, pinned with raw sockets against our server
 * and real nats-server 2.9.10 with the same expectations (two-node cluster A–B, one raw client on
 * each):
 *
 * - SIGINT, SIGTERM, `--signal quit|term|stop`: A's client gets no INFO at all before A closes it
 *   (a server that is going away pushes no shrunken `connect_urls`); B's client gets exactly one
 *   INFO, with A's URL removed, when B loses the route.
 * - lame duck (`--signal ldm`): A's client gets one INFO with `ldm:true` and only B's URL, then is
 *   closed after the grace period; B's client gets one INFO without A (no `ldm`), and nothing more
 *   when A finally shuts down.
 * - an embedding Layer's scope closing behaves as SIGINT.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { binPath, type ChildServer, freePort, natsServerPath, startNatsServer, startOurs, startServer } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-shutdown-"))
const procs: Array<ChildServer> = []
afterAll(async () => {
  for (const p of procs) await p.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Target {
  readonly name: string
  readonly start: (args: ReadonlyArray<string>) => Promise<ChildServer>
  /** `<binary> --signal <cmd>=<pid>`. */
  readonly signal: (cmd: string, pid: number) => void
}

const sendWith = (command: string, prefix: ReadonlyArray<string>) => (cmd: string, pid: number) => {
  const r = spawnSync(command, [...prefix, "--signal", `${cmd}=${pid}`], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`--signal ${cmd} failed: ${r.stderr}`)
}

const targets: Array<Target> = [
  { name: "effect-nats-server", start: startOurs, signal: sendWith(process.execPath, [binPath]) }
]
if (natsServerPath !== undefined) {
  targets.push({ name: "nats-server", start: startNatsServer, signal: sendWith(natsServerPath, []) })
}

const conf = (name: string, port: number, cport: number, seed?: number) => {
  const file = path.join(dir, `${name}-${port}.conf`)
  fs.writeFileSync(
    file,
    `listen: 127.0.0.1:${port}\nserver_name: ${name}\nlame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n` +
      `cluster {\n  name: sd\n  listen: 127.0.0.1:${cport}\n` +
      (seed !== undefined ? `  routes: [nats://127.0.0.1:${seed}]\n` : "") +
      `}\n`
  )
  return file
}

/** A raw client that has sent CONNECT and seen the whole cluster in its INFO. */
const clientSeeing = async (port: number, urls: ReadonlyArray<string>): Promise<RawClient> => {
  const deadline = Date.now() + 15_000
  for (;;) {
    const c = await RawClient.connect(port)
    const got = [...((c.info["connect_urls"] as Array<string> | undefined) ?? [])].sort()
    if (JSON.stringify(got) === JSON.stringify([...urls].sort())) {
      c.send('CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
      await c.expect("PONG\r\n")
      return c
    }
    c.close()
    if (Date.now() > deadline) throw new Error(`no client INFO on ${port} listed ${urls.join(",")}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const parseInfo = (line: string): Record<string, unknown> => {
  expect(line.startsWith("INFO ")).toBe(true)
  return JSON.parse(line.slice(5, -3)) as Record<string, unknown>
}

type How = "SIGINT" | "SIGTERM" | "quit" | "term" | "stop" | "ldm"
const exitCode: Record<How, number | null> = { SIGINT: 0, SIGTERM: 1, quit: 0, term: 1, stop: null, ldm: 0 }

describe.each(targets)("shutdown seen by raw clients: $name", (target) => {
  it.each<How>(["SIGINT", "SIGTERM", "quit", "term", "stop", "ldm"])("%s", async (how) => {
    const [pa, pb, ca, cb] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const [A, B] = await Promise.all([target.start(["-c", conf("A", pa!, ca!)]), target.start(["-c", conf("B", pb!, cb!, ca)])])
    procs.push(A, B)
    const urlA = `127.0.0.1:${pa}`
    const urlB = `127.0.0.1:${pb}`
    const onA = await clientSeeing(pa!, [urlA, urlB])
    const onB = await clientSeeing(pb!, [urlA, urlB])

    if (how === "SIGINT" || how === "SIGTERM") A.child.kill(how)
    else target.signal(how, A.child.pid!)

    if (how === "ldm") {
      const ldm = parseInfo(await onA.nextNonPing(15_000))
      expect(ldm["ldm"]).toBe(true)
      expect(ldm["connect_urls"]).toEqual([urlB])
    }
    // Nothing else reaches A's client before it is closed — in particular no shrunken
    // connect_urls. (A late start-up INFO announcing the whole cluster may still arrive: the route
    // registered while the client connected; nats-server sends one now and then.)
    const rest = await onA.waitClosed(20_000)
    const lines = rest.split("\r\n").filter((l) => l !== "" && l !== "PING")
    const lateStartup = (l: string) =>
      l.startsWith("INFO ") && JSON.stringify([...(parseInfo(`${l}\r\n`)["connect_urls"] as Array<string>)].sort()) === JSON.stringify([urlA, urlB].sort())
    expect(lines.filter((l) => !lateStartup(l))).toEqual([])
    expect(await A.exited).toBe(exitCode[how])

    // B's client hears once that A is gone, and nothing more once B has closed the route.
    const update = parseInfo(await onB.nextNonPing(15_000))
    expect(update["connect_urls"]).toEqual([urlB])
    expect(update["ldm"]).toBeUndefined()
    await B.waitFor("Router connection closed")
    await onB.expectOpen()
    onA.close()
    onB.close()
    await B.stop()
  }, 60_000)
})

describe("embedded", () => {
  it("closing a NatsServer layer's scope sends its clients no INFO; the peer updates its clients", async () => {
    const [ca, cb] = await Promise.all([freePort(), freePort()])
    const A = await startServer({ serverName: "A", cluster: { name: "emb", host: "127.0.0.1", port: ca! } })
    const B = await startServer({ serverName: "B", cluster: { name: "emb", host: "127.0.0.1", port: cb!, routes: [`nats://127.0.0.1:${ca}`] } })
    const urlA = `127.0.0.1:${A.port}`
    const urlB = `127.0.0.1:${B.port}`
    try {
      const onA = await clientSeeing(A.port, [urlA, urlB])
      const onB = await clientSeeing(B.port, [urlA, urlB])
      await A.stop()
      const rest = await onA.waitClosed(10_000)
      expect(rest.split("\r\n").filter((l) => l !== "" && l !== "PING")).toEqual([])
      const update = parseInfo(await onB.nextNonPing(10_000))
      expect(update["connect_urls"]).toEqual([urlB])
      onB.close()
    } finally {
      await B.stop()
    }
  })
})
