/**
 * Subject syntax (NATS-REFERENCE §1.5): validation of SUB subjects, pedantic PUB subjects and queue
 * names, plus `matchesPattern`, the reference matcher that `/subsz?test=`, the index's precise cache
 * invalidation and the tests' model all use.
 *
 * A subject is a non-empty list of non-empty tokens separated by `.`, without the bytes that split
 * protocol arguments (space, tab, CR, LF: they cannot arrive in a wire token, and the in-process API
 * must not let them reach the wire). Everything else is a byte of a token — `\f`, `\v`, NUL and
 * non-UTF-8 bytes included, as nats-server 2.9.10 accepts them (live: `SUB a\fb`, queue `q\fx`
 * and a pedantic `PUB a\fb` all work).
 * `*` (exactly one token) and `>` (one or more trailing tokens) are wildcards only as whole tokens,
 * and `>` must be the last one; `a*b` or `a>` are ordinary literal tokens.
 *
 * These functions run on every SUB/PUB, so they scan char codes once and never allocate
 * (no `split`, no regular expressions).
 *
 * @since 0.1.0
 */

const DOT = 46 // .
const STAR = 42 // *
const GT = 62 // >

/** The argument separators of the protocol: space, \t, \n, \r. */
const isWhitespace = (c: number): boolean =>
  c === 32 || c === 9 || c === 10 || c === 13

// Results of `scan`: one pass serves both SUB (wildcards allowed) and pedantic PUB validation.
const INVALID = 0
const LITERAL = 1
const WILDCARD = 2

function scan(s: string): number {
  const n = s.length
  if (n === 0) return INVALID
  let wildcard = false
  let fwcNotLast = false // a `>` token ended by a `.`
  let start = 0 // first index of the current token
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === DOT) {
      if (i === start) return INVALID // empty token: `a..b`, `.a`
      if (i - start === 1) {
        const t = s.charCodeAt(start)
        if (t === GT) {
          fwcNotLast = true
          wildcard = true
        } else if (t === STAR) {
          wildcard = true
        }
      }
      start = i + 1
    } else if (c <= 32 && isWhitespace(c)) {
      return INVALID
    }
  }
  // The last token must not be empty (`a.`), and `>` may only be the last token.
  if (start === n || fwcNotLast) return INVALID
  if (n - start === 1) {
    const t = s.charCodeAt(start)
    if (t === GT || t === STAR) wildcard = true
  }
  return wildcard ? WILDCARD : LITERAL
}

/**
 * A subject valid for SUB (and for interest received from routes): wildcards allowed.
 *
 * @since 0.1.0
 */
export const isValidSubject = (s: string): boolean => scan(s) !== INVALID

/**
 * A subject valid for PUB in pedantic mode: valid and without wildcard tokens.
 *
 * @since 0.1.0
 */
export const isValidLiteralSubject = (s: string): boolean => scan(s) === LITERAL

/**
 * A queue group name: non-empty, no whitespace (any other character, `.` `*` `>` included, is fine).
 *
 * @since 0.1.0
 */
export function isValidQueueName(q: string): boolean {
  const n = q.length
  if (n === 0) return false
  for (let i = 0; i < n; i++) {
    if (isWhitespace(q.charCodeAt(i))) return false
  }
  return true
}

/**
 * True when `s` has a whole-token `*` or `>`. Does not validate `s`.
 *
 * @since 0.1.0
 */
export function subjectHasWildcard(s: string): boolean {
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (
      (c === STAR || c === GT) &&
      (i === 0 || s.charCodeAt(i - 1) === DOT) &&
      (i + 1 === n || s.charCodeAt(i + 1) === DOT)
    ) {
      return true
    }
  }
  return false
}

/** No empty token in `s` from position `from` on (`from` is a token end: a `.` or `s.length`). */
function restHasNoEmptyToken(s: string, from: number): boolean {
  const n = s.length
  for (let j = from; j < n; j++) {
    if (s.charCodeAt(j) === DOT && (j + 1 === n || s.charCodeAt(j + 1) === DOT)) return false
  }
  return true
}

/**
 * Does the (valid) subscription subject `pattern` match the publish subject `subject`?
 *
 * Tokens of `subject` are all literal: a PUB to `foo.*` (allowed without pedantic) is matched by
 * `foo.*` and `foo.>` as a token `*`, never by `foo.bar`. A subject with an empty token matches
 * nothing, exactly like `SubjectIndex.match`. Allocation-free, so the index can run it over its
 * whole cache when a wildcard subscription changes.
 *
 * @since 0.1.0
 */
export function matchesPattern(pattern: string, subject: string): boolean {
  const pn = pattern.length
  const sn = subject.length
  let pi = 0
  let si = 0
  // Invariant: pi and si are at the start of a token (possibly an empty one at the very end).
  for (;;) {
    let pe = pattern.indexOf(".", pi)
    if (pe < 0) pe = pn
    let se = subject.indexOf(".", si)
    if (se < 0) se = sn
    const slen = se - si
    if (slen === 0) return false
    const plen = pe - pi
    if (plen === 1 && pattern.charCodeAt(pi) === GT) return restHasNoEmptyToken(subject, se)
    if (plen !== 1 || pattern.charCodeAt(pi) !== STAR) {
      if (plen !== slen) return false
      for (let k = 0; k < plen; k++) {
        if (pattern.charCodeAt(pi + k) !== subject.charCodeAt(si + k)) return false
      }
    }
    const patternDone = pe === pn
    const subjectDone = se === sn
    if (patternDone || subjectDone) return patternDone && subjectDone
    pi = pe + 1
    si = se + 1
  }
}
