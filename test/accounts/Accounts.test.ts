/**
 * The account graph model: nats-server's import checks (texts as `nats-server -t` prints them, see
 * AccountsConfig.test.ts for the side-by-side run), and the deliveries of one message against a
 * reference model written over the raw specs (property tests).
 */
import * as Result from "effect/Result"
import fc from "fast-check"
import { literal, pattern } from "../support/subjectArbitraries.js"
import { describe, expect, it } from "vitest"
import {
  type AccountSpec,
  compileAccounts,
  deliveries,
  type ExportSpec,
  type ImportSpec,
  isServiceReply,
  ServiceReplies
} from "../../src/accounts/Accounts.js"
import { applyTransform, makeTransform } from "../../src/accounts/Transform.js"
import { matchesPattern } from "../../src/subjects/Subject.js"

const compile = (specs: ReadonlyArray<AccountSpec>) => {
  const r = compileAccounts(specs)
  if (Result.isFailure(r)) throw new Error(r.failure.reason)
  return r.success
}
const errorOf = (specs: ReadonlyArray<AccountSpec>) => {
  const r = compileAccounts(specs)
  return Result.isFailure(r) ? r.failure.reason : undefined
}
const acc = (name: string, exports: Array<ExportSpec> = [], imports: Array<ImportSpec> = []): AccountSpec => ({ name, exports, imports })

describe("compileAccounts (nats-server's checks)", () => {
  it("refuses what nats-server refuses, with its texts", () => {
    expect(errorOf([acc("A"), acc("B", [], [{ kind: "stream", account: "A", subject: "foo" }])]))
      .toBe(`Error adding stream import "foo": stream import not authorized`)
    expect(errorOf([acc("B", [], [{ kind: "stream", account: "Z", subject: "foo" }])])).toBe(`"Z" account not defined for stream import`)
    expect(errorOf([acc("B", [], [{ kind: "service", account: "Z", subject: "foo" }])])).toBe(`"Z" account not defined for service import`)
    expect(errorOf([acc("A", [{ kind: "stream", subject: "s", accounts: ["Q"] }])])).toBe(`"Q" account not defined for stream export`)
    expect(errorOf([acc("A", [{ kind: "service", subject: "req.>" }]), acc("B", [], [{ kind: "service", account: "A", subject: "req.*", to: "x.y" }])]))
      .toBe(`Error adding service import "req.*": failed to create mapping transform for service import subject "x.y" to "req.*": invalid mapping destination: not using all of the token wildcard(s) in x.y`)
    expect(errorOf([acc("A", [{ kind: "stream", subject: "s.>" }]), acc("B", [], [{ kind: "stream", account: "A", subject: "s.>", prefix: "p.*" }])]))
      .toBe(`Error adding stream import "s.>": stream import prefix can not contain wildcard tokens`)
    expect(errorOf([acc("A", [{ kind: "stream", subject: "s.>", accounts: ["C"] }]), acc("B", [], [{ kind: "stream", account: "A", subject: "s.x" }]), acc("C")]))
      .toBe(`Error adding stream import "s.x": stream import not authorized`)
    expect(errorOf([acc("A", [{ kind: "stream", subject: "req" }]), acc("B", [], [{ kind: "service", account: "A", subject: "req" }])]))
      .toBe(`Error adding service import "req": service import not authorized`)
    expect(errorOf([acc("A", [{ kind: "stream", subject: "s" }]), acc("B", [], [{ kind: "stream", account: "A", subject: "s" }, { kind: "stream", account: "A", subject: "s", prefix: "x" }])]))
      .toBe(`Error adding stream import "s": stream import already exists`)
    // An import of a wider subject than the export is not covered by it.
    expect(errorOf([acc("A", [{ kind: "stream", subject: "s.*" }]), acc("B", [], [{ kind: "stream", account: "A", subject: "s.>" }])]))
      .toBe(`Error adding stream import "s.>": stream import not authorized`)
  })

  it("merges exports of the same subject as nats-server: once private, private for every listed account", () => {
    const twice = (first: ExportSpec, second: ExportSpec) =>
      errorOf([acc("A", [first, second]), acc("B", [], [{ kind: "service", account: "A", subject: "x" }]), acc("C")])
    const notAuthorized = `Error adding service import "x": service import not authorized`
    expect(twice({ kind: "service", subject: "x", accounts: ["C"] }, { kind: "service", subject: "x" })).toBe(notAuthorized)
    expect(twice({ kind: "service", subject: "x" }, { kind: "service", subject: "x", accounts: ["C"] })).toBe(notAuthorized)
    expect(twice({ kind: "service", subject: "x", accounts: ["C"] }, { kind: "service", subject: "x", accounts: ["B"] })).toBeUndefined()
    expect(twice({ kind: "service", subject: "x" }, { kind: "service", subject: "x" })).toBeUndefined()
  })

  it("refuses a stream import cycle as nats-server does (only through accounts exporting the subject)", () => {
    expect(errorOf([
      acc("A", [{ kind: "stream", subject: ">" }], [{ kind: "stream", account: "B", subject: "a" }]),
      acc("B", [{ kind: "stream", subject: "a" }], [{ kind: "stream", account: "A", subject: ">" }])
    ])).toBe(`Error adding stream import ">": import forms a cycle`)
    expect(errorOf([
      acc("A", [{ kind: "stream", subject: "a.>" }], [{ kind: "stream", account: "B", subject: "b.>", to: "a.>" }]),
      acc("B", [{ kind: "stream", subject: "b.>" }], [{ kind: "stream", account: "A", subject: "a.>", to: "b.>" }])
    ])).toBeUndefined()
  })

  it("refuses a service import cycle", () => {
    expect(errorOf([
      acc("A", [{ kind: "service", subject: "a" }], [{ kind: "service", account: "B", subject: "b", to: "a" }]),
      acc("B", [{ kind: "service", subject: "b" }], [{ kind: "service", account: "A", subject: "a", to: "b" }])
    ])).toBe(`Error adding service import "a": import forms a cycle`)
  })
})

