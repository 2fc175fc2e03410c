/**
 * The `Nats-Request-Info` header nats-server 2.9 stamps on a request that goes through a service
 * import (`processServiceImport` → `setHeader(ClientInfoHdr, …)`): the requester's account and
 * RTT, `{"acc":"I","rtt":<ns>}` (`rtt` left out while unknown). On a chain of imports the header
 * of the first hop is kept and gains `"svc"`, the account the request is in when it enters the
 * next one. It is stamped where the import is applied, so it crosses routes (the request goes as
 * HMSG) and a responder on any server sees it; clients without headers get it stripped, like
 * every header.
 *
 * Pure byte work on the message (header + payload, the header size in front or -1 for none);
 * called once per request through an import, never for a plain publish.
 *
 * @since 0.1.0
 */

export const REQUEST_INFO_HEADER = "Nats-Request-Info"

const HDR_LINE = "NATS/1.0\r\n"

/** nats-server's `ClientInfo` fields in its JSON order; all but `acc` are left out when empty. */
const FIELD_ORDER = [
  "start", "host", "id", "acc", "svc", "user", "name", "lang", "ver", "rtt", "server", "cluster", "alts", "stop", "jwt",
  "issuer_key", "name_tag", "tags", "kind", "client_type", "client_id"
]

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || v === "" || v === 0 || v === false || (Array.isArray(v) && v.length === 0)

/** A message with its header size (-1: no header), as the router hands it on. */
export interface Stamped {
  readonly headerSize: number
  readonly payload: Uint8Array
}

/** Go's `json.Marshal` of a string: also escapes `<`, `>`, `&`, U+2028 and U+2029. */
const goJsonString = (s: string): string =>
  JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A `ClientInfo` as Go marshals it: its fields only (a decoded header loses the others), in order. */
const goJson = (info: Record<string, unknown>): string => {
  const keys = FIELD_ORDER.filter((k) => k === "acc" || !isEmpty(info[k]))
  return "{" + keys.map((k) => `"${k}":${typeof info[k] === "string" ? goJsonString(info[k] as string) : JSON.stringify(info[k] ?? "")}`).join(",") + "}"
}

/** The value of `key` in a header block (nats-server's `getHeader`: the key must start a line). */
export const headerValue = (header: string, key: string): string | undefined => {
  const at = header.indexOf(key)
  if (at < 2 || header.charCodeAt(at - 1) !== 10 || header.charCodeAt(at - 2) !== 13) return undefined
  let i = at + key.length
  if (header.charCodeAt(i) !== 58 /* : */) return undefined
  i++
  while (header.charCodeAt(i) === 32) i++
  const end = header.indexOf("\r\n", i)
  return header.slice(i, end < 0 ? header.length : end)
}

/** nats-server's `removeHeaderIfPresent` on the header without its final CRLF. */
const removeHeader = (header: string, key: string): string => {
  const at = header.indexOf(key)
  if (at < 1 || header.charCodeAt(at - 1) !== 10) return header
  if (header.charCodeAt(at + key.length) !== 58) return header
  const end = header.indexOf("\r\n", at)
  if (end < 0) return header
  const out = header.slice(0, at) + header.slice(end + 2)
  return out.length <= HDR_LINE.length ? "" : out
}

/** nats-server's `setHeader`: replace (or add) `key` in the message's header block. */
export const setHeader = (msg: Stamped, key: string, value: string): Stamped => {
  const bytes = Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength)
  let head = HDR_LINE
  let bodyAt = 0
  if (msg.headerSize > 2) {
    bodyAt = msg.headerSize
    const kept = removeHeader(bytes.toString("latin1", 0, msg.headerSize - 2), key)
    if (kept.length > 0) head = kept
  }
  const header = `${head}${key}: ${value}\r\n\r\n`
  const out = Buffer.allocUnsafe(header.length + bytes.length - bodyAt)
  out.write(header, 0, "latin1")
  bytes.copy(out, header.length, bodyAt)
  return { headerSize: header.length, payload: out }
}

/**
 * Stamp a request entering a service import. `account`: the requester's account on the first
 * hop, the account the request is in on a later one (`chained`); `rttMs`: the requester's RTT.
 */
export const stampRequestInfo = (msg: Stamped, account: string, rttMs: number | undefined, chained: boolean): Stamped => {
  if (chained && msg.headerSize >= 0) {
    const bytes = Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength)
    const prev = headerValue(bytes.toString("latin1", 0, msg.headerSize), REQUEST_INFO_HEADER)
    if (prev === undefined) return msg
    let info: unknown
    try {
      info = JSON.parse(prev)
    } catch {
      return msg
    }
    if (typeof info !== "object" || info === null || Array.isArray(info)) return msg
    return setHeader(msg, REQUEST_INFO_HEADER, goJson({ ...(info as Record<string, unknown>), svc: account }))
  }
  const rtt = rttMs === undefined ? 0 : Math.round(rttMs * 1e6)
  return setHeader(msg, REQUEST_INFO_HEADER, goJson(rtt > 0 ? { acc: account, rtt } : { acc: account }))
}
