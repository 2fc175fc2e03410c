/**
 * Server command templates of the benchmark: placeholder expansion and the rule that drops an
 * empty `{routes}` (with its flag) on the first cluster node.
 */
import { describe, expect, it } from "vitest"
import { expandTemplate, freePorts, oursTemplates, refTemplates } from "../../bench/servers.js"

describe("expandTemplate", () => {
  it("fills the placeholders of the default templates", () => {
    expect(expandTemplate(oursTemplates.single, { port: 4000, name: "S", repo: "/r" })).toEqual([
      "/r/bin/effect-nats-server.js", "-a", "127.0.0.1", "-p", "4000"
    ])
    expect(
      expandTemplate(refTemplates.cluster, { port: 4001, cport: 6001, routes: "nats://127.0.0.1:6000", name: "B", repo: "/r" })
    ).toEqual([
      "nats-server", "-a", "127.0.0.1", "-p", "4001", "--cluster", "nats://127.0.0.1:6001", "--cluster_name", "bench",
      "--routes", "nats://127.0.0.1:6000"
    ])
  })

  it("drops an empty {routes} together with the flag before it", () => {
    expect(expandTemplate(oursTemplates.cluster, { port: 4000, cport: 6000, name: "A", repo: "/r" })).toEqual([
      "/r/bin/effect-nats-server.js", "-a", "127.0.0.1", "-p", "4000", "--cluster", "nats://127.0.0.1:6000",
      "--cluster_name", "bench"
    ])
    expect(expandTemplate("srv -routes {routes} -n {name}", { port: 1, name: "A", repo: "" })).toEqual(["srv", "-n", "A"])
    expect(expandTemplate("srv {routes}", { port: 1, name: "A", repo: "" })).toEqual(["srv"])
  })
})

describe("freePorts", () => {
  it("returns distinct usable ports", async () => {
    const ports = await freePorts(4)
    expect(new Set(ports).size).toBe(4)
    for (const p of ports) expect(p).toBeGreaterThan(0)
  })
})
