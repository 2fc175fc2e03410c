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
import {
  type Accounts,
  type CompiledServiceImport,
  type CompiledStreamImport,
  GLOBAL_ACCOUNT,
  isSubsetMatch,
  mapImportSubject,
  ServiceReplies,
  subjectsCollide
} from "../accounts/Accounts.js"
import { stampRequestInfo } from "../accounts/RequestInfo.js"
import { matchesPattern } from "../subjects/Subject.js"
import type { Interest, InterestChange, RouteTarget, Subscriber } from "./Subscription.js"
import { Account, LocalInterest, LocalSubscription, RemoteInterest } from "./Subscription.js"

export type { InterestChange } from "./Subscription.js"

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
  /** Round-trip time in ms when known (a client's): stamped on requests through service imports. */
  readonly rtt?: number | undefined
}


export interface RouterStats {
  inMsgs: number
  inBytes: number
  outMsgs: number
  outBytes: number
  slowConsumers: number
}

/** A message a service import or a response mapping hands on into another account (see `forward`). */
interface Forward {
  readonly account: Account
  readonly subject: string
  readonly reply: string | undefined
  readonly headerSize: number
  readonly payload: Uint8Array
  /** Accounts this message has been in: it never enters one twice. */
  readonly visited: ReadonlySet<string>
}

/** Forwarded messages one publish may cause at most (chains are acyclic; this only bounds a bug). */
const MAX_FORWARDS = 1024

/** The publisher of forwarded messages: nobody's own subscriptions are skipped. */
const FORWARDER: Publisher = { cid: -1, echo: true }

