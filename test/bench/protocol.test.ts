/**
 * The benchmark's own protocol code: the incremental MSG scanner must see exactly the frames the
 * server sent however the byte stream is split into chunks, and the batch encoder must produce
 * frames with consecutive sequence numbers.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  makePayload,
  MsgScanner,
  PROBE_ID,
  PubBatch,
  readStamp,
  STAMP_BYTES,
  type ControlOp,
  type MsgFrame
} from "../../bench/protocol.js"
import { SeqTracker, verifyGroup } from "../../bench/verify.js"

type Event =
  | { kind: "msg"; subject: string; sid: number; reply: string; headerSize: number; size: number; stamp: number[] }
  | { kind: "ctl"; op: ControlOp; line: string }

/** What the server would send, as a model: encoded to bytes and the events it must produce. */
type ServerFrame =
  | { kind: "msg"; subject: string; sid: number; reply: string; payload: Uint8Array; headers: Uint8Array | undefined }
  | { kind: "ctl"; op: ControlOp; line: string }

const token = fc.stringMatching(/^[a-zA-Z0-9_.>*-]{1,12}$/)

const frameArb: fc.Arbitrary<ServerFrame> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("msg" as const),
      subject: token,
      sid: fc.nat({ max: 1_000_000 }),
      reply: fc.oneof(fc.constant(""), token),
      // Payloads may contain CR, LF and "MSG " — the scanner must skip them by length.
      payload: fc.uint8Array({ maxLength: 40 }).chain((p) =>
        fc.constantFrom(p, Buffer.concat([Buffer.from("\r\nMSG x 1 3\r\n"), p]))
      ),
      headers: fc.option(fc.constant(Buffer.from("NATS/1.0\r\nA: b\r\n\r\n")), { nil: undefined })
    }),
    weight: 6
  },
  {
    arbitrary: fc.constantFrom<ServerFrame>(
      { kind: "ctl", op: "PING", line: "PING" },
      { kind: "ctl", op: "PONG", line: "PONG" },
      { kind: "ctl", op: "+OK", line: "+OK" },
      { kind: "ctl", op: "-ERR", line: "-ERR 'Slow Consumer'" },
      { kind: "ctl", op: "INFO", line: `INFO {"server_id":"x","max_payload":1048576,"headers":true}` }
    ),
    weight: 1
  }
)

const encode = (f: ServerFrame): Buffer => {
  if (f.kind === "ctl") return Buffer.from(`${f.line}\r\n`, "latin1")
  const reply = f.reply === "" ? "" : ` ${f.reply}`
  const head = f.headers === undefined
    ? `MSG ${f.subject} ${f.sid}${reply} ${f.payload.length}\r\n`
    : `HMSG ${f.subject} ${f.sid}${reply} ${f.headers.length} ${f.headers.length + f.payload.length}\r\n`
  return Buffer.concat([Buffer.from(head, "latin1"), f.headers ?? Buffer.alloc(0), f.payload, Buffer.from("\r\n")])
}

const expectedEvent = (f: ServerFrame): Event =>
  f.kind === "ctl"
    ? f
    : {
        kind: "msg",
        subject: f.subject,
        sid: f.sid,
        reply: f.reply,
        headerSize: f.headers?.length ?? 0,
        size: f.payload.length,
        stamp: [...f.payload.subarray(0, STAMP_BYTES)]
      }

/** Without subject decoding the scanner takes its fast path; subject and reply then stay "". */
const undecoded = (e: Event): Event => (e.kind === "msg" ? { ...e, subject: "", reply: "" } : e)

const scan = (chunks: ReadonlyArray<Uint8Array>, decodeSubjects = true): Event[] => {
  const events: Event[] = []
  const scanner = new MsgScanner(
    {
      msg: (m: MsgFrame) =>
        events.push({
          kind: "msg",
          subject: m.subject,
          sid: m.sid,
          reply: m.reply,
          headerSize: m.headerSize,
          size: m.size,
          stamp: [...m.stamp.subarray(0, m.stampLength)]
        }),
      control: (op, line) => events.push({ kind: "ctl", op, line })
    },
    decodeSubjects
  )
  for (const c of chunks) scanner.push(c)
  expect(scanner.idle).toBe(true)
  return events
}

