/**
 * The differential fuzzer, bounded: 2,000 seeded cases (valid ops, mutations, garbage, random
 * chunking, pipelining) sent to our server and to real nats-server; every difference in the bytes
 * sent back or in closing must be explained by the reviewed allow-list (bench/fuzz/allowlist.ts).
 * `npm run fuzz -- --seed S --cases N` runs any number of cases against the built binary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { describe as describeDiff, runFuzz } from "../../bench/fuzz/fuzz.js"
import { FUZZ_LIMITS, NATS_SERVER, type Proc, startProc } from "../../bench/fuzz/servers.js"
import { startServer, type TestServer } from "../support/servers.js"

const PAIRS = 2

describe.skipIf(NATS_SERVER === undefined)("differential fuzzing against nats-server", () => {
  const ours: Array<TestServer> = []
  const refs: Array<Proc> = []
  beforeAll(async () => {
    for (let i = 0; i < PAIRS; i++) {
      ours.push(await startServer({ maxPayload: FUZZ_LIMITS.maxPayload, maxControlLine: FUZZ_LIMITS.maxControlLine, pingInterval: 600_000 }))
      refs.push(await startProc("ref"))
    }
  }, 60_000)
  afterAll(async () => {
    await Promise.all([...ours.map((s) => s.stop()), ...refs.map((r) => r.stop())])
  })

  it("2,000 seeded cases: no unexplained difference in bytes or closing", async () => {
    const result = await runFuzz({
      targets: ours.map((s, i) => ({ ours: s.port, ref: refs[i]!.port })),
      seed: 20261202,
      cases: 2000
    })
    const report = result.unexplained.slice(0, 5).map(describeDiff).join("\n\n")
    expect(result.unexplained.length, report).toBe(0)
    expect(result.cases).toBe(2000)
  }, 120_000)
})