export class Router {
  /** Every account this server serves, by name; `$G` always. */
  readonly accounts = new Map<string, Account>()
  /** nats-server's global account: users outside every configured account. */
  readonly global: Account
  readonly stats: RouterStats = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, slowConsumers: 0 }
  private readonly dirty: Array<Flushable> = []
  private stamp = 0
  private readonly routeTargets: Array<RouteTarget> = []
  /** Uniform [0, 1) for queue-member choice; the broker sets it from Effect's `Random` (seedable). */
  random: () => number = Math.random
  /** Clock milliseconds (the broker sets it from Effect's `Clock`): expiry of response mappings. */
  now: () => number = Date.now
  /** The reply mappings of service imports (`_R_.…` replies routed back to requesters). */
  readonly replies = new ServiceReplies(() => this.random())
  private repliesAdded = 0
  private readonly forwards: Array<Forward> = []
  private forwarding = false
  /** The account of the message being routed, and while forwarding, the accounts it has been in. */
  private current: Account
  private visited: ReadonlySet<string> | undefined = undefined
  /** The delivery being made goes through a stream import's shadow. */
  private viaShadow = false
  /** A message from a route is being delivered: service imports do not take it (see `serviceRequest`). */
  private routed = false
  /** The publisher of the message being routed (its RTT goes into `Nats-Request-Info`). */
  private publisher: Publisher = FORWARDER

  /**
   * `interest` hears when local interest for a key appears, changes weight (queues) or disappears:
   * from the start when `tracking` (the default with a listener), else once `trackInterest` is
   * called (the server: when the cluster plugs in; without routes nobody needs the counts).
   */
  constructor(
    private readonly interest?: InterestListener,
    private tracking: boolean = interest !== undefined
  ) {
    this.global = this.account(GLOBAL_ACCOUNT)
    this.current = this.global
  }

  // --- accounts --------------------------------------------------------------------------------

  /** The account named `name`, created empty when this server did not have it yet. */
  account(name: string): Account {
    let acc = this.accounts.get(name)
    if (acc === undefined) {
      acc = new Account(name)
      if (this.tracking) acc.localInterest.track()
      this.accounts.set(name, acc)
    }
    return acc
  }

  /** The account named `name`, when this server serves it. */
  lookup(name: string): Account | undefined {
    return this.accounts.get(name)
  }

  /** The global account's index (what a server without accounts has). */
  get index(): Account["index"] {
    return this.global.index
  }

  /** Subscriptions in every account's index (shadows and internal ones included). */
  subscriptionCount(): number {
    let n = 0
    for (const acc of this.accounts.values()) n += acc.index.size
    return n
  }

  /**
   * Serve a checked account graph: every account gets its index, its imports, and one internal
   * subscription per service import (not announced to routes: nats-server keeps those local and
   * forwards the request in the exporting account). Called once, before any client connects.
   */
  configure(graph: Accounts): void {
    for (const compiled of graph.accounts.values()) {
      const acc = this.account(compiled.name)
      acc.streamImports = compiled.streamImports
      acc.serviceImports = compiled.serviceImports
    }
    for (const acc of this.accounts.values()) {
      for (const si of acc.serviceImports) {
        const sub = new LocalSubscription(new ServiceImportSubscriber(this, si), si.from, undefined, `si ${si.from}`, acc)
        acc.internal.push(sub)
        this.addLocal(sub)
      }
    }
  }

  /**
   * A reloaded account graph (SIGHUP): the service-import subscriptions and every shadow are
   * taken down, the new imports put in place, and the shadows of the subscriptions that stay are
   * made again — routes hear the interest that changed. Accounts that are gone stay, empty of
   * imports (their clients were closed by the reload: their users are gone).
   */
  reconfigure(graph: Accounts): void {
    for (const acc of this.accounts.values()) {
      for (const sub of acc.internal) if (sub !== acc.responseSub) this.removeLocal(sub)
      acc.internal.length = 0
      if (acc.responseSub !== undefined) acc.internal.push(acc.responseSub)
      for (const entry of [...acc.index.entries()]) {
        if (!entry.remote && entry.origin === undefined && entry.shadows !== undefined) this.removeShadows(entry)
      }
      acc.streamImports = []
      acc.serviceImports = []
    }
    this.configure(graph)
    for (const acc of this.accounts.values()) {
      if (acc.streamImports.length === 0) continue
      for (const entry of [...acc.index.entries()]) {
        if (!entry.remote && !entry.closed && entry.origin === undefined && entry.shadows === undefined) this.addShadows(acc, entry)
      }
    }
  }

  // --- interest --------------------------------------------------------------------------------

  addLocal(sub: LocalSubscription): void {
    const acc = sub.account ?? (sub.account = this.global)
    acc.index.insert(sub)
    if (sub.owner.unannounced !== true) this.countLocal(acc, sub.subject, sub.queue, 1)
    if (acc.streamImports.length > 0 && sub.origin === undefined) this.addShadows(acc, sub)
  }

  removeLocal(sub: LocalSubscription): void {
    if (sub.closed) return
    sub.closed = true
    const acc = sub.account ?? this.global
    acc.index.remove(sub)
    if (sub.owner.unannounced !== true) this.countLocal(acc, sub.subject, sub.queue, -1)
    if (sub.shadows !== undefined) this.removeShadows(sub)
  }

  private removeShadows(sub: LocalSubscription): void {
    const shadows = sub.links!.shadows!
    sub.links = undefined
    const announced = sub.owner.unannounced !== true
    for (let i = 0; i < shadows.length; i++) {
      const shadow = shadows[i]!
      shadow.closed = true
      shadow.account!.index.remove(shadow)
      if (announced) this.countLocal(shadow.account!, shadow.subject, shadow.queue, -1)
    }
  }

  /**
   * nats-server's shadow subscriptions: a subscription of an importing account that a stream
   * import's subject collides with sits in the exporter's index too, on the exporter's subject
   * (the importer's one mapped back when it lies inside the import, else the whole import), and
   * is announced to routes in the exporter's account.
   */
  private addShadows(acc: Account, sub: LocalSubscription): void {
    for (const si of acc.streamImports) {
      if (!subjectsCollide(sub.subject, si.to)) continue
      const exporter = this.lookup(si.exporter)
      if (exporter === undefined) continue
      const back = isSubsetMatch(sub.subject, si.to) ? reverseStreamSubject(si, sub.subject) : undefined
      const shadow = new LocalSubscription(sub.owner, back ?? si.from, sub.queue, sub.sid, exporter)
      shadow.links = { origin: sub, mapping: si, filter: back === undefined, shadows: undefined }
      exporter.index.insert(shadow)
      if (sub.owner.unannounced !== true) this.countLocal(exporter, shadow.subject, shadow.queue, 1)
      ;((sub.links ??= { origin: undefined, mapping: undefined, filter: false, shadows: undefined }).shadows ??= []).push(shadow)
    }
  }

  /** Keep every account's local interest counts from now on, and tell the listener of changes. */
  trackInterest(): void {
    this.tracking = true
    for (const acc of this.accounts.values()) acc.localInterest.track()
  }

  private countLocal(acc: Account, subject: string, queue: string | undefined, delta: number): void {
    if (!this.tracking) return
    const prev = acc.localInterest.add(LocalInterest.key(subject, queue), delta)
    const count = prev + delta
    // Plain interest is announced on 0→1 and 1→0; queue interest on every change (the weight).
    if (this.interest !== undefined && (queue !== undefined || count === 0 || prev === 0)) {
      this.interest.interestChanged({ account: acc.name, subject, queue, count })
    }
  }

  /** Remote interest (a route's RS+) in the account it names; the global account when not given. */
  addRemote(interest: RemoteInterest, account: Account = this.global): void {
    account.index.insert(interest)
  }

  removeRemote(interest: RemoteInterest, account: Account = this.global): void {
    account.index.remove(interest)
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
   * Route a message published by a local client (or in-process publisher) in `account`: to local
   * subscribers and to each route with interest, once. Returns how many deliveries were made
   * (local + routes + service imports), which decides no-responders.
   */
  publishLocal(
    from: Publisher,
    subject: string,
    reply: string | undefined,
    headerSize: number,
    payload: Uint8Array,
    account: Account = this.global
  ): number {
    return this.publishLocalRange(from, subject, reply, headerSize, payload, 0, payload.length, account)
  }

  /**
   * `publishLocal` for a payload that is `buf[start, end)` (e.g. of a read buffer): the range is
   * handed down to the output buffers, which copy it from there — no view of it is made per
   * message. Same counts, same result.
   */
  publishLocalRange(
    from: Publisher,
    subject: string,
    reply: string | undefined,
    headerSize: number,
    buf: Uint8Array,
    start: number,
    end: number,
    account: Account = this.global
  ): number {
    const size = end - start
    const stats = this.stats
    stats.inMsgs++
    stats.inBytes += size
    const accStats = account.stats
    // An account receives what its clients publish, not what imports hand on (nats-server).
    if (!this.forwarding) {
      accStats.inMsgs++
      accStats.inBytes += size
    }
    const result = account.index.match(subject)
    const plain = result.plain
    const queues = result.queues
    if (plain.length === 0 && queues.length === 0) return 0
    this.current = account
    this.publisher = from

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
      if (this.deliverLocal(sub, subject, reply, headerSize, buf, start, end)) delivered++
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
        if (this.deliverLocal(chosen, subject, reply, headerSize, buf, start, end)) delivered++
        else if (this.deliverToAnother(queues[g]!, chosen, from, subject, reply, headerSize, buf, start, end)) delivered++
      }
    }

    if (targets.length > 0) {
      for (let i = 0; i < targets.length; i++) {
        const route = targets[i]!
        const qs = route.queueScratch
        route.sendMsg(account.name, subject, reply, qs.length > 0 ? qs : undefined, headerSize, buf, start, end)
        stats.outMsgs++
        stats.outBytes += size
        accStats.outMsgs++
        accStats.outBytes += size
        delivered++
      }
      // Emptied with `pop`, which compiles inline: setting an array's length is a call into the
      // runtime (2-3% of a cluster node publishing 1 KiB messages).
      while (targets.length > 0) targets.pop()
    }
    if (this.forwards.length > 0 && !this.forwarding) this.drainForwards()
    return delivered
  }

  /**
   * Route a message that arrived on a route in `account`: local subscribers only (one hop). Plain
   * subscribers all get it; for each queue group named in `queues`, one local member does. Without
   * a queue list, queue subscribers get nothing.
   */
  publishFromRoute(
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    payload: Uint8Array,
    account: Account = this.global
  ): void {
    this.publishFromRouteRange(subject, reply, queues, headerSize, payload, 0, payload.length, account)
  }

  /** `publishFromRoute` for a payload that is `buf[start, end)` (see `publishLocalRange`). */
  publishFromRouteRange(
    subject: string,
    reply: string | undefined,
    queues: ReadonlyArray<string> | undefined,
    headerSize: number,
    buf: Uint8Array,
    start: number,
    end: number,
    account: Account = this.global
  ): void {
    const stats = this.stats
    stats.inMsgs++
    stats.inBytes += end - start
    // Not counted as the account's input: nats-server counts only its clients' publishes.
    const result = account.index.match(subject)
    const plain = result.plain
    this.current = account
    this.routed = true
    for (let i = 0; i < plain.length; i++) {
      const sub = plain[i]!
      if (sub.remote || sub.closed) continue
      this.deliverLocal(sub, subject, reply, headerSize, buf, start, end)
    }
    if (queues !== undefined) {
      const groups = result.queues
      for (let g = 0; g < groups.length; g++) {
        const group = groups[g]!
        if (!queues.includes(group[0]!.queue!)) continue
        const chosen = pickLocalMember(group, this.random)
        if (chosen !== undefined && !this.deliverLocal(chosen, subject, reply, headerSize, buf, start, end)) {
          this.deliverToAnother(group, chosen, undefined, subject, reply, headerSize, buf, start, end)
        }
      }
    }
    this.routed = false
    if (this.forwards.length > 0 && !this.forwarding) this.drainForwards()
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
    buf: Uint8Array,
    start: number,
    end: number
  ): boolean {
    for (let i = 0; i < group.length; i++) {
      const m = group[i]!
      if (m.remote || m === refused || m.closed || (from !== undefined && !from.echo && m.owner.cid === from.cid)) continue
      if (this.deliverLocal(m, subject, reply, headerSize, buf, start, end)) return true
    }
    return false
  }

  /** One delivery of the payload `buf[start, end)`. */
  private deliverLocal(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    const links = sub.links
    const origin = links?.origin
    let target = sub
    if (origin !== undefined) {
      // A shadow: nats-server does not stream on what a service import or a response brought in.
      if (this.visited !== undefined) return false
      const mapped = mapImportSubject(links!.mapping!, subject)
      if (links!.filter && !matchesPattern(origin.subject, mapped)) return false
      // Internal subscribers (service imports) see the exporter's subject.
      if (sub.owner.internal !== true) subject = mapped
      target = origin
    }
    this.viaShadow = origin !== undefined
    const taken = target.owner.deliver(target, subject, reply, headerSize, buf, start, end)
    this.viaShadow = false
    if (taken === false) return false
    target.delivered++
    // As nats-server: internal deliveries are not counted, and a delivery counts to the account
    // whose index matched (a shadow's: the exporter), not the subscriber's.
    if (target.owner.internal !== true) {
      this.stats.outMsgs++
      this.stats.outBytes += end - start
      const accStats = sub.account!.stats
      accStats.outMsgs++
      accStats.outBytes += end - start
    }
    if (target.max > 0 && target.delivered >= target.max) {
      this.removeLocal(target)
      target.owner.forget(target)
    }
    return true
  }

  // --- service imports -------------------------------------------------------------------------

  /**
   * A service import took a request: it lands in the exporting account, with the reply replaced by
   * a `_R_` reply whose responses come back to `reply` in the importing account. Not for a message
   * from a route: the requester's server already forwarded it into the exporter (nats-server's
   * processServiceImport returns for a ROUTER client unless it is a response) — the importer's
   * message crosses only for the importer's own subscribers, and taking it here would deliver the
   * request twice.
   */
  serviceRequest(si: CompiledServiceImport, importer: Account, subject: string, reply: string | undefined, headerSize: number, payload: Uint8Array): boolean {
    if (this.routed) return false
    // Through a stream import's shadow the message starts afresh in the importer: it may go back
    // into the exporter it came from (nats-server does; see `deliveries`).
    const visited = this.viaShadow ? new Set([importer.name]) : this.visited ?? new Set([this.current.name])
    if (visited.has(si.exporter)) return false
    const exporter = this.lookup(si.exporter)
    if (exporter === undefined) return false
    let mapped: string
    if (si.transform !== undefined && !matchesPattern(si.from, subject)) mapped = subject
    else mapped = si.transform !== undefined ? mapImportSubject(si, subject) : si.from === si.to ? subject : si.to
    let nrr: string | undefined
    if (reply !== undefined) {
      nrr = this.replies.add(si.exporter, {
        account: importer.name,
        reply,
        responseType: si.responseType,
        expiresAt: this.now() + si.responseThreshold
      })
      if (++this.repliesAdded % 1024 === 0) this.replies.expire(this.now())
      if (exporter.responseSub === undefined) {
        const wildcard = this.replies.prefix(si.exporter) + ">"
        const sub = new LocalSubscription(new ResponseSubscriber(this, exporter), wildcard, undefined, `rs ${wildcard}`, exporter)
        exporter.responseSub = sub
        exporter.internal.push(sub)
        this.addLocal(sub)
      }
    }
    const next = new Set(visited)
    next.add(importer.name)
    next.add(si.exporter)
    // nats-server's Nats-Request-Info (the requester's account and RTT; on a chain, the first
    // hop's with "svc"): stamped here, so the request crosses routes with it.
    const stamped = stampRequestInfo({ headerSize, payload }, importer.name, this.publisher.rtt, this.visited !== undefined)
    this.forwards.push({ account: exporter, subject: mapped, reply: nrr, headerSize: stamped.headerSize, payload: stamped.payload, visited: next })
    return true
  }

  /** A response on a mapped `_R_` reply in `exporter`: back to the requester's reply in its account. */
  serviceResponse(exporter: Account, subject: string, headerSize: number, payload: Uint8Array): boolean {
    const route = this.replies.take(exporter.name, subject, this.now())
    if (route === undefined) return false
    const visited = this.visited ?? new Set([this.current.name])
    if (visited.has(route.account)) return false
    const target = this.lookup(route.account)
    if (target === undefined) return false
    const next = new Set(visited)
    next.add(route.account)
    this.forwards.push({ account: target, subject: route.reply, reply: undefined, headerSize, payload, visited: next })
    return true
  }

  /** Route what service imports and responses handed on, after the message that caused them. */
  private drainForwards(): void {
    const forwards = this.forwards
    this.forwarding = true
    try {
      for (let n = 0; n < forwards.length && n < MAX_FORWARDS; n++) {
        const f = forwards[n]!
        this.visited = f.visited
        this.publishLocal(FORWARDER, f.subject, f.reply, f.headerSize, f.payload, f.account)
      }
    } finally {
      forwards.length = 0
      this.forwarding = false
      this.visited = undefined
    }
  }
}

