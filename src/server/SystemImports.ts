/**
 * The service imports nats-server 2.9.10 gives every account other than the system account
 * (its `registerSystemImports`, as `/accountz?acc=X` shows them on the real server), so that an
 * account's users can ask about their own account:
 *
 * - `$SYS.REQ.ACCOUNT.PING.CONNZ` and `$SYS.REQ.SERVER.PING.CONNZ` → `$SYS.REQ.ACCOUNT.<acc>.CONNZ`;
 * - `$SYS.REQ.ACCOUNT.PING.STATZ` → `$SYS.REQ.ACCOUNT.<acc>.STATZ`;
 *
 * all three from the system account's streamed exports (`$SYS.REQ.ACCOUNT.*.CONNZ`, `.STATZ`):
 * every server's answer comes back. An account that imports one of these subjects itself keeps
 * its own import (nats-server adds none where one exists).
 *
 * @since 0.1.0
 */
import { type Accounts, type CompiledAccount, type CompiledServiceImport, GLOBAL_ACCOUNT } from "../accounts/Accounts.js"

/** nats-server's default response threshold of a service export (2 minutes). */
const RESPONSE_THRESHOLD_MS = 120_000

/** The system account's own exports that these imports use (its `addSystemAccountExports`). */
export const SYSTEM_EXPORTS: ReadonlyArray<string> = ["$SYS.REQ.ACCOUNT.*.CONNZ", "$SYS.REQ.ACCOUNT.*.STATZ"]

/** The system imports of `account`, from the system account `system`. */
export const systemImports = (account: string, system: string): Array<CompiledServiceImport> => {
  const make = (from: string, kind: string): CompiledServiceImport => ({
    importer: account,
    exporter: system,
    from,
    to: `$SYS.REQ.ACCOUNT.${account}.${kind}`,
    transform: undefined,
    responseType: "stream",
    responseThreshold: RESPONSE_THRESHOLD_MS
  })
  return [
    make("$SYS.REQ.ACCOUNT.PING.CONNZ", "CONNZ"),
    make("$SYS.REQ.SERVER.PING.CONNZ", "CONNZ"),
    make("$SYS.REQ.ACCOUNT.PING.STATZ", "STATZ")
  ]
}

/** `graph` with the system imports added to every account but `system` (the global account included). */
export const withSystemImports = (graph: Accounts, system: string): Accounts => {
  const accounts = new Map<string, CompiledAccount>()
  const names = [GLOBAL_ACCOUNT, ...graph.accounts.keys()]
  for (const name of names) {
    const compiled: CompiledAccount = graph.accounts.get(name) ??
      { name, streamExports: [], serviceExports: [], streamImports: [], serviceImports: [] }
    if (name === system) {
      accounts.set(name, compiled)
      continue
    }
    const own = new Set(compiled.serviceImports.map((si) => si.from))
    const added = systemImports(name, system).filter((si) => !own.has(si.from))
    accounts.set(name, { ...compiled, serviceImports: [...compiled.serviceImports, ...added] })
  }
  return { ...graph, accounts }
}
