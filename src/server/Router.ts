/**
 * The synchronous routing core: the subject index, local and remote interest, and the delivery of
 * one message to everything that wants it.
 *
 * This is the inner loop of the broker and follows the hot-path rule: no Effect, Promise or
 * closure per message. A message from a client goes to local subscribers and, once, to every route
 * with matching interest; a message from a route goes to local subscribers only (one hop). Output
 * is appended to per-connection buffers; the connections touched are remembered and flushed once
 * when the batch that caused them ends (`flush`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { SubjectIndex } from "../subjects/SubjectIndex.js"
import type { Interest, RouteTarget } from "./Subscription.js"
import { LocalSubscription, RemoteInterest } from "./Subscription.js"

/** A connection with an outbound buffer that can be flushed. */
export interface Flushable {
  dirty: boolean
  /**
   * Hand the buffered output to the writer. `producer` is given when the flush ends that
   * producer's batch: a connection the batch left backlogged stalls it (`Producer.stalledBy`).
   */
  flush(producer?: Producer): void
}

/** A connection whose output backlog is large enough that publishers should wait for it. */
export interface Backlogged {
  /** Completes once the backlog went down (or after a bounded wait). */
  awaitDrain(): Effect.Effect<void>
}

/**
 * A producer whose batch is routed: a client, or the in-process publisher. Route links are not
 * producers here: nats-server stalls only CLIENT producers.
 */
export interface Producer {
  /** `consumer` was left backlogged by this producer's batch; true when it is the first one to stall it. */
  stalledBy(consumer: Backlogged): boolean
}

/**
 * One producer's fast-producer stall, as nats-server keeps it per connection: the first
 * connection that the producer's batch left backlogged sets it, and the producer's own session
 * takes it before reading more — it waits for that connection to drain, so that a slower consumer
 * bounds memory instead of the sender buffering without limit.
 */
export class StallSignal implements Producer {
  private consumer: Backlogged | undefined = undefined

  stalledBy(consumer: Backlogged): boolean {
    if (this.consumer !== undefined) return false
    this.consumer = consumer
    return true
  }

  /** The connection this producer waits for, if any (not taken). */
  get stalledOn(): Backlogged | undefined {
    return this.consumer
  }

  /** Take the signal: wait for the backlogged connection to drain; nothing to wait for without one. */
  take(): Effect.Effect<void> {
    const consumer = this.consumer
    if (consumer === undefined) return Effect.void
    this.consumer = undefined
    return consumer.awaitDrain()
  }
}

/** Told when aggregated local interest changes (the cluster announces it to its routes). */
export interface InterestListener {
  interestChanged(change: InterestChange): void
}

/** Who sent a message; `echo: false` publishers do not receive their own messages. */
export interface Publisher {
  readonly cid: number
  readonly echo: boolean
}

/** Aggregated local interest per subject (+ queue), as announced to routes with RS+/RS-. */
export interface InterestChange {
  readonly subject: string
  readonly queue: string | undefined
  /** Local members now: 0 means the interest is gone. */
  readonly count: number
}

export interface RouterStats {
  inMsgs: number
  inBytes: number
  outMsgs: number
  outBytes: number
  slowConsumers: number
}

const interestKey = (subject: string, queue: string | undefined): string =>
  queue === undefined ? subject : `${subject} ${queue}`

