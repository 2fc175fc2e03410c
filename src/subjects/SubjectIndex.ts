/**
 * The subscription index: which subscriptions does a published (literal) subject reach?
 *
 * A token trie (per node: a map of literal tokens, one `*` child, one `>` child; subscriptions sit
 * on the node where their subject ends) in front of a bounded result cache keyed by subject.
 *
 * - `match` on a cache hit is one `Map.get` and allocates nothing; a miss walks the trie once and
 *   builds the result arrays once, then caches them. Results are shared: callers must not mutate.
 * - Insert/remove invalidate the cache precisely: only the cached subjects the changed
 *   subscription's subject matches (one key for a literal subject). Request/reply churns
 *   `_INBOX.…` subscriptions all the time, and that must not flush everybody's hot subjects.
 * - Subscriptions are stored in `Set`s (plain ones per node, queue ones per node and queue name)
 *   so removal is O(subject tokens); nodes left empty are pruned. A node with a single plain
 *   subscription (the usual leaf: one subscriber per distinct subject) holds it directly instead
 *   of in a one-element `Set` (measured: ~150 bytes less per such subscription), and a leaf that
 *   would hold nothing else is not made at all: the parent's literal map holds the subscription in
 *   its place (~64 bytes less).
 * - Only wildcard subjects are in the trie: a subject without wildcards (most subscriptions) is a
 *   key of one `exact` map, its own string, taken where the walk reaches the literal leaf.
 *
 * Plain synchronous code on purpose: it is the inner loop of message routing.
 *
 * @since 0.1.0
 */
import { isValidSubject, matchesPattern, subjectHasWildcard } from "./Subject.js"

/**
 * What the index needs to know about a subscription. Both fields must stay the same while the
 * entry is in the index (removal finds it by them).
 *
 * @since 0.1.0
 */
export interface IndexEntry {
  readonly subject: string
  /** Queue group name, or `undefined` for a plain subscription. */
  readonly queue: string | undefined
  /**
   * The index's insertion stamp, written by `insert` (`entries` orders by it): the index keeps no
   * list of its entries besides the trie. An entry sits in one index at a time.
   */
  seq?: number
}

/**
 * The subscriptions a subject reaches. Shared with the cache: never mutate it.
 *
 * @since 0.1.0
 */
export interface MatchResult<S> {
  /** Every matching non-queue subscription (each gets a copy). */
  readonly plain: ReadonlyArray<S>
  /** Matching queue subscriptions, one inner array per distinct queue name (one copy per group). */
  readonly queues: ReadonlyArray<ReadonlyArray<S>>
}

/**
 * Counters for `/subsz`. A result's fanout is `plain.length + queues.length` (the deliveries it
 * causes); `maxFanout` and `avgFanout` are taken over the results currently cached, as nats-server
 * does.
 *
 * @since 0.1.0
 */
export interface SubjectIndexStats {
  readonly inserts: number
  readonly removes: number
  readonly matches: number
  readonly cacheHits: number
  readonly cacheSize: number
  readonly maxFanout: number
  readonly avgFanout: number
}

/** @since 0.1.0 */
export interface SubjectIndexOptions {
  /** Maximum cached subjects (default 1024); 0 disables the cache. */
  readonly cacheSize?: number
}

const DOT = 46

const EMPTY_ARRAY: ReadonlyArray<never> = Object.freeze([])
const EMPTY_RESULT: MatchResult<never> = Object.freeze({ plain: EMPTY_ARRAY, queues: EMPTY_ARRAY })

/** One trie node. Every field starts `undefined` and goes back to it when emptied (saves memory
 * for the many single-subscription `_INBOX` leaves and makes the emptiness test cheap). */
class TrieNode<S> {
  /** Literal children; a lone plain subscription stands for a leaf node that would hold only it. */
  literal: Map<string, TrieNode<S> | S> | undefined = undefined
  pwc: TrieNode<S> | undefined = undefined
  fwc: TrieNode<S> | undefined = undefined
  /** The plain subscriptions: one held directly, or a `Set` of two or more. */
  plain: S | Set<S> | undefined = undefined
  queues: Map<string, Set<S>> | undefined = undefined
}

const isEmptyNode = <S>(n: TrieNode<S>): boolean =>
  n.literal === undefined &&
  n.pwc === undefined &&
  n.fwc === undefined &&
  n.plain === undefined &&
  n.queues === undefined

