/**
 * What the running server needs of the accounts options, without the config file's parser: the
 * start-up refusals nats-server makes for accounts and operators, and the account graph of the
 * `accounts` block or of operator mode's preloaded JWTs.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { type Accounts, type AccountsError, compileAccounts } from "../accounts/Accounts.js"
import { jwtAccountSpecs, operatorMode, readOperator } from "../accounts/Resolver.js"
import type { ServerOptions } from "./ServerOptions.js"

/** The server does not start with these options (see {@link accountsStartupError}). */
export class AccountsStartupError extends Data.TaggedError("AccountsStartupError")<{ readonly message: string }> {}

/** An `operator` entry (a JWT or the path of a file holding one) that cannot be read or decoded. */
export class OperatorJwtError extends Data.TaggedError("OperatorJwtError")<{ readonly entry: string; readonly message: string }> {}

/**
 * Why the server does not start with these options: nats-server's own start-up refusals for
 * accounts and operators (`validateTrustedOperators`, the system account lookup) first, then —
 * for a configuration nats-server would run — that accounts configured in the file are not served
 * yet. Operator mode (`operator` + `resolver: MEMORY`, accounts from `resolver_preload`) is served.
 */
export const accountsStartupError = (o: ServerOptions): string | undefined => {
  const operators = o.operators ?? []
  const accounts = o.accounts ?? []
  if (operators.length === 0 && accounts.length === 0 && o.systemAccount === undefined && o.resolver === undefined && o.resolverPreload === undefined) {
    return undefined
  }
  if (operators.length > 0) {
    for (const op of operators) {
      const r = readOperator(op)
      if (Result.isFailure(r)) return r.failure
    }
    if (o.resolver === undefined) return "operators require an account resolver to be configured"
    if (accounts.length > 0) return "operators do not allow Accounts to be configured directly"
    if ((o.authorization?.users.length ?? 0) > 0 || (o.authorization?.nkeys.length ?? 0) > 0) return "operators do not allow users to be configured directly"
    if (o.authorization?.noAuthUser !== undefined) return "no_auth_user not compatible with Trusted Operator"
    const mode = operatorMode(o)
    return Result.isFailure(mode) ? mode.failure : undefined
  }
  if (o.systemAccount !== undefined && o.systemAccount !== "$SYS" && !accounts.some((a) => a.name === o.systemAccount)) {
    return "error resolving system account: account missing"
  }
  // Options given to the Layer directly were not checked by the config loader.
  const graph = configAccountGraph(o)
  return Result.isFailure(graph) ? graph.failure.reason : undefined
}

/**
 * Operator mode's account graph: every trusted preloaded account JWT (named by its public key)
 * with its exports and imports. An import nats-server would mark invalid is left out (with the
 * rest of that account's imports) rather than refusing the server.
 */
export const operatorAccountGraph = (o: ServerOptions, nowSeconds: number): Result.Result<Accounts, AccountsError> => {
  let specs = jwtAccountSpecs(o, nowSeconds).specs
  for (;;) {
    const graph = compileAccounts(specs)
    if (Result.isSuccess(graph)) return graph
    const bad = graph.failure.account
    if (!specs.some((a) => a.name === bad && a.imports.length > 0)) return graph
    specs = specs.map((a) => (a.name === bad ? { ...a, imports: [] } : a))
  }
}

/** The account graph of the `accounts` block, compiled (exports and imports checked as nats-server). */
export const configAccountGraph = (o: Pick<ServerOptions, "accounts">): Result.Result<Accounts, AccountsError> =>
  compileAccounts((o.accounts ?? []).map((a) => ({ name: a.name, exports: a.exports, imports: a.imports })))
