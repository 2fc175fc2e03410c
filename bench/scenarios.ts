/**
 * The benchmark suite: one entry per table row. Throughput rows have publishers and subscribers
 * (or queue group members) on separate connections; request/reply rows measure sequential
 * round trips. In cluster rows subscribers/responders are on node A and publishers/requesters on
 * node B, so every message crosses the route. Message counts match natsbench's compare.sh suite
 * so that the two can be cross-checked row by row.
 */

export type Topology = "single" | "cluster"

export interface ThroughputScenario {
  kind: "throughput"
  name: string
  topology: Topology
  description: string
  size: number
  /** Messages per publisher. */
  msgs: number
  /**
   * Untimed messages per publisher first, on connections of their own (same topology, subject
   * and size), closed before the timed phase: the timed phase measures the servers' steady state,
   * not a JIT runtime's first second (as the latency rows' warm-ups do). `--cold` sets it to 0.
   */
  warmup: number
  pubs: number
  /** Plain subscribers (each gets every message), or queue group members when `queue`. */
  subs: number
  queue: boolean
  /** Clients connect with TLS (servers get --tls with a certificate made for the run). */
  tls?: boolean
}

export interface ReqRepScenario {
  kind: "reqrep"
  name: string
  topology: Topology
  description: string
  size: number
  /** Timed requests (after `warmup` untimed ones). */
  msgs: number
  warmup: number
}

/** One-way latency at a fixed publish rate (open loop: the schedule does not wait for the server). */
export interface LatencyScenario {
  kind: "latency"
  name: string
  topology: "single"
  description: string
  size: number
  /** Messages per second the publisher sends. */
  rate: number
  /** Timed messages (after `warmup` untimed ones at the same rate). */
  msgs: number
  warmup: number
}

/**
 * Resident memory of a fresh standalone server under a static load (see memory.ts): `idle` is
 * one connected client, `conns` is `count` idle connections, `subs` is `count` subscriptions
 * (distinct subjects) on one connection.
 */
export interface MemoryScenario {
  kind: "memory"
  name: string
  topology: "single"
  description: string
  load: "idle" | "conns" | "subs"
  count: number
}

export type Scenario = ThroughputScenario | ReqRepScenario | LatencyScenario | MemoryScenario

/** Throughput rows warm up with this fraction of their message count. */
const THROUGHPUT_WARMUP = 0.5

const tp = (s: Omit<ThroughputScenario, "kind" | "pubs" | "queue" | "warmup"> & Partial<ThroughputScenario>): ThroughputScenario => ({
  kind: "throughput",
  pubs: 1,
  queue: false,
  warmup: Math.round(s.msgs * THROUGHPUT_WARMUP),
  ...s
})

export const SUITE: ReadonlyArray<Scenario> = [
  tp({ name: "pub_16B", topology: "single", size: 16, msgs: 4_000_000, subs: 0, description: "publish only, no subscriber (server ingest)" }),
  tp({ name: "pubsub_16B", topology: "single", size: 16, msgs: 2_000_000, subs: 1, description: "1 publisher -> 1 subscriber, 16 B" }),
  tp({ name: "pubsub_1KB", topology: "single", size: 1024, msgs: 500_000, subs: 1, description: "1 publisher -> 1 subscriber, 1 KiB" }),
  tp({ name: "tls_pubsub_1KB", topology: "single", size: 1024, msgs: 500_000, subs: 1, tls: true, description: "1 publisher -> 1 subscriber, 1 KiB, both over TLS (--tls, ECDSA P-256 certificate)" }),
  tp({ name: "fanout_1x4_16B", topology: "single", size: 16, msgs: 500_000, subs: 4, description: "1 publisher -> 4 subscribers, each gets every message" }),
  tp({ name: "queue_1x4_16B", topology: "single", size: 16, msgs: 1_000_000, subs: 4, queue: true, description: "1 publisher -> queue group of 4, exactly once across the group" }),
  { kind: "reqrep", name: "reqrep_16B", topology: "single", size: 16, msgs: 10_000, warmup: 5_000, description: "sequential request/reply round trip (steady state: a JIT-compiled server needs a few thousand requests to warm up)" },
  { kind: "latency", name: "latency_10kps", topology: "single", size: 16, rate: 10_000, msgs: 20_000, warmup: 10_000, description: "one-way latency, publisher -> subscriber at a fixed 10,000 msgs/s (open loop), 16 B" },
  tp({ name: "cluster_16B", topology: "cluster", size: 16, msgs: 1_000_000, subs: 1, description: "publisher on B -> route -> subscriber on A, 16 B" }),
  tp({ name: "cluster_1KB", topology: "cluster", size: 1024, msgs: 200_000, subs: 1, description: "publisher on B -> route -> subscriber on A, 1 KiB" }),
  { kind: "reqrep", name: "cluster_reqrep", topology: "cluster", size: 16, msgs: 5_000, warmup: 10_000, description: "requester on B, responder on A, across the route (steady state: two JIT-compiled servers need ~10,000 requests to settle)" },
  { kind: "memory", name: "mem_idle", topology: "single", load: "idle", count: 1, description: "server RSS just started, one client connected (CONNECT + PING/PONG)" },
  { kind: "memory", name: "mem_conns", topology: "single", load: "conns", count: 10_000, description: "server RSS with idle client connections (each CONNECT + PING/PONG)" },
  { kind: "memory", name: "mem_subs", topology: "single", load: "subs", count: 100_000, description: "server RSS with subscriptions (distinct subjects) on one connection (SUBs + PING/PONG)" }
]

/** `--quick` divides the memory rows' connection and subscription counts by this. */
export const QUICK_MEMORY_DIVISOR = 10

/**
 * Applies `--scale` to message counts (at least 100 messages per row). With `quick` it scales
 * warm-up counts too and divides memory rows' counts by QUICK_MEMORY_DIVISOR (otherwise memory
 * rows keep their counts: --scale is about messages).
 */
export const scaled = (s: Scenario, scale: number, quick = false): Scenario => {
  if (s.kind === "memory") return quick && s.load !== "idle" ? { ...s, count: Math.ceil(s.count / QUICK_MEMORY_DIVISOR) } : s
  const msgs = Math.max(100, Math.round(s.msgs * scale))
  // A throughput row's warm-up is a fraction of its count, so it follows --scale; latency rows
  // keep theirs (a JIT needs a number of requests, whatever the timed count) except with --quick.
  if (s.kind === "throughput") return { ...s, msgs, warmup: s.warmup === 0 ? 0 : Math.max(100, Math.round(s.warmup * scale)) }
  if (!quick) return { ...s, msgs }
  return { ...s, msgs, warmup: Math.max(100, Math.round(s.warmup * scale)) }
}

/** `--cold`: throughput rows without their warm-up (a fresh server's first messages are timed). */
export const cold = (s: Scenario): Scenario => (s.kind === "throughput" ? { ...s, warmup: 0 } : s)

/** The amount a row moves: messages, or connections / subscriptions for memory rows. */
export const rowSize = (s: Scenario): number => (s.kind === "memory" ? s.count : s.msgs)
