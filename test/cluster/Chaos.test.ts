/**
 * Cluster chaos, bounded: three of our executables as child processes under steady publish load,
 * one fault of each kind (SIGKILL + restart, SIGSTOP/SIGCONT, route reset, silent route drop that
 * only the route PING notices), then: no duplicates, no loss outside the fault windows, and the
 * mesh whole again after each fault. `npm run chaos` runs longer seeded schedules.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ChaosRun, type Fault } from "../support/ChaosRun.js"

const faults: ReadonlyArray<Fault> = [
  { kind: "kill", a: 1 },
  { kind: "freeze", a: 2 },
  { kind: "reset", a: 0, b: 1 },
  { kind: "drop", a: 1, b: 2 }
]

describe("cluster chaos: ours only", () => {
  let run: ChaosRun
  beforeAll(async () => {
    run = await ChaosRun.start({
      nodes: [{ name: "A", impl: "ours" }, { name: "B", impl: "ours" }, { name: "C", impl: "ours" }],
      topology: "seed",
      pingInterval: "1s"
    }, { log: (l) => console.log(l) })
  }, 60_000)
  afterAll(async () => {
    await run?.stop()
  })

  it("survives kill, freeze, reset and silent drop without duplicates or loss outside the windows", async () => {
    for (const f of faults) await run.inject(f)
    const report = await run.finish()
    console.log(JSON.stringify({ ...report, windows: report.windows.length }))
    expect(report.duplicates).toBe(0)
    expect(report.lostOutside).toEqual([])
    expect(await run.cluster.meshFormed()).toBe(true)
  }, 120_000)
})
