/**
 * Accounts as separate subject spaces joined by exports and imports (nats-server 2.9's
 * `accounts.go`), as a pure model: {@link compileAccounts} checks an account graph the way
 * nats-server does when it loads a config (`AddStreamImport`, `AddMappedStreamImport`,
 * `AddServiceImport`, with their error texts), and {@link deliveries} says, for one message
 * published in one account, in which (account, subject) spaces it lands:
 *
 * - the publishing account itself, on the published subject;
 * - **stream imports** — each account importing a stream from the publishing account (not from
 *   an account the message reached through a service import: nats-server does not re-export
 *   those), when the import's subject matches: on the import's `to` (or `prefix.` + subject), reply
 *   unchanged. As nats-server's shadow subscriptions: the importer's own stream importers do not
 *   get it (one hop), but the importer's service imports do (their subscriptions are shadowed
 *   too), and they map the exporter's subject, not the importer's — both observed with
 *   nats-server 2.9.10 (test/accounts/AccountsNats.test.ts);
 * - **service imports** — each service import of an account the message lands in whose local
 *   subject matches: in the exporting account on the export's subject, with the reply replaced
 *   by a `_R_.<6>.<6>` reply of the exporting account ({@link ServiceReplies}) that maps the
 *   response back to the requester's reply in the importing account. Service imports chain
 *   (the exporter's own service imports apply); an account is never entered twice by one message;
 * - **responses** — a message on such a `_R_` reply in the exporting account lands in the
 *   importing account on the original reply (once for `singleton` exports; until the
 *   `response_threshold` for `stream` and `chunked`).
 *
 * The router (`server/Router`) serves the same rules with shadow subscriptions and internal
 * service-import subscribers; a property test checks it against {@link deliveries}.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import { isValidLiteralSubject, isValidSubject, matchesPattern, subjectHasWildcard } from "../subjects/Subject.js"
import { applyTransform, makeTransform, tokenize, type Transform, untokenize } from "./Transform.js"

/** nats-server's global account: users outside every account. */
export const GLOBAL_ACCOUNT = "$G"
/** The system account's default name. */
export const SYSTEM_ACCOUNT = "$SYS"
/** nats-server's DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD: 2 minutes. */
export const DEFAULT_RESPONSE_THRESHOLD = 120_000

export type ResponseType = "singleton" | "stream" | "chunked"

/** `{ stream: subject, accounts: [...] }` or `{ service: subject, ... }`; no `accounts` = public. */
export interface ExportSpec {
  readonly kind: "stream" | "service"
  readonly subject: string
  readonly accounts?: ReadonlyArray<string> | undefined
  readonly responseType?: ResponseType | undefined
  /** Milliseconds. */
  readonly responseThreshold?: number | undefined
}

/** `{ stream: { account, subject }, prefix | to }` or `{ service: { account, subject }, to }`. */
export interface ImportSpec {
  readonly kind: "stream" | "service"
  readonly account: string
  readonly subject: string
  readonly prefix?: string | undefined
  /** The importer's local subject. */
  readonly to?: string | undefined
}

export interface AccountSpec {
  readonly name: string
  readonly exports: ReadonlyArray<ExportSpec>
  readonly imports: ReadonlyArray<ImportSpec>
}

/** A config or JWT account graph nats-server would refuse; `reason` is nats-server's text. */
export class AccountsError extends Data.TaggedError("AccountsError")<{
  readonly account: string
  readonly reason: string
  readonly message: string
}> {}

const accountsError = (account: string, reason: string) => new AccountsError({ account, reason, message: reason })

export interface CompiledExport {
  readonly subject: string
  /** Accounts allowed to import; `undefined` = public. */
  readonly approved: ReadonlySet<string> | undefined
  readonly responseType: ResponseType
  readonly responseThreshold: number
}

export interface CompiledStreamImport {
  readonly importer: string
  readonly exporter: string
  /** The exporter's subject (pattern) the import takes. */
  readonly from: string
  /** The importer's subject (pattern) it lands on. */
  readonly to: string
  readonly transform: Transform | undefined
}

export interface CompiledServiceImport {
  readonly importer: string
  readonly exporter: string
  /** The importer's local subject (pattern) requests are published on. */
  readonly from: string
  /** The exporter's subject (pattern) they land on. */
  readonly to: string
  readonly transform: Transform | undefined
  readonly responseType: ResponseType
  readonly responseThreshold: number
}

