/**
 * Property: for any permissions (publish/subscribe allow and deny lists, queue-group entries,
 * allow_responses) and any sequence of SUB/PUB ops, what a real connection gets back — `+OK`,
 * the exact `Permissions Violation` `-ERR`, and which MSGs are delivered (including the delivery
 * filter of wildcard subscriptions that cover a deny entry, and responses to received requests) —
 * is what a reference model says.
 *
 * The model is written independently of `auth/Permissions`: subjects are token arrays, "covers a
 * deny entry" is set inclusion decided by enumerating every literal subject over the alphabet.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { Permissions } from "../../src/config/ServerOptions.js"
import { RawClient } from "../support/raw.js"
import { startServer } from "../support/servers.js"

// --- the model ---------------------------------------------------------------------------------

const ALPHABET = ["a", "b", "c"]

/** Does `pattern` match `subject`, every token of `subject` taken literally (a `*` token too)? */
const matches = (pattern: string, subject: string): boolean => {
  const p = pattern.split(".")
  const s = subject.split(".")
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i
    if (i >= s.length) return false
    if (p[i] !== "*" && p[i] !== s[i]) return false
  }
  return p.length === s.length
}

/** Every literal subject of 1..4 tokens over the alphabet plus a stranger token. */
const LITERALS: ReadonlyArray<string> = (() => {
  const tokens = [...ALPHABET, "zz"]
  let level = tokens.map((t) => [t])
  const all: Array<string> = []
  for (let n = 1; n <= 4; n++) {
    all.push(...level.map((t) => t.join(".")))
    level = level.flatMap((t) => tokens.map((x) => [...t, x]))
  }
  return all
})()

/** Everything `inner` matches is matched by `outer` (over the literals). */
const included = (inner: string, outer: string): boolean => LITERALS.every((s) => !matches(inner, s) || matches(outer, s))

const split = (entry: string): { subject: string; queue: string | undefined } => {
  const [subject, queue] = entry.split(" ")
  return { subject: subject!, queue }
}

const canSubscribe = (perms: Permissions, subject: string, queue: string | undefined): boolean => {
  /** nats-server's rule for one list: plain entries decide, a matching queue entry overrides for queue subs. */
  const hit = (list: ReadonlyArray<string>): boolean => {
    const hits = list.map(split).filter((e) => matches(e.subject, subject))
    const queueHits = hits.filter((e) => e.queue !== undefined)
    if (queue !== undefined && queueHits.length > 0) return queueHits.some((e) => e.queue === queue)
    return hits.some((e) => e.queue === undefined)
  }
  const allow = perms.subscribe?.allow ?? []
  const deny = perms.subscribe?.deny ?? []
  if (allow.length > 0 && !hit(allow)) return false
  return !(deny.length > 0 && hit(deny))
}

const publishAllowed = (perms: Permissions, subject: string): boolean => {
  const allow = perms.publish?.allow ?? (perms.allowResponses !== undefined ? [] : undefined)
  if (allow !== undefined && !allow.some((p) => matches(p, subject))) return false
  return !(perms.publish?.deny ?? []).some((p) => matches(p, subject))
}

type Op =
  | { readonly _tag: "Sub"; readonly subject: string; readonly queue: string | undefined }
  | { readonly _tag: "Pub"; readonly subject: string; readonly reply: string | undefined }

interface Sub {
  readonly sid: string
  readonly subject: string
  readonly queue: string | undefined
}

