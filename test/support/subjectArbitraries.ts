/**
 * Small subject arbitraries over a three-letter alphabet, so that random subjects, patterns and
 * export/import rules collide often (the account-graph property tests).
 */
import fc from "fast-check"

export const token = fc.constantFrom("a", "b", "c")
/** A literal subject of 1–3 tokens. */
export const literal = fc.array(token, { minLength: 1, maxLength: 3 }).map((t) => t.join("."))
/** A pattern of 1–3 tokens with `*`, sometimes ending in `>`. */
export const pattern = fc.array(fc.constantFrom("a", "b", "*"), { minLength: 1, maxLength: 3 }).chain((t) =>
  fc.boolean().map((fwc) => (fwc ? [...t.slice(0, -1), ">"] : t).join("."))
)