/** A node that holds one plain subscription and nothing else (its parent can hold that directly). */
const isLoneLeaf = <S>(n: TrieNode<S>): boolean =>
  n.plain !== undefined &&
  !(n.plain instanceof Set) &&
  n.literal === undefined &&
  n.pwc === undefined &&
  n.fwc === undefined &&
  n.queues === undefined

/** Puts `sub` in `node` (its subject ends there); throws when it is there already. */
const place = <S extends IndexEntry>(node: TrieNode<S>, sub: S): void => {
  const queue = sub.queue
  if (queue === undefined) {
    const plain = node.plain
    if (plain === undefined) node.plain = sub
    else if (plain instanceof Set) {
      if (plain.has(sub)) twice(sub)
      plain.add(sub)
    } else if (plain === sub) twice(sub)
    else node.plain = new Set<S>([plain, sub])
  } else {
    const groups = node.queues ??= new Map<string, Set<S>>()
    let group = groups.get(queue)
    if (group === undefined) {
      group = new Set<S>()
      groups.set(queue, group)
    } else if (group.has(sub)) twice(sub)
    group.add(sub)
  }
}

const twice = (sub: IndexEntry): never => {
  throw new Error(`SubjectIndex: subscription on "${sub.subject}" inserted twice`)
}

/** Appends every subscription below `node` to `out`. */
const collectAll = <S>(node: TrieNode<S>, out: Array<S>): void => {
  const plain = node.plain
  if (plain instanceof Set) for (const s of plain) out.push(s)
  else if (plain !== undefined) out.push(plain)
  if (node.queues !== undefined) for (const group of node.queues.values()) for (const s of group) out.push(s)
  if (node.literal !== undefined) {
    for (const child of node.literal.values()) {
      if (child instanceof TrieNode) collectAll(child, out)
      else out.push(child)
    }
  }
  if (node.pwc !== undefined) collectAll(node.pwc, out)
  if (node.fwc !== undefined) collectAll(node.fwc, out)
}

/**
 * A subscription index over entries of type `S`, compared by identity.
 *
 * @since 0.1.0
 */
export class SubjectIndex<S extends IndexEntry> {
  private readonly root = new TrieNode<S>()
  /**
   * The subscriptions on a subject without wildcards (most of them), by that subject: a lone
   * plain one held directly, else a node (its `plain` and `queues`). Not in the trie, which holds
   * only wildcard subjects: no token strings or path nodes for them (measured: the last token's
   * string alone was 24 B of every distinct-subject subscription), and the key is the
   * subscription's own subject string. `walk` takes an entry where the trie's literal leaf was.
   */
  private readonly exact = new Map<string, TrieNode<S> | S>()
  /** Set by `walk` once the match in progress took its `exact` entry. */
  private exactTaken = false
  // No Set of every entry beside the trie (measured: its table was ~26 B per subscription, and
  // as much again of garbage while it grows): the trie answers membership, a counter the size,
  // and the entries' `seq` stamps the insertion order.
  private count = 0
  private lastSeq = 0
  /** Set by `removeAt` when it found the entry. */
  private found = false
  // `null` marks an invalidated entry. Invalidation overwrites in place instead of deleting: V8's
  // Map keeps a deleted entry in its bucket chain until the next rehash, so deleting and re-adding
  // one hot key (its subscribers churn while it is published) makes every lookup of it slower and
  // slower (measured ~3 µs instead of ~40 ns per invalidate + refill with ~1000 cached subjects).
  private readonly cache = new Map<string, MatchResult<S> | null>()
  private readonly cacheCapacity: number
  private cacheLive = 0 // entries of `cache` that are not `null`
  /**
   * The last subject `match` answered from (or put in) the cache, and its result: a publisher
   * sends one subject again and again, and the parser hands the same string each time, so this
   * spares the `Map.get`. Always one of the cache's live entries: whatever nulls or drops an entry
   * forgets it. It counts as a cache hit, so the statistics stay the same.
   */
  private lastSubject: string | undefined = undefined
  private lastResult: MatchResult<S> | undefined = undefined
  private nInserts = 0
  private nRemoves = 0
  private nMatches = 0
  private nCacheHits = 0
  // Accumulators of the match in progress (fields rather than arguments keep the walk cheap;
  // match is synchronous and not re-entrant).
  private accPlain: Array<S> | undefined = undefined
  private accQueues: Array<Array<S>> | undefined = undefined
  // Queue names of `accQueues` (same positions), searched linearly while there are few of them,
  // through `accNameIndex` beyond that. Cheaper than a Map per miss in the usual 0-2 group case.
  private readonly accNames: Array<string> = []
  private accNameIndex: Map<string, number> | undefined = undefined

