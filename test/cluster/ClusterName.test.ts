/**
 * Cluster names as nats-server 2.9 handles them: a mismatch is rejected (with its -ERR and log
 * lines), unnamed (dynamic) servers agree on one name, a dynamic server adopts a static name;
 * and a member entering lame-duck mode disappears from its peers' connect_urls.
 */
import { connect } from "@nats-io/transport-node"
import * as Effect from "effect/Effect"
import { afterEach, describe, expect, it } from "vitest"
import { lameDuck } from "../../src/server/LameDuck.js"
import { freePort, startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

const started: Array<TestServer> = []
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop()
})

const start = async (name: string | undefined, seed?: TestServer, extra: Record<string, unknown> = {}) => {
  const s = await startServer({
    serverName: `srv-${started.length}`,
    debug: true,
    cluster: {
      ...(name !== undefined ? { name } : {}),
      host: "127.0.0.1",
      port: -1,
      ...(seed ? { routes: [`nats://127.0.0.1:${seed.cluster!.listen!.port}`] } : {})
    },
    ...extra
  })
  started.push(s)
  return s
}

describe("cluster names", () => {
  it("rejects a route whose cluster name differs, with nats-server's texts, and keeps retrying", async () => {
    const A = await start("one")
    const B = await start("two", A)
    await waitUntil("A rejected B", () => A.lines().some((l) => l.includes('Rejecting connection, cluster name "two" does not match "one"')))
    // B closes on A's INFO (whose name differs) or on A's -ERR, whichever it reads first; either
    // way the reason is a name conflict.
    await waitUntil("B closed the route", () => B.lines().some((l) => l.includes("Router connection closed: Cluster Name Conflict")))
    // The explicit route is retried (~1s later), and rejected again.
    await waitUntil("retried", () => A.lines().filter((l) => l.includes("Rejecting connection")).length >= 2, 5000)
    expect(A.cluster!.routes.size).toBe(0)
    expect(B.cluster!.routes.size).toBe(0)
  })

  it("unnamed servers settle on one dynamic name and form a cluster", async () => {
    const A = await start(undefined)
    const B = await start(undefined, A)
    expect(A.lines().some((l) => l.includes("Cluster name was dynamically generated, consider setting one"))).toBe(true)
    await waitUntil("routed", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1, 10_000)
    expect(A.cluster!.name).toBe(B.cluster!.name)
  })

  it("an unnamed server adopts its peer's static name", async () => {
    const A = await start("fixed")
    const B = await start(undefined, A)
    await waitUntil("routed", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1, 10_000)
    expect(B.cluster!.name).toBe("fixed")
    expect(B.lines().some((l) => l.includes("Cluster name updated to fixed"))).toBe(true)
  })
})

describe("routes to self and no_advertise", () => {
  it("a server whose route list includes itself detects it and stops dialing that URL", async () => {
    // Configs often list every member, self included.
    const cport = await freePort()
    const ownUrl = `nats://127.0.0.1:${cport}`
    const lone = await startServer({ serverName: "lone", debug: true, cluster: { name: "self", host: "127.0.0.1", port: cport, routes: [ownUrl] } })
    started.push(lone)
    await waitUntil("detected itself", () => lone.lines().some((l) => l.includes(`Detected route to self, ignoring "${ownUrl}"`)))
    expect(lone.cluster!.selfUrls.has(ownUrl)).toBe(true)
    // The explicit dialer's loop runs while its URL is not known to be self: it has stopped.
    expect(lone.cluster!.routes.size).toBe(0)
  })

  it("cluster.no_advertise keeps connect_urls away from clients", async () => {
    const A = await start("quiet", undefined, {})
    const B = await startServer({
      serverName: "B-quiet",
      cluster: { name: "quiet", host: "127.0.0.1", port: -1, noAdvertise: true, routes: [`nats://127.0.0.1:${A.cluster!.listen!.port}`] }
    })
    started.push(B)
    await waitUntil("routed", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1)
    const onB = await connect({ servers: B.url })
    await onB.flush()
    expect(onB.info?.connect_urls).toBeUndefined()
    // B does not advertise itself either: A's clients only see A.
    const onA = await connect({ servers: A.url })
    await onA.flush()
    expect(onA.info?.connect_urls).toEqual([`127.0.0.1:${A.port}`])
    await onA.close()
    await onB.close()
  })
})

describe("lame duck in a cluster", () => {
  it("peers drop a lame-duck member's client URL and tell their clients", async () => {
    const A = await start("ldm")
    const B = await start("ldm", A, { lameDuckGracePeriod: 60_000, lameDuckDuration: 120_000 })
    await waitUntil("routed", () => A.cluster!.routes.size === 1 && B.cluster!.routes.size === 1)
    const onA = await connect({ servers: A.url })
    const onB = await connect({ servers: B.url })
    await waitUntil("A's client sees both", () => (onA.info?.connect_urls?.length ?? 0) === 2)
    // B enters lame-duck mode (its clients stay connected during the long grace period).
    const fiber = Effect.runFork(lameDuck(B.broker))
    await waitUntil("A's client no longer sees B", () =>
      JSON.stringify(onA.info?.connect_urls ?? []) === JSON.stringify([`127.0.0.1:${A.port}`]))
    // B's own clients are told ldm and are pointed at the others only.
    await waitUntil("B's client got ldm", () => (onB.info as { ldm?: boolean } | undefined)?.ldm === true)
    expect(onB.info?.connect_urls).toEqual([`127.0.0.1:${A.port}`])
    fiber.interruptUnsafe()
    await onA.close()
    await onB.close().catch(() => {})
  })
})
