/**
 * `effect-nats-server pub` and `effect-nats-server sub`: small client commands on `NatsClient`,
 * printing what the `nats` CLI prints, so the NATS clustering walkthrough reads the same:
 *
 * ```
 * $ effect-nats-server sub -s nats://127.0.0.1:4222 hello
 * 17:04:24 Subscribing on hello
 * [#1] Received on "hello"
 * world
 *
 * $ effect-nats-server pub -s nats://127.0.0.1:4222 hello world
 * 17:04:30 Published 5 bytes to "hello"
 * ```
 *
 * As in the `nats` CLI, the time-stamped status lines (`Subscribing on`, `Published`) go to stderr
 * (they are log lines) and received messages go to stdout, so `sub … > file` keeps only messages.
 * The servers of `-s url1,url2` are tried in order. `sub` prints `Subscribing on` once the server has
 * confirmed the subscription (after a PING/PONG round trip), so a `pub` started after that line is
 * seen. `sub --count N` exits after N messages; SIGINT/SIGTERM end `sub` cleanly (UNSUB, close, exit
 * 0). The client reconnects as `NatsClient` does (to the given servers and those the cluster
 * announces), printing `Disconnected due to: …, will attempt reconnect` and `Reconnected [url]` as
 * the `nats` CLI does. Any failure — no server reachable, reconnecting gave up — prints one line on
 * stderr and exits 1.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type { ClientCommand } from "../config/Flags.js"
import { SERVER_NAME } from "../server/ServerState.js"
import * as NatsClient from "./NatsClient.js"

/** Where the commands print; `now` gives the time for the `HH:MM:SS` prefix. */
export interface CliOutput {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly now: () => Date
}

export const processOutput: CliOutput = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  now: () => new Date()
}

/** A client command failed; `message` has been printed to stderr. */
export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

const two = (n: number) => String(n).padStart(2, "0")

/** `HH:MM:SS ` in local time, as Go's `log` prints with `log.Ltime`. */
export const timePrefix = (d: Date): string => `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} `

/** A Go `%q` rendering of a string: double quotes, backslash escapes, printable Unicode kept. */
export const goQuote = (s: string): string => {
  let out = "\""
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    switch (ch) {
      case "\"":
        out += "\\\""
        break
      case "\\":
        out += "\\\\"
        break
      case "\n":
        out += "\\n"
        break
      case "\r":
        out += "\\r"
        break
      case "\t":
        out += "\\t"
        break
      default:
        if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`
        else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, "0")}`
        else out += ch
    }
  }
  return out + "\""
}

/** How `sub` prints one message (the `nats sub` layout). */
export const formatMessage = (n: number, msg: NatsClient.NatsMessage): string => {
  let text = msg.reply === undefined || msg.reply === ""
    ? `[#${n}] Received on ${goQuote(msg.subject)}\n`
    : `[#${n}] Received on ${goQuote(msg.subject)} with reply ${goQuote(msg.reply)}\n`
  if (msg.headers !== undefined && msg.headers.size > 0) {
    for (const [k, v] of msg.headers) text += `${k}: ${v}\n`
    text += "\n"
  }
  const body = msg.text()
  text += `${body}\n`
  if (!body.endsWith("\n")) text += "\n"
  return text
}

/** The `nats` CLI's lines for connection events (none for the others). */
export const statusLine = (event: NatsClient.ClientStatus): string | undefined => {
  switch (event._tag) {
    case "Disconnected":
      return `Disconnected due to: ${event.error.message}, will attempt reconnect`
    case "Reconnected":
      return `Reconnected [${event.server}]`
    case "Error":
      return `NATS error: ${event.error.message}`
    default:
      return undefined
  }
}

const pub = (command: ClientCommand, output: CliOutput) =>
  Effect.gen(function*() {
    const client = yield* NatsClient.make({ servers: command.servers, name: `${SERVER_NAME} pub` })
    const payload = command.payload ?? ""
    const count = command.count ?? 1
    for (let i = 0; i < count; i++) yield* client.publish(command.subject, payload)
    yield* client.flush()
    const line = `Published ${Buffer.byteLength(payload, "utf8")} bytes to ${goQuote(command.subject)}\n`
    const prefix = timePrefix(output.now())
    output.err(count === 1 ? prefix + line : (prefix + line).repeat(count))
  })

const sub = (command: ClientCommand, output: CliOutput) =>
  Effect.gen(function*() {
    const client = yield* NatsClient.make({ servers: command.servers, name: `${SERVER_NAME} sub` })
    // Like `nats sub`: say when the connection is lost and where it came back.
    yield* client.status.pipe(
      Stream.runForEach((event) => Effect.sync(() => {
        const line = statusLine(event)
        if (line !== undefined) output.err(`${timePrefix(output.now())}${line}\n`)
      })),
      Effect.forkScoped({ startImmediately: true })
    )
    const subscription = yield* client.subscription(command.subject)
    yield* client.flush()
    output.err(`${timePrefix(output.now())}Subscribing on ${command.subject}\n`)
    let n = 0
    const messages = command.count === undefined ? subscription.messages : subscription.messages.pipe(Stream.take(command.count))
    yield* messages.pipe(Stream.runForEach((msg) => Effect.sync(() => output.out(formatMessage(++n, msg)))))
    // Without --count the stream only ends when the connection does: say why.
    if (command.count === undefined) return yield* Effect.fail(yield* client.closed)
  })

/**
 * Run a `pub`/`sub` command. Failures are printed as one line on stderr and fail with `CliError`.
 *
 * @since 0.1.0
 */
export const run = (command: ClientCommand, output: CliOutput = processOutput): Effect.Effect<void, CliError> =>
  (command.client === "pub" ? pub(command, output) : sub(command, output)).pipe(
    Effect.scoped,
    Effect.catch((e: { readonly message: string }) =>
      Effect.suspend(() => {
        output.err(`${SERVER_NAME}: error: ${e.message}\n`)
        return Effect.fail(new CliError({ message: e.message }))
      })
    )
  )

/** Exit 0 on success and on SIGINT/SIGTERM (an interruption), 1 on failure. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)

/**
 * Run a command as the process's main program (signals interrupt it and run its finalizers).
 *
 * @since 0.1.0
 */
export const main = (command: ClientCommand): void =>
  NodeRuntime.runMain(run(command), { disableErrorReporting: true, teardown })
