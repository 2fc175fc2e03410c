import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Encoder from "../../src/protocol/Encoder.js"
import type * as Op from "../../src/protocol/Op.js"
import * as Parser from "../../src/protocol/Parser.js"
import { Arbitraries } from "../../src/testing/index.js"
import { ErrText } from "../../src/protocol/ProtocolError.js"

const limits: Parser.ParserLimits = { maxControlLine: 4096, maxPayload: 1024 * 1024 }
const bytes = (s: string) => new Uint8Array(Buffer.from(s, "latin1"))

/** Parse `chunks` in order; collect ops and the final error. */
const parseAll = (kind: Parser.PeerKind, chunks: ReadonlyArray<Uint8Array>, lim = limits) => {
  let state = Parser.initial(kind, lim)
  const ops: Array<Op.Op> = []
  let error: Parser.Parsed["error"]
  for (const c of chunks) {
    const [next, parsed] = Parser.step(state, c)
    state = next
    ops.push(...parsed.ops)
    if (parsed.error !== undefined) error = parsed.error
  }
  return { ops, error, state }
}

/** Ops compared structurally, with payloads as plain arrays; the chunking-dependent PubLine notices left out. */
const norm = (ops: ReadonlyArray<Op.Op>) =>
  ops.filter((op) => op._tag !== "PubLine").map((op) => ("payload" in op ? { ...op, payload: Array.from(op.payload) } : op))

/** Split `data` at the given (sorted, deduplicated) cut points. */
const splitAt = (data: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    out.push(data.subarray(prev, p))
    prev = p
  }
  out.push(data.subarray(prev))
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))

// --- generators: the public testing kit's -----------------------------------------------------

const { clientOp, routeOp, serverOp } = Arbitraries

// --- tests ----------------------------------------------------------------------------------

