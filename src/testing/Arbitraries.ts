/**
 * fast-check arbitraries for the NATS protocol: subjects (valid, invalid, with wildcards), queue
 * names, headers, client/route/server ops and byte streams of them split into arbitrary chunks.
 *
 * They generate what the protocol allows, including the corners (tokens like `a*b` that look like
 * wildcards but are literals, multi-byte UTF-8, bytes that are not UTF-8 at all, binary payloads
 * containing CRLF), so that properties written with them exercise the same inputs real peers can
 * send.
 *
 * Subjects, queue names and sids are **byte strings**, as the parser produces them (one char per
 * byte; `ByteString.fromText` / `toText` convert from and to text).
 *
 * @since 0.1.0
 */
import fc from "fast-check"
import { fromText } from "../protocol/ByteString.js"
import * as Encoder from "../protocol/Encoder.js"
import type * as Op from "../protocol/Op.js"

/** Bytes no subject token may hold: the separator and whitespace. */
const notInToken = (b: number): boolean => b === 0x2e || b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0c || b === 0x0d

/** A token of arbitrary bytes (invalid UTF-8 included) that is a literal. */
export const byteToken: fc.Arbitrary<string> = fc
  .uint8Array({ minLength: 1, maxLength: 6 })
  .map((b) => String.fromCharCode(...Array.from(b, (c) => (notInToken(c) ? 0x78 : c))))
  .filter((t) => t !== "*" && t !== ">")

/** One literal subject token: letters, digits and the punctuation real subjects use, and bytes. */
export const token: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_\-$]{1,8}$/) },
  // Tokens that contain wildcard characters but are literals; UTF-8 and non-UTF-8 bytes.
  { weight: 1, arbitrary: fc.constantFrom("a*b", "x>", ">y", "*z", fromText("ü"), fromText("日本"), "\xf6", "\xfc\xfc", "\xef\xbf\xbd") },
  { weight: 1, arbitrary: byteToken }
)

/** A literal subject (what PUB accepts in pedantic mode). */
export const subject: fc.Arbitrary<string> = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join("."))

/** A subscription subject: literal tokens, `*` anywhere, optionally `>` last. */
export const subjectPattern: fc.Arbitrary<string> = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: token }, { weight: 1, arbitrary: fc.constant("*") }), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([tokens, full]) => (full ? [...tokens, ">"] : tokens).join("."))

/** Subjects every server must reject: empty tokens, whitespace, `>` not last. */
export const invalidSubject: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  subject.map((s) => `${s}.`),
  subject.map((s) => `.${s}`),
  fc.tuple(subject, subject).map(([a, b]) => `${a}..${b}`),
  fc.tuple(subject, fc.constantFrom(" ", "\t", "\r", "\n"), subject).map(([a, w, b]) => `${a}${w}${b}`),
  fc.tuple(subject, subject).map(([a, b]) => `${a}.>.${b}`)
)

/** A queue group name. */
export const queueName: fc.Arbitrary<string> = fc.stringMatching(/^[a-zA-Z0-9_\-.]{1,10}$/)

/** Queue names every server must reject (empty or with whitespace). */
export const invalidQueueName: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.tuple(queueName, fc.constantFrom(" ", "\t"), queueName).map(([a, w, b]) => `${a}${w}${b}`)
)

/** A subscription id (opaque to the server). */
export const sid: fc.Arbitrary<string> = fc.stringMatching(/^[a-zA-Z0-9]{1,6}$/)

/** Header entries: `Name: value` pairs as NATS carries them. */
export const headerEntries: fc.Arbitrary<ReadonlyArray<readonly [string, string]>> = fc.array(
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/), fc.stringMatching(/^[ -~]{0,16}$/).map((v) => v.trim())),
  { maxLength: 4 }
)

/** A header block: `NATS/1.0\r\n` + `Key: Value\r\n`* + `\r\n`. */
export const headerBlock: fc.Arbitrary<Uint8Array> = headerEntries.map((kv) =>
  new Uint8Array(Buffer.from(`NATS/1.0\r\n${kv.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`))
)

