/**
 * Self-healing with real processes: SIGKILL a member, clients fail over to servers they only
 * learned through connect_urls, the survivors forget it; restart it and the mesh re-forms.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, describe, expect, it } from "vitest"
import { type ChildServer, freePort, startOurs } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

describe("failure and recovery", () => {
  const procs: Array<ChildServer> = []
  const clients: Array<NatsConnection> = []
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    for (const p of procs) await p.stop()
  })

  const start = async (name: string, port: number, cport: number, seed?: number) => {
    const args = ["-a", "127.0.0.1", "-p", String(port), "-n", name, "--cluster", `nats://127.0.0.1:${cport}`, "--cluster_name", "heal"]
    if (seed !== undefined) args.push("--routes", `nats://127.0.0.1:${seed}`)
    const p = await startOurs(args)
    procs.push(p)
    return p
  }

  it("a killed member's clients fail over, survivors drop it, and it rejoins when restarted", async () => {
    const [pa, pb, pc, ca, cb, cc] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()])
    const A = await start("A", pa!, ca!)
    await start("B", pb!, cb!, ca)
    let C = await start("C", pc!, cc!, ca)

    // A watcher on A sees the whole cluster in its INFO.
    const watcher = await connect({ servers: A.url })
    clients.push(watcher)
    const urls = () => [...(watcher.info?.connect_urls ?? [])].sort()
    const all = [pa, pb, pc].map((p) => `127.0.0.1:${p}`).sort()
    await waitUntil("A advertises all three", () => JSON.stringify(urls()) === JSON.stringify(all), 15_000)

    // This client is given only C's URL; it learns A and B from C's INFO.
    const onC = await connect({ servers: C.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 })
    clients.push(onC)
    await waitUntil("client on C learns the cluster", () => (onC.info?.connect_urls?.length ?? 0) === 3)
    const got: Array<string> = []
    const sub = onC.subscribe("heal.x")
    void (async () => {
      for await (const m of sub) got.push(dec.decode(m.data))
    })()
    await onC.flush()

    const pub = await connect({ servers: A.url })
    clients.push(pub)
    await waitUntilAsync("message flows A → C", async () => {
      pub.publish("heal.x", enc.encode("probe"))
      await pub.flush()
      return got.length > 0
    })

    // Kill C hard: no goodbye on any socket.
    C.child.kill("SIGKILL")
    await C.exited
    await waitUntil("survivors drop C's client URL", () => !urls().includes(`127.0.0.1:${pc}`), 15_000)

    // The client reconnects to A or B (never configured for it) and its subscription is restored there.
    await waitUntil("client reconnected elsewhere", () => !onC.isClosed() && onC.getServer() !== `127.0.0.1:${pc}` && (onC.info?.server_name === "A" || onC.info?.server_name === "B"), 15_000)
    got.length = 0
    await waitUntilAsync("message flows after failover", async () => {
      pub.publish("heal.x", enc.encode("after"))
      await pub.flush()
      return got.includes("after")
    })

    // Restart C on the same ports: it dials A, gossip reconnects it to B, clients learn it again.
    C = await start("C", pc!, cc!, ca)
    await waitUntil("A advertises all three again", () => JSON.stringify(urls()) === JSON.stringify(all), 15_000)
    const subOnA = await connect({ servers: A.url })
    clients.push(subOnA)
    const back: Array<string> = []
    const s2 = subOnA.subscribe("heal.back")
    void (async () => {
      for await (const m of s2) back.push(dec.decode(m.data))
    })()
    await subOnA.flush()
    const pubOnC = await connect({ servers: C.url })
    clients.push(pubOnC)
    await waitUntil("C meshed with A and B", () => (pubOnC.info?.connect_urls?.length ?? 0) === 3, 15_000)
    await waitUntilAsync("message flows C → A", async () => {
      pubOnC.publish("heal.back", enc.encode("hello"))
      await pubOnC.flush()
      return back.length > 0
    })
    expect(back[0]).toBe("hello")
  }, 60_000)
})
