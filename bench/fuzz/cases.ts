/**
 * Seeded fuzz cases: byte streams a client could send, each built from a PRNG seeded by
 * (seed, case index) so that any case can be replayed alone (`--case i`).
 *
 * A case is an optional CONNECT (normal, odd or broken), then a few ops — SUB (literal, wildcard,
 * byte-valued and invalid subjects, queue groups), UNSUB, PUB and HPUB (right and wrong sizes,
 * headers), PING/PONG, +OK, INFO, -ERR, raw garbage — written with random case, blanks and LF-only
 * line ends, then sometimes mutated (a byte flipped, a CR or LF inserted, bytes dropped or
 * repeated, a size changed, the stream cut short), pipelined and split into random chunks. It ends
 * with `PING` so that a server in sync answers everything before going quiet.
 *
 * Queue groups have one member per case: which member gets a message is random in both servers.
 */

/** mulberry32: small, fast, good enough for test input. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Case {
  readonly index: number
  /** The chunks, in order (each one write). */
  readonly chunks: ReadonlyArray<Uint8Array>
  /** What was generated, for reports. */
  readonly notes: ReadonlyArray<string>
}

const caseSeed = (seed: number, index: number): number => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n)
  }
  chance(p: number): boolean {
    return this.r() < p
  }
  pick<A>(xs: ReadonlyArray<A>): A {
    return xs[this.int(xs.length)]!
  }
}

const LITERAL_TOKENS = ["foo", "bar", "a", "b1", "_INBOX", "x-y", "a*b", "x>", "$SYS"]
/** Byte-valued tokens (latin1 strings): invalid UTF-8, valid UTF-8, the replacement character. */
const BYTE_TOKENS = ["\xf6", "\xfc", "f\xf6\xf6", "\xc3\xbc", "\xe6\x97\xa5", "\xef\xbf\xbd", "\xff\xfe", "\x80", "\x7f", "\x01"]

const token = (g: Gen): string => (g.chance(0.25) ? g.pick(BYTE_TOKENS) : g.pick(LITERAL_TOKENS))

const literal = (g: Gen): string => Array.from({ length: 1 + g.int(3) }, () => token(g)).join(".")

const pattern = (g: Gen): string => {
  const n = 1 + g.int(3)
  const parts = Array.from({ length: n }, () => (g.chance(0.25) ? "*" : token(g)))
  if (g.chance(0.2)) parts.push(">")
  return parts.join(".")
}

const invalidSubject = (g: Gen): string => g.pick(["foo.", ".foo", "foo..bar", "foo.>.bar", ">.x", "a\fb", "*.>.*", "."])

const blank = (g: Gen): string => (g.chance(0.85) ? " " : g.pick(["\t", "  ", " \t "]))
const eol = (g: Gen): string => (g.chance(0.9) ? "\r\n" : "\n")
const opName = (g: Gen, name: string): string =>
  g.chance(0.85) ? name : Array.from(name, (c) => (g.chance(0.5) ? c.toLowerCase() : c)).join("")

const payload = (g: Gen): string => {
  const n = g.chance(0.03) ? 4000 + g.int(200) : g.int(24)
  let s = ""
  for (let i = 0; i < n; i++) s += g.chance(0.8) ? String.fromCharCode(97 + g.int(26)) : String.fromCharCode(g.int(256))
  return s
}

const header = (g: Gen): string => {
  if (g.chance(0.1)) return "NATS/1.0\r\n\r\n"
  return `NATS/1.0\r\n${g.pick(["K", "Nats-Msg-Id", "x"])}: ${g.pick(["v", "1", "a b"])}\r\n\r\n`
}

/** The size as written: usually right, sometimes off by one, huge, or not a number. */
const sizeField = (g: Gen, n: number): string => {
  if (g.chance(0.93)) return String(n)
  return g.pick([String(n + 1), String(Math.max(0, n - 1)), "999999999", "1000000000", "00000000001", "-1", "x", "4097", "1e3"])
}

const CONNECTS = [
  "CONNECT null",
  "CONNECT{}",
  "CONNECTX {}",
  "CONNECT {}",
  "CONNECT",
  "CONNECT {\"verbose\":\"yes\"}",
  "CONNECT {\"protocol\":2}",
  "CONNECT {\"protocol\":1.5}",
  "CONNECT {\"no_responders\":true}",
  "CONNECT {\"no_responders\":true,\"headers\":true,\"verbose\":false}",
  "CONNECT [1]",
  "CONNECT {\"verbose\":false",
  "CONNECT {\"echo\":false,\"verbose\":false}",
  "connect\t{\"verbose\":false,\"pedantic\":true}"
]

const connect = (g: Gen, notes: Array<string>): string => {
  const roll = g.r()
  if (roll < 0.08) {
    notes.push("no CONNECT")
    return ""
  }
  if (roll < 0.25) {
    const c = g.pick(CONNECTS)
    notes.push(`odd CONNECT: ${c}`)
    return c + eol(g)
  }
  const opts = {
    verbose: g.chance(0.3),
    pedantic: g.chance(0.4),
    headers: g.chance(0.6),
    echo: !g.chance(0.1),
    protocol: g.chance(0.7) ? 1 : 0
  }
  notes.push(`CONNECT ${JSON.stringify(opts)}`)
  return `${opName(g, "CONNECT")}${blank(g)}${JSON.stringify(opts)}${eol(g)}`
}

