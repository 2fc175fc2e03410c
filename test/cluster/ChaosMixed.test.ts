/**
 * Cluster chaos, bounded, in a mixed cluster: our A and C with real nats-server 2.9 as N (killed
 * and restarted, its explicit link to A reset, its gossiped link to C silently dropped; C frozen).
 * Same checks as Chaos.test.ts. nats-server delays a route's PING while it delivers messages on
 * that route, so under load only our end notices a freeze or a silent drop; nats-server's end sees
 * our close when the fault ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { haveNatsServer } from "../support/ChaosCluster.js"
import { boundedFaults, ChaosRun } from "../support/ChaosRun.js"

describe.skipIf(!haveNatsServer)("cluster chaos: mixed with nats-server 2.9", () => {
  let run: ChaosRun
  beforeAll(async () => {
    run = await ChaosRun.start({
      nodes: [{ name: "A", impl: "ours" }, { name: "N", impl: "nats" }, { name: "C", impl: "ours" }],
      topology: "seed",
      pingInterval: "1s"
    }, { log: (l) => console.log(l) })
  }, 60_000)
  afterAll(async () => {
    await run?.stop()
  })

  it("kill, freeze, reset and silent drop: the mesh re-forms, nothing duplicated, nothing lost outside the windows", async () => {
    for (const f of boundedFaults) await run.inject(f)
    const report = await run.finish()
    console.log(`published ${report.published.join("/")}, received ${report.received}, lost inside windows ${report.lostInsideWindows}`)
    expect(report.duplicates).toBe(0)
    expect(report.lostOutsideRanges).toEqual([])
    expect(report.windows).toHaveLength(boundedFaults.length * 3)
    expect(await run.cluster.meshFormed("chaos.*")).toBe(true)
    const C = run.cluster.nodes[2]!
    expect(C.proc!.output()).toContain("Router connection closed: Stale Connection")
  }, 120_000)
})