export class Router {
  readonly index = new SubjectIndex<Interest>()
  readonly stats: RouterStats = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, slowConsumers: 0 }
  /** Local interest counts keyed by `subject[ queue]`. */
  readonly localInterest = new Map<string, InterestChange>()
  private readonly dirty: Array<Flushable> = []
  private stamp = 0
  private readonly routeTargets: Array<RouteTarget> = []
  /** Uniform [0, 1) for queue-member choice; the broker sets it from Effect's `Random` (seedable). */
  random: () => number = Math.random

  /** `interest` hears when local interest for a key appears, changes weight (queues) or disappears. */
  constructor(private readonly interest?: InterestListener) {}

  // --- interest --------------------------------------------------------------------------------

  addLocal(sub: LocalSubscription): void {
    this.index.insert(sub)
    this.countLocal(sub.subject, sub.queue, 1)
  }

  removeLocal(sub: LocalSubscription): void {
    if (sub.closed) return
    sub.closed = true
    this.index.remove(sub)
    this.countLocal(sub.subject, sub.queue, -1)
  }

  private countLocal(subject: string, queue: string | undefined, delta: number): void {
    const key = interestKey(subject, queue)
    const prev = this.localInterest.get(key)?.count ?? 0
    const count = prev + delta
    const change: InterestChange = { subject, queue, count }
    if (count === 0) this.localInterest.delete(key)
    else this.localInterest.set(key, change)
    // Plain interest is announced on 0→1 and 1→0; queue interest on every change (the weight).
    if (this.interest !== undefined && (queue !== undefined || count === 0 || prev === 0)) {
      this.interest.interestChanged(change)
    }
  }

  addRemote(interest: RemoteInterest): void {
    this.index.insert(interest)
  }

  removeRemote(interest: RemoteInterest): void {
    this.index.remove(interest)
  }

  // --- delivery --------------------------------------------------------------------------------

  /** Remember a connection to flush at the end of the current batch. */
  markDirty(conn: Flushable): void {
    if (conn.dirty) return
    conn.dirty = true
    this.dirty.push(conn)
  }

  /**
   * Flush every connection touched since the last flush: one write per connection per batch.
   * `producer`: the batch was that producer's; connections it left backlogged stall it.
   */
  flush(producer?: Producer): void {
    const dirty = this.dirty
    for (let i = 0; i < dirty.length; i++) {
      const conn = dirty[i]!
      conn.dirty = false
      conn.flush(producer)
    }
    dirty.length = 0
  }

  /**
   * Route a message published by a local client (or in-process publisher): to local subscribers
   * and to each route with interest, once. Returns how many deliveries were made (local + routes),
   * which decides no-responders.
   */
  publishLocal(from: Publisher, subject: string, reply: string | undefined, headerSize: number, payload: Uint8Array): number {
    const stats = this.stats
    stats.inMsgs++
    stats.inBytes += payload.length
    const result = this.index.match(subject)
    const plain = result.plain
    const queues = result.queues
    if (plain.length === 0 && queues.length === 0) return 0

    const stamp = ++this.stamp
    const targets = this.routeTargets
    let delivered = 0

    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i]!
      if (sub.remote) {
        const route = sub.route
        if (route.mark !== stamp) {
          route.mark = stamp
          if (route.queueScratch.length > 0) route.queueScratch.length = 0
          targets.push(route)
        }
        continue
      }
      if (sub.closed || (!from.echo && sub.owner.cid === from.cid)) continue
      if (this.deliverLocal(sub, subject, reply, headerSize, payload)) delivered++
    }

    for (let g = 0; g < queues.length; g++) {
      const chosen = pickMember(queues[g]!, from, this.random)
      if (chosen === undefined) continue
      if (chosen.remote) {
        const route = chosen.route
        if (route.mark !== stamp) {
          route.mark = stamp
          if (route.queueScratch.length > 0) route.queueScratch.length = 0
          targets.push(route)
        }
        route.queueScratch.push(chosen.queue!)
      } else {
        if (this.deliverLocal(chosen, subject, reply, headerSize, payload)) delivered++
        else if (this.deliverToAnother(queues[g]!, chosen, from, subject, reply, headerSize, payload)) delivered++
      }
    }

    for (let i = 0; i < targets.length; i++) {
      const route = targets[i]!
      const qs = route.queueScratch
      route.sendMsg(subject, reply, qs.length > 0 ? qs : undefined, headerSize, payload)
      stats.outMsgs++
      stats.outBytes += payload.length
      delivered++
    }
    // Only when there were targets: setting an array's length is a call into the runtime.
    if (targets.length > 0) targets.length = 0
    return delivered
  }

  /**
   * Route a message that arrived on a route: local subscribers only (one hop). Plain subscribers
   * all get it; for each queue group named in `queues`, one local member does. Without a queue
   * list, queue subscribers get nothing.
   */
  publishFromRoute(
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    payload: Uint8Array
  ): void {
    const stats = this.stats
    stats.inMsgs++
    stats.inBytes += payload.length
    const result = this.index.match(subject)
    const plain = result.plain
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i]!
      if (sub.remote || sub.closed) continue
      this.deliverLocal(sub, subject, reply, headerSize, payload)
    }
    if (queues === undefined) return
    const groups = result.queues
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!
      if (!queues.includes(group[0]!.queue!)) continue
      const chosen = pickLocalMember(group, this.random)
      if (chosen !== undefined && !this.deliverLocal(chosen, subject, reply, headerSize, payload)) {
        this.deliverToAnother(group, chosen, undefined, subject, reply, headerSize, payload)
      }
    }
  }

  /**
   * The chosen queue member refused the message (its subject is denied to it): like nats-server,
   * try the group's other local members in turn. Rare, so a plain scan.
   */
  private deliverToAnother(
    group: ReadonlyArray<Interest>,
    refused: LocalSubscription,
    from: Publisher | undefined,
    subject: string,
    reply: string | undefined,
    headerSize: number,
    payload: Uint8Array
  ): boolean {
    for (let i = 0; i < group.length; i++) {
      const m = group[i]!
      if (m.remote || m === refused || m.closed || (from !== undefined && !from.echo && m.owner.cid === from.cid)) continue
      if (this.deliverLocal(m, subject, reply, headerSize, payload)) return true
    }
    return false
  }

  private deliverLocal(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, payload: Uint8Array): boolean {
    if (sub.owner.deliver(sub, subject, reply, headerSize, payload) === false) return false
    sub.delivered++
    this.stats.outMsgs++
    this.stats.outBytes += payload.length
    if (sub.max > 0 && sub.delivered >= sub.max) {
      this.removeLocal(sub)
      sub.owner.forget(sub)
    }
    return true
  }
}

/**
 * One member of a queue group, chosen at random with remote interest weighted by its member
 * count, skipping the publisher's own subscriptions when it has echo off. Two passes, no
 * allocation.
 */
const pickMember = (group: ReadonlyArray<Interest>, from: Publisher, random: () => number): Interest | undefined => {
  let total = 0
  for (let i = 0; i < group.length; i++) {
    const m = group[i]!
    if (m.remote) total += m.weight
    else if (!m.closed && (from.echo || m.owner.cid !== from.cid)) total += 1
  }
  if (total === 0) return undefined
  let r = random() * total
  for (let i = 0; i < group.length; i++) {
    const m = group[i]!
    const w = m.remote ? m.weight : !m.closed && (from.echo || m.owner.cid !== from.cid) ? 1 : 0
    if (w === 0) continue
    r -= w
    if (r < 0) return m
  }
  return undefined
}

const pickLocalMember = (group: ReadonlyArray<Interest>, random: () => number): LocalSubscription | undefined => {
  let total = 0
  for (let i = 0; i < group.length; i++) {
    const m = group[i]!
    if (!m.remote && !m.closed) total++
  }
  if (total === 0) return undefined
  let r = Math.floor(random() * total)
  for (let i = 0; i < group.length; i++) {
    const m = group[i]!
    if (m.remote || m.closed) continue
    if (r-- === 0) return m
  }
  return undefined
}
