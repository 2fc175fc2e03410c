/**
 * The one CONNECT schema: encode follows nats.go's client order or nats-server's route order,
 * decode ∘ encode is the identity (with nats-server's defaults for what was left out), and bad
 * CONNECTs fail with a tagged `InvalidConnect` carrying the text nats-server logs.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Connect from "../../src/protocol/ConnectInfo.js"
import * as Encoder from "../../src/protocol/Encoder.js"

// nats.go's `connectInfo` (nats.go), as it marshals it, then the fields only routes send.
const NATS_GO_ORDER = [
  "verbose", "pedantic", "jwt", "nkey", "sig", "user", "pass", "auth_token", "tls_required", "name", "lang", "version",
  "protocol", "echo", "headers", "no_responders"
]
// nats-server 2.9.10's route `connectInfo` (route.go; NATS-REFERENCE.md §2.2).
const ROUTE_GO_ORDER = ["echo", "verbose", "pedantic", "user", "pass", "tls_required", "headers", "name", "cluster", "cluster_dynamic", "lnoc", "gateway"]

const str = fc.string({ maxLength: 12 })
const clientArb = fc.record(
  {
    verbose: fc.boolean(), pedantic: fc.boolean(), jwt: str, nkey: str, sig: str, user: str, pass: str, auth_token: str,
    tls_required: fc.boolean(), name: str, lang: str, version: str, protocol: fc.integer({ min: 0, max: 1 }), echo: fc.boolean(),
    headers: fc.boolean(), no_responders: fc.boolean()
  },
  { requiredKeys: [] }
)
const routeArb = fc.record(
  {
    echo: fc.boolean(), verbose: fc.boolean(), pedantic: fc.boolean(), user: str, pass: str, tls_required: fc.boolean(),
    headers: fc.boolean(), name: str, cluster: str, cluster_dynamic: fc.boolean(), lnoc: fc.boolean(), gateway: str
  },
  { requiredKeys: [] }
)
const DEFAULTS = { verbose: true, pedantic: true, tls_required: false, echo: true, headers: false, no_responders: false, protocol: 0 }

describe("ConnectInfo", () => {
  it("the schema's order is nats.go's client CONNECT, then the route-only fields; ROUTE_ORDER is nats-server's", () => {
    expect(Connect.CLIENT_ORDER.slice(0, NATS_GO_ORDER.length)).toEqual(NATS_GO_ORDER)
    expect(Connect.CLIENT_ORDER.slice(NATS_GO_ORDER.length)).toEqual(["cluster", "cluster_dynamic", "lnoc", "gateway"])
    expect(Connect.ROUTE_ORDER).toEqual(ROUTE_GO_ORDER)
    for (const k of Connect.ROUTE_ORDER) expect(Object.keys(Connect.ConnectInfo.fields)).toContain(k)
  })

  it("a route CONNECT is written as nats-server writes it (captured handshake, without lnoc)", () => {
    const bytes = Encoder.connect(
      { name: "NA27", cluster: "TESTC", headers: true, tls_required: false, pedantic: false, verbose: false, echo: true },
      Connect.ROUTE_ORDER
    )
    expect(Buffer.from(bytes).toString()).toBe(
      `CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NA27","cluster":"TESTC"}\r\n`
    )
    const auth = Connect.encode({ cluster_dynamic: true, pass: "p", user: "u", echo: true, cluster: "c" }, Connect.ROUTE_ORDER)
    expect(JSON.stringify(auth)).toBe(`{"echo":true,"user":"u","pass":"p","cluster":"c","cluster_dynamic":true}`)
  })

  it("property: client CONNECTs encode in nats.go's order, as the schema's encoder does, and decode back", () => {
    fc.assert(
      fc.property(clientArb, (info) => {
        const fields = Connect.encode(info)
        expect(Object.keys(fields)).toEqual(NATS_GO_ORDER.filter((k) => k in info))
        expect(JSON.stringify(fields)).toBe(JSON.stringify(Schema.encodeSync(Connect.ConnectInfo)(info)))
        const back = Connect.decode(JSON.stringify(fields))
        expect(back).toEqual(Result.succeed({ ...DEFAULTS, ...info }))
      }),
      { numRuns: 200 }
    )
  })

  it("property: route CONNECTs encode in nats-server's order and decode back", () => {
    fc.assert(
      fc.property(routeArb, (info) => {
        const fields = Connect.encode(info, Connect.ROUTE_ORDER)
        expect(Object.keys(fields)).toEqual(ROUTE_GO_ORDER.filter((k) => k in info))
        expect(Connect.decode(JSON.stringify(fields))).toEqual(Result.succeed({ ...DEFAULTS, ...info }))
      }),
      { numRuns: 200 }
    )
  })

  it("decodes as Go does: null fields absent, keys without regard to case, nats-server's defaults", () => {
    expect(Connect.decode(`{"Lang":"go","verbose":null,"cluster":"c"}`)).toEqual(Result.succeed({ ...DEFAULTS, lang: "go", cluster: "c" }))
    expect(Connect.decode("null")).toEqual(Result.succeed(DEFAULTS))
  })

  it.each([
    ["", "unexpected end of JSON input"],
    ["[1]", "json: cannot unmarshal into Go value of type server.clientOpts"],
    ["1", "json: cannot unmarshal into Go value of type server.clientOpts"]
  ])("refuses %j with InvalidConnect: %s", (json, message) => {
    const r = Connect.decode(json)
    expect(Result.isFailure(r) && r.failure).toMatchObject({ _tag: "InvalidConnect", json, message })
  })

  it("a field of the wrong type is an InvalidConnect with the schema error as its cause", () => {
    const r = Connect.decode(`{"verbose":"yes"}`)
    if (Result.isSuccess(r)) throw new Error("expected a failure")
    expect(r.failure).toBeInstanceOf(Connect.InvalidConnect)
    expect(r.failure.cause).toBeInstanceOf(Schema.SchemaError)
    expect(r.failure.message).toBe((r.failure.cause as Schema.SchemaError).message)
    const bad = Connect.decode("{")
    expect(Result.isFailure(bad) && bad.failure.cause).toBeInstanceOf(SyntaxError)
  })
})
