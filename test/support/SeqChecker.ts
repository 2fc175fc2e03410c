/**
 * Per-publisher sequence numbers and what every subscriber received of them: duplicates,
 * reordering, and loss inside or outside declared fault windows.
 *
 * A publisher numbers its messages 1, 2, 3…; each subscriber reports every (publisher, seq) it
 * receives. A fault window for a publisher is a range of its sequence numbers (lo, hi] that may
 * be lost (NATS is at-most-once while the cluster is broken); everything else must reach every
 * subscriber exactly once. How a window is chosen is the caller's business (see `ChaosRun`):
 * from the last number every subscriber already had when the fault began, to the last number
 * published before the mesh and its interest were confirmed whole again.
 */

export interface SeqWindow {
  readonly pub: number
  /** Exclusive: this seq and everything before it is outside. */
  readonly lo: number
  /** Inclusive: the last seq that may be lost. */
  readonly hi: number
  readonly label: string
}

export interface SeqReport {
  readonly published: ReadonlyArray<number>
  /** Messages received (all subscribers together, duplicates included). */
  readonly received: number
  readonly duplicates: number
  /** A seq arrived after a higher one from the same publisher at the same subscriber. */
  readonly reordered: number
  readonly lostInsideWindows: number
  /** Up to 20 examples of loss outside every window, and the total. */
  readonly lostOutside: ReadonlyArray<{ readonly sub: number; readonly pub: number; readonly seq: number }>
  readonly lostOutsideTotal: number
  /** Loss outside windows as ranges: `sub<s> pub<p> <from>-<to>`. */
  readonly lostOutsideRanges: ReadonlyArray<string>
  readonly windows: ReadonlyArray<SeqWindow>
}

class Counts {
  counts = new Uint8Array(1024)
  max = 0
  grow(seq: number) {
    if (seq < this.counts.length) return
    let n = this.counts.length
    while (n <= seq) n *= 2
    const next = new Uint8Array(n)
    next.set(this.counts)
    this.counts = next
  }
}

export class SeqChecker {
  private readonly sent: Array<number>
  private readonly got: Array<Array<Counts>>
  private readonly windowList: Array<SeqWindow> = []
  private duplicates = 0
  private reordered = 0
  private total = 0

  constructor(readonly publishers: number, readonly subscribers: number) {
    this.sent = Array.from({ length: publishers }, () => 0)
    this.got = Array.from({ length: subscribers }, () => Array.from({ length: publishers }, () => new Counts()))
  }

  /** The next sequence number of `pub` (counted as published). */
  next(pub: number): number {
    return ++this.sent[pub]!
  }

  /** The last sequence number `pub` has published. */
  last(pub: number): number {
    return this.sent[pub]!
  }

  receive(sub: number, pub: number, seq: number): void {
    const c = this.got[sub]![pub]!
    c.grow(seq)
    this.total++
    if (c.counts[seq]! > 0) this.duplicates++
    else if (seq < c.max) this.reordered++
    if (c.counts[seq]! < 255) c.counts[seq]!++
    if (seq > c.max) c.max = seq
  }

  /** The highest seq of `pub` that `sub` has received. */
  maxReceived(sub: number, pub: number): number {
    return this.got[sub]![pub]!.max
  }

  /** The highest seq of `pub` that every subscriber has received. */
  receivedByAll(pub: number): number {
    let m = Infinity
    for (let s = 0; s < this.subscribers; s++) m = Math.min(m, this.maxReceived(s, pub))
    return m
  }

  addWindow(w: SeqWindow): void {
    this.windowList.push(w)
  }

  private inWindow(pub: number, seq: number): boolean {
    return this.windowList.some((w) => w.pub === pub && seq > w.lo && seq <= w.hi)
  }

  report(): SeqReport {
    const lostOutside: Array<{ sub: number; pub: number; seq: number }> = []
    let lostOutsideTotal = 0
    let lostInsideWindows = 0
    const ranges: Array<string> = []
    let open: { sub: number; pub: number; from: number; to: number } | undefined
    const close = () => {
      if (open !== undefined) ranges.push(`sub${open.sub} pub${open.pub} ${open.from}-${open.to}`)
      open = undefined
    }
    for (let s = 0; s < this.subscribers; s++) {
      for (let p = 0; p < this.publishers; p++) {
        const c = this.got[s]![p]!
        for (let seq = 1; seq <= this.sent[p]!; seq++) {
          if (seq < c.counts.length && c.counts[seq]! > 0) continue
          if (this.inWindow(p, seq)) lostInsideWindows++
          else {
            lostOutsideTotal++
            if (lostOutside.length < 20) lostOutside.push({ sub: s, pub: p, seq })
            if (open !== undefined && open.sub === s && open.pub === p && open.to === seq - 1) open.to = seq
            else {
              close()
              open = { sub: s, pub: p, from: seq, to: seq }
            }
          }
        }
      }
    }
    close()
    return {
      lostOutsideRanges: ranges,
      published: [...this.sent],
      received: this.total,
      duplicates: this.duplicates,
      reordered: this.reordered,
      lostInsideWindows,
      lostOutside,
      lostOutsideTotal,
      windows: [...this.windowList]
    }
  }
}
