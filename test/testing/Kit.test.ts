/**
 * The property-testing kit's own properties, and the live server checked against its reference
 * model of delivery.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import * as Parser from "../../src/protocol/Parser.js"
import { isValidLiteralSubject, isValidQueueName, isValidSubject } from "../../src/subjects/Subject.js"
import { Arbitraries, Model, TestServer } from "../../src/testing/index.js"
import { RawClient } from "../support/raw.js"

const limits = { maxControlLine: 4096, maxPayload: 1024 * 1024 }

const parseChunks = (kind: Parser.PeerKind, chunks: ReadonlyArray<Uint8Array>) => {
  let state = Parser.initial(kind, limits)
  const ops: Array<unknown> = []
  for (const c of chunks) {
    const [next, parsed] = Parser.step(state, c)
    state = next
    expect(parsed.error).toBeUndefined()
    // PubLine is the parser's early notice of a PUB line: it depends on the chunking.
    ops.push(...parsed.ops.filter((o) => o._tag !== "PubLine").map((o) => ("payload" in o ? { ...o, payload: Array.from(o.payload) } : o)))
  }
  return ops
}
const norm = (ops: ReadonlyArray<object>) => ops.map((o) => ("payload" in o ? { ...o, payload: Array.from(o.payload as Uint8Array) } : o))

describe("arbitraries", () => {
  it("generated client, route and server op streams always parse back to the ops, however chunked", () => {
    fc.assert(fc.property(Arbitraries.opStream(Arbitraries.clientOp), ({ ops, chunks }) => {
      expect(parseChunks("client", chunks)).toEqual(norm(ops))
    }), { numRuns: 200 })
    fc.assert(fc.property(Arbitraries.opStream(Arbitraries.routeOp), ({ ops, chunks }) => {
      expect(parseChunks("route", chunks)).toEqual(norm(ops))
    }), { numRuns: 200 })
    fc.assert(fc.property(Arbitraries.opStream(Arbitraries.serverOp), ({ ops, chunks }) => {
      expect(parseChunks("server", chunks)).toEqual(norm(ops))
    }), { numRuns: 200 })
  })

  it("generated subjects are valid, invalid ones are always rejected", () => {
    fc.assert(fc.property(Arbitraries.subject, (s) => isValidLiteralSubject(s)))
    fc.assert(fc.property(Arbitraries.subjectPattern, (s) => isValidSubject(s)))
    fc.assert(fc.property(Arbitraries.invalidSubject, (s) => !isValidSubject(s)))
    fc.assert(fc.property(Arbitraries.queueName, (q) => isValidQueueName(q)))
    fc.assert(fc.property(Arbitraries.invalidQueueName, (q) => !isValidQueueName(q)))
  })

  it("the model's delivery check accepts exactly-once and rejects loss and duplicates", () => {
    const subs = [{ id: "1", subject: "a.*" }, { id: "2", subject: "a.>", queue: "q" }, { id: "3", subject: "a.b", queue: "q" }, { id: "4", subject: "x" }]
    const expected = Model.expectedDelivery(subs, "a.b")
    expect(expected.plain).toEqual(["1"])
    expect(Model.checkDelivery(expected, ["1", "3"])).toBeUndefined()
    expect(Model.checkDelivery(expected, ["1"])).toMatch(/queue group q/)
    expect(Model.checkDelivery(expected, ["1", "2", "3"])).toMatch(/queue group q/)
    expect(Model.checkDelivery(expected, ["1", "1", "2"])).toMatch(/plain subscription 1/)
    expect(Model.checkDelivery(expected, ["1", "2", "4"])).toMatch(/unexpected/)
  })
})

layer(TestServer.layer())("a live server against the reference model", (it) => {
  it.effect("every message reaches every matching plain subscription once and one member per queue group", () =>
    Effect.gen(function*() {
      const server = yield* TestServer
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.record({ subject: fc.array(fc.constantFrom("a", "b", "*"), { minLength: 1, maxLength: 3 }).map((t) => t.join(".")), queue: fc.option(fc.constantFrom("q1", "q2"), { nil: undefined }) }), { minLength: 1, maxLength: 8 }),
            fc.array(fc.array(fc.constantFrom("a", "b"), { minLength: 1, maxLength: 3 }).map((t) => t.join(".")), { minLength: 1, maxLength: 5 }),
            async (subs, subjects) => {
              const c = await RawClient.connect(server.port)
              try {
                const model = subs.map((s, i) => ({ id: String(i + 1), subject: s.subject, queue: s.queue }))
                c.send('CONNECT {"verbose":false,"pedantic":false}\r\n' + model.map((s) => `SUB ${s.subject} ${s.queue ?? ""} ${s.id}\r\n`).join(""))
                for (const subject of subjects) {
                  c.send(`PUB ${subject} 0\r\n\r\nPING\r\n`)
                  const received: Array<string> = []
                  for (;;) {
                    const line = await c.readLine()
                    if (line === "PONG\r\n") break
                    if (line === "PING\r\n") continue
                    const [, subj, sid] = line.split(" ")
                    expect(subj).toBe(subject)
                    received.push(sid!)
                    await c.readLine() // the empty payload's CRLF
                  }
                  const violation = Model.checkDelivery(Model.expectedDelivery(model, subject), received)
                  expect(violation).toBeUndefined()
                }
              } finally {
                c.close()
              }
            }
          ),
          { numRuns: 40 }
        )
      )
    }))
})
