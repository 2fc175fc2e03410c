/**
 * Subjects are bytes. Property tests over random byte subjects (invalid UTF-8 included):
 * - the subject index matches exactly what a byte-level reference matcher (written on byte arrays,
 *   sharing no code with the index) says, and
 * - over real sockets, every delivered MSG carries the published subject, reply and payload
 *   byte for byte, to exactly the subscriptions the reference matcher names.
 */
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { SubjectIndex } from "../../src/subjects/SubjectIndex.js"
import { RawClient } from "../support/raw.js"
import { startServer, type TestServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

// --- a byte-level reference -----------------------------------------------------------------

const DOT = 0x2e
const splitBytes = (b: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let start = 0
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === DOT) {
      out.push(b.subarray(start, i))
      start = i + 1
    }
  }
  return out
}
const eqBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])
const isStar = (t: Uint8Array) => t.length === 1 && t[0] === 0x2a
const isGt = (t: Uint8Array) => t.length === 1 && t[0] === 0x3e

/** Does the pattern (bytes) match the literal subject (bytes)? Tokens compared as bytes. */
const refMatch = (pattern: Uint8Array, subject: Uint8Array): boolean => {
  const p = splitBytes(pattern)
  const s = splitBytes(subject)
  if (s.some((t) => t.length === 0)) return false
  for (let i = 0; i < p.length; i++) {
    if (isGt(p[i]!)) return s.length > i
    if (i >= s.length) return false
    if (!isStar(p[i]!) && !eqBytes(p[i]!, s[i]!)) return false
  }
  return p.length === s.length
}

// --- generators: tokens of arbitrary bytes, never a separator or whitespace ---------------------

const tokenBytes = fc
  .oneof(
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 3 }) },
    // Collisions that UTF-8 decoding would create: ö vs ü vs U+FFFD, bare continuation bytes.
    { weight: 2, arbitrary: fc.constantFrom(...[[0xf6], [0xfc], [0xef, 0xbf, 0xbd], [0xc3, 0xbc], [0x80], [0xff, 0xfe], [0x61]].map((b) => Uint8Array.from(b))) }
  )
  .map((b) => Uint8Array.from(b, (x) => (x === DOT || x === 0x20 || x === 0x09 || x === 0x0a || x === 0x0d ? 0x61 : x)))
  .filter((t) => !isStar(t) && !isGt(t))

const join = (tokens: ReadonlyArray<Uint8Array>) => Buffer.concat(tokens.flatMap((t, i) => (i === 0 ? [t] : [Buffer.of(DOT), t])))
const subjectBytes = fc.array(tokenBytes, { minLength: 1, maxLength: 3 }).map(join)
const patternBytes = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: tokenBytes }, { weight: 1, arbitrary: fc.constant(Uint8Array.of(0x2a)) }), { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([t, gt]) => join(gt ? [...t, Uint8Array.of(0x3e)] : t))

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1")

