/**
 * What the main thread and the benchmark workers say to each other: each worker's role spec
 * (passed as workerData) and the messages exchanged over its port. Times are `process.hrtime`
 * milliseconds, which share one monotonic clock across all threads of the process.
 */
import type { SeqReport } from "./verify.js"

/**
 * Shared progress counters (Int32 slots in a SharedArrayBuffer): one per delivery group (how many
 * distinct messages its members have received) followed by one per publisher (messages written).
 * Subscribers detect completion with an atomic add; the optional publisher window reads them.
 */
export interface Progress {
  buffer: SharedArrayBuffer
  groups: number
  pubs: number
}

export interface PublisherSpec {
  role: "pub"
  port: number
  /** CA file to verify a TLS server with (the tls row); absent = plain TCP. */
  tlsCa?: string
  subject: string
  size: number
  count: number
  pubId: number
  batchBytes: number
  /** Max messages (of all publishers) written but not yet received by every group; 0 = no limit. */
  window: number
  progress: Progress
}

/** One subscriber connection. */
export interface SubscriberConn {
  /** Index of this subscriber in the run (reports refer to it). */
  index: number
  sid: number
  queue?: string
  /** Delivery group (one per plain subscriber, one per queue group) and its expected total. */
  group: number
  expected: number
}

/**
 * A subscriber thread: one or more subscriber connections sharing one event loop (cheaper than a
 * thread each when the client has a single core: one wake-up can serve several sockets).
 */
export interface SubscriberSpec {
  role: "sub"
  port: number
  /** CA file to verify a TLS server with (the tls row); absent = plain TCP. */
  tlsCa?: string
  subject: string
  size: number
  /** Messages each publisher sends (index = publisher id). */
  counts: number[]
  conns: SubscriberConn[]
  progress: Progress
}

export interface ResponderSpec {
  role: "responder"
  port: number
  subject: string
}

export interface RequesterSpec {
  role: "requester"
  port: number
  subject: string
  size: number
  count: number
  warmup: number
  timeoutMs: number
}

/** Responder and requester sharing one thread (one event loop, two connections). */
export interface ReqRepPairSpec {
  role: "reqrep"
  responder: ResponderSpec
  requester: RequesterSpec
}

/**
 * The publisher of the latency row: `warmup` untimed messages (publisher id 1), then `count`
 * timed ones (id 0), each its own write, at `rate` messages per second on a fixed schedule. The
 * time just before each timed write goes to `sendTimes[seq]` (Float64, hrtime ms).
 */
export interface LatencyPubSpec {
  role: "lat-pub"
  port: number
  subject: string
  size: number
  rate: number
  warmup: number
  count: number
  sendTimes: SharedArrayBuffer
}

/** The subscriber of the latency row: the arrival time of timed message `seq` goes to `recvTimes[seq]`. */
export interface LatencySubSpec {
  role: "lat-sub"
  port: number
  subject: string
  size: number
  warmup: number
  count: number
  recvTimes: SharedArrayBuffer
}

export type WorkerSpec = PublisherSpec | SubscriberSpec | ResponderSpec | RequesterSpec | ReqRepPairSpec | LatencyPubSpec | LatencySubSpec

/** What one subscriber connection received. */
export interface SubResult {
  index: number
  report: SeqReport
  /** Times of the first and last chunk with new messages. */
  first: number
  last: number
  probes: number
  /** Socket reads that carried new messages (how the server batches its writes to us). */
  reads: number
}

/** Main → worker. */
export type Command =
  | { type: "probe" } // publisher: send probe messages until "go"
  | { type: "go" } // publisher: start the timed phase; requester: start
  | { type: "report" } // subscriber: send its sub-result
  | { type: "finish" } // close the connection and exit

/** Worker → main. */
export type Report =
  | { type: "ready" }
  | { type: "probe-seen"; index: number }
  | { type: "complete"; group: number; t: number }
  | { type: "pub-done"; t0: number; t1: number; sent: number; windowWaits: number }
  | { type: "sub-result"; results: SubResult[] }
  | { type: "reqrep-result"; latenciesUs: Float64Array; mismatched: number }
  /** Latency publisher: the timed phase's first and last write, and the worst delay behind its schedule (ms). */
  | { type: "lat-pub-done"; t0: number; t1: number; sent: number; maxLagMs: number }
  | { type: "closed" }
  | { type: "error"; message: string }

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
