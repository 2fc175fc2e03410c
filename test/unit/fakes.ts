/**
 * Fakes for the unit tests of the synchronous cores (as nats-server's `parser_test.go` drives a
 * dummy client): a server state from decoded options with an in-memory log, a fixed `Clock`, a
 * seeded `Random`, session I/O that only counts, and drivers that feed protocol text through the
 * real `Parser.step` into a `ClientConnection` or `RouteConnection` and return the exact bytes the
 * connection appended to its `OutBuffer`. No sockets, no fibers, no waiting.
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { ClusterState } from "../../src/cluster/Cluster.js"
import { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { applyRouteBatch } from "../../src/cluster/RouteSession.js"
import { decodeServerOptions, type ServerOptionsInput } from "../../src/config/ServerOptions.js"
import { makeTestLog } from "../../src/log/Log.js"
import * as Parser from "../../src/protocol/Parser.js"
import type { OutBuffer } from "../../src/protocol/OutBuffer.js"
import { ClientConnection } from "../../src/server/ClientConnection.js"
import type { InterestChange, InterestListener } from "../../src/server/Router.js"
import { ServerState } from "../../src/server/ServerState.js"
import type { LocalSubscription, RouteTarget, Subscriber } from "../../src/server/Subscription.js"

/** A clock that stands still until the test moves it (`advance`). */
export class FixedClock implements Clock.Clock {
  constructor(public millis = 1_767_225_600_000, public monoNanos = 5_000_000_000n) {}
  advance(ms: number): void {
    this.millis += ms
    this.monoNanos += BigInt(Math.round(ms * 1e6))
  }
  currentTimeMillisUnsafe(): number {
    return this.millis
  }
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.millis) * 1_000_000n
  }
  monotonicTimeNanosUnsafe(): bigint {
    return this.monoNanos
  }
  get currentTimeMillis() {
    return Effect.sync(() => this.millis)
  }
  get currentTimeNanos() {
    return Effect.sync(() => this.currentTimeNanosUnsafe())
  }
  get monotonicTimeNanos() {
    return Effect.sync(() => this.monoNanos)
  }
  sleep(_duration: Duration.Duration): Effect.Effect<void> {
    return Effect.die("FixedClock does not sleep: use TestClock where time is the subject")
  }
}

/** Effect's `Random` seeded with `seed`: the same seed, the same sequence. */
export const seededRandom = (seed: string): Random.Random => Effect.runSync(Effect.service(Random.Random).pipe(Random.withSeed(seed)))

/** Log lines without the pid: `[ERR] message`. */
export interface Logged {
  readonly lines: () => ReadonlyArray<string>
  readonly clear: () => void
}

export interface TestServer {
  readonly server: ServerState
  readonly log: Logged
  readonly clock: FixedClock
}

/**
 * A `ServerState` as `ServerCore.layer` builds it, from `decodeServerOptions(input)`, with an
 * in-memory log at debug level, a fixed clock (or the one given, e.g. TestClock's) and a seeded Random.
 */
export const makeServer = (
  input: ServerOptionsInput = {},
  options: { readonly seed?: string; readonly clock?: Clock.Clock; readonly listen?: { host: string; port: number } } = {}
): TestServer => {
  const test = makeTestLog({ debug: true, logtime: false, pid: 1 })
  const clock = new FixedClock()
  const server = new ServerState(
    decodeServerOptions({ host: "127.0.0.1", port: 4222, ...input }),
    test.log,
    options.clock ?? clock,
    seededRandom(options.seed ?? "unit")
  )
  server.listen = options.listen ?? { host: "127.0.0.1", port: 4222 }
  return {
    server,
    clock,
    log: { lines: () => test.lines.lines.map((l) => l.replace(/^\[1\] /, "")), clear: test.lines.clear }
  }
}

/** The session side of a connection: counts writer wake-ups and close notifications. */
export class FakeIO {
  wakes = 0
  closes = 0
  wakeWriter(): void {
    this.wakes++
  }
  closed(): void {
    this.closes++
  }
}

/** Everything appended to `out` and not taken yet, as protocol text (one char per byte); takes it. */
export const drain = (out: OutBuffer): string => {
  let text = ""
  for (let chunk = out.take(); chunk !== undefined; chunk = out.take()) text += Buffer.from(chunk).toString("latin1")
  return text
}

const latin1 = (text: string): Uint8Array => Buffer.from(text, "latin1")

/** A client connection on the cores: feed it protocol text, get back the bytes it wrote. */
export class ClientDriver {
  readonly io = new FakeIO()
  readonly conn: ClientConnection
  private parser: Parser.ParserState

  constructor(readonly server: ServerState, ip = "127.0.0.1", port = 50_000) {
    this.conn = new ClientConnection(server.nextId(), server, ip, port, this.io)
    server.clients.set(this.conn.cid, this.conn)
    const o = server.options
    this.parser = Parser.initial("client", { maxControlLine: o.maxControlLine, maxPayload: o.maxPayload })
  }

  /** One read of `text`: parsed by `Parser.step` and applied as one batch, as `ClientSession` does. */
  feed(text: string): this {
    const chunk = latin1(text)
    if (this.conn.firstByte < 0) this.conn.firstByte = chunk[0] ?? -1
    const [next, parsed] = Parser.step(this.parser, chunk)
    this.parser = next
    this.conn.apply(parsed)
    return this
  }

