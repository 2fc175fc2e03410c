import { defineConfig } from "vitest/config"

// vitest 5's reporter uses Map.groupBy (Node 21+); on this project's Node 20 a failing run would
// crash while printing its summary. The config is loaded in vitest's main process, so patch it here.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    value: <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, Array<V>> => {
      const out = new Map<K, Array<V>>()
      let i = 0
      for (const item of items) {
        const k = key(item, i++)
        const group = out.get(k)
        if (group === undefined) out.set(k, [item])
        else group.push(item)
      }
      return out
    }
  })
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers on ephemeral ports; two forks fit the 2-core machines.
    pool: "forks",
    maxWorkers: 2
  }
})
