/**
 * `/subsz` (alias `/subscriptionsz`): the subject index's statistics and, with `subs=1`, the
 * local subscriptions (optionally only those a literal `test` subject reaches), paged.
 *
 * @since 0.1.0
 */
import { fromText, toText } from "../protocol/ByteString.js"
import * as Result from "effect/Result"
import type { ServerState } from "../server/ServerState.js"
import type { LocalSubscription } from "../server/Subscription.js"
import { isValidLiteralSubject, matchesPattern } from "../subjects/Subject.js"
import { goTime } from "./format.js"
import { decodeBool, decodeInt, type InvalidQuery, invalidQuery } from "./params.js"

/** nats-server's `DefaultSubListSize`. */
export const DEFAULT_SUB_LIST_SIZE = 1024

const GLOBAL_ACCOUNT = "$G"

export interface SubszOptions {
  readonly subs: boolean
  readonly offset: number
  readonly limit: number
  /** Empty: every account (we only have `$G`). */
  readonly account: string
  /** Empty: no filter. */
  readonly test: string
}

export const decodeSubszOptions = (query: URLSearchParams): Result.Result<SubszOptions, InvalidQuery> => {
  const subs = decodeBool(query, "subs")
  if (Result.isFailure(subs)) return Result.fail(subs.failure)
  const offset = decodeInt(query, "offset")
  if (Result.isFailure(offset)) return Result.fail(offset.failure)
  const limit = decodeInt(query, "limit")
  if (Result.isFailure(limit)) return Result.fail(limit.failure)
  // The query is text; subjects in the index are byte strings (its UTF-8 bytes).
  const test = fromText(query.get("test") ?? "")
  if (test !== "" && !isValidLiteralSubject(test)) {
    return invalidQuery("test", query.get("test") ?? "", `invalid test subject, must be valid publish subject: ${toText(test)}`)
  }
  return Result.succeed({
    subs: subs.success,
    offset: Math.max(0, offset.success),
    limit: limit.success <= 0 ? DEFAULT_SUB_LIST_SIZE : limit.success,
    account: query.get("acc") ?? "",
    test
  })
}

/** `SublistStats` in its field order. */
const sublistStats = (state: ServerState, include: boolean): Record<string, unknown> => {
  if (!include) {
    return { num_subscriptions: 0, num_cache: 0, num_inserts: 0, num_removes: 0, num_matches: 0, cache_hit_rate: 0, max_fanout: 0, avg_fanout: 0 }
  }
  const index = state.router.index
  const s = index.stats()
  return {
    num_subscriptions: index.size,
    num_cache: s.cacheSize,
    num_inserts: s.inserts,
    num_removes: s.removes,
    num_matches: s.matches,
    cache_hit_rate: s.matches > 0 ? s.cacheHits / s.matches : 0,
    max_fanout: s.maxFanout,
    avg_fanout: s.avgFanout
  }
}

/** A subscription as `/subsz` lists it (with its account). */
const subDetail = (sub: LocalSubscription): Record<string, unknown> => ({
  account: GLOBAL_ACCOUNT,
  subject: toText(sub.subject),
  qgroup: sub.queue === undefined ? undefined : toText(sub.queue),
  sid: toText(sub.sid),
  msgs: sub.delivered,
  max: sub.max > 0 ? sub.max : undefined,
  cid: sub.owner.cid
})

/**
 * The `/subsz` document: the plain statistics, unless `subs=1` found subscriptions to list (then
 * server_id, now, the statistics, total, offset, limit and the list, as nats-server).
 */
export const subsz = (state: ServerState, options: SubszOptions, now: number = Date.now()): Record<string, unknown> => {
  const accountOk = options.account === "" || options.account === GLOBAL_ACCOUNT
  const stats = sublistStats(state, accountOk)
  if (!options.subs || !accountOk) return stats
  // Only local subscriptions are listed (nats-server's `localSubs`): not the routes' interest.
  const matching: Array<LocalSubscription> = []
  for (const entry of state.router.index.entries()) {
    if (entry.remote) continue
    if (options.test !== "" && !matchesPattern(entry.subject, options.test)) continue
    matching.push(entry)
  }
  const from = Math.min(options.offset, matching.length)
  const to = Math.min(options.offset + options.limit, matching.length)
  const page = matching.slice(from, to)
  if (page.length === 0) return stats
  return {
    server_id: state.serverId,
    now: goTime(now),
    ...stats,
    // nats-server reports the size of the returned page as `total`.
    total: page.length,
    offset: options.offset,
    limit: options.limit,
    subscriptions_list: page.map(subDetail)
  }
}