  constructor(options?: SubjectIndexOptions) {
    const size = Math.floor(options?.cacheSize ?? 1024)
    this.cacheCapacity = Number.isFinite(size) && size > 0 ? size : 0
  }

  /** Number of subscriptions in the index. */
  get size(): number {
    return this.count
  }

  /** Every subscription, in insertion order (a walk of the trie and a sort: not for the hot path). */
  entries(): IterableIterator<S> {
    const out = this.all()
    out.sort((a, b) => a.seq! - b.seq!)
    return out.values()
  }

  /** Every subscription, in no particular order (cheaper than `entries`). */
  all(): Array<S> {
    const out: Array<S> = []
    for (const held of this.exact.values()) {
      if (held instanceof TrieNode) collectAll(held, out)
      else out.push(held)
    }
    collectAll(this.root, out)
    return out
  }

  /**
   * Adds `sub`. Throws on a subject that is not `isValidSubject` or on an object already in the
   * index: both are caller bugs (the session validates SUB and ignores duplicate sids).
   */
  insert(sub: S): void {
    const subject = sub.subject
    if (!isValidSubject(subject)) throw new RangeError(`SubjectIndex: invalid subject "${subject}"`)
    if (!subjectHasWildcard(subject)) {
      const exact = this.exact
      const held = exact.get(subject)
      if (held === undefined) {
        if (sub.queue === undefined) {
          exact.set(subject, sub)
        } else {
          const node = new TrieNode<S>()
          place(node, sub)
          exact.set(subject, node)
        }
      } else if (held instanceof TrieNode) {
        place(held, sub)
      } else {
        if (held === sub) twice(sub)
        const node = new TrieNode<S>()
        node.plain = held
        place(node, sub)
        exact.set(subject, node)
      }
      this.added(sub)
      this.invalidate(subject, false)
      return
    }
    const tokens = subject.split(".")
    let node = this.root
    let wildcard = false
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!
      let next: TrieNode<S> | undefined
      if (t === "*") {
        wildcard = true
        next = node.pwc ??= new TrieNode<S>()
      } else if (t === ">") {
        wildcard = true
        next = node.fwc ??= new TrieNode<S>()
      } else {
        const lits = node.literal ??= new Map<string, TrieNode<S> | S>()
        const child = lits.get(t)
        if (child === undefined) {
          if (i === tokens.length - 1 && sub.queue === undefined) {
            // A new leaf that would hold only `sub`: the map holds `sub` itself.
            lits.set(t, sub)
            this.added(sub)
            this.invalidate(subject, wildcard)
            return
          }
          next = new TrieNode<S>()
          lits.set(t, next)
        } else if (child instanceof TrieNode) {
          next = child
        } else {
          if (child === sub) twice(sub)
          // A lone subscription gets company or children: make its node.
          next = new TrieNode<S>()
          next.plain = child
          lits.set(t, next)
        }
      }
      node = next
    }
    place(node, sub)
    this.added(sub)
    this.invalidate(subject, wildcard)
  }

  private added(sub: S): void {
    sub.seq = ++this.lastSeq
    this.count++
    this.nInserts++
  }

  /** Removes `sub` (by identity); false when it was not in the index. */
  remove(sub: S): boolean {
    const subject = sub.subject
    this.found = false
    const wildcard = subjectHasWildcard(subject)
    if (wildcard) {
      this.removeAt(this.root, subject.split("."), 0, sub)
    } else {
      const exact = this.exact
      const held = exact.get(subject)
      if (held === sub) {
        exact.delete(subject)
        this.found = true
      } else if (held instanceof TrieNode) {
        this.removeFrom(held, sub)
        if (isEmptyNode(held)) exact.delete(subject)
        else if (isLoneLeaf(held)) exact.set(subject, held.plain as S)
      }
    }
    if (!this.found) return false
    this.count--
    this.nRemoves++
    this.invalidate(subject, wildcard)
    return true
  }

  /**
   * The subscriptions a literal subject reaches. Every token of `subject` is taken literally; a
   * subject with an empty token reaches nothing. The result may be cached and shared.
   */
  match(subject: string): MatchResult<S> {
    this.nMatches++
    if (subject === this.lastSubject) {
      this.nCacheHits++
      return this.lastResult!
    }
    const cached = this.cache.get(subject)
    if (cached !== undefined && cached !== null) {
      this.nCacheHits++
      this.lastSubject = subject
      this.lastResult = cached
      return cached
    }
    const result = this.collect(subject)
    const cap = this.cacheCapacity
    if (cap > 0) {
      // A `null` entry is refilled in place; a new key may first need room.
      if (cached === undefined && this.cache.size >= cap) this.evict(cap)
      this.cache.set(subject, result)
      this.cacheLive++
      this.lastSubject = subject
      this.lastResult = result
    }
    return result
  }

  /** Counters and cache figures for `/subsz` (O(cache size): not for the hot path). */
  stats(): SubjectIndexStats {
    let total = 0
    let max = 0
    for (const r of this.cache.values()) {
      if (r === null) continue
      const fanout = r.plain.length + r.queues.length
      total += fanout
      if (fanout > max) max = fanout
    }
    const cacheSize = this.cacheLive
    return {
      inserts: this.nInserts,
      removes: this.nRemoves,
      matches: this.nMatches,
      cacheHits: this.nCacheHits,
      cacheSize,
      maxFanout: max,
      avgFanout: cacheSize === 0 ? 0 : total / cacheSize
    }
  }

  // --- internals -------------------------------------------------------------------------------

  /** Invalidates the cached results `subject` (the changed subscription's) can appear in. */
  private invalidate(subject: string, wildcard: boolean): void {
    this.forgetLast()
    const cache = this.cache
    if (this.cacheLive === 0) return
    if (!wildcard) {
      // A literal subscription subject matches exactly one publish subject: itself.
      if (cache.get(subject)) {
        cache.set(subject, null)
        this.cacheLive--
      }
      return
    }
    // Overwriting existing keys while iterating a Map is well defined and keeps the order.
    for (const [key, r] of cache) {
      if (r !== null && matchesPattern(subject, key)) {
        cache.set(key, null)
        this.cacheLive--
      }
    }
  }

  private forgetLast(): void {
    this.lastSubject = undefined
    this.lastResult = undefined
  }

  /** Makes room by dropping the oldest eighth of the cache: amortized O(1) per miss, no bookkeeping. */
  private evict(cap: number): void {
    this.forgetLast()
    const cache = this.cache
    let n = Math.max(1, cap >>> 3)
    for (const [key, r] of cache) {
      cache.delete(key)
      if (r !== null) this.cacheLive--
      if (--n === 0) break
    }
  }

  /** Takes `sub` out of `node`, where its subject ends (sets `found` when it was there). */
  private removeFrom(node: TrieNode<S>, sub: S): void {
    const queue = sub.queue
    if (queue === undefined) {
      const plain = node.plain
      if (plain === sub) {
        node.plain = undefined
        this.found = true
      } else if (plain instanceof Set && plain.delete(sub)) {
        this.found = true
        // Back to one: hold it directly again.
        if (plain.size === 1) node.plain = plain.values().next().value
      }
    } else {
      const groups = node.queues
      const group = groups?.get(queue)
      if (groups !== undefined && group !== undefined && group.delete(sub)) {
        this.found = true
        if (group.size === 0) {
          groups.delete(queue)
          if (groups.size === 0) node.queues = undefined
        }
      }
    }
  }

  /** Removes `sub` below `node` following `tokens[i..]`; true when `node` is left empty. */
  private removeAt(node: TrieNode<S>, tokens: ReadonlyArray<string>, i: number, sub: S): boolean {
    if (i === tokens.length) {
      this.removeFrom(node, sub)
      return isEmptyNode(node)
    }
    const t = tokens[i]!
    if (t === "*") {
      const child = node.pwc
      if (child !== undefined && this.removeAt(child, tokens, i + 1, sub)) node.pwc = undefined
    } else if (t === ">") {
      const child = node.fwc
      if (child !== undefined && this.removeAt(child, tokens, i + 1, sub)) node.fwc = undefined
    } else {
      const lits = node.literal
      const child = lits?.get(t)
      if (lits === undefined || child === undefined) return isEmptyNode(node)
      if (child instanceof TrieNode) {
        if (this.removeAt(child, tokens, i + 1, sub)) {
          lits.delete(t)
          if (lits.size === 0) node.literal = undefined
        } else if (isLoneLeaf(child)) {
          // Back to a leaf with one plain subscription: the map holds it again.
          lits.set(t, child.plain as S)
        }
      } else if (child === sub && i === tokens.length - 1 && sub.queue === undefined) {
        lits.delete(t)
        if (lits.size === 0) node.literal = undefined
        this.found = true
      }
    }
    return isEmptyNode(node)
  }

  /** Cache miss: walks the trie once and builds the result arrays. */
  private collect(subject: string): MatchResult<S> {
    const n = subject.length
    // An empty token (``, `.a`, `a.`, `a..b`) reaches nothing.
    if (n === 0 || subject.charCodeAt(0) === DOT || subject.charCodeAt(n - 1) === DOT || subject.includes("..")) {
      return EMPTY_RESULT
    }
    this.exactTaken = false
    this.walk(this.root, subject, 0, true)
    if (!this.exactTaken) this.takeExact(subject)
    const plain = this.accPlain
    const queues = this.accQueues
    this.accPlain = undefined
    this.accQueues = undefined
    if (this.accNames.length !== 0) this.accNames.length = 0 // (setting length is a runtime call)
    this.accNameIndex = undefined
    if (plain === undefined && queues === undefined) return EMPTY_RESULT
    return { plain: plain ?? EMPTY_ARRAY, queues: queues ?? EMPTY_ARRAY }
  }

  /**
   * Collects every node matching the tokens of `subject` from index `start` on, below `node`.
   * Works on indices rather than `split`, so a miss allocates only the substrings it looks up.
   * Each node is reached by at most one path, so no subscription is collected twice.
   *
   * The order is nats-server's (clients can observe it, e.g. which subscription gets a 503): per
   * level `>` first, then everything under `*`, then the literal branch; at the last token the
   * literal node comes before the `*` node.
   */
  private walk(node: TrieNode<S>, subject: string, start: number, literalPath: boolean): void {
    const n = subject.length
    for (;;) {
      let end = subject.indexOf(".", start)
      if (end < 0) end = n
      // `>` needs at least one more token: the current one.
      if (node.fwc !== undefined) this.take(node.fwc)
      const literal = node.literal
      if (end === n) {
        if (literalPath) {
          // Only wildcard subjects are in the trie: the literal leaf here is `exact`'s entry.
          this.takeExact(subject)
          this.exactTaken = true
        } else {
          const last = literal?.get(subject.substring(start, end))
          if (last instanceof TrieNode) this.take(last)
          else if (last !== undefined) (this.accPlain ??= []).push(last)
        }
        if (node.pwc !== undefined) this.take(node.pwc)
        return
      }
      if (node.pwc !== undefined) this.walk(node.pwc, subject, end + 1, false)
      if (literal === undefined) return
      const next = literal.get(subject.substring(start, end))
      // A lone subscription ends here: nothing below it.
      if (!(next instanceof TrieNode)) return
      node = next
      start = end + 1
    }
  }

  /**
   * The subscriptions on exactly `subject` (a literal one). Where the walk stops before the last
   * token, nothing it would still have taken comes before them: they are taken last.
   */
  private takeExact(subject: string): void {
    const held = this.exact.get(subject)
    if (held instanceof TrieNode) this.take(held)
    else if (held !== undefined) (this.accPlain ??= []).push(held)
  }

  /** Adds a node's subscriptions to the match in progress, grouping queue subs by name. */
  private take(node: TrieNode<S>): void {
    const plain = node.plain
    if (plain !== undefined) {
      const acc = this.accPlain ??= []
      if (plain instanceof Set) for (const s of plain) acc.push(s)
      else acc.push(plain)
    }
    const groups = node.queues
    if (groups !== undefined) {
      for (const [name, members] of groups) {
        const out = this.groupFor(name)
        for (const s of members) out.push(s)
      }
    }
  }

  /** The output group of queue `name` in the match in progress, created on first use. */
  private groupFor(name: string): Array<S> {
    const groups = this.accQueues ??= []
    const names = this.accNames
    const n = names.length
    const byName = this.accNameIndex
    if (byName !== undefined) {
      const j = byName.get(name)
      if (j !== undefined) return groups[j]!
    } else {
      for (let j = 0; j < n; j++) if (names[j] === name) return groups[j]!
    }
    const group: Array<S> = []
    groups.push(group)
    names.push(name)
    if (byName !== undefined) {
      byName.set(name, n)
    } else if (n === 8) {
      // Many distinct groups on one subject: stop searching linearly.
      const index = new Map<string, number>()
      for (let j = 0; j <= n; j++) index.set(names[j]!, j)
      this.accNameIndex = index
    }
    return group
  }
}
