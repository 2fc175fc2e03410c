/**
 * Worker thread entry: one role per thread (publisher, subscribers, responder, requester), so that
 * publishing and consuming never share an event loop. A publisher thread has one connection, a
 * subscriber thread one or more; a responder and a requester may share a thread (their traffic is
 * strictly sequential). The role comes in workerData; commands arrive on the parent port (see
 * messages.ts), and "finish" closes every connection of the thread and ends it.
 */
import { parentPort, workerData } from "node:worker_threads"
import { RawConn } from "./client.js"
import {
  framesPerBatch,
  makePayload,
  PROBE_ID,
  PubBatch,
  pubFrame,
  STAMP_BYTES,
  type MsgFrame
} from "./protocol.js"
import {
  nowMs,
  type Command,
  type LatencyPubSpec,
  type LatencySubSpec,
  type PublisherSpec,
  type Report,
  type RequesterSpec,
  type ResponderSpec,
  type SubscriberConn,
  type SubscriberSpec,
  type SubResult,
  type WorkerSpec
} from "./messages.js"
import { SeqTracker } from "./verify.js"

const port = parentPort
if (port === null) throw new Error("bench/worker.ts must run in a worker thread")

const send = (r: Report, transfer?: ReadonlyArray<ArrayBuffer>): void =>
  port.postMessage(r, transfer === undefined ? undefined : [...transfer])

const fail = (err: unknown): void => {
  send({ type: "error", message: err instanceof Error ? err.message : String(err) })
}

/** Dispatches commands from the main thread; each role registers the handlers it needs. */
const commands = new Map<Command["type"], () => void>()
port.on("message", (c: Command) => commands.get(c.type)?.())
const onCommand = (type: Command["type"], f: () => void): void => {
  commands.set(type, f)
}

/** What a started role leaves behind: how to shut it down on "finish". */
interface Role {
  close(): Promise<void>
}

const u32 = (s: Uint8Array, at: number): number =>
  (s[at]! | (s[at + 1]! << 8) | (s[at + 2]! << 16) | (s[at + 3]! << 24)) >>> 0

// ---------------------------------------------------------------------------------------------
// Publisher: pre-encoded batches, written back to back while the socket accepts them.

/** Batches in flight: a batch is refilled only after its write callback (bytes handed to the kernel). */
const POOL = 4

