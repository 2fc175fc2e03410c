import fc from "fast-check"
import { describe, expect, it } from "vitest"
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
})
