/**
 * The monitor's query decoders fail with a tagged `InvalidQuery` naming the parameter and its
 * text; its `message` is the 400 body (Monitor.test.ts compares those bodies with nats-server's).
 */
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { decodeConnzOptions } from "../../src/monitor/Connz.js"
import { badRequest, InvalidQuery } from "../../src/monitor/params.js"
import { decodeRoutezOptions } from "../../src/monitor/Routez.js"
import { decodeSubszOptions } from "../../src/monitor/Subsz.js"

const failure = <A>(r: Result.Result<A, InvalidQuery>): InvalidQuery => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}
const q = (text: string) => new URLSearchParams(text)

describe("InvalidQuery", () => {
  it.each([
    ["limit=x", "limit", "x", `Error decoding int for 'limit': strconv.Atoi: parsing "x": invalid syntax`],
    ["offset=99999999999999999999", "offset", "99999999999999999999", `Error decoding int for 'offset': strconv.Atoi: parsing "99999999999999999999": value out of range`],
    ["cid=-1", "cid", "-1", `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "-1": invalid syntax`],
    ["auth=yes", "auth", "yes", `Error decoding boolean for 'auth': strconv.ParseBool: parsing "yes": invalid syntax`],
    ["subs=2", "subs", "2", `Error decoding boolean for 'subs': strconv.ParseBool: parsing "2": invalid syntax`],
    ["state=gone", "state", "gone", "Error decoding state for gone"],
    ["sort=nope", "sort", "nope", "invalid sorting option: nope"],
    ["sort=stop", "sort", "stop", "sort by stop only valid on closed connections"],
    ["sort=reason&state=open", "sort", "reason", "sort by reason only valid on closed connections"]
  ])("/connz?%s → %s", (query, parameter, value, message) => {
    const e = failure(decodeConnzOptions(q(query)))
    expect(e).toBeInstanceOf(InvalidQuery)
    expect(e).toMatchObject({ _tag: "InvalidQuery", parameter, value, message })
    expect(badRequest(e)).toEqual({ status: 400, contentType: "text/plain; charset=utf-8", body: message })
  })

  it("/subsz and /routez", () => {
    expect(failure(decodeSubszOptions(q("test=a.*")))).toMatchObject({ parameter: "test", value: "a.*", message: "invalid test subject, must be valid publish subject: a.*" })
    expect(failure(decodeSubszOptions(q("limit=1.5")))).toMatchObject({ parameter: "limit", value: "1.5" })
    expect(failure(decodeRoutezOptions(q("subs=maybe")))).toMatchObject({ parameter: "subs", value: "maybe" })
    expect(Result.isSuccess(decodeRoutezOptions(q("subs=detail")))).toBe(true)
    expect(Result.isSuccess(decodeConnzOptions(q("sort=stop&state=closed")))).toBe(true)
  })
})