/** What the server answers to each op: lines, with the MSG lines of a delivery sorted. */
const model = (perms: Permissions, ops: ReadonlyArray<Op>): Array<Array<string>> => {
  const subs: Array<Sub> = []
  const replies = new Map<string, number>()
  const max = perms.allowResponses?.max ?? 0
  const plainDeny = (perms.subscribe?.deny ?? []).map(split).filter((e) => e.queue === undefined).map((e) => e.subject)
  let filter = false
  const out: Array<Array<string>> = []
  ops.forEach((op, i) => {
    const sid = String(i + 1)
    if (op._tag === "Sub") {
      if (!canSubscribe(perms, op.subject, op.queue)) {
        out.push([`-ERR 'Permissions Violation for Subscription to "${op.subject}"${op.queue !== undefined ? ` using queue "${op.queue}"` : ""}'`])
        return
      }
      if (/(^|\.)[*>](\.|$)/.test(op.subject) && plainDeny.some((d) => included(d, op.subject))) filter = true
      subs.push({ sid, subject: op.subject, queue: op.queue })
      out.push(["+OK"])
      return
    }
    let allowed = publishAllowed(perms, op.subject)
    if (!allowed && perms.allowResponses !== undefined && replies.has(op.subject)) {
      const n = replies.get(op.subject)! + 1
      if (max > 0 && n > max) replies.delete(op.subject)
      else {
        replies.set(op.subject, n)
        allowed = true
      }
    }
    if (!allowed) {
      out.push([`-ERR 'Permissions Violation for Publish to "${op.subject}"'`])
      return
    }
    const lines = ["+OK"]
    if (!(filter && plainDeny.some((d) => matches(d, op.subject)))) {
      const msgs: Array<string> = []
      const hit = subs.filter((s) => matches(s.subject, op.subject))
      for (const s of hit.filter((s) => s.queue === undefined)) msgs.push(s.sid)
      const groups = new Set(hit.filter((s) => s.queue !== undefined).map((s) => s.queue!))
      for (const g of groups) msgs.push(`group ${g}`)
      for (const m of msgs) {
        lines.push(`MSG ${op.subject} ${m}${op.reply !== undefined ? ` ${op.reply}` : ""} 1`)
        if (op.reply !== undefined && perms.allowResponses !== undefined) replies.set(op.reply, 0)
      }
    }
    out.push([lines[0]!, ...lines.slice(1).sort()])
  })
  return out
}

// --- generators --------------------------------------------------------------------------------

const token = fc.constantFrom(...ALPHABET)
const literal = fc.array(token, { minLength: 1, maxLength: 3 }).map((t) => t.join("."))
const pattern = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: token }, { weight: 1, arbitrary: fc.constant("*") }), { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([t, full]) => (full ? [...t, ">"] : t).join("."))
const queueName = fc.constantFrom("q1", "q2")
const subEntry = fc.oneof({ weight: 3, arbitrary: pattern }, { weight: 1, arbitrary: fc.tuple(pattern, queueName).map(([p, q]) => `${p} ${q}`) })
/** Absent half of the time: a present allow list refuses most random subjects. */
const list = <A>(a: fc.Arbitrary<A>) => fc.oneof(fc.constant(undefined), fc.array(a, { minLength: 1, maxLength: 3 }))
const compact = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

const permsArb: fc.Arbitrary<Permissions> = fc
  .record({
    publish: fc.option(fc.record({ allow: list(pattern), deny: list(pattern) }).map(compact), { nil: undefined }),
    subscribe: fc.option(fc.record({ allow: list(subEntry), deny: list(subEntry) }).map(compact), { nil: undefined }),
    allowResponses: fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((max) => ({ max, expires: 600_000 })) }
    )
  })
  .map(compact)

/** The subjects of the permission entries, and literal and wildcard variants of them. */
const focus = (perms: Permissions): Array<string> => {
  const entries = [...(perms.publish?.allow ?? []), ...(perms.publish?.deny ?? []), ...(perms.subscribe?.allow ?? []), ...(perms.subscribe?.deny ?? [])]
  return entries.map((e) => split(e).subject)
}
const literalOf = (p: string, t: string) => p.replace(/(^|\.)>$/, `$1${t}.${t}`).split(".").map((x) => (x === "*" ? t : x)).join(".")
const widen = (p: string, i: number) => {
  const t = p.split(".").filter((x, k, all) => !(x === ">" && k === all.length - 1 && all.length > 1))
  if (i % 2 === 0) t[i % t.length] = "*"
  else t.splice(Math.min(t.length, 1 + (i % t.length)), t.length, ">")
  return t.join(".")
}

/** Ops whose subjects mostly come from the permissions (so that allow, deny and the filter are hit). */
const opsArb = (perms: Permissions): fc.Arbitrary<Array<Op>> => {
  const f = focus(perms)
  const lit = f.length === 0 ? literal : fc.oneof(literal, fc.tuple(fc.constantFrom(...f), token).map(([p, t]) => literalOf(p, t)))
  const pat = f.length === 0 ? pattern : fc.oneof(pattern, fc.constantFrom(...f), fc.tuple(fc.constantFrom(...f), fc.nat(5)).map(([p, i]) => widen(p, i)))
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ _tag: fc.constant("Sub" as const), subject: pat, queue: fc.option(queueName, { nil: undefined }) }),
    fc.record({ _tag: fc.constant("Pub" as const), subject: lit, reply: fc.option(lit, { nil: undefined }) })
  )
  // A request to our own subscription and 1–4 responses to its reply subject (allow_responses).
  const exchange: fc.Arbitrary<Array<Op>> = fc.tuple(lit, lit, fc.integer({ min: 1, max: 4 })).map(([subject, reply, n]) => [
    { _tag: "Sub", subject, queue: undefined },
    { _tag: "Pub", subject, reply },
    ...Array.from({ length: n }, (): Op => ({ _tag: "Pub", subject: reply, reply: undefined }))
  ])
  const fragment = fc.oneof({ weight: 3, arbitrary: op.map((o) => [o]) }, { weight: 1, arbitrary: exchange })
  return fc.array(fragment, { minLength: 1, maxLength: 8 }).map((fs) => fs.flat())
}

