import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  isValidLiteralSubject,
  isValidQueueName,
  isValidSubject,
  matchesPattern,
  subjectHasWildcard
} from "../../src/subjects/Subject.js"

// Naive, obviously-correct versions of the rules (split based) to check the char-loop versions against.
const WS = /[ \t\r\n]/
const naiveValid = (s: string): boolean => {
  if (s.length === 0 || WS.test(s)) return false
  const tokens = s.split(".")
  return tokens.every((t, i) => t.length > 0 && (t !== ">" || i === tokens.length - 1))
}
const naiveHasWildcard = (s: string): boolean => s.split(".").some((t) => t === "*" || t === ">")
const naiveMatch = (pattern: string, subject: string): boolean => {
  const p = pattern.split(".")
  const s = subject.split(".")
  if (s.some((t) => t.length === 0)) return false
  for (let i = 0; i < p.length; i++) {
    const pt = p[i]
    if (pt === ">") return s.length > i
    if (i >= s.length) return false
    if (pt !== "*" && pt !== s[i]) return false
  }
  return p.length === s.length
}

// Small alphabets so that separators, wildcards and whitespace collide often.
const charArb = fc.constantFrom("a", "b", ".", "*", ">", " ", "\t", "\r", "\n", "\f", "\v", "x*", "é")
const anyStringArb = fc.array(charArb, { maxLength: 10 }).map((cs) => cs.join(""))
const tokenArb = fc.constantFrom("a", "b", "c", "*", ">", "a*", ">b")
const patternArb = fc
  .array(tokenArb, { minLength: 1, maxLength: 4 })
  .map((ts) => ts.join("."))
  .filter(isValidSubject)
const subjectArb = fc
  .array(fc.constantFrom("a", "b", "c", "*", "a*", ""), { minLength: 1, maxLength: 5 })
  .map((ts) => ts.join("."))

describe("isValidSubject", () => {
  it.each([
    ["foo", true],
    ["foo.bar", true],
    ["foo.*", true],
    ["foo.>", true],
    ["*", true],
    [">", true],
    ["*.*.>", true],
    ["a*b", true],
    ["a>", true],
    ["foo.a>.bar", true],
    ["foo.*b.>", true],
    ["_INBOX.abc123.*", true],
    ["\u00e9t\u00e9", true],
    ["", false],
    ["foo..bar", false],
    ["foo.>.x", false],
    [">.a", false],
    [".a", false],
    ["a.", false],
    [".", false],
    ["a b", false],
    ["a\tb", false],
    ["a\rb", false],
    ["a\nb", false],
    // nats-server 2.9.10 (live) takes \f as a token byte.
    ["a\fb", true],
    [" foo", false],
    ["foo ", false]
  ])("%j -> %s", (s, ok) => {
    expect(isValidSubject(s)).toBe(ok)
  })

  it("agrees with the split-based rules", () => {
    fc.assert(fc.property(anyStringArb, (s) => isValidSubject(s) === naiveValid(s)), { numRuns: 2000 })
  })
})

describe("isValidLiteralSubject", () => {
  it.each([
    ["foo.bar", true],
    ["a*b.c>", true],
    ["foo.*", false],
    ["foo.>", false],
    ["*", false],
    [">", false],
    ["foo..bar", false],
    ["a b", false],
    ["", false]
  ])("%j -> %s", (s, ok) => {
    expect(isValidLiteralSubject(s)).toBe(ok)
  })

  it("is valid and wildcard-free", () => {
    fc.assert(
      fc.property(anyStringArb, (s) => isValidLiteralSubject(s) === (naiveValid(s) && !naiveHasWildcard(s))),
      { numRuns: 2000 }
    )
  })
})

describe("isValidQueueName", () => {
  it.each([
    ["q", true],
    ["workers.v1", true],
    ["*", true],
    ["", false],
    ["a b", false],
    ["a\tb", false],
    ["q\r\n", false]
  ])("%j -> %s", (q, ok) => {
    expect(isValidQueueName(q)).toBe(ok)
  })

  it("is non-empty without whitespace", () => {
    fc.assert(fc.property(anyStringArb, (q) => isValidQueueName(q) === (q.length > 0 && !WS.test(q))), {
      numRuns: 1000
    })
  })
})

describe("subjectHasWildcard", () => {
  it.each([
    ["foo", false],
    ["a*b.c>", false],
    ["*", true],
    [">", true],
    ["foo.*.bar", true],
    ["foo.>", true],
    ["*.foo", true]
  ])("%j -> %s", (s, w) => {
    expect(subjectHasWildcard(s)).toBe(w)
  })

  it("agrees with the token view", () => {
    fc.assert(fc.property(anyStringArb, (s) => subjectHasWildcard(s) === naiveHasWildcard(s)), { numRuns: 2000 })
  })
})

describe("matchesPattern", () => {
  it.each([
    ["foo", "foo", true],
    ["foo", "bar", false],
    ["foo", "foo.bar", false],
    ["foo.bar", "foo", false],
    ["foo.*", "foo.bar", true],
    ["foo.*", "foo", false],
    ["foo.*", "foo.bar.baz", false],
    ["foo.>", "foo.bar", true],
    ["foo.>", "foo.bar.baz", true],
    ["foo.>", "foo", false],
    [">", "foo", true],
    [">", "foo.bar", true],
    ["*", "foo", true],
    ["*", "foo.bar", false],
    ["*.bar.>", "x.bar.y.z", true],
    ["*.bar.>", "x.baz.y", false],
    ["a*b", "a*b", true],
    ["a*b", "axb", false],
    // publish subject tokens are literal
    ["foo.*", "foo.*", true],
    ["foo.bar", "foo.*", false],
    ["foo.>", "foo.>", true],
    // a subject with an empty token matches nothing
    [">", "a..b", false],
    ["foo.>", "foo.", false],
    ["*", "", false],
    ["a.*", "a.", false],
    ["foo.bar", "foo.ba", false],
    ["foo.ba", "foo.bar", false]
  ])("%j ~ %j -> %s", (p, s, m) => {
    expect(matchesPattern(p, s)).toBe(m)
  })

  it("agrees with a split-based matcher", () => {
    fc.assert(
      fc.property(patternArb, subjectArb, (p, s) => matchesPattern(p, s) === naiveMatch(p, s)),
      { numRuns: 5000 }
    )
  })

  it("a literal pattern matches exactly itself", () => {
    fc.assert(
      fc.property(subjectArb, subjectArb, (a, b) => {
        fc.pre(isValidLiteralSubject(a) && isValidLiteralSubject(b))
        return matchesPattern(a, b) === (a === b)
      })
    )
  })
})
