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
import type { LocalSubscription } from "./Subscription.js"

/** How far past the current end of the array a new integer sid may land (keeps it a dense array). */
const MAX_GAP = 1024

/** The sid as an array slot when it is a canonical decimal integer below 10^9, else -1. */
const slotOf = (sid: string): number => {
  const n = sid.length
  if (n === 0 || n > 9) return -1
  let v = 0
  for (let i = 0; i < n; i++) {
    const c = sid.charCodeAt(i) - 48
    if (c < 0 || c > 9 || (c === 0 && i === 0 && n > 1)) return -1
    v = v * 10 + c
  }
  return v
}

export class SidMap {
  private slots: Array<LocalSubscription | undefined> = []
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
    if (i >= 0 && i < this.slots.length) {
      const s = this.slots[i]
      if (s !== undefined) return s
    }
    return this.other?.get(sid)
  }

  set(sid: string, sub: LocalSubscription): this {
    const i = slotOf(sid)
    const slots = this.slots
    if (i >= 0 && i < slots.length && slots[i] !== undefined) {
      slots[i] = sub // replaces in place, as Map.set does
      return this
    }
    const other = this.other
    if (other !== undefined && other.has(sid)) {
      other.set(sid, sub)
      return this
    }
    this.count++
    if (i >= 0 && i < slots.length + MAX_GAP) {
      if ((i <= this.top && this.count > 1) || this.other !== undefined) this.inOrder = false
      else this.top = i
      slots[i] = sub
    } else {
      if (this.count > 1) this.inOrder = false
      ;(this.other ??= new Map()).set(sid, sub)
    }
    return this
  }

  delete(sid: string): boolean {
    const i = slotOf(sid)
    const slots = this.slots
    if (i >= 0 && i < slots.length && slots[i] !== undefined) {
      slots[i] = undefined
    } else if (this.other === undefined || !this.other.delete(sid)) {
      return false
    }
    if (--this.count === 0) this.clear()
    return true
  }

  clear(): void {
    this.slots = []
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
    for (const s of this.slots) if (s !== undefined) out.push(s)
    if (this.other !== undefined) for (const s of this.other.values()) out.push(s)
    if (!this.inOrder) out.sort((a, b) => a.order - b.order)
    return out
  }
}