export interface CompiledAccount {
  readonly name: string
  readonly streamExports: ReadonlyArray<CompiledExport>
  readonly serviceExports: ReadonlyArray<CompiledExport>
  readonly streamImports: ReadonlyArray<CompiledStreamImport>
  readonly serviceImports: ReadonlyArray<CompiledServiceImport>
}

/** A checked account graph. */
export interface Accounts {
  readonly accounts: ReadonlyMap<string, CompiledAccount>
  /** Exporter → the stream imports that take from it. */
  readonly streamImportsFrom: ReadonlyMap<string, ReadonlyArray<CompiledStreamImport>>
}

/** nats-server's `isSubsetMatch(tokens(subject), test)`: every subject `subject` matches, `test` matches. */
export const isSubsetMatch = (subject: string, test: string): boolean => {
  const tokens = subject.split(".")
  const tts = test.split(".")
  for (let i = 0; i < tts.length; i++) {
    if (i >= tokens.length) return false
    const t2 = tts[i]!
    if (t2 === "") return false
    if (t2 === ">") return true
    const t1 = tokens[i]!
    if (t1 === "" || t1 === ">") return false
    if (t1 === "*") {
      if (t2 !== "*") return false
      continue
    }
    if (t2 !== "*" && t1 !== t2) return false
  }
  return tokens.length === tts.length
}

/** nats-server's `SubjectsCollide`: some literal subject matches both patterns. */
export const subjectsCollide = (a: string, b: string): boolean => {
  const ta = a.split(".")
  const tb = b.split(".")
  const n = Math.min(ta.length, tb.length)
  for (let i = 0; i < n; i++) {
    const x = ta[i]!
    const y = tb[i]!
    if (x === ">" || y === ">") return true
    if (x !== "*" && y !== "*" && x !== y) return false
  }
  return ta.length === tb.length
}

/** The export of `exports` that authorizes `importer` to take `subject` (nats-server's `check*ExportApproved`). */
const approvedExport = (
  exports: ReadonlyArray<CompiledExport>,
  importer: string,
  subject: string
): { readonly ok: boolean; readonly export: CompiledExport | undefined } => {
  const allowed = (e: CompiledExport) => e.approved === undefined || e.approved.has(importer)
  const exact = exports.find((e) => e.subject === subject)
  if (exact !== undefined) return { ok: allowed(exact), export: exact }
  // nats-server takes the first subset match of a Go map (random order); exports that overlap with
  // different account lists are resolved here in favour of the importer if any of them allows it.
  const matching = exports.filter((e) => isSubsetMatch(subject, e.subject))
  const ok = matching.find(allowed)
  return { ok: ok !== undefined, export: ok ?? matching[0] }
}

const compileExport = (e: ExportSpec): CompiledExport => ({
  subject: e.subject,
  approved: e.accounts === undefined ? undefined : new Set(e.accounts),
  responseType: e.responseType ?? "singleton",
  responseThreshold: e.responseThreshold ?? DEFAULT_RESPONSE_THRESHOLD
})

/**
 * The same subject exported twice, as nats-server adds it to the existing export: once private it
 * stays private, the approved accounts add up; a later non-singleton response type wins; the
 * threshold is reset to the default unless the later export sets one.
 */
const mergeExport = (old: CompiledExport, next: CompiledExport): CompiledExport => ({
  subject: old.subject,
  approved: old.approved === undefined && next.approved === undefined
    ? undefined
    : new Set([...(old.approved ?? []), ...(next.approved ?? [])]),
  responseType: next.responseType !== "singleton" ? next.responseType : old.responseType,
  responseThreshold: next.responseThreshold
})

interface Building {
  readonly name: string
  readonly streamExports: Array<CompiledExport>
  readonly serviceExports: Array<CompiledExport>
  readonly streamImports: Array<CompiledStreamImport>
  readonly serviceImports: Array<CompiledServiceImport>
}

/** nats-server's `checkServiceImportsForCycles`. */
const serviceCycle = (all: ReadonlyMap<string, Building>, account: string, from: string, visited: Set<string>): boolean => {
  if (visited.size >= 1024) return true
  for (const si of all.get(account)?.serviceImports ?? []) {
    if (subjectsCollide(from, si.to)) {
      if (visited.has(si.exporter)) return true
      visited.add(account)
      const next = isSubsetMatch(si.from, from) ? si.from : from
      if (serviceCycle(all, si.exporter, next, visited)) return true
    }
  }
  return false
}

