/**
 * Byte sizes as nats-server's config lexer writes them: an integer with an optional suffix, case
 * insensitive — `k`, `m`, `g`, `t`, `p`, `e` are powers of 1000; `kb`/`ki`/`kib` (and so on) powers
 * of 1024. `1.5MB`, `1 k` and `1b` are not sizes (nats-server refuses them too). The command-line
 * size flags take the same forms.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { invalid, type InvalidValue } from "./InvalidValue.js"

const MULTIPLIERS: ReadonlyMap<string, bigint> = (() => {
  const m = new Map<string, bigint>([["", 1n]])
  ;["k", "m", "g", "t", "p", "e"].forEach((l, idx) => {
    const n = BigInt(idx + 1)
    m.set(l, 1000n ** n)
    for (const s of ["b", "i", "ib"]) m.set(l + s, 1024n ** n)
  })
  return m
})()

/** The factor of a suffix (`""` → 1, `"KiB"` → 1024), undefined when it is not one. */
export const multiplier = (suffix: string): bigint | undefined => MULTIPLIERS.get(suffix.toLowerCase())

/** Every suffix, lower case (for tests and help texts). */
export const suffixes: ReadonlyArray<string> = [...MULTIPLIERS.keys()].filter((s) => s !== "")

/** `<digits><suffix>` → bytes; fails when it is not a non-negative size or not a safe integer. */
export const parse = (text: string): Result.Result<number, InvalidValue> => {
  const fail = (reason: string) => Result.fail(invalid("size", text, reason))
  const m = /^(\d+)([A-Za-z]*)$/.exec(text.trim())
  if (m === null) return fail(`invalid size "${text}"`)
  const mult = multiplier(m[2]!)
  if (mult === undefined) return fail(`unknown unit "${m[2]!}" in size "${text}"`)
  const n = BigInt(m[1]!) * mult
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? fail(`size "${text}" is out of range`) : Result.succeed(Number(n))
}
