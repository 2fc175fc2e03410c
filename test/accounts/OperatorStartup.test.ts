/**
 * Starting in operator mode: a config with `operator`, `resolver: MEMORY` and `resolver_preload`
 * starts; the system account must resolve, with nats-server's start-up texts (real nats-server is
 * started with the same file and must fail, or run, alike). And `jwtAccountSpecs`: the preloaded
 * accounts as specs for `compileAccounts`, with their limits.
 */
import { spawnSync } from "node:child_process"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as jwt from "@nats-io/jwt"
import { createAccount, createOperator, type KeyPair } from "@nats-io/nkeys"
import { beforeAll, describe, expect, it } from "vitest"
import { compileAccounts } from "../../src/accounts/Accounts.js"
import { jwtAccountSpecs, operatorMode } from "../../src/accounts/Resolver.js"
import { configFromString } from "../../src/config/ConfigFile.js"
import * as NatsServer from "../../src/NatsServer.js"
import { natsServerPath } from "../support/servers.js"
import { writeConf } from "../support/confServers.js"

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 }

let operator: KeyPair
let operatorJwt = ""
let a: KeyPair, b: KeyPair, sys: KeyPair, untrusted: KeyPair
let aJwt = "", bJwt = "", sysJwt = "", untrustedJwt = ""

beforeAll(async () => {
  operator = createOperator()
  operatorJwt = await jwt.encodeOperator("O", operator, {})
  a = createAccount()
  b = createAccount()
  sys = createAccount()
  untrusted = createAccount()
  aJwt = await jwt.encodeAccount("A", a, { limits: { ...UNLIMITED, conn: 3 } as never, exports: [{ name: "s", subject: "pub.>", type: "stream" } as never] }, { signer: operator })
  bJwt = await jwt.encodeAccount("B", b, { limits: UNLIMITED as never, imports: [{ name: "i", subject: "pub.>", account: a.getPublicKey(), type: "stream" } as never] }, { signer: operator })
  sysJwt = await jwt.encodeAccount("SYS", sys, { limits: UNLIMITED as never }, { signer: operator })
  untrustedJwt = await jwt.encodeAccount("X", untrusted, { limits: UNLIMITED as never }, { signer: createOperator() })
})

const conf = (extra: string, op = operatorJwt) =>
  [
    `operator: ${op}`,
    "resolver: MEMORY",
    extra,
    "resolver_preload: {",
    `  ${a.getPublicKey()}: ${aJwt}`,
    `  ${b.getPublicKey()}: ${bJwt}`,
    `  ${sys.getPublicKey()}: ${sysJwt}`,
    `  ${untrusted.getPublicKey()}: ${untrustedJwt}`,
    "}"
  ].join("\n")

/** Our server with this config: "started", or the start-up error's message. */
const ours = (text: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const r = configFromString(text)
    if (Result.isFailure(r)) return r.failure.message
    const exit = yield* Effect.exit(Effect.scoped(Layer.build(NatsServer.layer({ ...r.success.options, host: "127.0.0.1", port: -1 }))))
    return Exit.isFailure(exit) ? String((exit.cause as unknown as { reasons?: Array<{ error?: { message?: string } }> }).reasons?.[0]?.error?.message ?? exit.cause) : "started"
  }))

/** nats-server with this config: its start-up error (it exits), or "started" (still running after 2 s). */
const theirs = (text: string): string => {
  const r = spawnSync(natsServerPath!, ["-c", writeConf(text), "-a", "127.0.0.1", "-p", "-1"], { encoding: "utf8", timeout: 2000 })
  if (r.status === null) return "started"
  return r.stderr.trim().replace(/^nats-server: /, "")
}

describe("starting in operator mode", () => {
  const cases: Array<[string, () => string, string]> = [
    ["no system account", () => conf(""), "started"],
    ["a preloaded system account", () => conf(`system_account: ${sys.getPublicKey()}`), "started"],
    ["a system account that is not preloaded", () => conf(`system_account: ${createAccount().getPublicKey()}`), "error resolving system account: account missing"],
    ["a system account that is not an account key", () => conf("system_account: FOO"), "error resolving system account: will only fetch valid account keys"]
  ]
  it.each(cases)("%s", async (_, text, expected) => {
    expect(await ours(text())).toBe(expected)
    // nats-server runs the good ones until killed: only the refusals are compared there.
    if (natsServerPath !== undefined && expected !== "started") expect(theirs(text())).toBe(expected)
  }, 30_000)

  it.skipIf(natsServerPath === undefined)("a preloaded system account of an untrusted operator: refused alike", async () => {
    const text = conf(`system_account: ${untrusted.getPublicKey()}`)
    expect(await ours(text)).toBe(theirs(text))
  }, 30_000)

  it("the operator JWT's system_account when the config names none", async () => {
    const withSys = await jwt.encodeOperator("O", operator, { system_account: sys.getPublicKey() })
    const mode = operatorMode({ operators: [withSys], resolverPreload: { [sys.getPublicKey()]: sysJwt } })
    expect(Result.isSuccess(mode) && mode.success?.systemAccount).toBe(sys.getPublicKey())
    const missing = await jwt.encodeOperator("O", operator, { system_account: createAccount().getPublicKey() })
    expect(operatorMode({ operators: [missing], resolverPreload: {} })).toEqual(Result.fail("error resolving system account: account missing"))
  })
})

describe("jwtAccountSpecs", () => {
  it("the trusted preloaded accounts, named by their keys, with their limits; they compile", () => {
    const options = { operators: [operatorJwt], resolverPreload: { [a.getPublicKey()]: aJwt, [b.getPublicKey()]: bJwt, [sys.getPublicKey()]: sysJwt, [untrusted.getPublicKey()]: untrustedJwt }, systemAccount: sys.getPublicKey() }
    const { specs, limits } = jwtAccountSpecs(options)
    expect(specs.map((s) => s.name).sort()).toEqual([a.getPublicKey(), b.getPublicKey(), sys.getPublicKey()].sort())
    expect(limits.get(a.getPublicKey())?.maxConnections).toBe(3)
    expect(limits.get(b.getPublicKey())?.maxConnections).toBeUndefined()
    expect(limits.has(untrusted.getPublicKey())).toBe(false)
    expect(specs.find((s) => s.name === b.getPublicKey())?.imports).toEqual([{ kind: "stream", account: a.getPublicKey(), subject: "pub.>" }])
    expect(Result.isSuccess(compileAccounts(specs))).toBe(true)
  })

  it("no operator: no accounts", () => {
    expect(jwtAccountSpecs({})).toEqual({ specs: [], limits: new Map() })
  })
})