/** nats-server's `checkStreamImportsForCycles` (only accounts that export a stream covering `to` are followed). */
const streamCycle = (all: ReadonlyMap<string, Building>, account: string, to: string, visited: Set<string>): boolean => {
  if (visited.size >= 1024) return true
  const a = all.get(account)
  if (a === undefined || !a.streamExports.some((e) => isSubsetMatch(to, e.subject))) return false
  for (const si of a.streamImports) {
    if (subjectsCollide(to, si.to)) {
      if (visited.has(si.exporter)) return true
      visited.add(account)
      const next = isSubsetMatch(si.to, to) ? si.to : to
      if (streamCycle(all, si.exporter, next, visited)) return true
    }
  }
  return false
}

/**
 * Checks and compiles an account graph in nats-server's order (every export, then stream imports,
 * then service imports); fails with the first error nats-server would report for it.
 */
export const compileAccounts = (specs: ReadonlyArray<AccountSpec>): Result.Result<Accounts, AccountsError> => {
  const all = new Map<string, Building>()
  for (const s of specs) {
    all.set(s.name, { name: s.name, streamExports: [], serviceExports: [], streamImports: [], serviceImports: [] })
  }
  for (const s of specs) {
    const a = all.get(s.name)!
    for (const e of s.exports) {
      for (const n of e.accounts ?? []) {
        if (!all.has(n)) return Result.fail(accountsError(s.name, `"${n}" account not defined for ${e.kind} export`))
      }
      const list = e.kind === "stream" ? a.streamExports : a.serviceExports
      const i = list.findIndex((x) => x.subject === e.subject)
      if (i >= 0) list[i] = mergeExport(list[i]!, compileExport(e))
      else list.push(compileExport(e))
    }
  }
  for (const s of specs) {
    const a = all.get(s.name)!
    for (const im of s.imports) {
      if (im.kind !== "stream") continue
      const exporter = all.get(im.account)
      if (exporter === undefined) return Result.fail(accountsError(s.name, `"${im.account}" account not defined for stream import`))
      const fail = (why: string) => Result.fail(accountsError(s.name, `Error adding stream import "${im.subject}": ${why}`))
      if (!isValidSubject(im.subject) || !approvedExport(exporter.streamExports, s.name, im.subject).ok) {
        return fail("stream import not authorized")
      }
      let to = im.to ?? ""
      if (im.prefix !== undefined && im.prefix !== "") {
        if (!isValidLiteralSubject(im.prefix.endsWith(".") ? im.prefix.slice(0, -1) : im.prefix)) {
          return fail("stream import prefix can not contain wildcard tokens")
        }
        to = (im.prefix.endsWith(".") ? im.prefix : im.prefix + ".") + im.subject
      }
      if (to === "") to = im.subject
      if (streamCycle(all, im.account, to, new Set([s.name]))) return fail("import forms a cycle")
      let transform: Transform | undefined
      if (subjectHasWildcard(im.subject) && to !== im.subject) {
        const t = makeTransform(im.subject, tokenize(to))
        if (Result.isFailure(t)) {
          return fail(`failed to create mapping transform for stream import subject "${im.subject}" to "${to}": ${t.failure}`)
        }
        transform = t.success
        to = untokenize(to)
      }
      if (a.streamImports.some((x) => x.exporter === im.account && x.from === im.subject)) return fail("stream import already exists")
      a.streamImports.push({ importer: s.name, exporter: im.account, from: im.subject, to, transform })
    }
  }
  for (const s of specs) {
    const a = all.get(s.name)!
    for (const im of s.imports) {
      if (im.kind !== "service") continue
      const exporter = all.get(im.account)
      if (exporter === undefined) return Result.fail(accountsError(s.name, `"${im.account}" account not defined for service import`))
      const fail = (why: string) => Result.fail(accountsError(s.name, `Error adding service import "${im.subject}": ${why}`))
      let from = im.to ?? im.subject
      let to = im.subject
      if (!isValidSubject(from) || !isValidSubject(to)) return fail("sublist: invalid subject")
      const approved = approvedExport(exporter.serviceExports, s.name, to)
      if (!approved.ok) return fail("service import not authorized")
      if (serviceCycle(all, im.account, from, new Set([s.name]))) return fail("import forms a cycle")
      const dup = a.serviceImports.find((x) => x.from === from)
      if (dup !== undefined) {
        return fail(`duplicate service import subject "${from}", previously used in import for account "${dup.exporter}", subject "${dup.to}"`)
      }
      let transform: Transform | undefined
      if (subjectHasWildcard(to) && to !== from) {
        to = untokenize(to)
        const forward = makeTransform(to, tokenize(from))
        if (Result.isFailure(forward)) {
          return fail(`failed to create mapping transform for service import subject "${from}" to "${to}": ${forward.failure}`)
        }
        // nats-server's transform.reverse(): local subject → the exporter's.
        const phs = tokenize(from).split(".").filter((t) => t.length > 1 && t[0] === "$")
        const dest = to.split(".").map((t) => (t === "*" ? phs.shift() ?? t : t)).join(".")
        from = untokenize(from)
        const reverse = makeTransform(from, dest)
        if (Result.isFailure(reverse)) {
          return fail(`failed to create mapping transform for service import subject "${from}" to "${to}": ${reverse.failure}`)
        }
        transform = reverse.success
      }
      a.serviceImports.push({
        importer: s.name,
        exporter: im.account,
        from,
        to,
        transform,
        responseType: approved.export?.responseType ?? "singleton",
        responseThreshold: approved.export?.responseThreshold ?? DEFAULT_RESPONSE_THRESHOLD
      })
    }
  }
  const streamImportsFrom = new Map<string, Array<CompiledStreamImport>>()
  for (const a of all.values()) {
    for (const si of a.streamImports) {
      const list = streamImportsFrom.get(si.exporter) ?? []
      list.push(si)
      streamImportsFrom.set(si.exporter, list)
    }
  }
  return Result.succeed({ accounts: all, streamImportsFrom })
}

