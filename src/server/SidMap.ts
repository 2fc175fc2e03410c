/**
 * A connection's subscriptions by sid: a `Map<string, LocalSubscription>` in what it answers
 * (size, has, get, set, delete, iteration in insertion order), smaller for the sids clients use.
 *
 * Clients number their subscriptions 1, 2, 3, … (nats.js, nats.go, nats.py, the CLI), so a sid
 * that is a canonical decimal integer not far past the highest one held goes to an array slot
 * (8 bytes, and the array's previous sizes as garbage while it grows) instead of a Map entry
 * (measured: the Map's table was ~37 B per subscription at 100,000, and as much again of garbage
 * from its previous sizes); any other sid goes to a Map. Iteration is in insertion order: the
 * array's order while every integer sid came after the ones before (the usual case), else the
 * subscriptions sorted by their index stamp (`order`, written when the router adds them, which
 * `ClientConnection.sub` does right after `set`).
 *
 * @since 0.1.0
 */
import { type LocalSubscription, sidNumber as slotOf } from "./Subscription.js"

/** How far past the highest slot a new integer sid may land (else it goes to the Map). */
const MAX_GAP = 1024
/**
 * The slots are chunks of 1024 (the first one grows as needed, the others are made whole): one
 * array that grows by copying would leave its previous sizes behind as garbage (~1.4 MiB for
 * 100,000 subscriptions, in the large-object space until a full GC).
 */
const CHUNK_BITS = 10
const CHUNK_MASK = (1 << CHUNK_BITS) - 1

export class SidMap {
  private chunks: Array<Array<LocalSubscription | undefined> | undefined> = []
  private other: Map<string, LocalSubscription> | undefined = undefined
  private count = 0
  /** The highest slot set so far. */
  private top = 0
  /** Whether the slots, then `other`, are in insertion order (else `ordered` sorts). */
  private inOrder = true

  get size(): number {
    return this.count
  }

  has(sid: string): boolean {
    return this.get(sid) !== undefined
  }

  get(sid: string): LocalSubscription | undefined {
    const i = slotOf(sid)
    if (i >= 0) {
      const s = this.slot(i)
      if (s !== undefined) return s
    }
    return this.other?.get(sid)
  }

  private slot(i: number): LocalSubscription | undefined {
    const k = i >> CHUNK_BITS
    const chunks = this.chunks
    if (k >= chunks.length) return undefined
    const chunk = chunks[k]
    return chunk === undefined ? undefined : chunk[i & CHUNK_MASK]
  }

  set(sid: string, sub: LocalSubscription): this {
    const i = slotOf(sid)
    if (i >= 0 && this.slot(i) !== undefined) {
      this.chunks[i >> CHUNK_BITS]![i & CHUNK_MASK] = sub // replaces in place, as Map.set does
      return this
    }
    const other = this.other
    if (other !== undefined && other.has(sid)) {
      other.set(sid, sub)
      return this
    }
    this.count++
    if (i >= 0 && i <= this.top + MAX_GAP) {
      if ((i <= this.top && this.count > 1) || this.other !== undefined) this.inOrder = false
      if (i > this.top) this.top = i
      const k = i >> CHUNK_BITS
      const chunks = this.chunks
      let chunk = k < chunks.length ? chunks[k] : undefined
      if (chunk === undefined) {
        chunk = k === 0 ? [] : new Array<LocalSubscription | undefined>(CHUNK_MASK + 1)
        chunks[k] = chunk
      }
      chunk[i & CHUNK_MASK] = sub
    } else {
      if (this.count > 1) this.inOrder = false
      ;(this.other ??= new Map()).set(sid, sub)
    }
    return this
  }

  delete(sid: string): boolean {
    const i = slotOf(sid)
    if (i >= 0 && this.slot(i) !== undefined) {
      this.chunks[i >> CHUNK_BITS]![i & CHUNK_MASK] = undefined
    } else if (this.other === undefined || !this.other.delete(sid)) {
      return false
    }
    if (--this.count === 0) this.clear()
    return true
  }

  clear(): void {
    this.chunks = []
    this.other = undefined
    this.count = 0
    this.top = 0
    this.inOrder = true
  }

  /** The subscriptions in insertion order. */
  values(): IterableIterator<LocalSubscription> {
    return this.ordered().values()
  }

  keys(): IterableIterator<string> {
    return this.ordered()
      .map((s) => s.sid)
      .values()
  }

  entries(): IterableIterator<[string, LocalSubscription]> {
    return this.ordered()
      .map((s): [string, LocalSubscription] => [s.sid, s])
      .values()
  }

  forEach(f: (sub: LocalSubscription, sid: string, map: SidMap) => void): void {
    for (const s of this.ordered()) f(s, s.sid, this)
  }

  [Symbol.iterator](): IterableIterator<[string, LocalSubscription]> {
    return this.entries()
  }

  private ordered(): Array<LocalSubscription> {
    const out: Array<LocalSubscription> = []
    for (const chunk of this.chunks) {
      if (chunk === undefined) continue
      for (let j = 0; j < chunk.length; j++) {
        const s = chunk[j]
        if (s !== undefined) out.push(s)
      }
    }
    if (this.other !== undefined) for (const s of this.other.values()) out.push(s)
    if (!this.inOrder) out.sort((a, b) => a.order - b.order)
    return out
  }
}
