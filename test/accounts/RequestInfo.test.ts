/**
 * The `Nats-Request-Info` header on requests through a service import: the exact bytes a
 * responder receives from ours and from real nats-server 2.9 (the same config on both, raw
 * clients; the RTT and the `_R_` reply normalised), and the pure header edits against
 * nats-server's `setHeader` / `removeHeaderIfPresent` rules.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { headerValue, setHeader, stampRequestInfo } from "../../src/accounts/RequestInfo.js"
import { type ConfServer, confTargets } from "../support/confServers.js"
import { RawClient } from "../support/raw.js"

const CONF = `
accounts {
  E: { users: [{ user: e, password: pw }], exports: [{ service: "svc.>" }] }
  I: { users: [{ user: i, password: pw }], imports: [{ service: { account: E, subject: "svc.>" } }] }
}
`

const text = (m: { headerSize: number; payload: Uint8Array }) => `${m.headerSize} ${Buffer.from(m.payload).toString("latin1")}`
/** The expected `text` of a message: its header's size, then header and body. */
const exp = (header: string, body: string) => `${header.length} ${header}${body}`
const msg = (header: string | undefined, body: string) =>
  ({ headerSize: header === undefined ? -1 : header.length, payload: Buffer.from((header ?? "") + body, "latin1") })

describe("Nats-Request-Info: the header edits", () => {
  it("adds a header block, keeps other headers, replaces an existing value", () => {
    expect(text(setHeader(msg(undefined, "hi"), "K", "v"))).toBe(exp("NATS/1.0\r\nK: v\r\n\r\n", "hi"))
    expect(text(setHeader(msg("NATS/1.0\r\nA: 1\r\n\r\n", "hi"), "K", "v"))).toBe(exp("NATS/1.0\r\nA: 1\r\nK: v\r\n\r\n", "hi"))
    expect(text(setHeader(msg("NATS/1.0\r\nK: old\r\nA: 1\r\n\r\n", ""), "K", "v"))).toBe(exp("NATS/1.0\r\nA: 1\r\nK: v\r\n\r\n", ""))
    // Only the key's own line: the block is rebuilt from the status line.
    expect(text(setHeader(msg("NATS/1.0\r\nK: old\r\n\r\n", "x"), "K", "v"))).toBe(exp("NATS/1.0\r\nK: v\r\n\r\n", "x"))
    expect(headerValue("NATS/1.0\r\nK:  v w\r\n\r\n", "K")).toBe("v w")
    expect(headerValue("NATS/1.0\r\nXK: v\r\n\r\n", "K")).toBeUndefined()
  })

  it("stamps the requester's account and RTT in ns; a chained hop adds svc to the first hop's info", () => {
    const first = stampRequestInfo(msg(undefined, "q"), "I", 0.5, false)
    expect(text(first)).toBe(exp('NATS/1.0\r\nNats-Request-Info: {"acc":"I","rtt":500000}\r\n\r\n', 'q'))
    expect(text(stampRequestInfo(msg(undefined, ""), "I", undefined, false))).toBe(exp('NATS/1.0\r\nNats-Request-Info: {"acc":"I"}\r\n\r\n', ''))
    const second = stampRequestInfo(first, "E", 9, true)
    expect(text(second)).toBe(exp('NATS/1.0\r\nNats-Request-Info: {"acc":"I","svc":"E","rtt":500000}\r\n\r\n', 'q'))
    // A client cannot bring its own: the first hop replaces it.
    const forged = msg('NATS/1.0\r\nNats-Request-Info: {"acc":"SYS"}\r\n\r\n', "")
    expect(text(stampRequestInfo(forged, "I", undefined, false))).toBe(exp('NATS/1.0\r\nNats-Request-Info: {"acc":"I"}\r\n\r\n', ''))
  })
})

describe.each(confTargets.filter((t) => t.available))("Nats-Request-Info on the wire: $name", (target) => {
  let server: ConfServer
  beforeAll(async () => {
    server = await target.start(CONF)
  })
  afterAll(async () => {
    await server.stop()
  })

  /** What the responder receives for `request`, with the RTT, the `_R_` reply and the sizes normalised. */
  const served = async (request: string) => {
    const responder = await RawClient.connect(server.port)
    const requester = await RawClient.connect(server.port)
    try {
      responder.send('CONNECT {"verbose":false,"user":"e","pass":"pw","headers":true}\r\nSUB svc.> 1\r\n')
      await responder.expectOpen()
      requester.send(`CONNECT {"verbose":false,"user":"i","pass":"pw","headers":true}\r\n${request}`)
      await requester.expectOpen()
      const head = await responder.nextNonPing()
      const total = Number(/ (\d+)\r\n$/.exec(head)![1])
      // The message body (total bytes + CRLF), from the raw buffer.
      const deadline = Date.now() + 5000
      while (responder.pending().length < total + 2) {
        if (Date.now() > deadline) throw new Error(`short message: ${JSON.stringify(responder.pending())}`)
        await new Promise((r) => setImmediate(r))
      }
      const payload = responder.pending().slice(0, total)
      return (head + payload)
        .replace(/_R_\.[A-Za-z0-9]{6}\.[A-Za-z0-9]{6}/, "_R_")
        .replace(/"rtt":\d+/, '"rtt":N')
        .replace(/^(HMSG \S+ \S+ \S+) \d+ \d+/, "$1 H T")
    } finally {
      responder.close()
      requester.close()
    }
  }

  it("a plain request gains the header: the requester's account and RTT", async () => {
    expect(await served("PUB svc.a _INBOX.r 2\r\nhi\r\n")).toBe('HMSG svc.a 1 _R_ H T\r\nNATS/1.0\r\nNats-Request-Info: {"acc":"I","rtt":N}\r\n\r\nhi')
  })

  it("a request with headers keeps them; a forged Nats-Request-Info is replaced", async () => {
    const hdr = 'NATS/1.0\r\nNats-Request-Info: {"acc":"E"}\r\nX-Req: 1\r\n\r\n'
    expect(await served(`HPUB svc.b _INBOX.r ${hdr.length} ${hdr.length + 2}\r\n${hdr}hi\r\n`)).toBe(
      'HMSG svc.b 1 _R_ H T\r\nNATS/1.0\r\nX-Req: 1\r\nNats-Request-Info: {"acc":"I","rtt":N}\r\n\r\nhi'
    )
  })
})