/**
 * The exporter's subject of a shadow for a subscription lying inside a stream import's local
 * subject: the same subject for an unmapped import, the subject without the prefix for a prefixed
 * one; undefined for a renaming import (the shadow then takes the whole import and filters).
 */
const reverseStreamSubject = (si: CompiledStreamImport, subject: string): string | undefined => {
  if (si.from === si.to) return subject
  const p = si.to.length - si.from.length
  if (p > 1 && si.to.endsWith(si.from) && si.to.charCodeAt(p - 1) === 46 /* . */ && subject.startsWith(si.to.slice(0, p))) {
    return subject.slice(p)
  }
  return undefined
}

/** The internal subscriber of one service import: requests it takes go on into the exporter. */
class ServiceImportSubscriber implements Subscriber {
  readonly cid = -1
  readonly echo = true
  readonly internal = true
  readonly unannounced = true
  constructor(
    private readonly router: Router,
    private readonly si: CompiledServiceImport
  ) {}

  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    return this.router.serviceRequest(this.si, sub.account!, subject, reply, headerSize, buf.subarray(start, end))
  }

  forget(): void {}
}

/** The internal `_R_.<6>.>` subscriber of an exporting account: responses go back to requesters. */
class ResponseSubscriber implements Subscriber {
  readonly cid = -1
  readonly echo = true
  readonly internal = true
  constructor(
    private readonly router: Router,
    private readonly exporter: Account
  ) {}

  deliver(_sub: LocalSubscription, subject: string, _reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    return this.router.serviceResponse(this.exporter, subject, headerSize, buf.subarray(start, end))
  }

  forget(): void {}
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
