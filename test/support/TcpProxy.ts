/**
 * A loopback TCP proxy for fault injection between route peers (or any TCP peers).
 *
 * It listens on 127.0.0.1 and forwards every accepted connection ("link") to one target. Each link
 * can be tagged from the first line the connecting side sends (for a route: the dialer's CONNECT,
 * whose `name` is its server id), and a rule decides per tag what the network does to it:
 *
 * - `pass`  — bytes flow both ways;
 * - `reset` — both sockets are reset at once (a clean close from one side, by contrast, is passed
 *   on as a clean close once what was in flight got through);
 * - `drop`  — a silent partition: both sockets are paused and kept open, no byte and no close
 *   crosses, so only a keepalive (the route PING interval) notices. Bytes sent meanwhile stay in
 *   the kernel buffers, as unacknowledged segments would; when the rule returns to `pass` the
 *   links resume as if the network came back (and a side that gave up meanwhile is then seen
 *   closing).
 *
 * Rules apply to open links when set and to new links once tagged. Until a link is tagged (its
 * first line arrived) nothing is forwarded and the target is not dialed.
 */
import * as net from "node:net"

export type LinkRule = "pass" | "reset" | "drop"

export interface ProxyLink {
  readonly id: number
  /** The tag read from the first line; undefined until it arrived. */
  readonly tag: string | undefined
  readonly state: "tagging" | "open" | "dropped" | "closed"
}

export interface TcpProxyOptions {
  /** Derive a tag from the connecting side's first line (without CRLF). Default: the line itself. */
  readonly tagOf?: (firstLine: string) => string
  /** The longest first line waited for before tagging with what arrived (default 64 KiB). */
  readonly maxFirstLine?: number
}

/** The tag of a NATS route link: the `name` (server id) in the dialer's CONNECT. */
export const routeConnectName = (line: string): string => {
  const m = /^CONNECT\s+(\{.*\})\s*$/i.exec(line)
  if (m === null) return ""
  try {
    const name = (JSON.parse(m[1]!) as { name?: unknown }).name
    return typeof name === "string" ? name : ""
  } catch {
    return ""
  }
}

class Link implements ProxyLink {
  tag: string | undefined = undefined
  state: ProxyLink["state"] = "tagging"
  upstream: net.Socket | undefined = undefined
  private connected = false
  private head: Array<Buffer> = []
  private headBytes = 0

  constructor(
    readonly id: number,
    readonly downstream: net.Socket,
    private readonly proxy: TcpProxy
  ) {
    downstream.on("error", () => this.destroy())
    downstream.on("close", () => this.sideClosed())
    downstream.on("data", this.onHead)
  }

  private onHead = (d: Buffer) => {
    this.head.push(d)
    this.headBytes += d.length
    const all = Buffer.concat(this.head)
    const eol = all.indexOf("\r\n")
    if (eol < 0 && this.headBytes < this.proxy.maxFirstLine) return
    this.downstream.off("data", this.onHead)
    this.downstream.pause()
    this.head = [all]
    this.tag = this.proxy.tagOf(all.subarray(0, eol < 0 ? all.length : eol).toString("latin1"))
    // Tagged: held (nothing forwarded, the target not dialed) until the rule lets it through.
    this.state = "dropped"
    this.apply(this.proxy.ruleFor(this.tag))
  }

  private connectUpstream() {
    const up = net.connect({ host: this.proxy.target.host, port: this.proxy.target.port })
    this.upstream = up
    up.on("error", () => this.destroy())
    up.on("close", () => this.sideClosed())
    up.once("connect", () => {
      if (this.state === "closed") return
      up.setNoDelay(true)
      this.downstream.setNoDelay(true)
      for (const b of this.head) up.write(b)
      this.head = []
      up.on("data", (d) => this.downstream.write(d))
      this.downstream.on("data", (d) => up.write(d))
      // A half-close crosses too (a FIN from one side is passed on).
      up.on("end", () => this.downstream.end())
      this.downstream.on("end", () => up.end())
      this.connected = true
      // The rule may have changed while dialing.
      this.apply(this.proxy.ruleFor(this.tag))
    })
  }