/** Payload bytes, binary and CRLF included. */
export const payload = (maxLength = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength })

const optional = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined })

/** A PUB or HPUB. */
export const pub: fc.Arbitrary<Op.Pub> = fc.oneof(
  fc.record({ _tag: fc.constant("Pub" as const), subject, reply: optional(subject), headerSize: fc.constant(-1), payload: payload() }),
  fc.tuple(subject, optional(subject), headerBlock, payload()).map(([s, r, h, p]): Op.Pub => ({
    _tag: "Pub",
    subject: s,
    reply: r,
    headerSize: h.length,
    payload: new Uint8Array(Buffer.concat([h, p]))
  }))
)

/** Any op a client may send. */
export const clientOp: fc.Arbitrary<Op.ClientOp> = fc.oneof(
  fc.record({ _tag: fc.constant("Connect" as const), json: fc.constant('{"verbose":false,"pedantic":false,"headers":true,"protocol":1}') }),
  fc.constant<Op.Ping>({ _tag: "Ping" }),
  fc.constant<Op.Pong>({ _tag: "Pong" }),
  { weight: 4, arbitrary: pub },
  fc.record({ _tag: fc.constant("Sub" as const), subject: subjectPattern, queue: optional(queueName), sid }),
  fc.record({ _tag: fc.constant("Unsub" as const), sid, max: optional(fc.integer({ min: 1, max: 1000 })) })
)

/** Any op a route peer may send ($G and other accounts, queue markers, weights). */
export const routeOp: fc.Arbitrary<Op.RouteOp> = fc.oneof(
  fc.constant<Op.Ping>({ _tag: "Ping" }),
  fc.record({ _tag: fc.constant("RouteSub" as const), account: fc.constantFrom("$G", "$SYS"), subject: subjectPattern, queue: fc.constant(undefined), weight: fc.constant(1) }),
  fc.record({ _tag: fc.constant("RouteSub" as const), account: fc.constant("$G"), subject: subjectPattern, queue: queueName, weight: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ _tag: fc.constant("RouteUnsub" as const), account: fc.constant("$G"), subject: subjectPattern, queue: optional(queueName) }),
  fc.record({
    _tag: fc.constant("RouteMsg" as const),
    account: fc.constant("$G"),
    subject,
    reply: optional(subject),
    queues: optional(fc.array(queueName, { minLength: 1, maxLength: 3 })),
    headerSize: fc.constant(-1),
    payload: payload()
  })
)

/** Any op a server sends to a client. */
export const serverOp: fc.Arbitrary<Op.ServerOp> = fc.oneof(
  fc.constant<Op.Ping>({ _tag: "Ping" }),
  fc.constant<Op.Ok>({ _tag: "Ok" }),
  fc.constant<Op.Err>({ _tag: "Err", message: "'Stale Connection'" }),
  fc.record({ _tag: fc.constant("Msg" as const), subject, sid, reply: optional(subject), headerSize: fc.constant(-1), payload: payload() })
)

/** Split `bytes` at arbitrary points: every chunking a socket could deliver. */
export const chunked = (bytes: Uint8Array): fc.Arbitrary<Array<Uint8Array>> =>
  fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 16 }).map((cuts) => {
    const points = [...new Set(cuts)].sort((a, b) => a - b)
    const out: Array<Uint8Array> = []
    let prev = 0
    for (const p of points) {
      out.push(bytes.subarray(prev, p))
      prev = p
    }
    out.push(bytes.subarray(prev))
    return out
  })

/** A list of ops together with their wire bytes split into arbitrary chunks. */
export const opStream = <O extends Op.Op>(op: fc.Arbitrary<O>, maxOps = 20): fc.Arbitrary<{ ops: Array<O>; chunks: Array<Uint8Array> }> =>
  fc.array(op, { maxLength: maxOps }).chain((ops) => {
    const wire = new Uint8Array(Buffer.concat(ops.map(Encoder.encode)))
    return chunked(wire).map((chunks) => ({ ops, chunks }))
  })