// --- driving a real connection -----------------------------------------------------------------

/** Send one op and PING; the lines up to PONG, MSG lines normalised (queue sids → group). */
const run = async (c: RawClient, op: Op, sid: string, queues: Map<string, string>): Promise<Array<string>> => {
  if (op._tag === "Sub") c.send(`SUB ${op.subject}${op.queue !== undefined ? ` ${op.queue}` : ""} ${sid}\r\nPING\r\n`)
  else c.send(`PUB ${op.subject}${op.reply !== undefined ? ` ${op.reply}` : ""} 1\r\nx\r\nPING\r\n`)
  const lines: Array<string> = []
  for (;;) {
    const line = (await c.nextNonPing()).slice(0, -2)
    if (line === "PONG") break
    if (line.startsWith("MSG ")) {
      await c.readLine() // the payload
      const parts = line.split(" ")
      const group = queues.get(parts[2]!)
      if (group !== undefined) parts[2] = `group ${group}`
      lines.push(parts.join(" "))
    } else lines.push(line)
  }
  if (op._tag === "Sub" && op.queue !== undefined && lines[0] === "+OK") queues.set(sid, op.queue)
  return [lines[0]!, ...lines.slice(1).sort()]
}

describe("permissions against a reference model, through a real connection", () => {
  it("any permissions × any SUB/PUB sequence", async () => {
    await fc.assert(
      fc.asyncProperty(permsArb.chain((p) => fc.tuple(fc.constant(p), opsArb(p))), async ([permissions, ops]) => {
        const server = await startServer({ authorization: { users: [{ user: "u", password: "p", permissions }] } })
        const c = await RawClient.connect(server.port)
        try {
          c.send(`CONNECT {"verbose":true,"user":"u","pass":"p"}\r\nPING\r\n`)
          await c.expectPastPings("+OK\r\nPONG\r\n")
          const queues = new Map<string, string>()
          const got: Array<Array<string>> = []
          for (let i = 0; i < ops.length; i++) got.push(await run(c, ops[i]!, String(i + 1), queues))
          expect(got).toEqual(model(permissions, ops))
        } finally {
          c.close()
          await server.stop()
        }
      }),
      { numRuns: 200, endOnFailure: true }
    )
  }, 120_000)

  it("the model's subset rule agrees with nats-server's examples", () => {
    expect(included("a.b", "a.*")).toBe(true)
    expect(included("a.>", "a.*")).toBe(false)
    expect(included("a.*", ">")).toBe(true)
    expect(included("a", "a.>")).toBe(false)
    expect(included("*.b", "a.*")).toBe(false)
  })
})

describe("a queue member whose delivery filter refuses a message", () => {
  it("another member of the group gets it (nats-server tries the next member)", async () => {
    const server = await startServer({
      authorization: { users: [{ user: "a", password: "a", permissions: { subscribe: { deny: ["jobs.secret"] } } }, { user: "b", password: "b" }] }
    })
    const a = await RawClient.connect(server.port)
    const b = await RawClient.connect(server.port)
    try {
      a.send(`CONNECT {"verbose":false,"user":"a","pass":"a"}\r\nSUB jobs.* workers 1\r\nPING\r\n`)
      await a.expectPastPings("PONG\r\n")
      b.send(`CONNECT {"verbose":false,"user":"b","pass":"b"}\r\nSUB jobs.* workers 1\r\nPING\r\n`)
      await b.expectPastPings("PONG\r\n")
      b.send("PUB jobs.secret 1\r\nx\r\n".repeat(20) + "PING\r\n")
      await b.expectPastPings("MSG jobs.secret 1 1\r\nx\r\n".repeat(20) + "PONG\r\n")
      a.send("PING\r\n")
      await a.expectPastPings("PONG\r\n")
    } finally {
      a.close()
      b.close()
      await server.stop()
    }
  })
})
