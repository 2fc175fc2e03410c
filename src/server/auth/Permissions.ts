/**
 * Per-user publish/subscribe permissions, compiled once per configured user and checked on the hot
 * path (nats-server 2.9's `setPermissions`, `pubAllowedFullCheck`, `canSubscribe`, `checkDenySub`).
 *
 * - Publish: `allow` (absent = everything) then `deny`; the verdict per subject is cached in a
 *   bounded map shared by every connection of the user, so a PUB to a known subject costs one
 *   `Map.get`. With `allow_responses`, a subject the static lists refuse may still be published
 *   once per request received with that reply subject (up to `max`, within `expires`), tracked per
 *   connection (`ResponseTracker`) and never cached.
 * - Subscribe: `allow`/`deny` entries are `subject` or `subject queue`; the queue rules are
 *   nats-server's (a queue entry matching the subject decides for queue subscriptions, including its
 *   quirks). A wildcard subscription that covers a deny entry turns on the delivery filter
 *   (`DenyFilter`): each message subject delivered to the connection is checked against the deny
 *   list, cached per subject.
 *
 * Subjects are matched with the same `matchesPattern` the router's index uses, over the same
 * subject strings, so whatever representation subjects take, both agree.
 *
 * @since 0.1.0
 */
import type * as Options from "../../config/ServerOptions.js"
import { fromText } from "../../protocol/ByteString.js"
import { matchesPattern, subjectHasWildcard } from "../../subjects/Subject.js"

/** nats-server's reserved queue group name, which no client may join. */
const SYS_GROUP = "_sys_"
const MAX_CACHE = 1024
const PRUNE = 256
const REPLY_LIMIT = 4096

interface Entry {
  readonly subject: string
  readonly queue: string | undefined
}

/** `subject` or `subject queue` (nats-server's `splitSubjectQueue`); undefined when malformed. */
const splitEntry = (text: string): Entry | undefined => {
  const parts = text.trim().split(/\s+/)
  if (parts.length === 0 || parts[0] === "" || parts.length > 2) return undefined
  return { subject: fromText(parts[0]!), queue: parts[1] === undefined ? undefined : fromText(parts[1]) }
}

