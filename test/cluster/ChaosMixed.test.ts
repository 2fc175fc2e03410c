import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { haveNatsServer } from "../support/ChaosCluster.js"
import { ChaosRun, type Fault } from "../support/ChaosRun.js"

const faults: ReadonlyArray<Fault> = [
  { kind: "kill", a: 1 },
  { kind: "freeze", a: 2 },
  { kind: "reset", a: 0, b: 1 },
  { kind: "drop", a: 1, b: 2 }
]

describe.skipIf(!haveNatsServer)("cluster chaos: mixed with nats-server", () => {
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

  it("survives", async () => {
    for (const f of faults) await run.inject(f)
    const report = await run.finish()
    console.log(JSON.stringify({ ...report, windows: report.windows.length }))
    expect(report.duplicates).toBe(0)
    expect(report.lostOutside).toEqual([])
    expect(await run.cluster.meshFormed()).toBe(true)
  }, 120_000)
})
