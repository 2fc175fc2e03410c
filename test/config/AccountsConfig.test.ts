/**
 * The `accounts`, `system_account`, `operator`, `resolver` and `resolver_preload` keys: each config
 * is checked with our loader (what `-t` runs) and with `nats-server -t` side by side — both accept
 * it, or both refuse it with the same text — and a server with accounts starts (after nats-server's
 * own start-up refusals).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as jwt from "@nats-io/jwt"
import { createAccount, createOperator } from "@nats-io/nkeys"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { configFromString, printConfig } from "../../src/config/ConfigFile.js"
import { loadOptions } from "../../src/Main.js"
import * as NatsServer from "../../src/NatsServer.js"
import { natsServerPath } from "../support/servers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "accounts-conf-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = (text: string) => {
  const f = path.join(dir, `c${++n}.conf`)
  fs.writeFileSync(f, text)
  return f
}

/** undefined = valid, else the reason without the position. */
const ours = async (text: string): Promise<string | undefined> => {
  const r = await Effect.runPromise(Effect.result(loadOptions({ configFile: file(text), flags: {} })))
  return Result.isSuccess(r) ? undefined : r.failure.message.replace(/^[^:]*:\d+:\d+: /, "")
}
const theirs = (text: string): string | undefined => {
  const r = spawnSync(natsServerPath!, ["-t", "-c", file(text)], { encoding: "utf8", timeout: 15_000 })
  if (r.status === 0) return undefined
  return r.stderr.trim().replace(/^nats-server: /, "").replace(/^[^:]*:\d+:\d+: /, "")
}

let OJ = "", AJ = "", AK = "", OPFILE = ""
beforeAll(async () => {
  const o = createOperator()
  const a = createAccount()
  OJ = await jwt.encodeOperator("O", o, {})
  AJ = await jwt.encodeAccount("A", a, {}, { signer: o })
  AK = a.getPublicKey()
  OPFILE = path.join(dir, "op.jwt")
  fs.writeFileSync(OPFILE, OJ)
})

