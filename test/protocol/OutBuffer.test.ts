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
})
