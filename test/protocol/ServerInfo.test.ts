import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as Info from "../../src/protocol/ServerInfo.js"

// nats-server 2.9.10's Go `Info` field order (NATS-REFERENCE.md §1), then ours.
const GO_ORDER = [
  "server_id", "server_name", "version", "proto", "git_commit", "go", "host", "port", "headers", "auth_required",
  "tls_required", "tls_verify", "tls_available", "max_payload", "jetstream", "ip", "client_id", "client_ip", "nonce",
  "cluster", "cluster_dynamic", "domain", "connect_urls", "ws_connect_urls", "ldm", "lnoc", "monitor_url"
]

describe("ServerInfo", () => {
  it("encodes in nats-server's field order whatever order the value was built in", () => {
    const fields = Info.encode({ max_payload: 1024, ldm: true, client_id: 3, headers: true, server_id: "N1", proto: 1, version: "2.9.10", cluster: "c" })
    expect(Object.keys(fields)).toEqual(["server_id", "version", "proto", "headers", "max_payload", "client_id", "cluster", "ldm"])
    expect(JSON.stringify(fields)).toBe(`{"server_id":"N1","version":"2.9.10","proto":1,"headers":true,"max_payload":1024,"client_id":3,"cluster":"c","ldm":true}`)
  })

  it("the schema's fields are Go's order", () => {
    expect(Object.keys(Info.ServerInfo.fields)).toEqual(GO_ORDER)
  })

  it("decodes leniently: unknown fields kept in raw, nulls absent, wrong types refused", () => {
    const ok = Info.decode(`{"server_id":"N2","go":"go1.19","xkey":"X","connect_urls":null,"import":{"allow":["a"]}}`)
    expect(Result.isSuccess(ok)).toBe(true)
    if (Result.isSuccess(ok)) {
      expect(ok.success.info).toEqual({ server_id: "N2", go: "go1.19" })
      expect(ok.success.raw).toEqual({ server_id: "N2", go: "go1.19", xkey: "X", import: { allow: ["a"] } })
    }
    expect(Result.isFailure(Info.decode(`{"server_id":"N2","port":"4222"}`))).toBe(true)
    expect(Result.isFailure(Info.decode(`{"port":4222}`))).toBe(true)
    expect(Result.isFailure(Info.decode(`[1]`))).toBe(true)
    expect(Result.isFailure(Info.decode(`{`))).toBe(true)
  })

  it("re-encoding a received INFO puts unknown fields after the known ones, known ones only from the value", () => {
    const got = Info.decode(`{"xkey":"X","nonce":"abc","server_id":"N3","port":1,"import":{"allow":["a"]}}`)
    if (Result.isFailure(got)) throw got.failure
    const { nonce: _nonce, ...info } = got.success.info
    const out = Info.encode({ ...info, ip: "nats-route://127.0.0.1:1/" }, got.success.raw)
    expect(JSON.stringify(out)).toBe(`{"server_id":"N3","port":1,"ip":"nats-route://127.0.0.1:1/","xkey":"X","import":{"allow":["a"]}}`)
  })

  it("property: decode ∘ encode is the identity on the known fields, and encode follows Go's order", () => {
    const arb = fc.record(
      {
        server_id: fc.string(),
        server_name: fc.string(),
        version: fc.string(),
        proto: fc.integer(),
        host: fc.string(),
        port: fc.nat(65535),
        headers: fc.boolean(),
        auth_required: fc.boolean(),
        max_payload: fc.nat(),
        client_id: fc.nat(),
        nonce: fc.string(),
        cluster: fc.string(),
        connect_urls: fc.array(fc.string(), { maxLength: 3 }),
        ldm: fc.boolean(),
        monitor_url: fc.string()
      },
      { requiredKeys: ["server_id"] }
    )
    fc.assert(
      fc.property(arb, (info) => {
        const fields = Info.encode(info)
        // The same object, in the same order, as the schema's own encoder gives.
        expect(JSON.stringify(fields)).toBe(JSON.stringify(Schema.encodeSync(Info.ServerInfo)(info)))
        const keys = Object.keys(fields)
        expect(keys).toEqual(GO_ORDER.filter((k) => k in info))
        const back = Info.decode(JSON.stringify(fields))
        expect(Result.isSuccess(back) && back.success.info).toEqual(info)
      }),
      { numRuns: 200 }
    )
  })
})
