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

/**
 * A sink that turns every message it gets back into the op the parser would have made (payload
 * copied out of the chunk), in the order it got them.
 */
const collectingSink = (kind: Parser.PeerKind, ops: Array<Op.Op>): Parser.MsgSink & { count: number } => ({
  count: 0,
  msg(account, subject, reply, queues, headerSize, buf, from, to) {
    this.count++
    const payload = Uint8Array.from(buf.subarray(from, to))
    ops.push(kind === "client" ? { _tag: "Pub", subject, reply, headerSize, payload } : { _tag: "RouteMsg", account, subject, reply, queues, headerSize, payload })
  }
})

/** Parse `chunks` in order; collect ops and the final error. `sink`: hand messages to a sink first. */
const parseAll = (kind: Parser.PeerKind, chunks: ReadonlyArray<Uint8Array>, lim = limits, fastPaths = true, sink = false) => {
  let state = Parser.initial(kind, lim, { fastPaths })
  const ops: Array<Op.Op> = []
  const collect = sink ? collectingSink(kind, ops) : undefined
  let error: Parser.Parsed["error"]
  let sunk = 0
  for (const c of chunks) {
    const [next, parsed] = Parser.step(state, c, collect)
    state = next
    ops.push(...parsed.ops)
    sunk += parsed.sunk
    if (parsed.error !== undefined) error = parsed.error
  }
  if (collect !== undefined) expect(collect.count).toBe(sunk)
  return { ops, error, state, sunk }
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

  it("a bad byte after a split payload is quoted from the bytes received only", () => {
    // The payload buffer is allocated uninitialised past what arrived; the snippet must stop there.
    const { error } = parseAll("client", [bytes("PUB a 2\r\nhi"), bytes("X")])
    expect(error?.detail).toBe(`Client parser ERROR, i=2: proto='"X"...'`)
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
        const sunk = parseAll(kind, splitAt(wire, cuts), limits, true, true)
        expect(sunk.error).toBeUndefined()
        expect(norm(sunk.ops)).toEqual(norm(ops))
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

  // --- scratch is per parser; the fast paths agree with the general one -------------------------

  it("two parsers interleaved on one thread keep their own scratch", () => {
    const a = Parser.initial("client", limits)
    const b = Parser.initial("client", limits)
    expect(a.scratch).not.toBe(b.scratch)
    const [a1, pa] = Parser.step(a, bytes("PUB a.subject 2\r\nhi\r\nSUB x 1\r\nPUB a.subject 1\r\n"))
    const [b1, pb] = Parser.step(b, bytes("PUB b.subject other.reply 1\r\nz\r\nHPUB h 1 3\r\n"))
    // Each state keeps its parser's scratch; B's lines did not touch A's.
    expect(a1.scratch).toBe(a.scratch)
    expect(b1.scratch).toBe(b.scratch)
    expect(a1.scratch.lastSubject).toBe("a.subject")
    expect(b1.scratch.lastSubject).toBe("b.subject")
    expect(a1.scratch.headSize).toBe(1)
    expect(b1.scratch.headSize).toBe(3)
    // Neither keeps its last chunk alive after the step.
    expect(a1.scratch.viewOf).toBeUndefined()
    expect(b1.scratch.viewOf).toBeUndefined()
    // Both payloads are awaited, each with its own head; finishing them in the other order works.
    const [, pb2] = Parser.step(b1, bytes("\r\nx\r\n"))
    const [, pa2] = Parser.step(a1, bytes("y\r\n"))
    expect(norm([...pa.ops, ...pa2.ops])).toEqual(norm([
      { _tag: "Pub", subject: "a.subject", reply: undefined, headerSize: -1, payload: bytes("hi") },
      { _tag: "Sub", subject: "x", queue: undefined, sid: "1" },
      { _tag: "Pub", subject: "a.subject", reply: undefined, headerSize: -1, payload: bytes("y") }
    ]))
    expect(norm([...pb.ops, ...pb2.ops])).toEqual(norm([
      { _tag: "Pub", subject: "b.subject", reply: "other.reply", headerSize: -1, payload: bytes("z") },
      { _tag: "Pub", subject: "h", reply: undefined, headerSize: 1, payload: bytes("\r\nx") }
    ]))
  })

  it("property: parsers stepped in any interleaving give each the ops it gives alone", () =>
    fc.assert(
      fc.property(
        fc.array(clientOp, { maxLength: 10 }),
        fc.array(routeOp, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.array(fc.boolean(), { maxLength: 20 }),
        (cOps, rOps, cCuts, rCuts, order) => {
          const cChunks = splitAt(concat(cOps.map(Encoder.encode)), cCuts)
          const rChunks = splitAt(concat(rOps.map(Encoder.encode)), rCuts)
          let c = Parser.initial("client", limits)
          let r = Parser.initial("route", limits)
          let c2 = Parser.initial("client", limits)
          const got = { c: [] as Array<Op.Op>, r: [] as Array<Op.Op>, c2: [] as Array<Op.Op> }
          let ci = 0
          let ri = 0
          let k = 0
          while (ci < cChunks.length || ri < rChunks.length) {
            const takeClient = ri === rChunks.length || (ci < cChunks.length && (order[k++ % Math.max(order.length, 1)] ?? true))
            if (takeClient) {
              const chunk = cChunks[ci++]!
              const [next, parsed] = Parser.step(c, chunk)
              c = next
              got.c.push(...parsed.ops)
              // A second client parser fed the same chunks right after the first.
              const [next2, parsed2] = Parser.step(c2, chunk)
              c2 = next2
              got.c2.push(...parsed2.ops)
            } else {
              const [next, parsed] = Parser.step(r, rChunks[ri++]!)
              r = next
              got.r.push(...parsed.ops)
            }
          }
          expect(norm(got.c)).toEqual(norm(parseAll("client", cChunks).ops))
          expect(norm(got.c2)).toEqual(norm(got.c))
          expect(norm(got.r)).toEqual(norm(parseAll("route", rChunks).ops))
        }
      ),
      { numRuns: 200 }
    ))

  /** Lines near the fast paths' edges: odd case, tabs and runs of blanks, CRs and LFs inside, too many or too few tokens, queue markers, long or non-numeric sizes. */
  const edgyLine = fc
    .tuple(
      fc.constantFrom("PUB", "pub", "Pub", "HPUB", "RMSG", "rmsg", "SUB", "MSG", "PING"),
      fc.constantFrom(" ", "\t", "  ", " \t"),
      fc.array(fc.constantFrom("a", "foo.bar", "_INBOX.x.1", "x\ry", "$G", "acc", "+", "|", "q", "0", "1", "2", "5", "12", "000003", "999999999", "1234567890", "-1", "1x"), {
        minLength: 0,
        maxLength: 6
      }),
      fc.array(fc.constantFrom(" ", " ", "\t", "  ", "\t \t", "\r", "\n"), { minLength: 6, maxLength: 6 }),
      fc.constantFrom("\r\n", "\r\n", "\n", "\r\r\n", " \r\n"),
      fc.constantFrom("", "x\r\n", "hello\r\n", "12345\r\n", "0123456789ab\r\n", "\r\n")
    )
    .map(([op, sep, tokens, seps, end, rest]) => op + sep + tokens.map((t, i) => (i === 0 ? t : seps[i]! + t)).join("") + end + rest)

  const sameOnBothPaths = (kind: Parser.PeerKind) =>
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 3, arbitrary: edgyLine }, { weight: 1, arbitrary: (kind === "client" ? clientOp : routeOp).map((op) => Buffer.from(Encoder.encode(op)).toString("latin1")) }), {
          minLength: 1,
          maxLength: 12
        }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom(limits, { maxControlLine: 16, maxPayload: 8 }, { maxControlLine: 4096, maxPayload: 4 }),
        (lines, cuts, lim) => {
          const chunks = splitAt(bytes(lines.join("")), cuts)
          const fast = parseAll(kind, chunks, lim, true)
          const general = parseAll(kind, chunks, lim, false)
          const full = (ops: ReadonlyArray<Op.Op>) => ops.map((op) => ("payload" in op ? { ...op, payload: Array.from(op.payload) } : op))
          expect(full(fast.ops)).toEqual(full(general.ops))
          expect(fast.error?.errText).toEqual(general.error?.errText)
          expect(fast.error?.detail).toEqual(general.error?.detail)
          expect(fast.state.failed).toBe(general.state.failed)
          // Handing messages to a sink (either path) changes nothing but who gets them.
          for (const fastPaths of [true, false]) {
            const sunk = parseAll(kind, chunks, lim, fastPaths, true)
            expect(full(sunk.ops)).toEqual(full(general.ops))
            expect(sunk.error?.detail).toEqual(general.error?.detail)
            expect(sunk.state.failed).toBe(general.state.failed)
          }
        }
      ),
      { numRuns: 1000 }
    )

  it("property: the client fast path gives the general path's ops and errors, for any chunking", () => sameOnBothPaths("client"))
  it("property: the route fast path gives the general path's ops and errors, for any chunking", () => sameOnBothPaths("route"))

  it("the edge-line generator reaches the fast paths' successes and refusals", () => {
    // Guards the property above against a generator that only makes lines both paths refuse.
    const samples = fc.sample(edgyLine, { numRuns: 2000, seed: 1 })
    const tags = new Set<string>()
    for (const line of samples) {
      for (const kind of ["client", "route"] as const) {
        const r = parseAll(kind, [bytes(line)])
        for (const op of r.ops) tags.add(`${kind}:${op._tag}`)
        if (r.error !== undefined) tags.add(`${kind}:error`)
        if (parseAll(kind, [bytes(line)], limits, true, true).sunk > 0) tags.add(`${kind}:sunk`)
      }
    }
    for (const t of ["client:Pub", "client:error", "client:sunk", "route:RouteMsg", "route:error", "route:sunk", "client:Sub"]) expect(tags).toContain(t)
  })

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
