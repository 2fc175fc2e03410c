/**
 * A cluster of child processes for fault injection: our executable (`bin/effect-nats-server.js`)
 * and/or real nats-server, on pre-picked loopback ports so a killed node restarts where its
 * clients expect it.
 *
 * Every node's route listener sits behind a `TcpProxy` and the node advertises the proxy
 * (`--cluster_advertise`), so every route link — configured or gossiped — passes through the
 * proxy of the node it was dialed to, tagged with the dialer's server id. A pair of nodes is cut
 * by a rule on the two proxies. Nodes are watched through their monitoring port (`/routez`).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as net from "node:net"
import { type ChildServer, freePort, natsServerPath, startNatsServer, startOurs } from "./servers.js"
import { type LinkRule, routeConnectName, TcpProxy } from "./TcpProxy.js"

export type Impl = "ours" | "nats"

export interface ChaosNodeSpec {
  readonly name: string
  readonly impl: Impl
}

export interface ClusterSpec {
  readonly nodes: ReadonlyArray<ChaosNodeSpec>
  /** "seed": every node routes to node 0 (the README walkthrough); "full": each lists all others. */
  readonly topology: "seed" | "full"
  /** Route/client keepalive: short, so a silent drop is noticed quickly. */
  readonly pingInterval: string
  readonly clusterName?: string
  /** Debug logging (-D) on every node; with CHAOS_LOGS=<dir> every node's output is saved there. */
  readonly debug?: boolean
}

export interface RoutezRoute {
  readonly rid: number
  readonly remote_id: string
  readonly did_solicit: boolean
  readonly subscriptions_list?: ReadonlyArray<string>
}

export interface Routez {
  readonly server_id: string
  readonly num_routes: number
  readonly routes: ReadonlyArray<RoutezRoute>
}

/**
 * A free port below the ephemeral range: a node must get the same ports back when it restarts,
 * and ports there are never handed out meanwhile to outgoing connections or `listen(0)` (which a
 * chaos run makes hundreds of). See `freePort`.
 */
export const freeFixedPort = (): Promise<number> => freePort()

export class ChaosNode {
  proc: ChildServer | undefined = undefined
  serverId = ""
  stopped = false
  /** Starts so far (1 after the first). */
  starts = 0

  constructor(
    readonly index: number,
    readonly spec: ChaosNodeSpec,
    readonly clientPort: number,
    readonly clusterPort: number,
    readonly monitorPort: number,
    readonly proxy: TcpProxy
  ) {}

  get name() {
    return this.spec.name
  }
  get url() {
    return `nats://127.0.0.1:${this.clientPort}`
  }
  get running() {
    return this.proc !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null
  }
  /** Where peers dial it: its proxy. */
  get routeUrl() {
    return `nats://127.0.0.1:${this.proxy.port}`
  }