/** Splits `bytes` at the given cut points (any values; reduced modulo the length). */
const split = (bytes: Buffer, cuts: ReadonlyArray<number>): Buffer[] => {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

describe("MsgScanner", () => {
  it("sees the same frames however the stream is chunked", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.map(encode))
        const chunks = split(bytes, cuts)
        expect(scan(chunks)).toEqual(frames.map(expectedEvent))
        expect(scan(chunks, false)).toEqual(frames.map(expectedEvent).map(undecoded))
      }),
      { numRuns: 300 }
    )
  })

  it("handles a stream fed one byte at a time", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 10 }), (frames) => {
        const bytes = Buffer.concat(frames.map(encode))
        const bytewise = Array.from(bytes, (b) => Uint8Array.of(b))
        expect(scan(bytewise)).toEqual(frames.map(expectedEvent))
        expect(scan(bytewise, false)).toEqual(frames.map(expectedEvent).map(undecoded))
      }),
      { numRuns: 100 }
    )
  })

  it("stops exactly at a frame boundary and resumes on the next chunk", () => {
    const events = scan([Buffer.from("MSG a 1 2\r\nhi"), Buffer.from("\r"), Buffer.from("\nPI"), Buffer.from("NG\r\n")])
    expect(events.map((e) => e.kind)).toEqual(["msg", "ctl"])
  })

  it("rejects a payload not followed by CRLF", () => {
    const scanner = new MsgScanner({ msg: () => {}, control: () => {} })
    expect(() => scanner.push(Buffer.from("MSG a 1 2\r\nhiX\r\n"))).toThrow(/CRLF/)
  })

  it("rejects garbage lines and malformed MSG arguments (fast and general path)", () => {
    for (const decode of [false, true]) {
      for (const bad of ["MSG a 1\r\n", "MSG a 1 x\r\n", "MSG a b c d e f\r\n", "MSG a 1 -2\r\n"]) {
        const s = new MsgScanner({ msg: () => {}, control: () => {} }, decode)
        expect(() => s.push(Buffer.from(bad))).toThrow(/MSG/)
      }
    }
    const s1 = new MsgScanner({ msg: () => {}, control: () => {} })
    expect(() => s1.push(Buffer.from("HELLO\r\n"))).toThrow(/unexpected/)
    const s2 = new MsgScanner({ msg: () => {}, control: () => {} })
    expect(() => s2.push(Buffer.from("MSG a 1\r\n"))).toThrow(/bad MSG/)
    const s3 = new MsgScanner({ msg: () => {}, control: () => {} })
    expect(() => s3.push(Buffer.from("MSG a 1 x\r\n"))).toThrow(/size/)
  })
})

describe("PubBatch", () => {
  it("encodes consecutive, correctly stamped frames that read back as MSGs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: STAMP_BYTES, max: 2000 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat({ max: 1_000_000 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (size, frames, first, count, cuts) => {
          const batch = new PubBatch("bench.x", size, 7, frames)
          const data = batch.fill(first, count)
          const n = Math.min(frames, count)
          expect(data.length).toBe(n * batch.frameLength)
          // A server turns `PUB bench.x <n>` into `MSG bench.x <sid> <n>`: do the same textually.
          const asMsgs = Buffer.from(data.toString("latin1").replaceAll("PUB bench.x ", "MSG bench.x 1 "), "latin1")
          const seen: Array<[number, number]> = []
          const stamp = { id: 0, seq: 0 }
          const scanner = new MsgScanner({
            msg: (m) => {
              expect(m.size).toBe(size)
              expect(readStamp(m, stamp)).toBe(true)
              seen.push([stamp.id, stamp.seq])
            },
            control: () => {}
          })
          for (const c of split(asMsgs, cuts)) scanner.push(c)
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => [7, first + i]))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("stamps probes with the probe id", () => {
    expect(makePayload(16, PROBE_ID, 3).readUInt32LE(0)).toBe(PROBE_ID)
    expect(() => makePayload(4, 0, 0)).toThrow()
  })
})

describe("SeqTracker / verifyGroup", () => {
  it("counts loss and duplicates for a subscriber and across a queue group", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 299 })), { maxLength: 600 }),
        (count, deliveries) => {
          const members = [0, 1, 2, 3].map(() => new SeqTracker([count]))
          const perMember = members.map(() => new Set<number>())
          const all = new Map<number, number>()
          for (const [m, seq] of deliveries) {
            if (seq >= count) continue
            members[m]!.record(0, seq)
            perMember[m]!.add(seq)
            all.set(seq, (all.get(seq) ?? 0) + 1)
          }
          const v = verifyGroup(members.map((t) => t.report()), [count])
          const delivered = [...all.values()].reduce((a, b) => a + b, 0)
          expect(v.received).toBe(all.size)
          expect(v.lost).toBe(count - all.size)
          expect(v.dup).toBe(delivered - all.size)
          expect(members.reduce((a, t) => a + t.unique, 0)).toBe(perMember.reduce((a, s) => a + s.size, 0))
        }
      ),
      { numRuns: 200 }
    )
  })

  it("flags unknown publishers and out-of-range sequences as invalid, reordering as ooo", () => {
    const t = new SeqTracker([10])
    t.record(0, 5)
    t.record(0, 3)
    t.record(1, 0)
    t.record(0, 10)
    const r = t.report()
    expect([r.unique, r.ooo, r.invalid, r.dup]).toEqual([2, 1, 2, 0])
  })
})
