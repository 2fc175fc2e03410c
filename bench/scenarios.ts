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

export type Scenario = ThroughputScenario | ReqRepScenario

const tp = (s: Omit<ThroughputScenario, "kind" | "pubs" | "queue"> & Partial<ThroughputScenario>): ThroughputScenario => ({
  kind: "throughput",
  pubs: 1,
  queue: false,
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
  tp({ name: "cluster_16B", topology: "cluster", size: 16, msgs: 1_000_000, subs: 1, description: "publisher on B -> route -> subscriber on A, 16 B" }),
  tp({ name: "cluster_1KB", topology: "cluster", size: 1024, msgs: 200_000, subs: 1, description: "publisher on B -> route -> subscriber on A, 1 KiB" }),
  { kind: "reqrep", name: "cluster_reqrep", topology: "cluster", size: 16, msgs: 5_000, warmup: 3_000, description: "requester on B, responder on A, across the route" }
]

/** Applies `--scale` to message counts (at least 100 messages per row). */
export const scaled = (s: Scenario, scale: number): Scenario => ({ ...s, msgs: Math.max(100, Math.round(s.msgs * scale)) })
