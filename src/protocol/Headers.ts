/**
 * NATS message headers: the immutable, multi-valued `Headers` type and the `NATS/1.0[ status[
 * description]]` header block it encodes to and decodes from (HPUB/HMSG).
 *
 * @since 0.1.0
 */

type Entry = readonly [key: string, value: string]

/** What `Headers.make` accepts. */
export type HeadersInput =
  | Headers
  | Iterable<Entry>
  | Readonly<Record<string, string | ReadonlyArray<string>>>

const lower = (s: string) => s.toLowerCase()

/**
 * Message headers: an immutable, ordered list of `key: value` entries. A key may repeat
 * (multi-valued). Keys keep the case they were written with (on the wire too); lookups (`get`,
 * `getAll`, `has`, `delete`, `set`) ignore ASCII case, as header names do in MIME and HTTP.
 *
 * @since 0.1.0
 */
export class Headers implements Iterable<Entry> {
  private constructor(private readonly list: ReadonlyArray<Entry>) {}

  static readonly empty: Headers = new Headers([])

  static make(input: HeadersInput = []): Headers {
    if (input instanceof Headers) return input
    const list: Array<Entry> = []
    if (Symbol.iterator in input) {
      for (const [k, v] of input as Iterable<Entry>) list.push([k, v])
    } else {
      for (const [k, v] of Object.entries(input as Readonly<Record<string, string | ReadonlyArray<string>>>)) {
        if (typeof v === "string") list.push([k, v])
        else for (const one of v) list.push([k, one])
      }
    }
    return new Headers(list)
  }

  /** Number of entries (a key with two values counts twice). */
  get size(): number {
    return this.list.length
  }

  /** The first value of `key`. */
  get(key: string): string | undefined {
    const k = lower(key)
    return this.list.find(([name]) => lower(name) === k)?.[1]
  }

  getAll(key: string): ReadonlyArray<string> {
    const k = lower(key)
    return this.list.filter(([name]) => lower(name) === k).map(([, v]) => v)
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  /** Replace every value of `key` (keeping the position of its first entry). */
  set(key: string, value: string | ReadonlyArray<string>): Headers {
    const k = lower(key)
    const values = typeof value === "string" ? [value] : value
    const at = this.list.findIndex(([name]) => lower(name) === k)
    const rest = this.list.filter(([name]) => lower(name) !== k)
    const added = values.map((v): Entry => [key, v])
    if (at < 0) return new Headers([...rest, ...added])
    return new Headers([...rest.slice(0, at), ...added, ...rest.slice(at)])
  }

  /** Add one more value for `key`. */
  append(key: string, value: string): Headers {
    return new Headers([...this.list, [key, value]])
  }

  delete(key: string): Headers {
    const k = lower(key)
    return new Headers(this.list.filter(([name]) => lower(name) !== k))
  }

  /** Distinct keys, in first-seen order and case. */
  keys(): ReadonlyArray<string> {
    const seen = new Set<string>()
    const out: Array<string> = []
    for (const [name] of this.list) {
      if (!seen.has(lower(name))) {
        seen.add(lower(name))
        out.push(name)
      }
    }
    return out
  }

  entries(): ReadonlyArray<Entry> {
    return this.list
  }

  [Symbol.iterator](): Iterator<Entry> {
    return this.list[Symbol.iterator]()
  }

  /** `{ key: [values…] }` with keys in first-seen case. */
  toRecord(): Record<string, ReadonlyArray<string>> {
    const out: Record<string, Array<string>> = {}
    for (const key of this.keys()) out[key] = [...this.getAll(key)]
    return out
  }

  toJSON(): Record<string, ReadonlyArray<string>> {
    return this.toRecord()
  }

  toString(): string {
    return this.list.map(([k, v]) => `${k}: ${v}`).join("\n")
  }
}

/** Why `headers` cannot be sent, or undefined when they can. */
export const validateHeaders = (headers: Headers): string | undefined => {
  for (const [key, value] of headers) {
    // A header name is printable ASCII without ':' and without whitespace.
    if (key.length === 0 || !/^[\x21-\x39\x3b-\x7e]+$/.test(key)) return `invalid header name ${JSON.stringify(key)}`
    if (/[\r\n]/.test(value)) return `invalid value for header ${JSON.stringify(key)}: contains CR or LF`
  }
  return undefined
}

const HEADER_VERSION = "NATS/1.0"

/**
 * The header block of `HPUB`/`HMSG`: `NATS/1.0[ <status>[ <description>]]\r\n`, one `Key: Value\r\n`
 * per entry, then `\r\n`. Does not validate (see `validateHeaders`).
 */
export const encodeHeaders = (headers: Headers, status?: { readonly code: number; readonly description?: string }): Uint8Array => {
  let text = HEADER_VERSION
  if (status !== undefined) {
    text += ` ${status.code}`
    if (status.description !== undefined && status.description !== "") text += ` ${status.description}`
  }
  text += "\r\n"
  for (const [k, v] of headers) text += `${k}: ${v}\r\n`
  text += "\r\n"
  return Buffer.from(text, "utf8")
}

/** What a header block carries. */
export interface DecodedHeaders {
  readonly headers: Headers
  readonly status: number | undefined
  readonly description: string | undefined
}

/**
 * Decode a header block. It is lenient, because the block comes from whoever published the message:
 * an unknown first line gives no status, lines without `:` are skipped, values are trimmed.
 */
export const decodeHeaders = (bytes: Uint8Array): DecodedHeaders => {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")
  const lines = text.split("\r\n")
  const first = lines[0] ?? ""
  let status: number | undefined
  let description: string | undefined
  if (first.startsWith(HEADER_VERSION)) {
    const rest = first.slice(HEADER_VERSION.length).trim()
    const m = /^(\d{3})(?:\s+(.*))?$/.exec(rest)
    if (m !== null) {
      status = Number(m[1])
      const d = m[2]?.trim()
      if (d !== undefined && d !== "") description = d
    }
  }
  const entries: Array<Entry> = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    if (line === "") continue
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    entries.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()])
  }
  return { headers: entries.length === 0 ? Headers.empty : Headers.make(entries), status, description }
}