const agree: Array<[string, () => string, string | undefined]> = [
  ["exports, imports, no_auth_user and system_account", () => `
accounts {
  A: { users: [{user: a, password: a}], exports: [{stream: "pub.>"}, {service: "req.*", response_type: stream, response_threshold: "2s"}, {stream: "priv.>", accounts: [B]}] }
  B: { users: [{user: b, password: b}], imports: [{stream: {account: A, subject: "pub.>"}, prefix: "fromA"}, {service: {account: A, subject: "req.x"}, to: "areq"}, {stream: {account: A, subject: "priv.x"}, to: "px"}] }
}
no_auth_user: a
system_account: A
`, undefined],
  ["a list of account names", () => "accounts: [A, B]", undefined],
  ["a wildcard service import without to", () => `accounts {
  A: { exports: [{service: "req.>"}] }
  B: { imports: [{service: {account: A, subject: "req.*"}}] }
}`, undefined],
  ["a stream import cycle (accepted by nats-server)", () => `accounts {
  A: { exports: [{stream: "a.>"}], imports: [{stream: {account: B, subject: "b.>"}, to: "a.>"}] }
  B: { exports: [{stream: "b.>"}], imports: [{stream: {account: A, subject: "a.>"}, to: "b.>"}] }
}`, undefined],
  ["an unknown system account (refused at start-up only)", () => "accounts { A: {} }\nsystem_account: Z", undefined],
  ["import of a subject not exported", () => `accounts {
  A: { users: [{user: a, password: a}] }
  B: { imports: [{stream: {account: A, subject: "foo"}}] }
}`, `Error adding stream import "foo": stream import not authorized`],
  ["import from an unknown account", () => `accounts { B: { imports: [{stream: {account: Z, subject: "foo"}}] } }`, `"Z" account not defined for stream import`],
  ["a user in two accounts", () => `accounts {
  A: { users: [{user: a, password: a}] }
  B: { users: [{user: a, password: b}] }
}`, `Duplicate user "a" detected`],
  ["a user in authorization and in an account", () => `authorization { users: [{user: a, password: y}] }
accounts { A: { users: [{user: a, password: a}] } }`, `Duplicate user "a" detected`],
  ["a wildcard service import mapped to a literal", () => `accounts {
  A: { exports: [{service: "req.>"}] }
  B: { imports: [{service: {account: A, subject: "req.*"}, to: "x.y"}] }
}`, `Error adding service import "req.*": failed to create mapping transform for service import subject "x.y" to "req.*": invalid mapping destination: not using all of the token wildcard(s) in x.y`],
  ["a wildcard prefix", () => `accounts {
  A: { exports: [{stream: "s.>"}] }
  B: { imports: [{stream: {account: A, subject: "s.>"}, prefix: "p.*"}] }
}`, `Error adding stream import "s.>": stream import prefix can not contain wildcard tokens`],
  ["a private export", () => `accounts {
  A: { exports: [{stream: "s.>", accounts: [C]}] }
  B: { imports: [{stream: {account: A, subject: "s.x"}}] }
  C: {}
}`, `Error adding stream import "s.x": stream import not authorized`],
  ["a service import of a stream export", () => `accounts {
  A: { exports: [{stream: "req"}] }
  B: { imports: [{service: {account: A, subject: "req"}}] }
}`, `Error adding service import "req": service import not authorized`],
  ["a duplicate service import subject", () => `accounts {
  A: { exports: [{service: "req"}, {service: "req2"}] }
  B: { imports: [{service: {account: A, subject: "req"}, to: "x"}, {service: {account: A, subject: "req2"}, to: "x"}] }
}`, `Duplicate service import subject "x", previously used in import for account "A", subject "req"`],
  ["a duplicate stream import", () => `accounts {
  A: { exports: [{stream: "s"}] }
  B: { imports: [{stream: {account: A, subject: "s"}}, {stream: {account: A, subject: "s"}, prefix: x}] }
}`, `Error adding stream import "s": stream import already exists`],
  ["the reserved $G", () => "accounts { $G: {} }", `"$G" is a Reserved Account`],
  ["a duplicate account name", () => "accounts: [A, B, A]", "Duplicate Account Entry: A"],
  ["an unknown account field", () => "accounts { A: { foo: 1 } }", `unknown field "foo"`],
  ["an export to an unknown account", () => `accounts { A: { exports: [{stream: "s", accounts: [Q]}] } }`, `"Q" account not defined for stream export`],
  ["an account that is not a map", () => "accounts { A: 1 }", "Expected map entries for accounts"],
  ["an account nkey that is not one", () => `accounts { A: { nkey: "UABC" } }`, `Not a valid public nkey for an account: "UABC"`],
  ["an import without a subject", () => "accounts { A: { imports: [{stream: {account: A}}] } }", "Expect an account name and a subject"],
  ["an unknown response type", () => `accounts { A: { exports: [{service: "s", response_type: "foo"}] } }`, `Unknown response type: "foo"`],
  ["a response type on a stream", () => `accounts { A: { exports: [{stream: "s", response_type: "stream"}] } }`, "Detected response directive on non-service"],
  ["an inline operator with a MEMORY resolver and a preload", () => `operator: ${OJ}\nresolver: MEMORY\nresolver_preload: { ${AK}: ${AJ} }`, undefined],
  ["an operator file", () => `operator: ${OPFILE}\nresolver: MEM`, undefined],
  ["a missing operator file", () => `operator: ${dir}/nope.jwt`, `error parsing operator JWT: open ${dir}/nope.jwt: no such file or directory`],
  ["a preload that is not an account JWT", () => `operator: ${OJ}\nresolver: MEMORY\nresolver_preload: { ${AK}: ${OJ} }`, "invalid account JWT"],
  ["a preload that is not a JWT", () => `resolver_preload: { ${AK}: "eyJx.y.z" }`, "invalid account JWT"],
  ["a preload that is not a map", () => "resolver_preload: 1", "preload should be a map of account_public_key:account_jwt"],
  ["an unknown resolver", () => `operator: ${OJ}\nresolver: "foo"`, `error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])`]
]