/** Config subjects are text; wire subjects are byte strings (see `ByteString`). */
const bytesOf = (list: ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined => list?.map(fromText)

/** nats-server's `isSubsetMatchTokenized`: everything `subject` matches is matched by `test`. */
export const isSubsetMatch = (subject: string, test: string): boolean => {
  const tokens = subject.split(".")
  const tt = test.split(".")
  for (let i = 0; i < tt.length; i++) {
    if (i >= tokens.length) return false
    const t2 = tt[i]!
    if (t2.length === 0) return false
    if (t2 === ">") return true
    const t1 = tokens[i]!
    if (t1.length === 0 || t1 === ">") return false
    if (t1 === "*") {
      if (t2 !== "*") return false
      continue
    }
    if (t2[0] !== "*" && t1 !== t2) return false
  }
  return tokens.length === tt.length
}

const queueMatches = (queue: string, entries: ReadonlyArray<Entry>): boolean => {
  if (entries.length === 0) return true
  for (const e of entries) {
    const q = e.queue!
    if (queue === q || (subjectHasWildcard(q) && isSubsetMatch(queue, q))) return true
  }
  return false
}

const anyMatch = (patterns: ReadonlyArray<string>, subject: string): boolean => {
  for (let i = 0; i < patterns.length; i++) if (matchesPattern(patterns[i]!, subject)) return true
  return false
}

/** A user's permissions, compiled. Immutable but for the publish cache. */
export class CompiledPermissions {
  /** undefined = everything allowed; an empty list allows nothing. */
  readonly pubAllow: ReadonlyArray<string> | undefined
  readonly pubDeny: ReadonlyArray<string> | undefined
  /** Publishing is restricted at all (else no check runs on PUB). */
  readonly checksPublish: boolean
  readonly subAllow: ReadonlyArray<Entry> | undefined
  readonly subDeny: ReadonlyArray<Entry> | undefined
  /** The plain subjects of the subscribe deny list (what the delivery filter checks). */
  readonly denySubjects: ReadonlyArray<string>
  readonly response: Options.ResponsePermission | undefined
  private readonly pubCache = new Map<string, boolean>()

  constructor(p: Options.Permissions, onBadEntry: (text: string) => void = () => {}) {
    this.response = p.allowResponses
    // allow_responses turns the blanket publish allow off.
    this.pubAllow = bytesOf(p.publish?.allow) ?? (p.allowResponses !== undefined ? [] : undefined)
    this.pubDeny = p.publish?.deny !== undefined && p.publish.deny.length > 0 ? bytesOf(p.publish.deny) : undefined
    this.checksPublish = this.pubAllow !== undefined || this.pubDeny !== undefined
    const entries = (list: ReadonlyArray<string> | undefined): Array<Entry> | undefined => {
      if (list === undefined || list.length === 0) return undefined
      const out: Array<Entry> = []
      for (const text of list) {
        const e = splitEntry(text)
        if (e === undefined) onBadEntry(`invalid subject-queue "${text}"`)
        else out.push(e)
      }
      return out
    }
    this.subAllow = entries(p.subscribe?.allow)
    this.subDeny = entries(p.subscribe?.deny)
    this.denySubjects = (this.subDeny ?? []).filter((e) => e.queue === undefined).map((e) => e.subject)
  }

  /** The static publish verdict (allow, then deny), cached per subject. */
  publishAllowed(subject: string): boolean {
    const cached = this.pubCache.get(subject)
    if (cached !== undefined) return cached
    let allowed = true
    if (this.pubAllow !== undefined) allowed = anyMatch(this.pubAllow, subject)
    if (allowed && this.pubDeny !== undefined) allowed = !anyMatch(this.pubDeny, subject)
    if (this.pubCache.size >= MAX_CACHE) prune(this.pubCache)
    this.pubCache.set(subject, allowed)
    return allowed
  }

  /** nats-server's `canSubscribe` (without the side effect: see `coversDeny`). */
  canSubscribe(subject: string, queue?: string): boolean {
    let allowed = true
    if (this.subAllow !== undefined) {
      const queues: Array<Entry> = []
      allowed = false
      for (const e of this.subAllow) {
        if (!matchesPattern(e.subject, subject)) continue
        if (e.queue === undefined) allowed = true
        else queues.push(e)
      }
      if (queue !== undefined && queues.length > 0) allowed = queueMatches(queue, queues)
    }
    if (allowed && this.subDeny !== undefined) {
      const queues: Array<Entry> = []
      for (const e of this.subDeny) {
        if (!matchesPattern(e.subject, subject)) continue
        if (e.queue === undefined) allowed = false
        else queues.push(e)
      }
      if (queue !== undefined && queues.length > 0) allowed = !queueMatches(queue, queues)
    }
    return allowed
  }

  /** May a SUB (with its optional queue) be made? The reserved queue `_sys_` never. */
  canSubscribeOp(subject: string, queue: string | undefined): boolean {
    if (queue !== undefined) return queue !== SYS_GROUP && this.canSubscribe(subject, queue)
    return this.canSubscribe(subject)
  }

  /** A wildcard subscription that contains a deny entry: deliveries must then be filtered. */
  coversDeny(subject: string): boolean {
    if (this.denySubjects.length === 0 || !subjectHasWildcard(subject)) return false
    for (const d of this.denySubjects) if (isSubsetMatch(d, subject)) return true
    return false
  }
}

const prune = (cache: Map<string, boolean>): void => {
  let n = 0
  for (const key of cache.keys()) {
    cache.delete(key)
    if (++n >= PRUNE) return
  }
}

/** Per connection: message subjects denied by the subscribe deny list (nats-server's `mperms`). */
export class DenyFilter {
  private readonly cache = new Map<string, boolean>()
  constructor(private readonly deny: ReadonlyArray<string>) {}

  denied(subject: string): boolean {
    const cached = this.cache.get(subject)
    if (cached !== undefined) return cached
    const d = anyMatch(this.deny, subject)
    if (this.cache.size >= MAX_CACHE) prune(this.cache)
    this.cache.set(subject, d)
    return d
  }
}

/** Per connection: reply subjects this responder may publish to (`allow_responses`). */
export class ResponseTracker {
  private readonly replies = new Map<string, { t: number; n: number }>()
  /** `now`: wall-clock milliseconds (the connection's Effect `Clock`). */
  constructor(private readonly perm: Options.ResponsePermission, private readonly now: () => number = Date.now) {}

  /** A message with a reply subject was delivered to the connection. */
  received(reply: string): void {
    this.replies.set(reply, { t: this.now(), n: 0 })
    if (this.replies.size > REPLY_LIMIT) this.prune()
  }

  /** May the connection publish to `subject` as a response? Counts the response. */
  respond(subject: string): boolean {
    const r = this.replies.get(subject)
    if (r === undefined) return false
    r.n++
    const { max, expires } = this.perm
    if (max > 0 && r.n > max) {
      this.replies.delete(subject)
      return false
    }
    if (expires > 0 && this.now() - r.t > expires) {
      this.replies.delete(subject)
      return false
    }
    return true
  }

  private prune(): void {
    const { max, expires } = this.perm
    const now = this.now()
    for (const [k, r] of this.replies) {
      if ((max > 0 && r.n >= max) || (expires > 0 && now - r.t > expires)) this.replies.delete(k)
    }
  }
}
