/**
 * `effect-nats-server pub` / `sub`: the built binary as a child process against an in-process
 * server, checked for the `nats` CLI's output format. Needs the build (`npm test` builds first;
 * locally `npx tsc -p tsconfig.build.json`). Every wait is on an event: an output line, an exit.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as NatsClient from "../../src/client/NatsClient.js"
import { binPath, freePort, repoRoot, startServer, type TestServer } from "../support/servers.js"
import { waitUntilAsync } from "../support/wait.js"

interface Cli {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the first line (stdout or stderr) matching `re`; rejects if the process exits first. */
  readonly line: (re: RegExp, timeoutMs?: number) => Promise<string>
  readonly exited: Promise<number | null>
}

const runCli = (args: ReadonlyArray<string>): Cli => {
  const child = spawn(process.execPath, [binPath, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  const waiters = new Set<() => void>()
  const wake = () => {
    for (const w of [...waiters]) w()
  }
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString()
    wake()
  })
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString()
    wake()
  })
  let done = false
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      done = true
      wake()
      resolve(code)
    })
  )
  const line = (re: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const hit = [...out.split("\n"), ...err.split("\n")].find((l) => re.test(l))
        if (hit !== undefined || done) {
          waiters.delete(check)
          clearTimeout(timer)
          if (hit !== undefined) resolve(hit)
          else reject(new Error(`exited before a line matching ${re}:\nstdout: ${out}\nstderr: ${err}`))
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`timed out waiting for ${re}:\nstdout: ${out}\nstderr: ${err}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return { child, stdout: () => out, stderr: () => err, line, exited }
}

const TIME = "\\d\\d:\\d\\d:\\d\\d"

describe("pub / sub commands", () => {
  let server: TestServer
  const running: Array<Cli> = []
  const cli = (args: ReadonlyArray<string>) => {
    const c = runCli(args)
    running.push(c)
    return c
  }

  beforeAll(async () => {
    if (!fs.existsSync(path.join(repoRoot, "dist/src/client/Cli.js"))) {
      throw new Error("build first: npx tsc -p tsconfig.build.json (npm test does it)")
    }
    server = await startServer()
  })
  afterAll(async () => {
    for (const c of running) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL")
    await server?.stop()
  })

  it("sub prints the subscription line; pub publishes, prints its line and exits 0; sub prints the message", async () => {
    const sub = cli(["sub", "-s", server.url, "--count", "1", "hello"])
    const subscribing = await sub.line(/Subscribing on hello/)
    expect(subscribing).toMatch(new RegExp(`^${TIME} Subscribing on hello$`))
    // A status line: stderr, as the nats CLI logs it.
    expect(sub.stderr()).toContain("Subscribing on hello")

    const pub = cli(["pub", "-s", server.url, "hello", "Hello NATS"])
    expect(await pub.exited).toBe(0)
    expect(pub.stderr().trim()).toMatch(new RegExp(`^${TIME} Published 10 bytes to "hello"$`))

    expect(await sub.exited).toBe(0)
    expect(sub.stdout()).toBe("[#1] Received on \"hello\"\nHello NATS\n\n")
  })

  it("sub --count N exits after N messages; pub --count publishes N times", async () => {
    const sub = cli(["sub", "-s", server.url, "--count", "3", "counted"])
    await sub.line(/Subscribing on counted/)
    const pub = cli(["pub", "-s", server.url, "--count", "3", "counted", "x"])
    expect(await pub.exited).toBe(0)
    expect(pub.stderr().trim().split("\n")).toHaveLength(3)
    expect(await sub.exited).toBe(0)
    expect(sub.stdout()).toBe(
      "[#1] Received on \"counted\"\nx\n\n[#2] Received on \"counted\"\nx\n\n[#3] Received on \"counted\"\nx\n\n"
    )
  })

  it("pub -s bad,good falls through to the server that answers", async () => {
    const bad = `nats://127.0.0.1:${await freePort()}`
    const received = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const client = yield* NatsClient.make({ servers: [server.url] })
      const sub = yield* client.subscription("fallthrough")
      yield* client.flush()
      const pub = cli(["pub", "-s", `${bad},${server.url}`, "fallthrough", "made it"])
      expect(yield* Effect.promise(() => pub.exited)).toBe(0)
      expect(pub.stderr()).toMatch(/Published 7 bytes to "fallthrough"/)
      const [msg] = yield* sub.messages.pipe(Stream.take(1), Stream.runCollect)
      return msg!.text()
    })))
    expect(received).toBe("made it")
  })

  it("no reachable server: one line on stderr, exit 1", async () => {
    const bad = `nats://127.0.0.1:${await freePort()}`
    const pub = cli(["pub", "-s", bad, "hello", "x"])
    expect(await pub.exited).toBe(1)
    const lines = pub.stderr().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^effect-nats-server: error: could not connect to any server .*connection refused/)
    expect(pub.stdout()).toBe("")

    const sub = cli(["sub", "-s", bad, "hello"])
    expect(await sub.exited).toBe(1)
    expect(sub.stderr().trim().split("\n")).toHaveLength(1)
  })

  it("SIGINT ends sub cleanly: exit 0 and the server loses its interest", async () => {
    const sub = cli(["sub", "-s", server.url, "interrupted"])
    await sub.line(/Subscribing on interrupted/)
    const request = (timeout: number) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const client = yield* NatsClient.make({ servers: [server.url] })
        const result = yield* Effect.result(client.request("interrupted", "are you there?", { timeout }))
        return Result.isFailure(result) ? result.failure._tag : "reply"
      })))
    // The subscriber is there: it prints the request (nobody answers it).
    const first = request(60_000)
    await sub.line(/^\[#1\] Received on "interrupted" with reply "_INBOX\.[^"]+"$/)
    sub.child.kill("SIGINT")
    expect(await sub.exited).toBe(0)
    expect(sub.stderr()).not.toMatch(/error/)
    expect(sub.stdout()).toMatch(/are you there\?\n\n$/)
    void first.catch(() => {})
    // Its connection is gone, and with it the interest: a request now gets the 503 at once.
    await waitUntilAsync("the server dropped the interrupted subscriber", async () => (await request(200)) === "NoResponders")
  })
})
