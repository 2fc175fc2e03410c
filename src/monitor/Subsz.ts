/**
 * `/subsz` (alias `/subscriptionsz`): the subject indexes' statistics — summed over every account,
 * or of the one `acc` names — and, with `subs=1`, the local subscriptions of those accounts
 * (optionally only those a literal `test` subject reaches), paged.
 *
 * @since 0.1.0
 */
import { fromText, toText } from "../protocol/ByteString.js"
import * as Result from "effect/Result"
import { GLOBAL_ACCOUNT } from "../accounts/Accounts.js"
import type { Account } from "../server/Subscription.js"
import type { ServerState } from "../server/ServerState.js"
import type { LocalSubscription } from "../server/Subscription.js"
import { isValidLiteralSubject, matchesPattern } from "../subjects/Subject.js"
import { goTime } from "./format.js"
import { decodeBool, decodeInt, type InvalidQuery, invalidQuery } from "./params.js"

/** nats-server's `DefaultSubListSize`. */
export const DEFAULT_SUB_LIST_SIZE = 1024

export interface SubszOptions {
  readonly subs: boolean
  readonly offset: number
  readonly limit: number
  /** Empty: every account. */
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

/**
 * `SublistStats` in its field order, of one account's index or summed over several as
 * nats-server's `SublistStats.add` does (counts added, the largest fanout, the average fanout
 * over every cached result, the hit rate over every match).
 */
export const sublistStats = (accounts: Iterable<Account>): Record<string, unknown> => {
  let subs = 0
  let cache = 0
  let inserts = 0
  let removes = 0
  let matches = 0
  let hits = 0
  let maxFanout = 0
  let totalFanout = 0
  for (const acc of accounts) {
    const s = acc.index.stats()
    subs += acc.index.size
    cache += s.cacheSize
    inserts += s.inserts
    removes += s.removes
    matches += s.matches
    hits += s.cacheHits
    if (s.maxFanout > maxFanout) maxFanout = s.maxFanout
    totalFanout += Math.round(s.avgFanout * s.cacheSize)
  }
  return {
    num_subscriptions: subs,
    num_cache: cache,
    num_inserts: inserts,
    num_removes: removes,
    num_matches: matches,
    cache_hit_rate: matches > 0 ? hits / matches : 0,
    max_fanout: maxFanout,
    avg_fanout: totalFanout > 0 ? totalFanout / cache : 0
  }
}

/**
 * A subscription as `/subsz` lists it, with the account of its subscriber (a shadow: the
 * importer's). nats-server's internal subscriptions belong to an account's internal client, with
 * its own cid and sids counted from 1; ours have no client: cid 0 and their place among the
 * account's internal subscriptions as sid.
 */
export const subDetail = (sub: LocalSubscription): Record<string, unknown> => {
  const origin = sub.origin ?? sub
  const account = origin.account
  const internal = origin.owner.internal === true
  return {
    account: account?.name ?? GLOBAL_ACCOUNT,
    subject: toText(sub.subject),
    qgroup: sub.queue === undefined ? undefined : toText(sub.queue),
    sid: internal ? String((account?.internal.indexOf(origin) ?? -1) + 1) : toText(sub.sid),
    msgs: sub.delivered,
    max: sub.max > 0 ? sub.max : undefined,
    cid: internal ? 0 : sub.owner.cid
  }
}

/** The accounts `/subsz` and `/connz` look at: all of them, the one named, or none (unknown name). */
export const accountsOf = (state: ServerState, name: string): ReadonlyArray<Account> => {
  if (name === "") return [...state.router.accounts.values()]
  const acc = state.router.lookup(name)
  return acc === undefined ? [] : [acc]
}

/**
 * The `/subsz` document: the plain statistics, unless `subs=1` found subscriptions to list (then
 * server_id, now, the statistics, total, offset, limit and the list, as nats-server).
 */
export const subsz = (state: ServerState, options: SubszOptions, now: number = Date.now()): Record<string, unknown> => {
  const accounts = accountsOf(state, options.account)
  const stats = sublistStats(accounts)
  if (!options.subs) return stats
  // Only local subscriptions are listed (nats-server's `localSubs`): not the routes' interest;
  // shadows and internal subscriptions are (they are in the index).
  const matching: Array<LocalSubscription> = []
  for (const acc of accounts) {
    for (const entry of acc.index.entries()) {
      if (entry.remote) continue
      if (options.test !== "" && !matchesPattern(entry.subject, options.test)) continue
      matching.push(entry)
    }
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