describe("Parser", () => {
  it("parses every client op, case-insensitively, with runs of blanks", () => {
    const input = "CONNECT {\"verbose\":false}\r\npub\tfoo.*  1\r\nx\r\nSub foo q 1\r\nunsub 1 5\r\nPING\r\nPONG\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nab\r\n"
    const { ops, error } = parseAll("client", [bytes(input)])
    expect(error).toBeUndefined()
    expect(norm(ops)).toEqual([
      { _tag: "Connect", json: "{\"verbose\":false}" },
      { _tag: "Pub", subject: "foo.*", reply: undefined, headerSize: -1, payload: [120] },
      { _tag: "Sub", subject: "foo", queue: "q", sid: "1" },
      { _tag: "Unsub", sid: "1", max: 5 },
      { _tag: "Ping" },
      { _tag: "Pong" },
      { _tag: "Pub", subject: "foo", reply: "r", headerSize: 12, payload: Array.from(bytes("NATS/1.0\r\n\r\nab")) }
    ])
  })

  it("accepts LF-only control lines but requires CRLF after a payload (as nats-server)", () => {
    expect(parseAll("client", [bytes("PUB foo 2\nab\r\nPING\n")]).ops.map((o) => o._tag)).toEqual(["Pub", "Ping"])
    const bad = parseAll("client", [bytes("PUB foo 2\nab\nPING\n")])
    expect(bad.error?.errText).toBe(ErrText.unknownOp)
  })

  it("PING/PONG/+OK ignore the rest of their line; unknown ops fail fast", () => {
    expect(parseAll("client", [bytes("PINGX\r\n")]).ops).toEqual([{ _tag: "Ping" }])
    for (const junk of ["PIN\r\n", "SUB\r\n", "UNSUB\r\n", "\r\n", "FOO bar\r\n", "MSG foo 1 2\r\nab\r\n", "RS+ $G foo\r\n"]) {
      const r = parseAll("client", [bytes(junk)])
      expect(r.error?.errText, junk).toBe(ErrText.unknownOp)
    }
    // A prefix that cannot become an op fails before any line end arrives.
    expect(parseAll("client", [bytes("XYZ")]).error?.errText).toBe(ErrText.unknownOp)
    expect(parseAll("client", [bytes("PU")]).error).toBeUndefined()
  })

  it("bad arguments close without an -ERR text", () => {
    for (const bad of ["PUB foo\r\n", "PUB foo bar\r\n", "PUB foo 1 2 3\r\n", "PUB foo -1\r\n", "SUB foo\r\n", "SUB foo 1 2 3\r\n", "UNSUB 1 2 3\r\n", "HPUB foo 12 10\r\n", "HPUB foo 12 14 x\r\n"]) {
      const r = parseAll("client", [bytes(bad)])
      expect(r.error, bad).toBeDefined()
      expect(r.error?.errText, bad).toBeUndefined()
      expect(r.error?.reason).toBe("Protocol Violation")
    }
  })

  it("UNSUB with a non-numeric max is a plain unsubscribe", () => {
    expect(parseAll("client", [bytes("UNSUB 1 x\r\n")]).ops).toEqual([{ _tag: "Unsub", sid: "1", max: undefined }])
  })

  it("enforces max_payload on the control line, before the payload", () => {
    const r = parseAll("client", [bytes("PUB foo 1025\r\n")], { maxControlLine: 4096, maxPayload: 1024 })
    expect(r.error?.errText).toBe(ErrText.maxPayload)
    expect(r.error?.reason).toBe("Maximum Message Payload Exceeded")
    const ok = parseAll("client", [bytes(`PUB foo 1024\r\n${"a".repeat(1024)}\r\n`)], { maxControlLine: 4096, maxPayload: 1024 })
    expect(ok.error).toBeUndefined()
    expect(ok.ops).toHaveLength(1)
    // Routes have no payload limit.
    const route = parseAll("route", [bytes(`RMSG $G foo 2000\r\n${"a".repeat(2000)}\r\n`)], { maxControlLine: 4096, maxPayload: 1024 })
    expect(route.error).toBeUndefined()
  })

  it("enforces max_control_line on complete and on unfinished lines", () => {
    const lim = { maxControlLine: 64, maxPayload: 1024 }
    const long = `SUB ${"a".repeat(100)} 1\r\n`
    expect(parseAll("client", [bytes(long)], lim).error?.errText).toBe(ErrText.maxControlLine)
    // Without a line end the line is refused as soon as it is too long.
    expect(parseAll("client", [bytes(`SUB ${"a".repeat(100)}`)], lim).error?.errText).toBe(ErrText.maxControlLine)
    expect(parseAll("client", [bytes(`SUB ${"a".repeat(50)} 1\r\n`)], lim).error).toBeUndefined()
  })

  it("parses route ops with queue markers", () => {
    const input = "RS+ $G q.> grp 2\r\nRS- $G q.x\r\nRS- $G q.* other\r\nRMSG $G q.x | grp other 2\r\nm1\r\n" +
      "RMSG $G q.x + _INBOX.r1 grp other 2\r\nm2\r\nHMSG $G q.x + _INBOX.r2 grp 12 14\r\nNATS/1.0\r\n\r\nm3\r\n" +
      "RMSG $G zz.a r.1 3\r\nabc\r\nLS+ c $G foo\r\n"
    const { ops, error } = parseAll("route", [bytes(input)])
    expect(error).toBeUndefined()
    expect(norm(ops)).toEqual([
      { _tag: "RouteSub", account: "$G", subject: "q.>", queue: "grp", weight: 2 },
      { _tag: "RouteUnsub", account: "$G", subject: "q.x", queue: undefined },
      { _tag: "RouteUnsub", account: "$G", subject: "q.*", queue: "other" },
      { _tag: "RouteMsg", account: "$G", subject: "q.x", reply: undefined, queues: ["grp", "other"], headerSize: -1, payload: Array.from(bytes("m1")) },
      { _tag: "RouteMsg", account: "$G", subject: "q.x", reply: "_INBOX.r1", queues: ["grp", "other"], headerSize: -1, payload: Array.from(bytes("m2")) },
      { _tag: "RouteMsg", account: "$G", subject: "q.x", reply: "_INBOX.r2", queues: ["grp"], headerSize: 12, payload: Array.from(bytes("NATS/1.0\r\n\r\nm3")) },
      { _tag: "RouteMsg", account: "$G", subject: "zz.a", reply: "r.1", queues: undefined, headerSize: -1, payload: Array.from(bytes("abc")) },
      { _tag: "Ignored", op: "LS+" }
    ])
  })

  it("keeps multi-byte UTF-8 and non-UTF-8 subjects, queues and sids as their bytes", () => {
    const { ops } = parseAll("client", [Buffer.from("SUB föö.bär 1\r\n", "utf8"), bytes("SUB x.\xfc q\xf6 \xfc\r\nPUB f\xf6\xf6 \xff 0\r\n\r\n")])
    expect(norm(ops)).toEqual([
      { _tag: "Sub", subject: Buffer.from("föö.bär", "utf8").toString("latin1"), queue: undefined, sid: "1" },
      { _tag: "Sub", subject: "x.\xfc", queue: "q\xf6", sid: "\xfc" },
      { _tag: "Pub", subject: "f\xf6\xf6", reply: "\xff", headerSize: -1, payload: [] }
    ])
  })

  it("announces a client PUB line whose payload is not complete in the read (PubLine), then the PUB", () => {
    const { ops } = parseAll("client", [bytes("PUB a.* r 3\r\nab"), bytes("c\r\nPUB b 1\r\nx\r\n")])
    expect(ops.map((o) => o._tag)).toEqual(["PubLine", "Pub", "Pub"])
    expect(ops[0]).toEqual({ _tag: "PubLine", subject: "a.*", reply: "r", headerSize: -1, recheck: true })
    expect(parseAll("client", [bytes("PUB a"), bytes(" 3\r\nab")]).ops).toEqual([{ _tag: "PubLine", subject: "a", reply: undefined, headerSize: -1, recheck: true }])
    // A payload with a bad end: the line is announced before the error.
    const bad = parseAll("client", [bytes("HPUB a 0 1\r\nxy\r\n")])
    expect(bad.ops).toEqual([{ _tag: "PubLine", subject: "a", reply: undefined, headerSize: 0, recheck: false }])
    expect(bad.error?.errText).toBe(ErrText.unknownOp)
    // The byte after the payload is judged as soon as it arrives, not when the CRLF would be whole.
    for (const chunks of [["PUB a 2\r\nabX"], ["PUB a 2\r\na", "bX"]]) {
      expect(parseAll("client", chunks.map(bytes)).error?.errText, chunks.join("|")).toBe(ErrText.unknownOp)
    }
  })

  it("follows nats-server's line rules: sizes of at most 9 digits, CONNECT/INFO arguments right after the name, a CR in the arguments drops the last byte", () => {
    expect(parseAll("client", [bytes("PUB foo 999999999\r\n")], { maxControlLine: 4096, maxPayload: Infinity }).ops.map((o) => o._tag)).toEqual(["PubLine"])
    expect(parseAll("client", [bytes("PUB foo 1000000000\r\n")]).error?.reason).toBe("Protocol Violation")
    expect(parseAll("client", [bytes("PUB foo 0000000000\r\n\r\n")]).error?.errText).toBeUndefined()
    expect(parseAll("route", [bytes("RMSG $G foo 1000000000\r\n")]).error?.errText).toBeUndefined()
    // On the route port too (live: nats-server logs `processRoutedMsgArgs Bad or Missing Size: '[$G foo 1000000000]'`).
    expect(parseAll("route", [bytes("RMSG $G foo 1000000000\r\n")]).error?.detail).toBe("processRoutedMsgArgs Bad or Missing Size: '[$G foo 1000000000]'")
    expect(norm(parseAll("client", [bytes("CONNECT{}\r\nCONNECTX {}\r\nconnect\t\t{}\r\n")]).ops)).toEqual([
      { _tag: "Connect", json: "{}" },
      { _tag: "Connect", json: "X {}" },
      { _tag: "Connect", json: "\t{}" }
    ])
    expect(norm(parseAll("client", [bytes("SUB foo 1\rx\nSUB foo 2\r\nUNSUB 1\r\r\nPUB \rfoo 0\n\r\n")]).ops)).toEqual([
      { _tag: "Sub", subject: "foo", queue: undefined, sid: "1" },
      { _tag: "Sub", subject: "foo", queue: undefined, sid: "2" },
      { _tag: "Unsub", sid: "1", max: undefined },
      // A client's PUB splits on blanks only: the CR stays in the subject.
      { _tag: "Pub", subject: "\rfoo", reply: undefined, headerSize: -1, payload: [] }
    ])
    expect(parseAll("client", [bytes("PUB foo 2\r \nok\r\n")]).error?.reason).toBe("Protocol Violation")
    // `PUB foo\r1\n`: the dropped byte is the size, so the line has one argument.
    expect(parseAll("client", [bytes("PUB foo\r1\n")]).error?.reason).toBe("Protocol Violation")
  })

  it("ignores input after an error", () => {
    const { state } = parseAll("client", [bytes("FOO\r\n")])
    const [, parsed] = Parser.step(state, bytes("PING\r\n"))
    expect(parsed.ops).toEqual([])
    expect(parsed.error).toBeUndefined()
  })

  const roundTrip = (kind: Parser.PeerKind, arb: fc.Arbitrary<Op.Op>) =>
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (ops, cuts) => {
        const wire = concat(ops.map(Encoder.encode))
        const whole = parseAll(kind, [wire])
        expect(whole.error).toBeUndefined()
        expect(norm(whole.ops)).toEqual(norm(ops))
        const split = parseAll(kind, splitAt(wire, cuts))
        expect(split.error).toBeUndefined()
        expect(norm(split.ops)).toEqual(norm(ops))
      }),
      { numRuns: 300 }
    )

  it("property: encode → parse round-trips client ops, for any chunking", () => roundTrip("client", clientOp))
  it("property: encode → parse round-trips route ops, for any chunking", () => roundTrip("route", routeOp))
  it("property: encode → parse round-trips server ops, for any chunking", () => roundTrip("server", serverOp))

  it("property: one byte at a time gives the same ops as one chunk", () =>
    fc.assert(
      fc.property(fc.array(clientOp, { maxLength: 8 }), (ops) => {
        const wire = concat(ops.map(Encoder.encode))
        const single = Array.from(wire, (b) => Uint8Array.of(b))
        expect(norm(parseAll("client", single).ops)).toEqual(norm(ops))
      }),
      { numRuns: 100 }
    ))

  it("property: garbage never throws and ends in valid ops or a protocol error", () =>
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(...["PUB a 1\r\n", "\r\n", "SUB ", "PING", "MSG", "x\r\n"].map(bytes)))),
        (chunks) => {
          const { ops, error, state } = parseAll("client", chunks, { maxControlLine: 128, maxPayload: 256 })
          for (const op of ops) expect(["Connect", "Pub", "PubLine", "Sub", "Unsub", "Ping", "Pong", "Info", "Ok", "Err"]).toContain(op._tag)
          if (error !== undefined) expect(state.failed).toBe(true)
          // Whatever is carried over stays bounded by the limits.
          expect(state.line === undefined || state.line.length <= 128 + 8).toBe(true)
        }
      ),
      { numRuns: 500 }
    ))

  it("lifts into a Stream that ends after an error", async () => {
    const batches = await Effect.runPromise(
      Stream.fromIterable([bytes("PING\r\nPU"), bytes("B a 1\r\nx\r\n"), bytes("BAD\r\n"), bytes("PING\r\n")]).pipe(
        Parser.stream("client", limits),
        Stream.runCollect
      )
    )
    const all = Array.from(batches)
    expect(all.flatMap((b) => b.ops.map((o) => o._tag))).toEqual(["Ping", "Pub"])
    expect(all.at(-1)?.error?.errText).toBe(ErrText.unknownOp)
  })
})
