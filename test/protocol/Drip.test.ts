/**
 * Parsing cost is linear in the bytes received, whatever the chunking. The parser counts the bytes
 * it copies and scans outside its one-chunk fast path (`Parser.work`); here a 1 MiB payload and a
 * long control line arrive one byte per read, and the work is compared with one-chunk parsing —
 * counted, not timed. Memory for a pending payload stays within the declared size (and within
 * twice what arrived).
 */
import { describe, expect, it } from "vitest"
import type * as Op from "../../src/protocol/Op.js"
import * as Parser from "../../src/protocol/Parser.js"

const MiB = 1024 * 1024
const limits: Parser.ParserLimits = { maxControlLine: 8192, maxPayload: 2 * MiB }

/** Parse `wire` in chunks of `size` bytes; the ops and the work counted. */
const parse = (wire: Buffer, size: number) => {
  const before = Parser.work.copied + Parser.work.scanned
  let state = Parser.initial("client", limits)
  const ops: Array<Op.Op> = []
  let peakHeld = 0
  for (let at = 0; at < wire.length; at += size) {
    const [next, parsed] = Parser.step(state, wire.subarray(at, Math.min(wire.length, at + size)))
    if (parsed.error !== undefined) throw parsed.error
    state = next
    for (const op of parsed.ops) ops.push(op)
    const held = (state as unknown as { awaiting?: { acc?: { buf: Uint8Array } } }).awaiting?.acc?.buf.length ?? 0
    if (held > peakHeld) peakHeld = held
  }
  return { ops, work: Parser.work.copied + Parser.work.scanned - before, peakHeld }
}

describe("drip: one byte per read", () => {
  it("a 1 MiB payload costs a small constant times one-chunk parsing (counted bytes), memory within the declared size", () => {
    const payload = Buffer.alloc(MiB, 0x61)
    const wire = Buffer.concat([Buffer.from(`PUB drip 1 ${MiB}\r\n`), payload, Buffer.from("\r\nPING\r\n")])
    const whole = parse(wire, wire.length)
    // In 64 KiB reads (what a socket delivers) the payload is assembled once.
    const reads = parse(wire, 64 * 1024)
    const drip = parse(wire, 1)
    for (const r of [reads, drip]) {
      const pubs = r.ops.filter((o): o is Op.Pub => o._tag === "Pub")
      expect(pubs).toHaveLength(1)
      expect(Buffer.from(pubs[0]!.payload).equals(payload)).toBe(true)
      expect(r.ops.at(-1)?._tag).toBe("Ping")
    }
    // Linear: at most 3 counted operations per byte received (copying into a doubling buffer
    // costs < 2 per byte), against one-chunk parsing plus the bytes themselves.
    expect(drip.work).toBeLessThanOrEqual(3 * (whole.work + wire.length))
    expect(reads.work).toBeLessThanOrEqual(3 * (whole.work + wire.length))
    // The quadratic alternative (re-assembling the pieces on every read) would be ~MiB²/2.
    expect(drip.work).toBeLessThan(wire.length * 8)
    // Memory while pending: never more than the declared size plus CRLF.
    expect(drip.peakHeld).toBeLessThanOrEqual(MiB + 2)
  }, 60_000)

  it("a long control line costs linear work too, and is refused as soon as it passes max_control_line", () => {
    const subject = "s".repeat(7000)
    const wire = Buffer.from(`SUB ${subject} 1\r\nPING\r\n`)
    const whole = parse(wire, wire.length)
    const drip = parse(wire, 1)
    expect(drip.ops).toEqual(whole.ops)
    expect(drip.ops[0]).toMatchObject({ _tag: "Sub", subject, sid: "1" })
    expect(drip.work).toBeLessThanOrEqual(3 * (whole.work + wire.length))

    let state = Parser.initial("client", { maxControlLine: 100, maxPayload: MiB })
    let error: Parser.Parsed["error"]
    let fed = 0
    for (const b of Buffer.from(`SUB ${"x".repeat(1000)}`)) {
      const [next, parsed] = Parser.step(state, Uint8Array.of(b))
      state = next
      fed++
      if (parsed.error !== undefined) {
        error = parsed.error
        break
      }
    }
    expect(error?.reason).toBe("Maximum Control Line Exceeded")
    expect(fed).toBe(4 + 101)
  })

  it("memory for a pending payload follows what arrived, not what was declared (routes have no max_payload)", () => {
    let state = Parser.initial("route", { maxControlLine: 4096, maxPayload: Infinity })
    ;[state] = Parser.step(state, Buffer.from("RMSG $G big 999999999\r\nabc"))
    const held = (state as unknown as { awaiting: { acc: { buf: Uint8Array } } }).awaiting.acc.buf.length
    expect(held).toBeLessThanOrEqual(64 * 1024)
  })
})
