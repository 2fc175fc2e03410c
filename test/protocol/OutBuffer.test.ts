import fc from "fast-check"
import { afterEach, describe, expect, it, vi } from "vitest"
import { OutBuffer } from "../../src/protocol/OutBuffer.js"

describe("OutBuffer", () => {
  it("property: what is taken, in order, is exactly what was appended; size counts what is left; taken views stay intact", () =>
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 100_000 }), fc.constant("take" as const), fc.constant("clear" as const)), { maxLength: 40 }),
        (steps) => {
          const out = new OutBuffer()
          const expected: Array<number> = []
          const taken: Array<Uint8Array> = []
          const drain = () => {
            for (let v = out.take(); v !== undefined; v = out.take()) taken.push(v)
          }
          for (const step of steps) {
            if (step === "take") drain()
            else if (step === "clear") {
              expected.splice(expected.length - out.size, out.size)
              out.clear()
            } else {
              out.appendBytes(step)
              expected.push(...step)
            }
          }
          drain()
          expect(out.size).toBe(0)
          const got = taken.flatMap((v) => Array.from(v))
          expect(got.length).toBe(expected.length)
          expect(Buffer.from(got).equals(Buffer.from(expected))).toBe(true)
        }
      ),
      { numRuns: 200 }
    ))

  it("writes MSG, HMSG and routed frames byte for byte", () => {
    const out = new OutBuffer()
    out.appendMsg("foo", "1", undefined, -1, Buffer.from("hello"))
    out.appendMsg("foo", "1", "r", 12, Buffer.from("NATS/1.0\r\n\r\nab"))
    out.appendRouteMsg("$G", "q.x", "_I.1", ["g1", "g2"], -1, Buffer.from("m"))
    out.appendRouteMsg("$G", "q.x", undefined, ["g"], -1, Buffer.from("m"))
    const text = Buffer.from(out.take()!).toString()
    expect(text).toBe("MSG foo 1 5\r\nhello\r\nHMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nab\r\nRMSG $G q.x + _I.1 g1 g2 1\r\nm\r\nRMSG $G q.x | g 1\r\nm\r\n")
  })

  it("a number sid is written in decimal, as its string would be", () => {
    const sids = [0, 7, 10, 42, 99_999, 100_000, 999_999_999]
    const a = new OutBuffer()
    const b = new OutBuffer()
    for (const sid of sids) {
      a.appendMsg("s.x", sid, "r", -1, Buffer.from("p"))
      b.appendMsg("s.x", String(sid), "r", -1, Buffer.from("p"))
    }
    expect(Buffer.from(a.take()!).toString()).toBe(Buffer.from(b.take()!).toString())
  })

  describe("rewind of a small chunk", () => {
    afterEach(() => {
      vi.useRealTimers()
    })
    /** `n` small writes as a session makes them (append, take, the socket took it all, rewind), `gapMs` apart. */
    const writes = (n: number, gapMs: number) => {
      vi.useFakeTimers({ toFake: ["Date"] })
      const out = new OutBuffer()
      const places: Array<{ buffer: ArrayBufferLike; offset: number }> = []
      for (let i = 0; i < n; i++) {
        vi.setSystemTime(1_000_000 + i * gapMs)
        out.appendBytes(new Uint8Array([i]))
        const view = out.take()!
        expect(view[0]).toBe(i)
        places.push({ buffer: view.buffer, offset: view.byteOffset })
        out.rewind()
      }
      /** Whether write i went to the same bytes as write i - 1. */
      return places.map((p, i) => i > 0 && p.buffer === places[i - 1]!.buffer && p.offset === places[i - 1]!.offset)
    }

    it("a connection writing small batches one after another keeps its chunk once busy", () => {
      const reused = writes(40, 10)
      // The first rewinds drop the chunk (as for an idle connection); from then on every write
      // starts at the beginning of the same chunk, with no allocation.
      expect(reused.slice(0, 8).some(Boolean)).toBe(false)
      expect(reused.slice(10).every(Boolean)).toBe(true)
    })

    it("an idle connection (writes seconds apart) keeps no chunk", () => {
      expect(writes(20, 5_000).some(Boolean)).toBe(false)
    })
  })

  const byteString = fc.string({ minLength: 1, maxLength: 80, unit: fc.integer({ min: 33, max: 255 }).map((c) => String.fromCharCode(c)) })

  it("property: MSG/HMSG and RMSG frames equal their text form for any sizes, subjects and payloads", () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            routed: fc.boolean(),
            account: byteString,
            subject: byteString,
            sid: byteString,
            reply: fc.option(byteString, { nil: undefined }),
            queues: fc.option(fc.array(byteString, { maxLength: 3 }), { nil: undefined }),
            // Short payloads are copied by a loop, longer ones by `set`; long ones span chunks.
            payload: fc.oneof(
              fc.uint8Array({ maxLength: 40 }),
              fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.nat({ max: 255 })).map(([n, seed]) => Uint8Array.from({ length: n }, (_, i) => (seed + i * 31) & 0xff))
            ),
            headers: fc.nat({ max: 2_000_000_000 }),
            // The payload as a range of a larger buffer (as of a read buffer), bytes around it.
            around: fc.option(fc.tuple(fc.nat({ max: 70 }), fc.nat({ max: 70 })), { nil: undefined })
          }),
          { maxLength: 12 }
        ),
        (frames) => {
          const out = new OutBuffer()
          const expected: Array<Buffer> = []
          for (const f of frames) {
            const hdr = f.headers % 3 === 0 ? Math.min(f.headers, f.payload.length) : -1
            const sizes = hdr >= 0 ? `${hdr} ${f.payload.length}` : `${f.payload.length}`
            let head: string
            const [before, after] = f.around ?? [0, 0]
            const src = f.around === undefined ? f.payload : Buffer.concat([Buffer.alloc(before, 0xaa), f.payload, Buffer.alloc(after, 0xbb)])
            const start = f.around === undefined ? undefined : before
            const end = f.around === undefined ? undefined : before + f.payload.length
            if (f.routed) {
              out.appendRouteMsg(f.account, f.subject, f.reply, f.queues, hdr, src, start, end)
              const qs = f.queues ?? []
              const middle = qs.length > 0 ? `${f.reply !== undefined ? `+ ${f.reply}` : "|"} ${qs.join(" ")} ` : f.reply !== undefined ? `${f.reply} ` : ""
              head = `${hdr >= 0 ? "H" : "R"}MSG ${f.account} ${f.subject} ${middle}${sizes}\r\n`
            } else {
              out.appendMsg(f.subject, f.sid, f.reply, hdr, src, start, end)
              head = `${hdr >= 0 ? "H" : ""}MSG ${f.subject} ${f.sid} ${f.reply !== undefined ? `${f.reply} ` : ""}${sizes}\r\n`
            }
            expected.push(Buffer.from(head, "latin1"), Buffer.from(f.payload), Buffer.from("\r\n"))
          }
          const taken: Array<Uint8Array> = []
          for (let v = out.take(); v !== undefined; v = out.take()) taken.push(v)
          expect(Buffer.concat(taken).equals(Buffer.concat(expected))).toBe(true)
        }
      ),
      { numRuns: 300 }
    ))

  it("property: chunks reused after rewind (shared by every buffer) never overwrite bytes taken and not yet written", () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            who: fc.nat({ max: 2 }),
            step: fc.oneof(
              fc.integer({ min: 1, max: 40_000 }),
              fc.constant("take" as const),
              fc.constant("write" as const)
            )
          }),
          { maxLength: 80, size: "max" }
        ),
        (steps) => {
          // Three buffers, as three connections: "take" hands views to the socket, "write" is the
          // socket consuming them (checked then), after which the buffer may rewind.
          const outs = [0, 1, 2].map(() => ({ out: new OutBuffer(), appended: [] as Array<Buffer>, held: [] as Array<Uint8Array>, written: 0 }))
          let fill = 0
          const write = (c: (typeof outs)[number]) => {
            const got = Buffer.concat(c.held)
            c.held = []
            // What the socket writes now must be the next bytes appended, in order.
            const want = Buffer.concat(c.appended).subarray(c.written, c.written + got.length)
            expect(got.equals(want)).toBe(true)
            c.written += got.length
            c.out.rewind()
          }
          for (const { who, step } of steps) {
            const c = outs[who]!
            if (step === "take") for (let v = c.out.take(); v !== undefined; v = c.out.take()) c.held.push(v)
            else if (step === "write") write(c)
            else {
              // Distinct content per append, so that a reused chunk's old bytes would show.
              const bytes = Buffer.alloc(step)
              for (let i = 0; i < step; i++) bytes[i] = (fill + i) & 0xff
              fill += 7
              c.out.appendBytes(bytes)
              c.appended.push(bytes)
            }
          }
          for (const c of outs) {
            for (let v = c.out.take(); v !== undefined; v = c.out.take()) c.held.push(v)
            write(c)
            expect(c.written).toBe(Buffer.concat(c.appended).length)
          }
        }
      ),
      { numRuns: 200 }
    ))
})
