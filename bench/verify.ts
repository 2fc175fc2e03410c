/**
 * Exactly-once verification: one bitset per publisher per subscriber, indexed by the sequence
 * number in the payload stamp. A bit seen twice is a duplicate; a bit never set is a loss. Queue
 * group members' bitsets are OR-ed, so a message delivered to two members counts as a duplicate.
 */

/** What a subscriber reports about one run (bitsets are transferable ArrayBuffers). */
export interface SeqReport {
  /** Distinct (publisher, sequence) pairs seen. */
  unique: number
  /** Deliveries of a pair already seen by this subscriber. */
  dup: number
  /** Deliveries whose sequence went backwards for their publisher (NATS keeps per-publisher order). */
  ooo: number
  /** Frames that were not a well-formed benchmark payload (wrong size, unknown publisher, seq out of range). */
  invalid: number
  /** One bitset per publisher. */
  bits: ArrayBuffer[]
}

export class SeqTracker {
  unique = 0
  dup = 0
  ooo = 0
  invalid = 0
  private readonly bits: Uint8Array[]
  private readonly last: Float64Array

  /** `counts[p]` = messages publisher `p` sends (sequence numbers 0…counts[p]-1). */
  constructor(private readonly counts: ReadonlyArray<number>) {
    this.bits = counts.map((n) => new Uint8Array(Math.ceil(n / 8)))
    this.last = new Float64Array(counts.length).fill(-1)
  }

  /** Records one delivery; returns true if it was the first delivery of that message. */
  record(id: number, seq: number): boolean {
    const bits = this.bits[id]
    if (bits === undefined || seq >= this.counts[id]!) {
      this.invalid++
      return false
    }
    if (seq < this.last[id]!) this.ooo++
    this.last[id] = seq
    const byte = seq >>> 3
    const mask = 1 << (seq & 7)
    const b = bits[byte]!
    if ((b & mask) !== 0) {
      this.dup++
      return false
    }
    bits[byte] = b | mask
    this.unique++
    return true
  }

  report(): SeqReport {
    return {
      unique: this.unique,
      dup: this.dup,
      ooo: this.ooo,
      invalid: this.invalid,
      bits: this.bits.map((b) => b.buffer as ArrayBuffer)
    }
  }
}

const popcount8 = new Uint8Array(256).map((_, i) => {
  let c = 0
  for (let v = i; v !== 0; v >>= 1) c += v & 1
  return c
})

const popcount = (bits: Uint8Array): number => {
  let c = 0
  for (let i = 0; i < bits.length; i++) c += popcount8[bits[i]!]!
  return c
}

export interface GroupVerdict {
  expected: number
  /** Distinct messages that reached the group (union over members). */
  received: number
  lost: number
  /** Duplicates within members plus messages delivered to more than one member. */
  dup: number
  ooo: number
  invalid: number
}

/**
 * Verdict for one delivery group: a plain subscriber (one member) or a queue group (several
 * members that together must see every message exactly once).
 */
export const verifyGroup = (members: ReadonlyArray<SeqReport>, counts: ReadonlyArray<number>): GroupVerdict => {
  const expected = counts.reduce((a, b) => a + b, 0)
  let received = 0
  let memberUnique = 0
  let dup = 0
  let ooo = 0
  let invalid = 0
  for (const m of members) {
    memberUnique += m.unique
    dup += m.dup
    ooo += m.ooo
    invalid += m.invalid
  }
  for (let p = 0; p < counts.length; p++) {
    const union = new Uint8Array(Math.ceil(counts[p]! / 8))
    for (const m of members) {
      const bits = m.bits[p]
      if (bits === undefined) continue
      const view = new Uint8Array(bits)
      for (let i = 0; i < union.length; i++) union[i]! |= view[i]!
    }
    received += popcount(union)
  }
  dup += memberUnique - received
  return { expected, received, lost: expected - received, dup, ooo, invalid }
}
