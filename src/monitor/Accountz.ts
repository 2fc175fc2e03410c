/**
 * `/accountz` and `/accstatz`: the accounts this server serves, in nats-server 2.9's `Accountz`,
 * `AccountInfo`, `ExtExport`/`ExtImport` and `AccountStatz` shapes (field order and `omitempty`
 * as nats-server 2.9.10 writes them, checked against it live).
 *
 * - `/accountz`: the account names and the system account; `?acc=NAME` one account's detail —
 *   connections, subscriptions, its exports (from the config's account graph), its imports (what
 *   the router serves), the statistics of its subject index and the responses it still owes
 *   through service imports (`responses`, keyed by the mapped `_R_` reply). An unknown name is a
 *   400 `Account NAME does not exist`.
 * - `/accstatz`: per account its client connections and the messages and bytes it received (its
 *   clients' publishes) and sent (deliveries from its index), slow consumers; only accounts with
 *   connections unless `?unused=1`. nats-server's HTTP handler reads no account list; the builder
 *   takes one (`AccstatzOptions.accounts`) for the system account's requests.
 *
 * nats-server lists accounts in Go map order; ours come in the router's order (`$G`, the
 * configured ones, the system account). Exports and approved accounts are in config order
 * (approved ones sorted), as nats-server's maps have no order of their own.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { type CompiledExport, SYSTEM_ACCOUNT } from "../accounts/Accounts.js"
import { configAccountGraph } from "../config/AccountsStartup.js"
import type { Account } from "../server/Subscription.js"
import type { ServerState } from "../server/ServerState.js"
import { SYSTEM_EXPORTS } from "../server/SystemImports.js"
import { accountStat as systemAccountStat } from "../server/SystemEvents.js"
import { goTime } from "./format.js"
import { decodeBool, type InvalidQuery, invalidQuery } from "./params.js"
import { sublistStats } from "./Subsz.js"

export interface AccountzOptions {
  /** Empty: the list of accounts; else that account's detail. */
  readonly account: string
}

export const decodeAccountzOptions = (query: URLSearchParams): Result.Result<AccountzOptions, InvalidQuery> =>
  Result.succeed({ account: query.get("acc") ?? "" })

/** The name of this server's system account (nats-server always has one). */
export const systemAccountName = (state: ServerState): string => state.options.systemAccount ?? SYSTEM_ACCOUNT

/** nats-server's `ServiceRespType.String()`. */
const RESPONSE_TYPES = { singleton: "Singleton", stream: "Streamed", chunked: "Chunked" } as const

/**
 * jwt's `ExportType` as Go marshals it: its `MarshalJSON` has a pointer receiver, so an import
 * held in a slice writes `"service"`, one held as a map value (`responses`) the number.
 */
const SERVICE_TYPE_NUMBER = 2

const approved = (e: CompiledExport): ReadonlyArray<string> | undefined =>
  e.approved === undefined || e.approved.size === 0 ? undefined : [...e.approved].sort()

/** `ExtExport`s: service exports, then stream exports (nats-server's two maps, in that order). */
const exportsOf = (state: ServerState, name: string): Array<Record<string, unknown>> => {
  const graph = configAccountGraph(state.options)
  const compiled = Result.isSuccess(graph) ? graph.success.accounts.get(name) : undefined
  // The system account's exports of its account-scoped requests (nats-server lists them first).
  const system = name === systemAccountName(state)
    ? SYSTEM_EXPORTS.map((subject) => ({ subject, type: "service", response_type: "Streamed" }))
    : []
  if (compiled === undefined) return system
  return [
    ...system,
    ...compiled.serviceExports.map((e) => ({
      subject: e.subject,
      type: "service",
      response_type: RESPONSE_TYPES[e.responseType],
      approved_accounts: approved(e)
    })),
    ...compiled.streamExports.map((e) => ({ subject: e.subject, type: "stream", approved_accounts: approved(e) }))
  ]
}

