/**
 * An account's subject space and what it holds: local subscriptions (of a client, an in-process
 * subscriber or an internal one), remote interest (learned from a route), and the `Account` whose
 * index holds them (nats-server's `Account` with its sublist, and the parts of the account graph
 * that act on the message path — the stream imports whose subscriptions are shadowed into the
 * exporter, and the service imports that forward requests). All plain mutable records: the hot
 * path reads them millions of times per second. One module, because they refer to each other.
 *
 * A connection is bound to one account when it authenticates and keeps a direct reference, so
 * routing a client's message never looks an account up; the router owns the accounts
 * (`Router.account`).
 *
 * @since 0.1.0
 */
import type { CompiledServiceImport, CompiledStreamImport } from "../accounts/Accounts.js"
import { type IndexEntry, SubjectIndex } from "../subjects/SubjectIndex.js"

/** Something messages can be written to: a client connection or an in-process subscriber. */
export interface Subscriber {
  readonly cid: number
  /** Whether this subscriber receives its own publishes. */
  readonly echo: boolean
  /**
   * Append one message for `sub`; called synchronously on the hot path. `false` = not delivered
   * (e.g. its subject is denied to the subscriber); it then does not count. The payload is
   * `buf[start, end)`, often a range of a read buffer that is reused once the call returns: copy
   * what is kept.
   */
  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean | void
  /** Forget a subscription the broker removed on its own (auto-unsubscribe after max). */
  forget(sub: LocalSubscription): void
  /**
   * An internal subscriber of the broker (a service import, a response mapping): it is handed the
   * exporter's subject through a stream import's shadow, not the importer's mapped one, as
   * nats-server's internal callbacks are.
   */
  readonly internal?: boolean
  /** Its interest is not announced to routes (nats-server keeps service-import subscriptions local). */
  readonly unannounced?: boolean
}

/**
 * The stream-import links of a subscription, kept off the common subscription (one field instead
 * of four per subscription: a client's subscription has none unless its account imports a stream).
 */
export interface ImportLinks {
  /**
   * A shadow (nats-server's shadow subscription): the subscription sits in a stream exporter's
   * index on behalf of `origin`, a subscription of the importing account; deliveries map the
   * subject with `mapping` and count on `origin`.
   */
  readonly origin: LocalSubscription | undefined
  readonly mapping: CompiledStreamImport | undefined
  /** The shadow covers more than `origin` (a renaming import): deliveries check the mapped subject. */
  readonly filter: boolean
  /** The shadows of this subscription in its stream exporters' indexes. */
  shadows: Array<LocalSubscription> | undefined
}

/**
 * A sid that is a canonical decimal integer below 10^9 ("1", "42"; not "01" or "1e3") as that
 * number, else -1.
 */
