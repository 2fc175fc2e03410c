/**
 * CONNECT JSON as Go's encoding/json reads it into nats-server's clientOpts (found by the
 * differential fuzzer): `null` is a CONNECT with the defaults, keys match without regard to case.
 */
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { parseConnect } from "../../src/server/ConnectOptions.js"

const ok = (json: string) => {
  const r = parseConnect(json)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

describe("parseConnect", () => {
  it("takes `null` as the defaults (verbose, pedantic, echo on)", () => {
    expect(ok("null")).toMatchObject({ verbose: true, pedantic: true, echo: true, headers: false })
  })

  it("matches keys without regard to case, an exact key first", () => {
    expect(ok('{"vErbose":false,"HEADERS":true}')).toMatchObject({ verbose: false, headers: true })
    expect(ok('{"Verbose":true,"verbose":false}').verbose).toBe(false)
  })

  it("still refuses what is not an object", () => {
    for (const json of ["[1]", "1", "\"x\"", ""]) expect(Result.isFailure(parseConnect(json)), json).toBe(true)
  })
})