const runPublisher = async (spec: PublisherSpec): Promise<Role> => {
  const conn = await RawConn.connect(spec.port, spec.tlsCa !== undefined ? { tlsCa: spec.tlsCa } : {})
  conn.onError = fail
  const socket = conn.socket
  const counters = new Int32Array(spec.progress.buffer)
  const pubSlot = spec.progress.groups + spec.pubId

  let probing: NodeJS.Timeout | undefined
  let probeSeq = 0
  onCommand("probe", () => {
    // One probe every few ms until the main thread has seen every subscriber receive one.
    probing = setInterval(() => conn.write(pubFrame(spec.subject, makePayload(spec.size, PROBE_ID, probeSeq++))), 5)
  })

  onCommand("go", () => {
    clearInterval(probing)
    publish().catch(fail)
  })
  /** Messages of all publishers written but not yet received by the slowest delivery group. */
  const inFlight = (): number => {
    let sent = 0
    for (let p = 0; p < spec.progress.pubs; p++) sent += Atomics.load(counters, spec.progress.groups + p)
    let min = Infinity
    for (let g = 0; g < spec.progress.groups; g++) min = Math.min(min, Atomics.load(counters, g))
    return sent - min
  }

  const publish = async (): Promise<void> => {
    const frames = framesPerBatch(spec.subject, spec.size, spec.batchBytes)
    const free: PubBatch[] = []
    for (let i = 0; i < POOL; i++) free.push(new PubBatch(spec.subject, spec.size, spec.pubId, frames))
    let freed: (() => void) | undefined
    const release = (b: PubBatch) => () => {
      free.push(b)
      const f = freed
      freed = undefined
      f?.()
    }
    const releasers = new Map(free.map((b) => [b, release(b)] as const))
    const drained = () => new Promise<void>((resolve) => socket.once("drain", resolve))
    const windowed = spec.window > 0 && spec.progress.groups > 0

    const t0 = nowMs()
    let sent = 0
    let windowWaits = 0
    while (sent < spec.count) {
      // Routes have no backpressure: without this window a publisher can push a subscriber on
      // the far node past the server's slow-consumer limit. It engages only when deliveries lag.
      if (windowed) {
        while (inFlight() > spec.window) {
          windowWaits++
          await new Promise((r) => setTimeout(r, 1))
        }
      }
      const batch = free.pop()
      if (batch === undefined) {
        await new Promise<void>((resolve) => (freed = resolve))
        continue
      }
      const n = Math.min(frames, spec.count - sent)
      const ok = socket.write(batch.fill(sent, n), releasers.get(batch))
      sent += n
      Atomics.store(counters, pubSlot, sent)
      if (!ok) await drained()
    }
    await conn.ping()
    const t1 = nowMs()
    send({ type: "pub-done", t0, t1, sent, windowWaits })
  }

  return {
    close: () => {
      clearInterval(probing)
      return conn.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Subscriber: count and verify every delivery; per chunk, publish progress to the shared counters.

const runSubscriber = async (spec: SubscriberSpec): Promise<Role> => {
  const counters = new Int32Array(spec.progress.buffer)
  const subs = await Promise.all(spec.conns.map((c) => subscribe(spec, c, counters)))
  onCommand("report", () => {
    const results = subs.map((s) => s.result())
    send({ type: "sub-result", results }, results.flatMap((r) => r.report.bits))
  })
  return { close: () => Promise.all(subs.map((s) => s.conn.close())).then(() => {}) }
}

const subscribe = async (spec: SubscriberSpec, c: SubscriberConn, counters: Int32Array) => {
  const sub = c.queue === undefined
    ? { subject: spec.subject, sid: c.sid }
    : { subject: spec.subject, sid: c.sid, queue: c.queue }
  const conn = await RawConn.connect(spec.port, { subs: [sub], ...(spec.tlsCa !== undefined ? { tlsCa: spec.tlsCa } : {}) })
  conn.onError = fail
  const tracker = new SeqTracker(spec.counts)
  let fresh = 0
  let probes = 0
  let reads = 0
  let first = 0
  let last = 0

  conn.onMsg = (f: MsgFrame) => {
    if (f.stampLength < STAMP_BYTES) {
      tracker.invalid++
      return
    }
    const id = u32(f.stamp, 0)
    if (id === PROBE_ID) {
      if (probes++ === 0) send({ type: "probe-seen", index: c.index })
      return
    }
    if (f.size !== spec.size) {
      tracker.invalid++
      return
    }
    if (tracker.record(id, u32(f.stamp, 4))) fresh++
  }
  conn.onChunk = () => {
    if (fresh === 0) return
    reads++
    const d = fresh
    fresh = 0
    last = nowMs()
    if (first === 0) first = last
    const total = Atomics.add(counters, c.group, d) + d
    // Exactly one member of a group crosses the threshold.
    if (total >= c.expected && total - d < c.expected) send({ type: "complete", group: c.group, t: last })
  }
  const result = (): SubResult => ({ index: c.index, report: tracker.report(), first, last, probes, reads })
  return { conn, result }
}

// ---------------------------------------------------------------------------------------------
// Responder: echo each request's stamp back to its reply subject, one write per socket chunk.

const runResponder = async (spec: ResponderSpec): Promise<Role> => {
  const conn = await RawConn.connect(spec.port, { subs: [{ subject: spec.subject, sid: 1 }], decodeSubjects: true })
  conn.onError = fail
  const pattern = new Map<number, Buffer>()
  const out: Buffer[] = []
  conn.onMsg = (f: MsgFrame) => {
    if (f.reply === "") return
    let body = pattern.get(f.size)
    if (body === undefined) {
      body = makePayload(Math.max(f.size, STAMP_BYTES), 0, 0).subarray(0, f.size)
      pattern.set(f.size, body)
    }
    body.set(f.stamp.subarray(0, f.stampLength), 0)
    out.push(pubFrame(f.reply, body))
  }
  conn.onChunk = () => {
    if (out.length === 0) return
    conn.write(out.length === 1 ? out[0]! : Buffer.concat(out))
    out.length = 0
  }
  return { close: () => conn.close() }
}

// ---------------------------------------------------------------------------------------------
// Requester: sequential requests on a muxed inbox (`<inbox>.<n>`), the next one sent from the
// reply handler itself so no timer or promise sits in the measured path.

const runRequester = async (spec: RequesterSpec): Promise<Role> => {
  const inbox = `_INBOX.bench${process.pid}x${Math.floor(Math.random() * 1e9)}`
  const conn = await RawConn.connect(spec.port, { subs: [{ subject: `${inbox}.*`, sid: 1 }] })
  conn.onError = fail
  const total = spec.warmup + spec.count
  const latencies = new Float64Array(spec.count)
  let mismatched = 0
  let seq = 0
  let sentAt = 0
  let probing: NodeJS.Timeout | undefined
  let deadline: NodeJS.Timeout | undefined

  const request = (id: number, n: number): void => {
    sentAt = nowMs()
    conn.write(pubFrame(spec.subject, makePayload(spec.size, id, n), `${inbox}.${n}`))
  }
  const done = (): void => {
    clearTimeout(deadline)
    conn.onMsg = () => {}
    send({ type: "reqrep-result", latenciesUs: latencies, mismatched }, [latencies.buffer as ArrayBuffer])
  }

  const measure = (f: MsgFrame): void => {
    const t = nowMs()
    if (f.stampLength < STAMP_BYTES || u32(f.stamp, 0) !== 0 || u32(f.stamp, 4) !== seq) {
      // A late probe reply or a wrong payload: not the reply we wait for.
      if (f.stampLength < STAMP_BYTES || u32(f.stamp, 0) !== PROBE_ID) mismatched++
      return
    }
    if (seq >= spec.warmup) latencies[seq - spec.warmup] = (t - sentAt) * 1000
    seq++
    if (seq < total) request(0, seq)
    else done()
  }

  onCommand("go", () => {
    // Probe until the responder answers: covers interest propagation in both directions.
    let n = 0
    deadline = setTimeout(() => fail(new Error("request/reply: no reply to probe requests within 30 s")), 30_000)
    conn.onMsg = (f) => {
      if (f.stampLength < STAMP_BYTES || u32(f.stamp, 0) !== PROBE_ID) return
      clearInterval(probing)
      clearTimeout(deadline)
      conn.onMsg = measure
      deadline = setTimeout(() => fail(new Error(`request/reply: only ${seq} of ${total} replies`)), spec.timeoutMs)
      request(0, 0)
    }
    probing = setInterval(() => request(PROBE_ID, n++), 20)
    request(PROBE_ID, n++)
  })
  return {
    close: () => {
      clearInterval(probing)
      clearTimeout(deadline)
      return conn.close()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Latency publisher: one write per message on a fixed schedule (open loop). Between messages the
// thread sleeps in Atomics.wait (sub-millisecond precision, unlike timers, and no spinning that
// would take the core from the subscriber thread); every few ms it yields to its event loop so
// that write callbacks and commands are served. Writes go out synchronously while the socket's
// queue is empty, which it is at this rate.

/** Longest stretch (ms) the latency publisher blocks its thread before yielding to the event loop. */
const LAT_SLICE_MS = 5
/** Publisher id of the latency row's warm-up messages (received and verified, not timed). */
const LAT_WARMUP_ID = 1

const runLatencyPublisher = async (spec: LatencyPubSpec): Promise<Role> => {
  const conn = await RawConn.connect(spec.port)
  conn.onError = fail
  const sendTimes = new Float64Array(spec.sendTimes)
  const sleeper = new Int32Array(new SharedArrayBuffer(4))
  let probing: NodeJS.Timeout | undefined
  let probeSeq = 0
  let stopped = false
  onCommand("probe", () => {
    probing = setInterval(() => conn.write(pubFrame(spec.subject, makePayload(spec.size, PROBE_ID, probeSeq++))), 5)
  })
  onCommand("go", () => {
    clearInterval(probing)
    const interval = 1000 / spec.rate
    const total = spec.warmup + spec.count
    const warm = makePayload(spec.size, LAT_WARMUP_ID, 0)
    const timed = makePayload(spec.size, 0, 0)
    const start = nowMs()
    let i = 0
    let t0 = NaN
    let maxLagMs = 0
    const slice = (): void => {
      if (stopped) return
      const sliceEnd = nowMs() + LAT_SLICE_MS
      while (i < total) {
        const due = start + i * interval
        let now = nowMs()
        if (due > now) {
          if (due > sliceEnd) {
            setImmediate(slice)
            return
          }
          Atomics.wait(sleeper, 0, 0, due - now)
          now = nowMs()
        }
        if (i >= spec.warmup && now - due > maxLagMs) maxLagMs = now - due
        if (i < spec.warmup) {
          warm.writeUInt32LE(i, 4)
          conn.write(pubFrame(spec.subject, warm))
        } else {
          const seq = i - spec.warmup
          timed.writeUInt32LE(seq, 4)
          const frame = pubFrame(spec.subject, timed)
          const t = nowMs()
          if (seq === 0) t0 = t
          sendTimes[seq] = t
          conn.write(frame)
        }
        i++
      }
      const t1 = nowMs()
      conn.ping().then(() => send({ type: "lat-pub-done", t0, t1, sent: spec.count, maxLagMs }), fail)
    }
    slice()
  })
  return {
    close: () => {
      stopped = true
      clearInterval(probing)
      return conn.close()
    }
  }
}

// Latency subscriber: the arrival time of every timed message, and the usual loss/dup/order checks.
const runLatencySubscriber = async (spec: LatencySubSpec): Promise<Role> => {
  const conn = await RawConn.connect(spec.port, { subs: [{ subject: spec.subject, sid: 1 }] })
  conn.onError = fail
  const recvTimes = new Float64Array(spec.recvTimes)
  // Index = publisher id: 0 timed, 1 warm-up.
  const tracker = new SeqTracker([spec.count, spec.warmup])
  let probes = 0
  let timed = 0
  let last = 0
  conn.onMsg = (f: MsgFrame) => {
    const t = nowMs()
    if (f.stampLength < STAMP_BYTES || f.size !== spec.size) {
      tracker.invalid++
      return
    }
    const id = u32(f.stamp, 0)
    if (id === PROBE_ID) {
      if (probes++ === 0) send({ type: "probe-seen", index: 0 })
      return
    }
    const seq = u32(f.stamp, 4)
    if (!tracker.record(id, seq) || id !== 0) return
    recvTimes[seq] = t
    last = t
    if (++timed === spec.count) send({ type: "complete", group: 0, t })
  }
  onCommand("report", () => {
    const result: SubResult = { index: 0, report: tracker.report(), first: 0, last, probes, reads: 0 }
    send({ type: "sub-result", results: [result] }, result.report.bits)
  })
  return { close: () => conn.close() }
}

const start = (spec: WorkerSpec): Promise<Role[]> => {
  switch (spec.role) {
    case "pub":
      return runPublisher(spec).then((r) => [r])
    case "sub":
      return runSubscriber(spec).then((r) => [r])
    case "responder":
      return runResponder(spec).then((r) => [r])
    case "requester":
      return runRequester(spec).then((r) => [r])
    case "lat-pub":
      return runLatencyPublisher(spec).then((r) => [r])
    case "lat-sub":
      return runLatencySubscriber(spec).then((r) => [r])
    case "reqrep":
      // Responder first: the requester's probes then find it subscribed.
      return runResponder(spec.responder).then(async (a) => [a, await runRequester(spec.requester)])
  }
}

start(workerData as WorkerSpec).then(
  (roles) => {
    onCommand("finish", () => {
      Promise.all(roles.map((r) => r.close()))
        .then(() => {
          send({ type: "closed" })
          port.close()
        })
        .catch(fail)
    })
    send({ type: "ready" })
  },
  fail
)