  /** What the connection wrote since the last call. */
  output(): string {
    return drain(this.conn.out)
  }

  /** `feed` then `output`. */
  send(text: string): string {
    return this.feed(text).output()
  }
}

/** A route connection on the cores, its batches run as `RouteSession` runs them (`applyRouteBatch`). */
export class RouteDriver {
  readonly io = new FakeIO()
  readonly conn: RouteConnection
  private parser: Parser.ParserState

  constructor(
    readonly cluster: ClusterState,
    options: { readonly solicitedUrl?: string; readonly explicit?: boolean; readonly ip?: string; readonly port?: number } = {}
  ) {
    const server = cluster.server
    this.conn = new RouteConnection(
      server.nextId(),
      server,
      options.ip ?? "127.0.0.1",
      options.port ?? 40_000 + server.nextId(),
      options.solicitedUrl,
      options.explicit ?? false,
      this.io
    )
    cluster.links.add(this.conn)
    this.parser = Parser.initial("route", { maxControlLine: server.options.maxControlLine, maxPayload: Infinity })
  }

  /** One read of `text` from the peer (handshake steps included: they are synchronous here). */
  feed(text: string): this {
    const [next, parsed] = Parser.step(this.parser, latin1(text))
    this.parser = next
    Effect.runSync(applyRouteBatch(this.cluster, this.conn, parsed))
    return this
  }

  output(): string {
    return drain(this.conn.out)
  }

  send(text: string): string {
    return this.feed(text).output()
  }

  /** The session ended (whatever ended it): what `RouteSession` does last. */
  end(): void {
    this.conn.close("Client Closed")
    Effect.runSync(this.cluster.routeClosed(this.conn))
  }
}

/** A cluster on the cores, plugged into its server as `ClusterLayer` does. */
export const makeCluster = (server: ServerState): ClusterState => {
  const cluster = new ClusterState(server, server.options.cluster!)
  cluster.listen = { host: "127.0.0.1", port: 6222 }
  server.attachCluster(cluster)
  return cluster
}

/** One delivery a `RecordingSubscriber` received. */
export interface Delivery {
  readonly sid: string
  readonly subject: string
  readonly reply: string | undefined
  readonly payload: string
}

/** A subscriber that records what it is given (and can refuse, as a deny filter does). */
export class RecordingSubscriber implements Subscriber {
  readonly got: Array<Delivery> = []
  readonly forgotten: Array<string> = []
  refuse = false
  constructor(readonly cid: number, readonly echo = true) {}
  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, _headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    if (this.refuse) return false
    this.got.push({ sid: sub.sid, subject, reply, payload: Buffer.from(buf.subarray(start, end)).toString("latin1") })
    return true
  }
  forget(sub: LocalSubscription): void {
    this.forgotten.push(sub.sid)
  }
}

/** A route as the router sees it: records every routed message (one entry per RMSG). */
export class RecordingRoute implements RouteTarget {
  mark = 0
  readonly queueScratch: Array<string> = []
  readonly sent: Array<{ account: string; subject: string; reply: string | undefined; queues: ReadonlyArray<string> | undefined; payload: string }> = []
  constructor(readonly rid: number) {}
  sendMsg(account: string, subject: string, reply: string | undefined, queues: ReadonlyArray<string> | undefined, _headerSize: number, buf: Uint8Array, start = 0, end = buf.length): void {
    this.sent.push({ account, subject, reply, queues: queues === undefined ? undefined : [...queues], payload: Buffer.from(buf.subarray(start, end)).toString("latin1") })
  }
}

/** An interest listener that records every change it is told of. */
export class RecordingListener implements InterestListener {
  readonly changes: Array<InterestChange> = []
  interestChanged(change: InterestChange): void {
    this.changes.push(change)
  }
}

export const bytes = (text: string): Uint8Array => latin1(text)

/** A peer's route INFO as nats-server 2.9 writes it (`INFO {json} \r\n`), with `fields` on top of the usual ones. */
export const peerInfo = (fields: Record<string, unknown>): string =>
  `INFO ${JSON.stringify({ version: "2.9.10", proto: 2, host: "127.0.0.1", port: 7001, headers: true, max_payload: 1048576, ...fields })} \r\n`

/** A dialing peer's route CONNECT (its `name` is its server id). */
export const peerConnect = (fields: Record<string, unknown>): string =>
  `CONNECT ${JSON.stringify({ echo: true, verbose: false, pedantic: false, tls_required: false, headers: true, ...fields })}\r\n`

/** An accepted route from `peerId`, through CONNECT and INFO, registered; its output so far taken. */
export const registeredRoute = (cluster: ClusterState, peerId: string, options: { readonly ip?: string; readonly port?: number } = {}): RouteDriver => {
  const d = new RouteDriver(cluster, options)
  d.feed(peerConnect({ name: peerId, cluster: cluster.name }) + peerInfo({ server_id: peerId, cluster: cluster.name }))
  if (!d.conn.registered) throw new Error(`route from ${peerId} was not registered: ${d.conn.closeReason}`)
  d.output()
  return d
}