/** `ExtImport`s: stream imports, then service imports (`subject` the importer's local one, `to` the exporter's). */
const importsOf = (acc: Account): Array<Record<string, unknown>> => [
  ...acc.streamImports.map((si) => ({
    subject: si.from,
    account: si.exporter,
    local_subject: si.to,
    type: "stream",
    invalid: false,
    share: false,
    tracking: false
  })),
  ...acc.serviceImports.map((si) => ({
    subject: si.from,
    account: si.exporter,
    to: si.to,
    type: "service",
    invalid: false,
    share: false,
    tracking: false
  }))
]

/** The replies `acc` still owes through service imports, keyed by mapped reply (sorted, as Go writes a map). */
const responsesOf = (state: ServerState, acc: Account, now: number): Record<string, unknown> | undefined => {
  const routes = state.router.replies.routesOf(acc.name)
  if (routes === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const reply of [...routes.keys()].sort()) {
    const route = routes.get(reply)!
    if (now > route.expiresAt) continue
    out[reply] = {
      subject: reply,
      account: route.account,
      to: route.reply,
      type: SERVICE_TYPE_NUMBER,
      invalid: false,
      share: false,
      tracking: false
    }
  }
  return Object.keys(out).length > 0 ? out : undefined
}

/** nats-server's `AccountInfo` of one served account. */
export const accountInfo = (state: ServerState, acc: Account): Record<string, unknown> => {
  const exports = exportsOf(state, acc.name)
  const imports = importsOf(acc)
  return {
    account_name: acc.name,
    // Accounts are registered when the server starts (nats-server: when it loads its config).
    update_time: goTime(state.start),
    is_system: acc.name === systemAccountName(state) ? true : undefined,
    expired: false,
    complete: true,
    jetstream_enabled: false,
    leafnode_connections: 0,
    client_connections: acc.connections,
    subscriptions: acc.index.size,
    exports: exports.length > 0 ? exports : undefined,
    imports: imports.length > 0 ? imports : undefined,
    sublist_stats: sublistStats([acc]),
    responses: responsesOf(state, acc, state.router.now())
  }
}

/**
 * The `/accountz` document: the account list, or with `options.account` that account's detail
 * (an `InvalidQuery` with nats-server's 400 text when this server does not serve it).
 */
export const accountz = (
  state: ServerState,
  options: AccountzOptions,
  now: number = Date.now()
): Result.Result<Record<string, unknown>, InvalidQuery> => {
  const head = { server_id: state.serverId, now: goTime(now), system_account: systemAccountName(state) }
  if (options.account === "") return Result.succeed({ ...head, accounts: [...state.router.accounts.keys()] })
  const acc = state.router.lookup(options.account)
  if (acc === undefined) return invalidQuery("acc", options.account, `Account ${options.account} does not exist`)
  return Result.succeed({ ...head, account_detail: accountInfo(state, acc) })
}

export interface AccstatzOptions {
  /** Also accounts without connections (`unused=1`). */
  readonly unused: boolean
  /** Only these accounts, in this order (not read from the HTTP query, as nats-server 2.9.10). */
  readonly accounts?: ReadonlyArray<string> | undefined
}

export const decodeAccstatzOptions = (query: URLSearchParams): Result.Result<AccstatzOptions, InvalidQuery> => {
  const unused = decodeBool(query, "unused")
  return Result.isFailure(unused) ? Result.fail(unused.failure) : Result.succeed({ unused: unused.success })
}

/** nats-server's `AccountStat` of one account. */
export const accountStat = systemAccountStat

/** The `/accstatz` document. */
export const accstatz = (state: ServerState, options: AccstatzOptions, now: number = Date.now()): Record<string, unknown> => {
  const router = state.router
  const accounts: Array<Account> = []
  if (options.accounts === undefined || options.accounts.length === 0) accounts.push(...router.accounts.values())
  else {
    for (const name of options.accounts) {
      const acc = router.lookup(name)
      if (acc !== undefined) accounts.push(acc)
    }
  }
  return {
    server_id: state.serverId,
    now: goTime(now),
    account_statz: accounts.filter((acc) => options.unused || acc.connections > 0).map(accountStat)
  }
}