describe("Transform", () => {
  it("maps placeholders and the rest of a `>`", () => {
    const t = makeTransform("a.*.*.>", "x.$2.$1.>")
    expect(Result.isSuccess(t)).toBe(true)
    if (Result.isSuccess(t)) expect(applyTransform(t.success, "a.1.2.3.4")).toBe("x.2.1.3.4")
    const w = makeTransform("a.*", "b.{{wildcard(1)}}")
    if (Result.isSuccess(w)) expect(applyTransform(w.success, "a.q")).toBe("b.q")
    expect(makeTransform("a.>", "b")).toEqual(Result.fail("invalid subject"))
  })
})

describe("deliveries", () => {
  const replies = () => new ServiceReplies()

  it("stream imports with prefix and to, service import with to, request and response", () => {
    const accounts = compile([
      acc("A", [{ kind: "stream", subject: "pub.>" }, { kind: "service", subject: "req.*" }, { kind: "stream", subject: "priv.*", accounts: ["B"] }]),
      acc("B", [], [
        { kind: "stream", account: "A", subject: "pub.>", prefix: "fromA" },
        { kind: "stream", account: "A", subject: "priv.*", to: "p.*" },
        { kind: "service", account: "A", subject: "req.x", to: "areq" }
      ]),
      acc("C")
    ])
    const r = replies()
    expect(deliveries(accounts, "A", "pub.q.w", "inbox", r, 0)).toEqual([
      { account: "A", subject: "pub.q.w", reply: "inbox", via: "publish" },
      { account: "B", subject: "fromA.pub.q.w", reply: "inbox", via: "stream" }
    ])
    expect(deliveries(accounts, "A", "priv.k", undefined, r, 0)).toEqual([
      { account: "A", subject: "priv.k", reply: undefined, via: "publish" },
      { account: "B", subject: "p.k", reply: undefined, via: "stream" }
    ])
    expect(deliveries(accounts, "C", "pub.q", undefined, r, 0)).toEqual([{ account: "C", subject: "pub.q", reply: undefined, via: "publish" }])
    const req = deliveries(accounts, "B", "areq", "_INBOX.1", r, 0)
    expect(req.length).toBe(2)
    expect(req[1]!.account).toBe("A")
    expect(req[1]!.subject).toBe("req.x")
    const nrr = req[1]!.reply!
    expect(isServiceReply(nrr)).toBe(true)
    // The response, published in A on the mapped reply, lands in B on the requester's inbox, once.
    expect(deliveries(accounts, "A", nrr, undefined, r, 1)).toEqual([
      { account: "A", subject: nrr, reply: undefined, via: "publish" },
      { account: "B", subject: "_INBOX.1", reply: undefined, via: "response" }
    ])
    expect(deliveries(accounts, "A", nrr, undefined, r, 2)).toHaveLength(1)
    expect(r.size).toBe(0)
  })

  // Seen with real nats-server 2.9.10 (AccountsNats.test.ts found them): kept as plain cases.
  it("a streamed message goes on through the importer's service imports, with the exporter's subject", () => {
    const accounts = compile([
      acc("A", [{ kind: "stream", subject: "a" }]),
      acc("B", [{ kind: "service", subject: ">", accounts: ["C"] }]),
      acc("C", [], [{ kind: "service", account: "B", subject: ">" }, { kind: "stream", account: "A", subject: "a", prefix: "p" }])
    ])
    expect(deliveries(accounts, "A", "a", undefined, replies(), 0).map((d) => `${d.account} ${d.subject} ${d.via}`)).toEqual([
      "A a publish", "C p.a stream", "B a service"
    ])
  })

  it("what a service import brought in is not re-exported to stream importers", () => {
    const accounts = compile([
      acc("A", [], [{ kind: "service", account: "C", subject: "a" }, { kind: "stream", account: "C", subject: "a" }]),
      acc("C", [{ kind: "service", subject: "a" }, { kind: "stream", subject: "a" }])
    ])
    expect(deliveries(accounts, "A", "a", undefined, replies(), 0).map((d) => `${d.account} ${d.subject}`)).toEqual(["A a", "C a"])
  })

  it("stream responses stay until the threshold, then expire", () => {
    const accounts = compile([
      acc("A", [{ kind: "service", subject: "s", responseType: "stream", responseThreshold: 1000 }]),
      acc("B", [], [{ kind: "service", account: "A", subject: "s" }])
    ])
    const r = replies()
    const nrr = deliveries(accounts, "B", "s", "in", r, 0)[1]!.reply!
    expect(deliveries(accounts, "A", nrr, undefined, r, 500)).toHaveLength(2)
    expect(deliveries(accounts, "A", nrr, undefined, r, 1000)).toHaveLength(2)
    expect(deliveries(accounts, "A", nrr, undefined, r, 1001)).toHaveLength(1)
  })

  it("service imports with wildcards map token by token", () => {
    const accounts = compile([
      acc("A", [{ kind: "service", subject: "req.*.*" }]),
      acc("B", [], [{ kind: "service", account: "A", subject: "req.*.*", to: "loc.$2.$1" }])
    ])
    expect(deliveries(accounts, "B", "loc.x.y", undefined, replies(), 0)[1]).toEqual({ account: "A", subject: "req.y.x", reply: undefined, via: "service" })
  })

  // ---------------------------------------------------------------------------------------------
  // Property tests against a reference model over the raw specs
  // ---------------------------------------------------------------------------------------------

  const NAMES = ["A", "B", "C", "D"]
  const exportArb: fc.Arbitrary<ExportSpec> = fc.record({
    kind: fc.constantFrom("stream" as const, "service" as const),
    subject: pattern,
    accounts: fc.option(fc.subarray(NAMES), { nil: undefined })
  })
  const importArb = (self: number): fc.Arbitrary<ImportSpec | undefined> =>
    fc.record({
      kind: fc.constantFrom("stream" as const, "service" as const),
      // Service imports only to accounts before this one: no cycles by construction.
      exporter: fc.integer({ min: 0, max: NAMES.length - 1 }),
      subject: pattern,
      prefix: fc.option(fc.constantFrom("p", "q.r"), { nil: undefined }),
      to: fc.option(literal.map((s) => "t." + s), { nil: undefined })
    }).map((r) => {
      if (r.exporter === self || (r.kind === "service" && r.exporter > self)) return undefined
      const account = NAMES[r.exporter]!
      if (r.kind === "stream") return { kind: "stream", account, subject: r.subject, ...(r.prefix !== undefined ? { prefix: r.prefix } : {}) }
      // A service import with a local `to` only for a literal subject (no transform needed).
      return { kind: "service", account, subject: r.subject, ...(r.to !== undefined && !/[*>]/.test(r.subject) ? { to: r.to } : {}) }
    })
  const graph = fc.tuple(
    ...NAMES.map((_, i) => fc.record({ exports: fc.array(exportArb, { maxLength: 3 }), imports: fc.array(importArb(i), { maxLength: 3 }) }))
  ).map((xs) =>
    xs.map((x, i): AccountSpec => ({ name: NAMES[i]!, exports: x.exports, imports: x.imports.filter((im): im is ImportSpec => im !== undefined) }))
  )

  /** Reference: `subject` ⊆ `export` when every literal of the one is matched by the other. */
  const covers = (exp: string, sub: string): boolean => {
    const e = exp.split("."), s = sub.split(".")
    for (let i = 0; i < s.length; i++) {
      if (e[i] === ">") return true
      if (e[i] === undefined || s[i] === ">") return false
      if (e[i] !== "*" && (s[i] === "*" || s[i] !== e[i])) return false
    }
    return e.length === s.length
  }
  const authorized = (specs: ReadonlyArray<AccountSpec>, importer: string, im: ImportSpec): boolean => {
    const exporter = specs.find((a) => a.name === im.account)!
    const exports = exporter.exports.filter((e) => e.kind === im.kind)
    // Exports of the same subject add up: private once any of them is, for all their accounts.
    const bySubject = new Map<string, Array<ExportSpec>>()
    for (const e of exports) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e])
    const allows = (group: ReadonlyArray<ExportSpec>) =>
      group.every((e) => e.accounts === undefined) || group.some((e) => e.accounts?.includes(importer) === true)
    // An export of exactly the import's subject decides alone (nats-server looks it up first).
    const exact = bySubject.get(im.subject)
    if (exact !== undefined) return allows(exact)
    return [...bySubject.entries()].some(([subject, group]) => covers(subject, im.subject) && allows(group))
  }
  /**
   * Only the imports nats-server accepts (and no duplicates), by the reference rules; stream
   * imports that would close a cycle (checked by compileAccounts itself, one by one) are left out.
   */
  const accepted = (specs: ReadonlyArray<AccountSpec>): Array<AccountSpec> => {
    const authorizedOnly = authorizedImports(specs)
    let out = authorizedOnly.map((a) => ({ ...a, imports: [] as Array<ImportSpec> }))
    for (const a of authorizedOnly) {
      for (const im of a.imports) {
        const next = out.map((x) => (x.name === a.name ? { ...x, imports: [...x.imports, im] } : x))
        const err = errorOf(next)
        if (err === undefined) out = next
        else expect(err).toMatch(/import forms a cycle$/)
      }
    }
    return out
  }
  const authorizedImports = (specs: ReadonlyArray<AccountSpec>): Array<AccountSpec> =>
    specs.map((a) => {
      const seen = new Set<string>()
      return {
        ...a,
        imports: a.imports.filter((im) => {
          const key = im.kind === "stream" ? `s ${im.account} ${im.subject}` : `v ${im.to ?? im.subject}`
          if (seen.has(key) || !authorized(specs, a.name, im)) return false
          seen.add(key)
          return true
        })
      }
    })

  type Space = { account: string; subject: string; via: string }
  const reference = (specs: ReadonlyArray<AccountSpec>, account: string, subject: string): Array<Space> => {
    const out: Array<Space> = []
    /** Matched on `s`, mapped from `original` (a streamed message keeps the exporter's subject there). */
    const services = (a: string, s: string, original: string, visited: ReadonlyArray<string>) => {
      for (const im of specs.find((x) => x.name === a)!.imports) {
        if (im.kind !== "service" || visited.includes(im.account)) continue
        const local = im.to ?? im.subject
        if (matchesPattern(local, s)) land(im.account, im.to !== undefined ? im.subject : original, "service", [...visited, im.account])
      }
    }
    const land = (a: string, s: string, via: string, visited: ReadonlyArray<string>) => {
      out.push({ account: a, subject: s, via })
      // What a service import brought in is not re-exported to stream importers.
      if (via !== "publish") {
        services(a, s, s, visited)
        return
      }
      for (const other of specs) {
        for (const im of other.imports) {
          if (im.kind === "stream" && im.account === a && matchesPattern(im.subject, s)) {
            const mapped = im.prefix !== undefined ? `${im.prefix}.${s}` : s
            out.push({ account: other.name, subject: mapped, via: "stream" })
            // Streamed into `other`, the message goes on through other's service imports.
            services(other.name, mapped, s, [...visited, other.name])
          }
        }
      }
      services(a, s, s, visited)
    }
    land(account, subject, "publish", [account])
    return out
  }
  const key = (d: Space) => `${d.account} ${d.subject} ${d.via}`

  it("a user of one account never receives another account's messages without an import", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ exports: fc.array(exportArb, { maxLength: 3 }) }), { minLength: 4, maxLength: 4 }), fc.constantFrom(...NAMES), literal, (xs, from, subject) => {
        const accounts = compile(xs.map((x, i) => ({ name: NAMES[i]!, exports: x.exports, imports: [] })))
        expect(deliveries(accounts, from, subject, "r", replies(), 0)).toEqual([{ account: from, subject, reply: "r", via: "publish" }])
      }),
      { numRuns: 200 }
    )
  })

  it("compiles exactly the imports the reference authorizes", () => {
    fc.assert(
      fc.property(graph, (specs) => {
        const ok = accepted(specs)
        expect(errorOf(ok)).toBeUndefined()
        for (const a of specs) {
          for (const im of a.imports) {
            if (authorized(specs, a.name, im)) continue
            const only = specs.map((x) => ({ ...x, imports: x.name === a.name ? [im] : [] }))
            expect(errorOf(only)).toMatch(/import ".*": (stream|service) import not authorized$/)
          }
        }
      }),
      { numRuns: 300 }
    )
  })

  it("delivers to the spaces the reference model computes", () => {
    fc.assert(
      fc.property(graph, fc.constantFrom(...NAMES), literal, (specs, from, subject) => {
        const ok = accepted(specs)
        const got = deliveries(compile(ok), from, subject, undefined, replies(), 0).map(key).sort()
        expect(got).toEqual(reference(ok, from, subject).map(key).sort())
        // Every account reached other than the publisher's imports from the chain.
        for (const d of deliveries(compile(ok), from, subject, undefined, replies(), 0)) {
          if (d.account !== from) expect(ok.find((a) => a.name === d.account)!.imports.length + ok.filter((a) => a.imports.some((im) => im.kind === "service" && im.account === d.account)).length).toBeGreaterThan(0)
        }
      }),
      { numRuns: 500 }
    )
  })
})
