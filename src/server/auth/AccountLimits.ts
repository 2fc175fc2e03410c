/**
 * Per-account bookkeeping the account limits of operator mode need on this server: how many client
 * connections each account has (nats-server's `MaxTotalConnectionsReached` / `addClient` /
 * `removeClient`, local clients only), and when the account last logged `maximum subscriptions
 * exceeded` (nats-server logs it at most once per 2 s per account, `shouldLogMaxSubErr`; the
 * client is told every time).
 *
 * Keyed by account name (a JWT account's public key), so per-account routing can keep one of
 * these per server and share it with its `Account`s.
 *
 * @since 0.1.0
 */

/** nats-server's `defaultMaxSubLimitReportThreshold`. */
export const SUB_LIMIT_LOG_INTERVAL_MS = 2000

interface Entry {
  connections: number
  lastSubLimitLog: number
}

export class AccountConnections {
  private readonly accounts = new Map<string, Entry>()

  /** Client connections `account` has on this server. */
  connections(account: string): number {
    return this.accounts.get(account)?.connections ?? 0
  }

  /**
   * Count one more connection for `account` unless it already has `max` (undefined = no limit):
   * false when the limit is reached, and nothing is counted.
   */
  tryAdd(account: string, max: number | undefined): boolean {
    let e = this.accounts.get(account)
    if (max !== undefined && (e?.connections ?? 0) >= max) return false
    if (e === undefined) {
      e = { connections: 0, lastSubLimitLog: -Infinity }
      this.accounts.set(account, e)
    }
    e.connections++
    return true
  }

  /** One connection of `account` went away. */
  remove(account: string): void {
    const e = this.accounts.get(account)
    if (e === undefined) return
    e.connections = Math.max(0, e.connections - 1)
    if (e.connections === 0 && e.lastSubLimitLog === -Infinity) this.accounts.delete(account)
  }

  /** Log `maximum subscriptions exceeded` for `account` now (`nowMs`)? At most once per interval. */
  shouldLogSubLimit(account: string, nowMs: number): boolean {
    let e = this.accounts.get(account)
    if (e === undefined) {
      e = { connections: 0, lastSubLimitLog: -Infinity }
      this.accounts.set(account, e)
    }
    if (nowMs - e.lastSubLimitLog < SUB_LIMIT_LOG_INTERVAL_MS) return false
    e.lastSubLimitLog = nowMs
    return true
  }
}