  /** Apply a rule to this link (while it is still being tagged it is applied once tagged). */
  apply(rule: LinkRule) {
    if (this.state === "closed" || this.state === "tagging") return
    if (rule === "reset") return this.destroy()
    if (rule === "drop") {
      this.state = "dropped"
      this.downstream.pause()
      this.upstream?.pause()
      return
    }
    this.state = "open"
    if (this.upstream === undefined) return this.connectUpstream()
    if (!this.connected) return
    this.downstream.resume()
    this.upstream.resume()
  }

  /**
   * One side closed cleanly: the other is ended, not reset, so what it still has to deliver gets
   * there first (as TCP would); the link is gone once both sides are.
   */
  private sideClosed() {
    if (this.state === "closed") return
    const up = this.upstream
    const down = this.downstream
    if (up === undefined || (up.destroyed && down.destroyed)) {
      this.state = "closed"
      if (up === undefined) down.destroy()
      this.proxy.forget(this)
      return
    }
    if (!up.destroyed) up.end()
    if (!down.destroyed) down.end()
  }

  /** A cut: both sides reset at once. */
  destroy() {
    if (this.state === "closed") return
    this.state = "closed"
    // resetAndDestroy sends an RST where the platform allows it: a cut, not a goodbye.
    const kill = (s: net.Socket | undefined) => {
      if (s === undefined) return
      if (typeof s.resetAndDestroy === "function" && s.readyState === "open") s.resetAndDestroy()
      else s.destroy()
    }
    kill(this.downstream)
    kill(this.upstream)
    this.proxy.forget(this)
  }
}

export class TcpProxy {
  private readonly links = new Set<Link>()
  private nextId = 1
  private rule: (tag: string | undefined) => LinkRule = () => "pass"
  readonly tagOf: (firstLine: string) => string
  readonly maxFirstLine: number
  /** Every link ever accepted, for tests that count. */
  accepted = 0

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly target: { readonly host: string; readonly port: number },
    options: TcpProxyOptions
  ) {
    this.tagOf = options.tagOf ?? ((l) => l)
    this.maxFirstLine = options.maxFirstLine ?? 64 * 1024
    server.on("connection", (socket) => {
      this.accepted++
      this.links.add(new Link(this.nextId++, socket, this))
    })
  }

  /** Listen on 127.0.0.1:`port` (0: ephemeral) and forward to `target`. */
  static start(target: { host?: string; port: number }, port = 0, options: TcpProxyOptions = {}): Promise<TcpProxy> {
    const server = net.createServer({ pauseOnConnect: false })
    return new Promise((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject)
        const bound = (server.address() as net.AddressInfo).port
        resolve(new TcpProxy(server, bound, { host: target.host ?? "127.0.0.1", port: target.port }, options))
      })
    })
  }

  /** The rule for a tag under the current policy. */
  ruleFor(tag: string | undefined): LinkRule {
    return this.rule(tag)
  }

  /** Set the policy and apply it to every open link now (new links get it once tagged). */
  setRule(rule: (tag: string | undefined) => LinkRule): void {
    this.rule = rule
    for (const l of [...this.links]) l.apply(rule(l.tag))
  }

  /** Back to forwarding everything; dropped links resume. */
  heal(): void {
    this.setRule(() => "pass")
  }

  /** The current links (a snapshot). */
  list(): ReadonlyArray<ProxyLink> {
    return [...this.links].map((l) => ({ id: l.id, tag: l.tag, state: l.state }))
  }

  /** Whether it accepts connections (see `refuse`). */
  get listening(): boolean {
    return this.server.listening
  }

  /**
   * Stop accepting, so dials are refused as by a dead host's closed port (open links go on).
   * A proxy accepts every dial, so without this a stopped target would look reachable.
   */
  refuse(): Promise<void> {
    if (!this.server.listening) return Promise.resolve()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  /** Accept again, on the same port. */
  accept(): Promise<void> {
    if (this.server.listening) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.server.once("error", reject)
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject)
        resolve()
      })
    })
  }

  /** @internal */
  forget(link: Link): void {
    this.links.delete(link)
  }

  async close(): Promise<void> {
    for (const l of [...this.links]) l.destroy()
    await this.refuse()
  }
}
