/**
 * One account: a subject space of its own (nats-server's `Account` with its sublist), and the
 * parts of the account graph that act on the message path — the stream imports whose
 * subscriptions are shadowed into the exporter, and the service imports that forward requests.
 *
 * Plain mutable state read on the hot path; the router owns it (`Router.account`). A connection
 * is bound to one account when it authenticates and keeps a direct reference, so routing a
 * client's message never looks an account up.
 *
 * @since 0.1.0
 */
import type { CompiledServiceImport, CompiledStreamImport } from "../accounts/Accounts.js"
import { SubjectIndex } from "../subjects/SubjectIndex.js"
import type { InterestChange } from "./Router.js"
import type { Interest, LocalSubscription } from "./Subscription.js"

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
  readonly localInterest = new Map<string, InterestChange>()
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

  constructor(readonly name: string) {}
}
