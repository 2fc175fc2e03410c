/**
 * When each account last logged `maximum subscriptions exceeded`: nats-server logs it at most once
 * per 2 s per account (`shouldLogMaxSubErr`); the client is told every time. (An account's
 * connection count, for `limits.conn`, is `Account.connections`.)
 *
 * @since 0.1.0
 */

/** nats-server's `defaultMaxSubLimitReportThreshold`. */
export const SUB_LIMIT_LOG_INTERVAL_MS = 2000

export class SubLimitLog {
  private readonly last = new Map<string, number>()

  /** Log `maximum subscriptions exceeded` for `account` now (`nowMs`)? At most once per interval. */
  shouldLog(account: string, nowMs: number): boolean {
    const last = this.last.get(account)
    if (last !== undefined && nowMs - last < SUB_LIMIT_LOG_INTERVAL_MS) return false
    this.last.set(account, nowMs)
    return true
  }
}
