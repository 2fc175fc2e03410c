/**
 * The bounded chaos suite both chaos test files run (ours only, mixed with nats-server): one fault
 * of each kind in `boundedFaults`, then the checks — no duplicates, no loss outside the fault
 * windows, the mesh re-formed, and the freeze and silent drop noticed by keepalive on the nodes
 * named in `staleOn`. Kept apart from `ChaosRun` so that the `npm run chaos` script does not load
 * vitest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ChaosNodeSpec } from "./ChaosCluster.js"
import { boundedFaults, ChaosRun } from "./ChaosRun.js"

export const chaosSuite = (title: string, nodes: ReadonlyArray<ChaosNodeSpec>, staleOn: ReadonlyArray<number>, skip = false): void => {
  describe.skipIf(skip)(title, () => {
    let run: ChaosRun
    beforeAll(async () => {
      run = await ChaosRun.start({ nodes, topology: "seed", pingInterval: "1s" }, { log: (l) => console.log(l) })
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
      // The freeze and the silent drop were noticed by keepalive alone.
      for (const i of staleOn) {
        expect(run.cluster.nodes[i]!.proc!.output()).toContain("Router connection closed: Stale Connection")
      }
    }, 120_000)
  })
}
