/**
 * Byte strings: the representation of subjects, reply subjects, sids, queue names and accounts
 * inside the broker. A byte string has one char per byte (char codes 0–255, what `latin1` decoding
 * gives), so it keeps any bytes exactly — invalid UTF-8 included — while staying a JS string that
 * `Map`s hash and compare cheaply (V8 stores it as a one-byte string). The parser produces byte
 * strings and `OutBuffer` writes them back as the same bytes.
 *
 * Text — what applications, config files, URLs and JSON carry — is converted only at the edges:
 * `fromText` when a JS string enters (the in-process API, `/subsz?test=`), `toText` when a byte
 * string leaves as text (messages handed to applications, monitor JSON, logs). Invalid UTF-8
 * becomes U+FFFD in text, as Go's JSON encoder does.
 *
 * @since 0.1.0
 */

interface Latin1Slice {
  latin1Slice(start: number, end: number): string
}

/** Whether every char is ASCII: then text and byte string are the same string. */
const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}

/** The byte string of a text's UTF-8 encoding. */
export const fromText = (text: string): string =>
  isAscii(text) ? text : (Buffer.from(text, "utf8") as unknown as Latin1Slice).latin1Slice(0, Buffer.byteLength(text, "utf8"))

/** A byte string read as UTF-8 text (invalid sequences become U+FFFD). */
export const toText = (bytes: string): string => isAscii(bytes) ? bytes : Buffer.from(bytes, "latin1").toString("utf8")

/** The bytes of a byte string. */
export const toBytes = (bytes: string): Buffer => Buffer.from(bytes, "latin1")

/** The byte string of `bytes[start, end)`. */
export const fromBytes = (bytes: Uint8Array, start = 0, end = bytes.length): string => {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return (buf as unknown as Latin1Slice).latin1Slice(start, end)
}
