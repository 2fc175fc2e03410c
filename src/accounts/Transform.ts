/**
 * Subject transforms of imports, as nats-server 2.9's `newTransform` builds them for stream and
 * service imports: a source pattern (`foo.*.>`) and a destination whose `$N` (or
 * `{{wildcard(N)}}`) tokens take the source's N-th `*` token, with a trailing `>` in both carrying
 * the rest of the subject. Only the placeholder function imports need; the other mapping functions
 * (`partition`, `split`, …) belong to account `mappings`, which are not parsed yet.
 *
 * Pure; subjects are byte strings like everywhere in the broker.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { isValidSubject } from "../subjects/Subject.js"

/** A compiled transform: `apply` maps a literal subject the source matches. */
export interface Transform {
  readonly src: string
  readonly dest: string
  /** Per destination token: a literal token, or the index (into the source tokens) it copies. */
  readonly parts: ReadonlyArray<string | number>
  readonly srcTokens: number
  readonly fwc: boolean
}

/** nats-server's `transformTokenize`: the N-th `*` becomes `$N`. */
export const tokenize = (subject: string): string => {
  let i = 1
  return subject.split(".").map((t) => (t === "*" ? `$${i++}` : t)).join(".")
}

/** nats-server's `transformUntokenize`: `$N` tokens become `*`. */
export const untokenize = (subject: string): string =>
  subject.split(".").map((t) => (t.length > 1 && t[0] === "$" && t[1]! >= "1" && t[1]! <= "9" ? "*" : t)).join(".")

const placeholder = (token: string): number | undefined | "bad" => {
  if (token.length > 1 && token[0] === "$") {
    const n = Number(token.slice(1))
    return Number.isInteger(n) && n > 0 ? n : "bad"
  }
  const m = /^\{\{\s*wildcard\s*\(\s*(\d+)\s*\)\s*\}\}$/i.exec(token)
  if (m !== null) return Number(m[1])
  if (token.startsWith("{{")) return "bad"
  return undefined
}

/**
 * nats-server's `newTransform(src, dest)` for placeholders; fails with its error texts
 * (`invalid subject`, `invalid mapping destination: not using all of the token wildcard(s) in …`).
 */
export const makeTransform = (src: string, dest: string): Result.Result<Transform, string> => {
  if (!isValidSubject(src) || !isValidSubject(dest)) return Result.fail("invalid subject")
  const stoks = src.split(".")
  const dtoks = dest.split(".")
  const fwc = stoks[stoks.length - 1] === ">"
  if (dtoks.includes("*") || fwc !== (dtoks[dtoks.length - 1] === ">")) return Result.fail("invalid subject")
  const pwcIndex: Array<number> = []
  stoks.forEach((t, i) => {
    if (t === "*") pwcIndex.push(i)
  })
  const parts: Array<string | number> = []
  let used = 0
  for (const t of dtoks) {
    const p = placeholder(t)
    if (p === "bad") return Result.fail(`invalid mapping destination: unknown function in ${t}`)
    if (p === undefined) parts.push(t)
    else {
      if (p > pwcIndex.length) return Result.fail(`invalid mapping destination: wildcard index out of range in ${t}: [${p}]`)
      parts.push(pwcIndex[p - 1]!)
      used++
    }
  }
  if ((pwcIndex.length > 0 || fwc) && used < pwcIndex.length) {
    return Result.fail(`invalid mapping destination: not using all of the token wildcard(s) in ${dest}`)
  }
  return Result.succeed({ src, dest, parts, srcTokens: stoks.length, fwc })
}

/** Maps a literal subject that `t.src` matches (the caller checked the match). */
export const applyTransform = (t: Transform, subject: string): string => {
  const toks = subject.split(".")
  const out: Array<string> = []
  for (const p of t.parts) {
    if (typeof p === "number") out.push(toks[p]!)
    else if (p !== ">") out.push(p)
  }
  if (t.fwc) for (let i = t.srcTokens - 1; i < toks.length; i++) out.push(toks[i]!)
  return out.join(".")
}