// ---------------------------------------------------------------------------------------------
// Service replies
// ---------------------------------------------------------------------------------------------

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** `n` base-62 digits of nats-server's alphabet. */
const base62 = (random: () => number, n: number): string => {
  let s = ""
  for (let i = 0; i < n; i++) s += DIGITS[Math.floor(random() * 62) % 62]
  return s
}

/** Where a response on a mapped reply goes. */
export interface ResponseRoute {
  readonly account: string
  readonly reply: string
  readonly responseType: ResponseType
  /** Clock milliseconds after which the mapping is gone. */
  readonly expiresAt: number
}

/** nats-server's `_R_.` prefix of the replies it maps for service imports. */
export const SERVICE_REPLY_PREFIX = "_R_."

/** `_R_.` + 6 + `.` + 6 base-62 characters: the shape of nats-server's `newServiceReply`. */
export const isServiceReply = (subject: string): boolean => /^_R_\.[0-9A-Za-z]{6}\.[0-9A-Za-z]{6}$/.test(subject)

/**
 * The reply mappings of service imports (nats-server's response service imports): per exporting
 * account one random `_R_.<6>.` prefix, per request a fresh `_R_.<6>.<6>` reply that routes the
 * response back. Time is passed in (clock milliseconds), so expiry is deterministic.
 */
export class ServiceReplies {
  private readonly prefixes = new Map<string, string>()
  private readonly routes = new Map<string, Map<string, ResponseRoute>>()
  constructor(private readonly random: () => number = Math.random) {}

  /** The `_R_.<6>.` prefix of `exporter`'s mapped replies (drawn on first use). */
  prefix(exporter: string): string {
    let prefix = this.prefixes.get(exporter)
    if (prefix === undefined) {
      prefix = SERVICE_REPLY_PREFIX + base62(this.random, 6) + "."
      this.prefixes.set(exporter, prefix)
    }
    return prefix
  }

  /** A new reply in `exporter` that routes its responses to `route`. */
  add(exporter: string, route: ResponseRoute): string {
    const prefix = this.prefix(exporter)
    let byReply = this.routes.get(exporter)
    if (byReply === undefined) this.routes.set(exporter, byReply = new Map())
    let reply: string
    do reply = prefix + base62(this.random, 6)
    while (byReply.has(reply))
    byReply.set(reply, route)
    return reply
  }

