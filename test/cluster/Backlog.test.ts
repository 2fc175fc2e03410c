/**
 * Producer stall: a route whose backlog passes the high mark makes the publisher wait until the
 * writer brought it under the low mark (bounded memory when a peer is slower than its senders).
 * The stall belongs to the producer whose batch caused it (`StallSignal`), not to the router.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { describe, expect, it } from "vitest"
import { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { decodeServerOptions } from "../../src/config/ServerOptions.js"
import { makeTestLog } from "../../src/log/Log.js"
import { StallSignal } from "../../src/server/Router.js"
import { ServerState } from "../../src/server/ServerState.js"

describe("route backlog", () => {
  it("stalls the publisher above 8 MiB and releases it once the writer drained below 1 MiB", async () => {
    const server = new ServerState(decodeServerOptions({}), makeTestLog().log)
    let wakes = 0
    const route = new RouteConnection(1, server, "127.0.0.1", 1, undefined, false, { wakeWriter: () => wakes++, closed: () => {} })
    const payload = new Uint8Array(64 * 1024)
    // 9 MiB of routed messages without the writer taking any of it.
    for (let i = 0; i < 144; i++) route.sendMsg("$G", "big", undefined, undefined, -1, payload)
    const producer = new StallSignal()
    const other = new StallSignal()
    server.router.flush(producer)
    expect(wakes).toBeGreaterThan(0)
    expect(producer.stalledOn).toBe(route)
    // Another producer's signal is its own: untouched by this batch.
    expect(other.stalledOn).toBeUndefined()
    // A flush outside a producer's batch (a PING, an interest line) stalls nobody.
    route.send(new Uint8Array(1))
    route.flush()
    expect(other.stalledOn).toBeUndefined()
    const waiting = Effect.runFork(producer.take())
    // Taken: the signal is clear for the producer's next batch.
    expect(producer.stalledOn).toBeUndefined()
    expect(waiting.pollUnsafe()).toBeUndefined()
    // The writer takes everything, but 2 MiB are still in the socket: above the low mark, waiting.
    route.inFlight = 2 * 1024 * 1024
    while (route.out.take() !== undefined) route.written()
    expect(waiting.pollUnsafe()).toBeUndefined()
    route.inFlight = 0
    route.written()
    await Effect.runPromise(Fiber.join(waiting))
    // Below the high mark nothing stalls.
    route.sendMsg("$G", "small", undefined, undefined, -1, payload)
    server.router.flush(producer)
    expect(producer.stalledOn).toBeUndefined()
  })
})
