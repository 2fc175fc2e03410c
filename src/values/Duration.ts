/**
 * Durations, in milliseconds inside the server. The text forms are Go's: `time.ParseDuration`
 * (`"2s"`, `"1m30s"`, `"250ms"`, `"1.5h"`, `"500us"`, `"-1s"`, `"0"`) as the config file takes
 * them, and `Duration.String()` (`2m0s`, `1.5µs`) as nats-server logs and prints them. The command
 * line also takes a bare number as seconds (`parseSecondsOrGo`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { invalid, type InvalidValue } from "./InvalidValue.js"

const NS_PER: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // µ (micro sign)
  ["\u03bcs", 1_000n], // μ (Greek mu)
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n]
])
const MAX_NS = 2n ** 63n - 1n

/** Go's `time.ParseDuration`, to milliseconds; fails with Go's reason (`missing unit in duration "5"`). */
export const parse = (text: string): Result.Result<number, InvalidValue> => {
  const fail = (reason: string) => Result.fail(invalid("duration", text, reason))
  let s = text
  let negative = false
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-")
    s = s.slice(1)
  }
  if (s === "0") return Result.succeed(0)
  if (s === "") return fail(`invalid duration "${text}"`)
  let total = 0n
  while (s !== "") {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s)!
    const whole = num[1] ?? ""
    const frac = num[2]
    if (whole === "" && (frac === undefined || frac === "")) return fail(`invalid duration "${text}"`)
    s = s.slice(num[0].length)
    const unitText = /^[^\d.]*/.exec(s)![0]
    if (unitText === "") return fail(`missing unit in duration "${text}"`)
    const unit = NS_PER.get(unitText)
    if (unit === undefined) return fail(`unknown unit "${unitText}" in duration "${text}"`)
    s = s.slice(unitText.length)
    let ns = BigInt(whole === "" ? "0" : whole) * unit
    if (frac !== undefined && frac !== "") ns += (BigInt(frac) * unit) / 10n ** BigInt(frac.length)
    total += ns
    if (total > MAX_NS) return fail(`invalid duration "${text}" (out of range)`)
  }
  const ms = Number(total) / 1e6
  return Result.succeed(negative && ms !== 0 ? -ms : ms)
}

/**
 * The command line's form: a bare non-negative number is seconds (`"20"`, `"1.5"`), anything
 * else is Go syntax; surrounding blanks are ignored. Fails as `parse` does when it is neither.
 */
export const parseSecondsOrGo = (text: string): Result.Result<number, InvalidValue> => {
  const s = text.trim()
  if (/^\d+(?:\.\d+)?$/.test(s)) return Result.succeed(Number(s) * 1000)
  return parse(s)
}

const fraction = (ns: bigint, digits: number): string => {
  const scale = 10n ** BigInt(digits)
  const rest = (ns % scale).toString().padStart(digits, "0").replace(/0+$/, "")
  return `${ns / scale}${rest === "" ? "" : "." + rest}`
}

/** Milliseconds as Go's `Duration.String()` writes them: `2m0s`, `1m30s`, `250ms`, `1.5µs`, `0s`. */
export const format = (ms: number): string => {
  if (!Number.isFinite(ms)) return `${ms}ms`
  let ns = BigInt(Math.round(ms * 1e6))
  const sign = ns < 0n ? "-" : ""
  if (ns < 0n) ns = -ns
  if (ns === 0n) return "0s"
  if (ns < 1_000n) return `${sign}${ns}ns`
  if (ns < 1_000_000n) return `${sign}${fraction(ns, 3)}\u00b5s`
  if (ns < 1_000_000_000n) return `${sign}${fraction(ns, 6)}ms`
  const secs = ns / 1_000_000_000n
  const h = secs / 3600n
  const m = (secs / 60n) % 60n
  const s = fraction(ns % 60_000_000_000n, 9)
  return sign + (h > 0n ? `${h}h` : "") + (h > 0n || m > 0n ? `${m}m` : "") + `${s}s`
}