  /** The route of a response published in `exporter` on `subject` (a singleton's is used up). */
  take(exporter: string, subject: string, now: number): ResponseRoute | undefined {
    const byReply = this.routes.get(exporter)
    const route = byReply?.get(subject)
    if (route === undefined) return undefined
    if (now > route.expiresAt) {
      byReply!.delete(subject)
      return undefined
    }
    if (route.responseType === "singleton") byReply!.delete(subject)
    return route
  }

  /** Drops every mapping expired at `now`. */
  expire(now: number): void {
    for (const byReply of this.routes.values()) {
      for (const [reply, route] of byReply) if (now > route.expiresAt) byReply.delete(reply)
    }
  }

  /** The mappings of `exporter`'s replies still held, by reply (for `/accountz`'s `responses`). */
  routesOf(exporter: string): ReadonlyMap<string, ResponseRoute> | undefined {
    return this.routes.get(exporter)
  }

  /** Mappings still held (for tests and monitoring). */
  get size(): number {
    let n = 0
    for (const byReply of this.routes.values()) n += byReply.size
    return n
  }
}

// ---------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------

export interface Delivery {
  readonly account: string
  readonly subject: string
  readonly reply: string | undefined
  readonly via: "publish" | "stream" | "service" | "response"
}

const mapSubject = (t: Transform | undefined, to: string, subject: string, from: string): string =>
  t !== undefined ? applyTransform(t, subject) : from === to ? subject : to

/** The subject a message on `subject` (matching the import's `from`) lands on through an import. */
export const mapImportSubject = (
  im: { readonly transform: Transform | undefined; readonly from: string; readonly to: string },
  subject: string
): string => mapSubject(im.transform, im.to, subject, im.from)

/**
 * The spaces one message published in `account` on the literal `subject` lands in (see the module
 * doc). Subscribers of a delivery's account whose subscription matches its subject receive it,
 * with its reply. Replies of service imports are allocated in `replies` (clock `now`).
 */
export const deliveries = (
  accounts: Accounts,
  account: string,
  subject: string,
  reply: string | undefined,
  replies: ServiceReplies,
  now: number
): Array<Delivery> => {
  const out: Array<Delivery> = []
  /**
   * `acc`'s service imports whose local subject matches `subj`; `original` is the subject they map
   * (differs from `subj` for a streamed message: nats-server hands the service import the
   * exporter's subject, not the importer's mapped one — observed with nats-server 2.9.10).
   */
  const serviceImports = (acc: string, subj: string, original: string, rep: string | undefined, visited: Set<string>): void => {
    for (const si of accounts.accounts.get(acc)?.serviceImports ?? []) {
      if (!matchesPattern(si.from, subj) || visited.has(si.exporter)) continue
      const nrr = rep === undefined
        ? undefined
        : replies.add(si.exporter, { account: acc, reply: rep, responseType: si.responseType, expiresAt: now + si.responseThreshold })
      const mapped = si.transform !== undefined && !matchesPattern(si.from, original) ? original : mapSubject(si.transform, si.to, original, si.from)
      land(si.exporter, mapped, nrr, "service", new Set([...visited, si.exporter]))
    }
  }
  const land = (acc: string, subj: string, rep: string | undefined, via: Delivery["via"], visited: Set<string>): void => {
    out.push({ account: acc, subject: subj, reply: rep, via })
    // nats-server: "If this message was a service import do not re-export to an exported stream."
    for (const si of via === "publish" ? accounts.streamImportsFrom.get(acc) ?? [] : []) {
      if (!matchesPattern(si.from, subj)) continue
      const mapped = mapSubject(si.transform, si.to, subj, si.from)
      out.push({ account: si.importer, subject: mapped, reply: rep, via: "stream" })
      // The importer's service-import subscriptions are shadowed into the exporter like any other
      // subscription of the importer: a streamed message goes on through them — even back into
      // the exporter (nats-server 2.9.10, live: A exports stream `a` and service `>`, C imports
      // both; a message on `a` in A reaches A's subscribers twice).
      serviceImports(si.importer, mapped, subj, rep, new Set([si.importer]))
    }
    const route = replies.take(acc, subj, now)
    if (route !== undefined && !visited.has(route.account)) {
      land(route.account, route.reply, undefined, "response", new Set([...visited, route.account]))
    }
    serviceImports(acc, subj, subj, rep, visited)
  }
  land(account, subject, reply, "publish", new Set([account]))
  return out
}
