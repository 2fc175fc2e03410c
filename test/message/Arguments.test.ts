/**
 * `headersArgument`, the check in front of every publish/request (client and broker): for any
 * JavaScript value it returns `Headers` or `InvalidArgument` and never throws; well-formed records
 * and pairs give exactly what `Headers.make` gives.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { headersArgument } from "../../src/message/Arguments.js"
import { InvalidArgument } from "../../src/message/Errors.js"
import { Headers } from "../../src/protocol/Headers.js"
import { Arbitraries } from "../../src/testing/index.js"

describe("headersArgument", () => {
  it("property: any value gives Headers, InvalidArgument or undefined — never a throw", () => {
    fc.assert(
      fc.property(fc.anything({ withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), (value) => {
        const r = headersArgument(value as never)
        expect(r === undefined || r instanceof Headers || r instanceof InvalidArgument).toBe(true)
      }),
      { numRuns: 500 }
    )
  })

  it("property: valid entries as pairs or as a record give Headers.make's result", () => {
    fc.assert(
      fc.property(Arbitraries.headerEntries, (entries) => {
        const pairs = headersArgument(entries)
        expect(pairs).toBeInstanceOf(Headers)
        expect([...(pairs as Headers)]).toEqual([...Headers.make(entries)])
        const record: Record<string, Array<string>> = {}
        for (const [k, v] of entries) (record[k] ??= []).push(v)
        const fromRecord = headersArgument(record)
        expect(fromRecord).toBeInstanceOf(Headers)
        expect((fromRecord as Headers).toRecord()).toEqual(Headers.make(record).toRecord())
      }),
      { numRuns: 200 }
    )
  })

  it("a one-shot iterator of pairs is read once", () => {
    function* pairs(): Generator<readonly [string, string]> {
      yield ["X-A", "1"]
      yield ["X-B", "2"]
    }
    const r = headersArgument(pairs())
    expect(r).toBeInstanceOf(Headers)
    expect((r as Headers).toRecord()).toEqual({ "X-A": ["1"], "X-B": ["2"] })
  })

  it("malformed names, values and shapes are InvalidArgument with a reason", () => {
    for (const bad of [5, "X: 1", null, { a: 1 }, { a: [1] }, [["a"]], [["a", 1]], { "a b": "1" }, { a: "x\r\ny" }, { "": "v" }]) {
      const r = headersArgument(bad as never)
      expect(r).toBeInstanceOf(InvalidArgument)
      expect((r as InvalidArgument).message.length).toBeGreaterThan(0)
    }
  })
})
