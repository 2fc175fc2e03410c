/**
 * Operator mode's accounts, as nats-server 2.9.10 sets them up from `operator`, `resolver: MEMORY`,
 * `resolver_preload` and `system_account`: the trusted operators (read from their files or inline
 * JWTs, as `readOperatorJWT`), the memory resolver the preloaded account JWTs fill, and — for the
 * router — every account those JWTs describe as the same {@link AccountSpec} (exports, imports)
 * that `compileAccounts` takes, with its {@link AccountLimits}.
 *
 * Pure but for reading operator files (the caller may pass its own reader); the clock is passed in.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Result from "effect/Result"
import type { AccountSpec } from "./Accounts.js"
import {
  type AccountLimits,
  decodeOperatorClaims,
  isPublicKey,
  makeTrust,
  type MemoryResolver,
  type OperatorClaims,
  resolveAccount,
  type Trust
} from "./Jwt.js"

/** The options operator mode reads (a structural slice of `ServerOptions`). */
export interface OperatorModeOptions {
  /** Each an inline operator JWT or the path of a file holding one. */
  readonly operators?: ReadonlyArray<string> | undefined
  readonly resolverPreload?: Readonly<Record<string, string>> | undefined
  readonly systemAccount?: string | undefined
}

/** nats-server's `jwtPrefix`: what an inline JWT starts with. */
const JWT_PREFIX = "eyJ"
const DECORATED = /\s*(?:(?:-{3,}.*-{3,}\r?\n)([\w\-.=]+)(?:\r?\n-{3,}.*-{3,}(?:\r?\n|$)))/

/**
 * nats-server's `readOperatorJWT`: the file's contents (a bare or decorated JWT), or the text
 * itself when no such file exists and it is an inline JWT. Fails with nats-server's text.
 */
export const readOperator = (
  entry: string,
  readFile: (path: string) => string = (p) => fs.readFileSync(p, "utf8")
): Result.Result<{ readonly jwt: string; readonly claims: OperatorClaims }, string> => {
  let contents: string
  try {
    contents = readFile(entry)
  } catch (e) {
    if (!entry.startsWith(JWT_PREFIX)) {
      const code = (e as NodeJS.ErrnoException).code
      return Result.fail(`error parsing operator JWT: open ${entry}: ${code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : String((e as Error).message)}`)
    }
    contents = entry
  }
  const jwt = DECORATED.exec(contents)?.[1] ?? contents.trim()
  const claims = decodeOperatorClaims(jwt)
  if (Result.isFailure(claims)) return Result.fail(`error parsing operator JWT: ${claims.failure.reason}`)
  return Result.succeed({ jwt, claims: claims.success })
}

/** Operator mode, set up: who is trusted, the resolver, the system account. */
export interface OperatorMode {
  readonly trust: Trust
  readonly resolver: MemoryResolver
  /**
   * `system_account`, else the operator JWT's `system_account` (nats-server's
   * `validateTrustedOperators` takes it from there when the config has none).
   */
  readonly systemAccount: string | undefined
}

/**
 * Operator mode from the options; fails with nats-server's start-up text (an operator that does not
 * read, `error resolving system account: …`). Undefined when no operator is configured.
 */
export const operatorMode = (
  o: OperatorModeOptions,
  now: number = Math.floor(Date.now() / 1000),
  readFile?: (path: string) => string
): Result.Result<OperatorMode | undefined, string> => {
  const entries = o.operators ?? []
  if (entries.length === 0) return Result.succeed(undefined)
  const operators: Array<OperatorClaims> = []
  for (const entry of entries) {
    const r = readOperator(entry, readFile)
    if (Result.isFailure(r)) return Result.fail(r.failure)
    operators.push(r.success.claims)
  }
  const trust = makeTrust(operators)
  const resolver: MemoryResolver = new Map(Object.entries(o.resolverPreload ?? {}))
  const fromOperator = operators.map((op) => op.nats.system_account).find((s) => s !== undefined && s !== "")
  const systemAccount = o.systemAccount ?? fromOperator
  if (systemAccount !== undefined) {
    // nats-server's `LookupAccount` of the system account at start-up.
    if (!isPublicKey("account", systemAccount)) return Result.fail("error resolving system account: will only fetch valid account keys")
    const sys = resolveAccount(trust, resolver, systemAccount, now)
    if (Result.isFailure(sys)) return Result.fail(`error resolving system account: ${sys.failure.reason.replace(/^Account JWT lookup error: /, "")}`)
  }
  return Result.succeed({ trust, resolver, systemAccount })
}

/** What the router needs of the JWT accounts. */
export interface JwtAccountSpecs {
  /** One spec per preloaded account the operators trust, named by its public key. */
  readonly specs: Array<AccountSpec>
  /** Account public key → its JWT limits. */
  readonly limits: Map<string, AccountLimits>
}

/**
 * The accounts of `resolver_preload` for `compileAccounts`: every account JWT that decodes and is
 * issued by a trusted operator (key or signing key), named by its public key, with its limits. The
 * system account is among them when it is preloaded (see {@link operatorMode} for the check that it
 * resolves). Accounts that do not resolve are left out, as nats-server would refuse their users.
 */
export const jwtAccountSpecs = (
  o: OperatorModeOptions,
  now: number = Math.floor(Date.now() / 1000),
  readFile?: (path: string) => string
): JwtAccountSpecs => {
  const specs: Array<AccountSpec> = []
  const limits = new Map<string, AccountLimits>()
  const mode = operatorMode({ ...o, systemAccount: undefined }, now, readFile)
  if (Result.isFailure(mode) || mode.success === undefined) return { specs, limits }
  const { trust, resolver } = mode.success
  for (const key of resolver.keys()) {
    const r = resolveAccount(trust, resolver, key, now)
    if (Result.isFailure(r)) continue
    specs.push(r.success.spec)
    limits.set(key, r.success.limits)
  }
  return { specs, limits }
}