export const sidNumber = (sid: string): number => {
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

/**
 * The rarely set parts of a subscription, off the common one: its queue group, its
 * auto-unsubscribe limit, its stream-import links.
 */
interface RareParts {
  readonly queue: string | undefined
  max: number
  links: ImportLinks | undefined
}

/**
 * A local subscription. Kept small (80 B; there can be hundreds of thousands): the queue group,
 * the auto-unsubscribe limit and the stream-import links live in a side record that most
 * subscriptions do not have, and `closed` is the sign of the index stamp (measured with 100,000
 * subscriptions: 104 -> 80 B each).
 * An integer sid (what clients send: 1, 2, 3, …) is kept as a number, not a string (24 B less).
 */
export class LocalSubscription implements IndexEntry {
  /** Always false: on the prototype (below), not a field of each of the many subscriptions. */
  declare readonly remote: false
  /** Messages delivered so far. */
  delivered = 0
  /**
   * The index's insertion stamp (`IndexEntry.seq`, written when it enters its index); once
   * closed, `-1 - stamp` (see `closed`, `order`).
   */
  seq = 0
  private rare: RareParts | undefined
  /** The sid as written in MSG: a number for an integer sid (`sidNumber`), else the string. */
  readonly wireSid: string | number
  constructor(
    readonly owner: Subscriber,
    readonly subject: string,
    queue: string | undefined,
    sid: string,
    /** The account's index it sits in; the router sets the global account when not given. */
    public account: Account | undefined = undefined
  ) {
    this.rare = queue === undefined ? undefined : { queue, max: 0, links: undefined }
    const n = sidNumber(sid)
    this.wireSid = n < 0 ? sid : n
  }

  /** The sid the client gave (made again from the number for an integer sid: not for the hot path). */
  get sid(): string {
    const sid = this.wireSid
    return typeof sid === "number" ? String(sid) : sid
  }

  /** Queue group name, or `undefined` for a plain subscription. */
  get queue(): string | undefined {
    const rare = this.rare
    return rare === undefined ? undefined : rare.queue
  }

  /** Auto-unsubscribe after this many deliveries; 0 = never. */
  get max(): number {
    const rare = this.rare
    return rare === undefined ? 0 : rare.max
  }

  set max(max: number) {
    const rare = this.rare
    if (rare !== undefined) rare.max = max
    else if (max !== 0) this.rare = { queue: undefined, max, links: undefined }
  }

  /** Shadow / shadowed links (`undefined` for the usual subscription that is neither). */
  get links(): ImportLinks | undefined {
    const rare = this.rare
    return rare === undefined ? undefined : rare.links
  }

  set links(links: ImportLinks | undefined) {
    const rare = this.rare
    if (rare !== undefined) rare.links = links
    else if (links !== undefined) this.rare = { queue: undefined, max: 0, links }
  }

  /** Taken out of the router (it stays closed). */
  get closed(): boolean {
    return this.seq < 0
  }

  set closed(closed: boolean) {
    if (closed !== this.seq < 0) this.seq = -1 - this.seq
  }

  /** The insertion stamp, closed or not (the order of a connection's subscriptions). */
  get order(): number {
    const seq = this.seq
    return seq < 0 ? -1 - seq : seq
  }

  /** For a shadow: the importing account's subscription it stands for (see `ImportLinks`). */
  get origin(): LocalSubscription | undefined {
    return this.links?.origin
  }

  /** For a shadow: the stream import that maps its subjects. */
  get mapping(): CompiledStreamImport | undefined {
    return this.links?.mapping
  }

  /** For a shadow: whether deliveries check the mapped subject against `origin`'s. */
  get filter(): boolean {
    return this.links?.filter ?? false
  }

  /** The shadows of this subscription in its stream exporters' indexes. */
  get shadows(): Array<LocalSubscription> | undefined {
    return this.links?.shadows
  }
}

Object.defineProperty(LocalSubscription.prototype, "remote", { value: false })

/** Something that receives routed messages: a route link. */
export interface RouteTarget {
  readonly rid: number
  /** Stamp of the last message this route was chosen for, to send one RMSG per message. */
  mark: number
  /** Queue groups chosen on this route for the current message. */
  readonly queueScratch: Array<string>
  /** Append one routed message of `account`, its payload being `buf[start, end)`. */
  sendMsg(account: string, subject: string, reply: string | undefined, queues: ReadonlyArray<string> | undefined, headerSize: number, buf: Uint8Array, start?: number, end?: number): void
}

/** Interest announced by a route peer with RS+ (for queues, `weight` members on that server). */
export class RemoteInterest implements IndexEntry {
  readonly remote = true
  /** The index's insertion stamp (`IndexEntry.seq`). */
  seq = 0
  constructor(
    readonly route: RouteTarget,
    readonly subject: string,
    readonly queue: string | undefined,
    public weight: number,
    /** The account whose index it sits in (the global one when not given). */
    readonly account: Account | undefined = undefined
  ) {}
}

export type Interest = LocalSubscription | RemoteInterest

/** Aggregated local interest per account and subject (+ queue), as announced to routes with RS+/RS-. */
export interface InterestChange {
  readonly account: string
  readonly subject: string
  readonly queue: string | undefined
  /** Local members now: 0 means the interest is gone. */
  readonly count: number
}

/**
 * An account's aggregated local interest, as announced to routes (RS+/RS-): local members per
 * `subject[ queue]` key. Only the counts are kept — one Map entry per distinct subject, and for a
 * plain subscription the key is its subject string itself; an `InterestChange` is made when one is
 * asked for (measured: a record per subject was ~55 bytes of every distinct-subject subscription).
 *
 * The counts are kept only once something listens (`track`: the cluster plugged in). Before, a
 * server without routes would pay a Map entry per distinct subject that nobody reads (~37 bytes
 * of table per subscription, and as much again of the table's previous size as garbage while it
 * grows: 100,000 subscriptions ~5 MiB of RSS); the queries then count the index's entries (slow,
 * but only monitoring and tests ask).
 */
export class LocalInterest {
  private counts: Map<string, number> | undefined = undefined
  constructor(
    private readonly account: string,
    private readonly index: SubjectIndex<Interest>
  ) {}

  /** The key of `subject` (+ `queue`): queue names and subjects have no spaces. */
  static key(subject: string, queue: string | undefined): string {
    return queue === undefined ? subject : `${subject} ${queue}`
  }

  /**
   * Keep the counts from now on: they start as the index's announced local entries, keys in the
   * order of the first such entry of each.
   */
  track(): void {
    if (this.counts === undefined) this.counts = this.current()
  }

  /** Distinct subjects (+ queues) with local interest. */
  get size(): number {
    return (this.counts ?? this.current()).size
  }

  has(key: string): boolean {
    return (this.counts ?? this.current()).has(key)
  }

  /** The interest under `key` now, or `undefined` when there is none. */
  get(key: string): InterestChange | undefined {
    const count = (this.counts ?? this.current()).get(key)
    return count === undefined ? undefined : this.change(key, count)
  }

  /** Adds `delta` members under `key` (forgetting it at zero); returns the count before. Tracked only. */
  add(key: string, delta: number): number {
    const counts = this.counts!
    const prev = counts.get(key) ?? 0
    const count = prev + delta
    if (count === 0) counts.delete(key)
    else counts.set(key, count)
    return prev
  }

  /** Every interest now, in the order it appeared. */
  *values(): IterableIterator<InterestChange> {
    for (const [key, count] of this.counts ?? this.current()) yield this.change(key, count)
  }

  /** The counts as the index has them: its local subscriptions announced to routes. */
  private current(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const entry of this.index.entries()) {
      if (entry.remote || entry.owner.unannounced === true) continue
      const key = LocalInterest.key(entry.subject, entry.queue)
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return counts
  }

  private change(key: string, count: number): InterestChange {
    const space = key.indexOf(" ")
    return space < 0
      ? { account: this.account, subject: key, queue: undefined, count }
      : { account: this.account, subject: key.slice(0, space), queue: key.slice(space + 1), count }
  }
}

/**
 * Messages and bytes in and out of one account, as nats-server counts them for /accstatz: `in` is
 * what this account's clients published (not what routes, service imports or responses brought
 * in), `out` is every delivery made from this account's subject index (a shadow's too: stream
 * imports count to the exporter; internal subscribers not), routes included.
 */
export interface AccountStats {
  inMsgs: number
  inBytes: number
  outMsgs: number
  outBytes: number
  /** This account's clients closed as slow consumers. */
  slowConsumers: number
}

export class Account {
  readonly index = new SubjectIndex<Interest>()
  /** Aggregated local interest announced to routes, keyed by `subject[ queue]`. */
  readonly localInterest: LocalInterest
  readonly stats: AccountStats = { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0, slowConsumers: 0 }
  /** Client connections bound to this account on this server. */
  connections = 0
  /** This account's stream imports: its subscriptions that match one are shadowed into the exporter. */
  streamImports: ReadonlyArray<CompiledStreamImport> = []
  /** This account's service imports (each has an internal subscription in this account). */
  serviceImports: ReadonlyArray<CompiledServiceImport> = []
  /** The internal subscriptions of the service imports and of the response wildcard. */
  readonly internal: Array<LocalSubscription> = []
  /** The `_R_.<6>.>` subscription that takes responses to requests forwarded into this account. */
  responseSub: LocalSubscription | undefined = undefined

  constructor(readonly name: string) {
    this.localInterest = new LocalInterest(name, this.index)
  }
}