  /** This node's /routez (with the interest each route announced); undefined when it does not answer. */
  async routez(timeoutMs = 2000): Promise<Routez | undefined> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.monitorPort}/routez?subs=1`, { signal: AbortSignal.timeout(timeoutMs) })
      return (await r.json()) as Routez
    } catch {
      return undefined
    }
  }
}

export class ChaosCluster {
  private constructor(
    readonly spec: ClusterSpec,
    readonly nodes: ReadonlyArray<ChaosNode>,
    private readonly dir: string
  ) {}

  /** Pick ports, start the proxies and all nodes (node 0 first: the seed). */
  static async start(spec: ClusterSpec): Promise<ChaosCluster> {
    if (spec.nodes.some((n) => n.impl === "nats") && natsServerPath === undefined) throw new Error("nats-server is not installed")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chaos-"))
    const nodes: Array<ChaosNode> = []
    for (const [i, s] of spec.nodes.entries()) {
      const [clientPort, clusterPort, monitorPort] = [await freeFixedPort(), await freeFixedPort(), await freeFixedPort()]
      // A fixed port too: it is closed while the node is down and reopened when it restarts.
      const proxy = await TcpProxy.start({ port: clusterPort! }, await freeFixedPort(), { tagOf: routeConnectName })
      nodes.push(new ChaosNode(i, s, clientPort!, clusterPort!, monitorPort!, proxy))
    }
    const cluster = new ChaosCluster(spec, nodes, dir)
    try {
      // The seed first, the others together (each retries its routes until its peers are up).
      await cluster.startNode(nodes[0]!)
      await Promise.all(nodes.slice(1).map((n) => cluster.startNode(n)))
    } catch (e) {
      await cluster.stop()
      throw e
    }
    return cluster
  }

  private args(n: ChaosNode): Array<string> {
    const routes = this.spec.topology === "seed"
      ? (n.index === 0 ? [] : [this.nodes[0]!.routeUrl])
      : this.nodes.filter((o) => o !== n).map((o) => o.routeUrl)
    const args = [
      "-a", "127.0.0.1", "-p", String(n.clientPort), "-n", n.name, "-m", String(n.monitorPort),
      "--cluster", `nats://127.0.0.1:${n.clusterPort}`, "--cluster_advertise", `127.0.0.1:${n.proxy.port}`,
      "--cluster_name", this.spec.clusterName ?? "chaos"
    ]
    if (routes.length > 0) args.push("--routes", routes.join(","))
    if (this.spec.debug === true) args.push("-D")
    if (n.spec.impl === "ours") return [...args, "--ping_interval", this.spec.pingInterval]
    // nats-server has no ping_interval flag: a config file holds it (flags override the rest).
    const conf = path.join(this.dir, `${n.name}.conf`)
    fs.writeFileSync(conf, `ping_interval: "${this.spec.pingInterval}"\n`)
    return ["-c", conf, ...args]
  }

  /** (Re)start a node on its ports and learn its (new) server id. */
  async startNode(n: ChaosNode): Promise<void> {
    this.saveLog(n)
    await n.proxy.accept()
    const args = this.args(n)
    n.proc = n.spec.impl === "ours" ? await startOurs(args) : await startNatsServer(args)
    n.stopped = false
    n.starts++
    const deadline = Date.now() + 15_000
    for (;;) {
      const rz = await n.routez()
      if (rz !== undefined) {
        n.serverId = rz.server_id
        return
      }
      if (Date.now() > deadline) throw new Error(`${n.name}: no /routez`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** SIGKILL a node and wait until it is gone (its route address then refuses dials). */
  async kill(n: ChaosNode): Promise<void> {
    if (n.proc === undefined) return
    if (n.stopped) n.proc.child.kill("SIGCONT")
    n.proc.child.kill("SIGKILL")
    await n.proc.exited
    n.stopped = false
    // A dead host's route port refuses dials; the proxy must not accept them on its behalf.
    await n.proxy.refuse()
  }

  freeze(n: ChaosNode): void {
    n.proc!.child.kill("SIGSTOP")
    n.stopped = true
  }

  thaw(n: ChaosNode): void {
    n.proc!.child.kill("SIGCONT")
    n.stopped = false
  }

  nodeOfId(id: string | undefined): ChaosNode | undefined {
    return id === undefined ? undefined : this.nodes.find((n) => n.serverId === id)
  }

  /**
   * Cut the route links between `a` and `b` with `rule` (and refuse new ones the same way) until
   * `heal`. Links are recognised by the dialer's server id; any link from a node not identified
   * yet is left alone.
   */
  cut(a: ChaosNode, b: ChaosNode, rule: Exclude<LinkRule, "pass">): void {
    const forTarget = (peer: ChaosNode) => (tag: string | undefined): LinkRule =>
      tag !== undefined && tag !== "" && tag === peer.serverId ? rule : "pass"
    a.proxy.setRule(forTarget(b))
    b.proxy.setRule(forTarget(a))
  }

  heal(): void {
    for (const n of this.nodes) n.proxy.heal()
  }

  /** The running, unfrozen nodes. */
  live(): Array<ChaosNode> {
    return this.nodes.filter((n) => n.running && !n.stopped)
  }

  /** Every node's /routez (undefined for nodes down or frozen). */
  async routezAll(): Promise<Array<Routez | undefined>> {
    return Promise.all(this.nodes.map((n) => (n.running && !n.stopped ? n.routez() : Promise.resolve(undefined))))
  }

  /**
   * Whether exactly one TCP connection joins every pair of nodes, and nothing else is in flight:
   * every proxy link open (not held, not being tagged) and dialed by a current member. Then the
   * route each end reports to the other is that one connection — not, say, a zombie link on one
   * side and a new one on the other.
   */
  linksSettled(): boolean {
    const ids = new Set(this.nodes.map((n) => n.serverId))
    const perPair = new Map<string, number>()
    for (const n of this.nodes) {
      for (const l of n.proxy.list()) {
        if (l.state !== "open" || l.tag === undefined || !ids.has(l.tag) || l.tag === n.serverId) return false
        const key = [l.tag, n.serverId].sort().join(" ")
        perPair.set(key, (perPair.get(key) ?? 0) + 1)
      }
    }
    const pairs = (this.nodes.length * (this.nodes.length - 1)) / 2
    return perPair.size === pairs && [...perPair.values()].every((c) => c === 1)
  }

  /**
   * Whether the mesh is whole: every node up, exactly one connection per pair (`linksSettled`),
   * each node with exactly one route to each other node's current server id, and (when `subject`
   * is given) each route carrying the peer's interest in it.
   */
  async meshFormed(subject?: string): Promise<boolean> {
    if (this.live().length !== this.nodes.length || !this.linksSettled()) return false
    const all = await this.routezAll()
    if (!this.linksSettled()) return false
    return all.every((rz, i) => {
      if (rz === undefined) return false
      const others = this.nodes.filter((o) => o.index !== i).map((o) => o.serverId).sort()
      const remotes = rz.routes.map((r) => r.remote_id).sort()
      if (rz.num_routes !== others.length || JSON.stringify(remotes) !== JSON.stringify(others)) return false
      return subject === undefined || rz.routes.every((r) => (r.subscriptions_list ?? []).includes(subject))
    })
  }

  /** Whether `a` has no registered route to `b` (a answering its monitor). */
  async lostRoute(a: ChaosNode, b: ChaosNode): Promise<boolean> {
    const rz = await a.routez()
    return rz !== undefined && !rz.routes.some((r) => r.remote_id === b.serverId)
  }

  /** One line per node: its routes (peer/rid/solicited) and its proxy's links (dialer→node:state). */
  async describe(): Promise<string> {
    const all = await this.routezAll()
    return this.nodes.map((n, i) => {
      const rz = all[i]
      const routes = rz === undefined ? (n.running ? (n.stopped ? "frozen" : "no answer") : "down") : rz.routes.map((r) => `${this.nodeOfId(r.remote_id)?.name ?? r.remote_id.slice(0, 6)}/rid${r.rid}${r.did_solicit ? "/out" : "/in"}[${(r.subscriptions_list ?? []).length}]`).join(" ")
      const links = n.proxy.list().map((l) => `${this.nodeOfId(l.tag)?.name ?? (l.tag === undefined ? "?" : l.tag.slice(0, 6))}:${l.state}`).join(" ")
      return `${n.name} (${n.spec.impl}, ${n.serverId.slice(0, 8)}): routes ${routes || "none"}; proxy links ${links || "none"}`
    }).join("\n")
  }

  /** With CHAOS_LOGS set, keep the output of the node's current process (before a restart, at the end). */
  private saveLog(n: ChaosNode): void {
    const dir = process.env["CHAOS_LOGS"]
    if (dir === undefined || n.proc === undefined) return
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${n.name}.${n.starts}.log`), n.proc.output())
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) this.saveLog(n)
    for (const n of this.nodes) {
      if (n.proc !== undefined) {
        if (n.stopped) n.proc.child.kill("SIGCONT")
        await n.proc.stop()
      }
    }
    for (const n of this.nodes) await n.proxy.close()
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Whether the mixed runs can happen here. */
export const haveNatsServer = natsServerPath !== undefined && spawnSync(natsServerPath, ["--version"]).status === 0
