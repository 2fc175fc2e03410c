/**
 * Cluster chaos, bounded: three of our executables as child processes, a publisher and a
 * subscriber pinned to each, steady load, and one fault of each kind — SIGKILL + restart,
 * SIGSTOP/SIGCONT, a route reset and a silent route drop that only the route PING notices
 * (ping_interval 1s) — each held until the peers noticed it, then ended. After each fault the mesh
 * must re-form (every node routed to both others, with their interest) within a generous deadline;
 * at the end no message may be duplicated or lost outside the fault windows (see `ChaosRun` for
 * how a window is fixed by events). `npm run chaos` runs longer seeded schedules.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { boundedFaults, ChaosRun } from "../support/ChaosRun.js"

describe("cluster chaos: three of ours", () => {
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

  it("kill, freeze, reset and silent drop: the mesh re-forms, nothing duplicated, nothing lost outside the windows", async () => {
    for (const f of boundedFaults) await run.inject(f)
    const report = await run.finish()
    console.log(`published ${report.published.join("/")}, received ${report.received}, lost inside windows ${report.lostInsideWindows}`)
    expect(report.duplicates).toBe(0)
    expect(report.lostOutsideRanges).toEqual([])
    expect(report.windows).toHaveLength(boundedFaults.length * 3)
    expect(await run.cluster.meshFormed("chaos.*")).toBe(true)
    // The freeze and the silent drop were noticed by keepalive alone.
    const [, B, C] = run.cluster.nodes
    const stale = (s: string) => s.includes("Router connection closed: Stale Connection")
    expect(stale(B!.proc!.output()) && stale(C!.proc!.output())).toBe(true)
  }, 120_000)
})