describe("byte subjects", () => {
  it("property: the index matches exactly the byte-level reference, UTF-8 or not", () => {
    fc.assert(
      fc.property(fc.array(patternBytes, { minLength: 1, maxLength: 12 }), fc.array(subjectBytes, { minLength: 1, maxLength: 12 }), (patterns, subjects) => {
        const index = new SubjectIndex<{ subject: string; queue: undefined; id: number }>()
        patterns.forEach((p, id) => index.insert({ subject: latin1(p), queue: undefined, id }))
        for (const s of subjects) {
          const got = index.match(latin1(s)).plain.map((e) => e.id).sort((a, b) => a - b)
          const want = patterns.flatMap((p, id) => (refMatch(p, s) ? [id] : []))
          expect(got).toEqual(want)
        }
      }),
      { numRuns: 500 }
    )
  })

  describe("over TCP", () => {
    let server: TestServer
    beforeAll(async () => {
      server = await startServer({})
    })
    afterAll(() => server?.stop())

    /** MSG frames parsed by hand from raw bytes: [subject, sid, reply, payload]. */
    const msgs = (raw: Buffer): Array<[Buffer, string, Buffer | undefined, Buffer]> => {
      const out: Array<[Buffer, string, Buffer | undefined, Buffer]> = []
      let at = 0
      while (at < raw.length) {
        const eol = raw.indexOf("\r\n", at)
        const line = raw.subarray(at, eol)
        at = eol + 2
        if (!line.subarray(0, 4).equals(Buffer.from("MSG "))) continue
        const parts: Array<Buffer> = []
        for (let s = 4, i = 4; i <= line.length; i++) {
          if (i === line.length || line[i] === 0x20) {
            parts.push(line.subarray(s, i))
            s = i + 1
          }
        }
        const size = Number(parts.at(-1)!.toString())
        out.push([parts[0]!, parts[1]!.toString("latin1"), parts.length === 4 ? parts[2] : undefined, raw.subarray(at, at + size)])
        at += size + 2
      }
      return out
    }

    it("the issue's cases: no rewriting to U+FFFD, no cross-matching, no sid collision", async () => {
      const c = await RawClient.connect(server.port)
      c.send('CONNECT {"verbose":false}\r\nSUB x.\xfc 1\r\nSUB a \xfc\r\nSUB b \xf6\r\n' +
        "PUB f\xf6\xf6 0\r\n\r\nPUB x.\xf6 1\r\n1\r\nPUB x.\xef\xbf\xbd 1\r\n2\r\nPUB x.\xfc 1\r\n3\r\nPUB a 1\r\n4\r\nPUB b 1\r\n5\r\nPING\r\n")
      await c.expectPastPings("MSG x.\xfc 1 1\r\n3\r\nMSG a \xfc 1\r\n4\r\nMSG b \xf6 1\r\n5\r\nPONG\r\n")
      c.close()
    })

    it("property: delivered bytes equal published bytes, to exactly the matching subscriptions", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(patternBytes, { minLength: 1, maxLength: 6 }),
          fc.array(fc.tuple(subjectBytes, fc.option(subjectBytes, { nil: undefined }), fc.uint8Array({ maxLength: 16 })), { minLength: 1, maxLength: 6 }),
          async (patterns, pubs) => {
            const c = await RawClient.connect(server.port)
            try {
              const sids = patterns.map((_, i) => Buffer.from([0xfc, 0x30 + i])) // non-UTF-8 sids too
              const wire: Array<Buffer> = [Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n')]
              patterns.forEach((p, i) => wire.push(Buffer.concat([Buffer.from("SUB "), p, Buffer.from(" "), sids[i]!, Buffer.from("\r\n")])))
              wire.push(Buffer.from("PING\r\n"))
              c.send(Buffer.concat(wire))
              await c.expectPastPings("PONG\r\n")
              const body: Array<Buffer> = []
              for (const [s, r, p] of pubs) {
                body.push(Buffer.concat([Buffer.from("PUB "), s, ...(r ? [Buffer.from(" "), r] : []), Buffer.from(` ${p.length}\r\n`), p, Buffer.from("\r\n")]))
              }
              body.push(Buffer.from("PING\r\n"))
              c.send(Buffer.concat(body))
              await waitUntil("the PONG after the messages", () => c.pending().endsWith("PONG\r\n"))
              const raw = Buffer.from(c.pending(), "latin1")
              const got = msgs(raw)
              const want: Array<[Buffer, string, Buffer | undefined, Buffer]> = []
              for (const [s, r, p] of pubs) {
                patterns.forEach((pat, i) => {
                  if (refMatch(pat, s)) want.push([s, sids[i]!.toString("latin1"), r, Buffer.from(p)])
                })
              }
              const key = (m: [Buffer, string, Buffer | undefined, Buffer]) => JSON.stringify([latin1(m[0]), m[1], m[2] && latin1(m[2]), latin1(m[3])])
              expect(got.map(key).sort()).toEqual(want.map(key).sort())
            } finally {
              c.close()
            }
          }
        ),
        { numRuns: 40 }
      )
    }, 60_000)
  })
})
