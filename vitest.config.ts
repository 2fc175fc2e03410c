import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers on ephemeral ports; two forks fit the 2-core machines.
    pool: "forks",
    maxWorkers: 2
  }
})