const op = (g: Gen, state: { sids: Array<string>; subjects: Array<string>; queues: Set<string> }): string => {
  const roll = g.r()
  if (roll < 0.22) {
    const subject = g.chance(0.08) ? invalidSubject(g) : g.chance(0.5) ? pattern(g) : literal(g)
    const sid = g.chance(0.15) ? g.pick(["\xfc", "\xf6", "s\x80", "1"]) : String(1 + g.int(6))
    let queue = ""
    if (g.chance(0.2)) {
      const q = g.chance(0.2) ? g.pick(["q\xf6", "\xfc"]) : `q${g.int(1000)}`
      if (!state.queues.has(q)) {
        state.queues.add(q)
        queue = q + blank(g)
      }
    }
    state.sids.push(sid)
    if (!subject.includes("*") && !subject.includes(">")) state.subjects.push(subject)
    return `${opName(g, "SUB")}${blank(g)}${subject}${blank(g)}${queue}${sid}${eol(g)}`
  }
  if (roll < 0.28) {
    const sid = state.sids.length > 0 && g.chance(0.8) ? g.pick(state.sids) : String(g.int(9))
    const max = g.chance(0.3) ? `${blank(g)}${g.pick(["0", "1", "2", "x"])}` : ""
    return `${opName(g, "UNSUB")}${blank(g)}${sid}${max}${eol(g)}`
  }
  if (roll < 0.62) {
    const subject = state.subjects.length > 0 && g.chance(0.7) ? g.pick(state.subjects) : g.chance(0.1) ? pattern(g) : literal(g)
    const reply = g.chance(0.25) ? `${literal(g)}${blank(g)}` : ""
    const body = payload(g)
    if (g.chance(0.25)) {
      const h = header(g)
      return `${opName(g, "HPUB")}${blank(g)}${subject}${blank(g)}${reply}${sizeField(g, h.length)} ${sizeField(g, h.length + body.length)}${eol(g)}${h}${body}\r\n`
    }
    return `${opName(g, "PUB")}${blank(g)}${subject}${blank(g)}${reply}${sizeField(g, body.length)}${eol(g)}${body}\r\n`
  }
  if (roll < 0.72) return `${opName(g, "PING")}${eol(g)}`
  if (roll < 0.76) return `${opName(g, "PONG")}${eol(g)}`
  if (roll < 0.77) return `+OK${eol(g)}`
  if (roll < 0.78) return `INFO ${g.pick(["{}", "{\"x\":1}", "nope"])}${eol(g)}`
  if (roll < 0.785) return `-ERR 'boom'${eol(g)}`
  if (roll < 0.8) return `${g.pick(["MSG foo 1 1", "RS+ $G foo", "RMSG $G foo 1", "HMSG foo 1 0 0", "LS+ foo", "A+ foo"])}${eol(g)}`
  if (roll < 0.86) {
    // Garbage: random bytes, or a long control line.
    if (g.chance(0.3)) return `SUB ${"a".repeat(500 + g.int(30))} 1${eol(g)}`
    return Array.from({ length: 1 + g.int(12) }, () => String.fromCharCode(g.int(256))).join("")
  }
  // Anything else: a plain pub/sub pair that should work.
  const subject = literal(g)
  const sid = String(10 + g.int(90))
  state.sids.push(sid)
  return `SUB ${subject} ${sid}\r\nPUB ${subject} 2\r\nok\r\n`
}

const mutate = (g: Gen, s: string, notes: Array<string>): string => {
  if (s.length === 0) return s
  const at = g.int(s.length)
  const roll = g.r()
  if (roll < 0.2) {
    notes.push(`flip byte ${at}`)
    return s.slice(0, at) + String.fromCharCode(g.int(256)) + s.slice(at + 1)
  }
  if (roll < 0.4) {
    const c = g.pick(["\r", "\n", "\r\n", " ", "\t"])
    notes.push(`insert ${JSON.stringify(c)} at ${at}`)
    return s.slice(0, at) + c + s.slice(at)
  }
  if (roll < 0.55) {
    const n = 1 + g.int(4)
    notes.push(`delete ${n} at ${at}`)
    return s.slice(0, at) + s.slice(at + n)
  }
  if (roll < 0.7) {
    const n = 1 + g.int(16)
    notes.push(`repeat ${n} at ${at}`)
    return s.slice(0, at) + s.slice(at, at + n) + s.slice(at)
  }
  if (roll < 0.85) {
    const m = /\d+/.exec(s.slice(at))
    if (m !== null) {
      const from = at + m.index
      const digits = g.pick(["9", "0", "12", "1000000000", "999999999"])
      notes.push(`size ${m[0]} → ${digits}`)
      return s.slice(0, from) + digits + s.slice(from + m[0].length)
    }
    return s
  }
  notes.push(`cut at ${at}`)
  return s.slice(0, at)
}

/** Split the stream into 1–6 chunks (sometimes one byte at a time when it is short). */
const chunk = (g: Gen, bytes: Buffer): Array<Uint8Array> => {
  if (bytes.length <= 48 && g.chance(0.05)) return Array.from(bytes, (b) => Uint8Array.of(b))
  const cuts = new Set<number>()
  const n = g.int(6)
  for (let i = 0; i < n; i++) cuts.add(g.int(bytes.length + 1))
  const points = [...cuts].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of points) {
    if (p > prev) out.push(bytes.subarray(prev, p))
    prev = p
  }
  if (prev < bytes.length) out.push(bytes.subarray(prev))
  return out
}

export const makeCase = (seed: number, index: number): Case => {
  const g = new Gen(prng(caseSeed(seed, index)))
  const notes: Array<string> = []
  let s = connect(g, notes)
  const state = { sids: [] as Array<string>, subjects: [] as Array<string>, queues: new Set<string>() }
  const n = 1 + g.int(10)
  for (let i = 0; i < n; i++) s += op(g, state)
  if (g.chance(0.3)) s = mutate(g, s, notes)
  if (g.chance(0.08)) s = mutate(g, s, notes)
  s += "PING\r\n"
  return { index, chunks: chunk(g, Buffer.from(s, "latin1")), notes }
}
