/**
 * Process numbers the monitoring documents share: CPU as nats-server's `pse` samples it, and
 * the `VarzRuntime` of the HTTP monitor while it runs — so that `$SYS.REQ.SERVER.<id>.VARZ`
 * (`SystemRequests`) answers with the same `http_host`, `http_port`, `http_req_stats` and `cpu`
 * as `/varz` on the same server.
 *
 * @since 0.1.0
 */
import type { ServerState } from "../server/ServerState.js"
import type { VarzRuntime } from "./Varz.js"

/**
 * Monotonic milliseconds. Not `performance.now()`: the global `performance` loads
 * `node:perf_hooks`, ~0.3 MiB of an idle server's RSS (the system account's sampler is made at
 * start-up).
 */
const monotonicMs = (): number => {
  const [s, ns] = process.hrtime()
  return s * 1000 + ns / 1e6
}

/**
 * Process CPU as nats-server's `pse` reports it: percent of one core over the last window of at
 * least a second, truncated to one decimal.
 */
export class CpuSampler {
  private lastUsage = process.cpuUsage()
  private lastAt = monotonicMs()
  private value = 0

  read(): number {
    const at = monotonicMs()
    const elapsedMs = at - this.lastAt
    if (elapsedMs >= 1000) {
      const usage = process.cpuUsage(this.lastUsage) // µs since the last sample
      const tenths = Math.floor(((usage.user + usage.system) / 1000 / elapsedMs) * 1000)
      this.value = tenths / 10
      this.lastUsage = process.cpuUsage()
      this.lastAt = at
    }
    return this.value
  }
}

const running = new WeakMap<ServerState, () => VarzRuntime>()

/** The HTTP monitor of `server` started: its runtime numbers, until the returned function is called. */
export const registerMonitor = (server: ServerState, runtime: () => VarzRuntime): () => void => {
  running.set(server, runtime)
  return () => {
    if (running.get(server) === runtime) running.delete(server)
  }
}

/** The runtime numbers of `server`'s HTTP monitor, when it has one running. */
export const monitorRuntime = (server: ServerState): VarzRuntime | undefined => running.get(server)?.()