describe("accounts config, ours vs nats-server -t", () => {
  it.each(agree)("%s", async (_, text, expected) => {
    expect(await ours(text())).toBe(expected)
    if (natsServerPath !== undefined) expect(theirs(text())).toBe(expected)
  }, 30_000)

  it("a single user and account users (nats-server's text depends on Go's map order of the top-level keys)", async () => {
    const conf = "authorization { user: x, password: y }\naccounts { A: { users: [{user: a, password: a}] } }"
    expect(await ours(conf)).toBe("Can not have a single user/pass and accounts")
    if (natsServerPath !== undefined) {
      expect(["Can not have a single user/pass and accounts", "Can not have a single user/pass and a users array"]).toContain(theirs(conf))
    }
  })

  it("a broken inline operator JWT: the same prefix (the JSON error is Go's there)", async () => {
    expect(await ours("operator: eyJhbGciOiJ.bad.x")).toMatch(/^error parsing operator JWT: /)
    if (natsServerPath !== undefined) expect(theirs("operator: eyJhbGciOiJ.bad.x")).toMatch(/^error parsing operator JWT: /)
  })

  it("refuses a stream import with a prefix and a to whatever the key order (nats-server: depends on Go's map order)", async () => {
    const conf = `accounts {
  A: { exports: [{stream: "s"}] }
  B: { imports: [{stream: {account: A, subject: "s"}, prefix: "p", to: "t"}] }
}`
    expect(await ours(conf)).toBe("Stream import can not have a 'prefix' and a 'to' property")
  })
})

describe("typed options", () => {
  it("decodes accounts, exports and imports", () => {
    const r = configFromString(`accounts {
  A: { users: [{user: a, password: a}, {nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"}], default_permissions: { publish: "x" },
       exports: [{stream: "pub.>"}, {service: "req.*", response_type: chunked, response_threshold: "5s", accounts: [B]}, {stream: "open", accounts: []}] }
  B: { imports: [{stream: {account: A, subject: "pub.>"}, prefix: "fromA"}, {service: {account: A, subject: "req.x"}, to: "areq"}] }
}
no_auth_user: a
system_account: A`)
    expect(Result.isSuccess(r)).toBe(true)
    if (!Result.isSuccess(r)) return
    const o = r.success.options
    expect(o.systemAccount).toBe("A")
    expect(o.authorization?.noAuthUser).toBe("a")
    expect(o.accounts).toEqual([
      {
        name: "A",
        users: [{ user: "a", password: "a" }],
        nkeys: [{ nkey: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4" }],
        defaultPermissions: { publish: { allow: ["x"] } },
        exports: [
          { kind: "stream", subject: "pub.>" },
          { kind: "service", subject: "req.*", accounts: ["B"], responseType: "chunked", responseThreshold: 5000 },
          // An empty list is public, as nats-server's nil.
          { kind: "stream", subject: "open" }
        ]
      },
      { name: "B", imports: [{ kind: "stream", account: "A", subject: "pub.>", prefix: "fromA" }, { kind: "service", account: "A", subject: "req.x", to: "areq" }] }
    ])
  })
})

describe("printConfig", () => {
  it("writes accounts and operator mode back to the same options", () => {
    for (const [, text, expected] of agree) {
      if (expected !== undefined) continue
      const o = Result.getOrThrow(configFromString(text(), { file: "a.conf" })).options
      const again = Result.getOrThrow(configFromString(printConfig(o), { file: "p.conf" })).options
      expect(again).toEqual(o)
    }
  })
})

describe("running with accounts", () => {
  const start = (conf: string) =>
    Effect.runPromise(Effect.gen(function*() {
      const r = configFromString(conf)
      if (Result.isFailure(r)) return r.failure.message
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(NatsServer.layer({ ...r.success.options, host: "127.0.0.1", port: -1 }))))
      return Exit.isFailure(exit) ? String((exit.cause as unknown as { reasons?: Array<{ error?: { message?: string } }> }).reasons?.[0]?.error?.message ?? exit.cause) : "started"
    }))

  it("starts with accounts and a system account", async () => {
    expect(await start("accounts { A: { users: [{user: a, password: a}] } }")).toBe("started")
    expect(await start(`system_account: "$SYS"`)).toBe("started")
    expect(await start("accounts { A: {}, SYS: {} }\nsystem_account: SYS")).toBe("started")
  })

  it("with nats-server's own start-up refusals first", async () => {
    expect(await start("accounts { A: {} }\nsystem_account: Z")).toBe("error resolving system account: account missing")
    expect(await start(`operator: ${OJ}\nresolver: MEMORY\naccounts { A: {} }`)).toBe("operators do not allow Accounts to be configured directly")
    expect(await start(`operator: ${OJ}`)).toBe("operators require an account resolver to be configured")
  })

  it("a config without accounts still starts", async () => {
    expect(await start("port: -1")).toBe("started")
  })
})
