/**
 * JWT operator mode, the pure part: decoding and verifying operator/account/user JWTs and the login
 * checks. Keys and JWTs are generated at test time with `@nats-io/jwt`; every login case is also
 * tried with nats.js's creds authenticator against real nats-server (operator + MEMORY resolver),
 * which must accept or refuse it alike and log the same reason (debug).
 */
import * as Result from "effect/Result"
import fc from "fast-check"
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys"
import * as jwt from "@nats-io/jwt"
import { connect, credsAuthenticator, jwtAuthenticator } from "nats"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compileAccounts } from "../../src/accounts/Accounts.js"
import {
  accountLimits,
  accountSpecFromClaims,
  authenticateJwt,
  decodeAccountClaims,
  decodeJwt,
  decodeOperatorClaims,
  decodeUserClaims,
  isRevoked,
  makeTrust,
  parseCreds
} from "../../src/accounts/Jwt.js"
import { type ChildServer, natsServerPath, startNatsServer } from "../support/servers.js"
import { writeConf } from "../support/confServers.js"

const now = () => Math.floor(Date.now() / 1000)
const te = new TextEncoder()
const td = new TextDecoder()

interface World {
  operator: KeyPair
  operatorSigner: KeyPair
  operatorJwt: string
  account: KeyPair
  accountSigner: KeyPair
  scopedSigner: KeyPair
  accountJwt: string
  other: KeyPair
  otherJwt: string
  revokedUser: KeyPair
}

let w: World
let cases: Array<{ name: string; creds: string; reason: string | undefined }>

beforeAll(async () => {
  const operator = createOperator()
  const operatorSigner = createOperator()
  const operatorJwt = await jwt.encodeOperator("O", operator, { signing_keys: [operatorSigner.getPublicKey()] })
  const account = createAccount()
  const accountSigner = createAccount()
  const scopedSigner = createAccount()
  const revokedUser = createUser()
  const accountJwt = await jwt.encodeAccount("A", account, {
    signing_keys: [
      accountSigner.getPublicKey(),
      { kind: "user_scope", key: scopedSigner.getPublicKey(), role: "r", template: { pub: { allow: ["scoped.>"], deny: [] }, sub: { allow: [], deny: [] } } }
    ] as never,
    revocations: { [revokedUser.getPublicKey()]: now() + 3600 },
    limits: { conn: 5, subs: 10, payload: 512, data: -1, imports: -1, exports: -1, wildcards: true, leaf: -1 } as never,
    exports: [{ name: "s", subject: "pub.>", type: "stream" } as never, { name: "v", subject: "req.*", type: "service", response_type: "Stream", response_threshold: 5_000_000_000 } as never]
  }, { signer: operatorSigner })
  // An account issued by an operator the server does not trust.
  const other = createAccount()
  const otherJwt = await jwt.encodeAccount("X", other, {}, { signer: createOperator() })
  w = { operator, operatorSigner, operatorJwt, account, accountSigner, scopedSigner, accountJwt, other, otherJwt, revokedUser }

  const creds = async (u: KeyPair, issuer: KeyPair, opts: { signer?: KeyPair; scoped?: boolean; exp?: number; nbf?: number; data?: Record<string, unknown> } = {}) =>
    td.decode(jwt.fmtCreds(await jwt.encodeUser("u", u, issuer, (opts.data ?? {}) as never, {
      ...(opts.signer !== undefined ? { signer: opts.signer } : {}),
      ...(opts.scoped === true ? { scopedUser: true } : {}),
      ...(opts.exp !== undefined ? { exp: opts.exp } : {}),
      ...(opts.nbf !== undefined ? { nbf: opts.nbf } : {})
    }), u))
  const unknownSigner = createAccount()
  cases = [
    { name: "user issued by the account", creds: await creds(createUser(), account), reason: undefined },
    { name: "user issued by an account signing key", creds: await creds(createUser(), account, { signer: accountSigner }), reason: undefined },
    { name: "user issued by a scoped signing key", creds: await creds(createUser(), account, { signer: scopedSigner, scoped: true }), reason: undefined },
    { name: "scoped user with limits of its own", creds: await creds(createUser(), account, { signer: scopedSigner }), reason: "User JWT is not valid: scoped users require no permissions or limits set" },
    { name: "expired user", creds: await creds(createUser(), account, { exp: now() - 60 }), reason: "User JWT no longer valid: &{Issues:[claim is expired]}" },
    { name: "user not yet valid", creds: await creds(createUser(), account, { nbf: now() + 3600 }), reason: "User JWT no longer valid: &{Issues:[claim is not yet valid]}" },
    { name: "user issued by an unknown key of the account", creds: await creds(createUser(), account, { signer: unknownSigner }), reason: "User JWT issuer is not known" },
    { name: "user of an account the resolver does not have", creds: await creds(createUser(), createAccount()), reason: "Account JWT lookup error: account missing" },
    { name: "user of an account of an untrusted operator", creds: await creds(createUser(), other), reason: "Account JWT lookup error: account validation failed" },
    { name: "revoked user", creds: await creds(revokedUser, account), reason: "User authentication revoked" }
  ]
})

describe("decoding", () => {
  it("decodes and verifies the three kinds, and refuses the wrong kind", async () => {
    expect(Result.getOrThrow(decodeOperatorClaims(w.operatorJwt)).sub).toBe(w.operator.getPublicKey())
    const a = Result.getOrThrow(decodeAccountClaims(w.accountJwt))
    expect(a.iss).toBe(w.operatorSigner.getPublicKey())
    expect(decodeUserClaims(w.accountJwt)).toEqual(Result.fail(expect.objectContaining({ reason: "not user claim" })))
    expect(decodeJwt("a.b")).toEqual(Result.fail(expect.objectContaining({ reason: "expected 3 chunks" })))
  })

  it("refuses any change to the signed part or the signature", () => {
    const [h, c, s] = w.accountJwt.split(".") as [string, string, string]
    fc.assert(
      fc.property(fc.integer({ min: 0, max: c.length - 1 }), fc.constantFrom("A", "B", "x", "_"), (i, ch) => {
        if (c[i] === ch) return
        const tampered = `${h}.${c.slice(0, i)}${ch}${c.slice(i + 1)}.${s}`
        expect(Result.isFailure(decodeJwt(tampered))).toBe(true)
      }),
      { numRuns: 100 }
    )
    const sig = Buffer.from(s, "base64url")
    sig[0] = sig[0]! ^ 1
    expect(decodeJwt(`${h}.${c}.${sig.toString("base64url")}`)).toEqual(Result.fail(expect.objectContaining({ reason: "claim failed V2 signature verification" })))
    const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url")
    expect(decodeJwt(`${header}.${c}.${s}`)).toEqual(Result.fail(expect.objectContaining({ reason: `unexpected "HS256" algorithm` })))
  })

  it("maps account limits and exports to the accounts model", () => {
    const a = Result.getOrThrow(decodeAccountClaims(w.accountJwt))
    expect(accountLimits(a)).toEqual({ maxConnections: 5, maxSubscriptions: 10, maxPayload: 512, maxLeafNodes: undefined, maxImports: undefined, maxExports: undefined, wildcardExports: true, disallowBearer: false })
    const spec = accountSpecFromClaims(a)
    expect(spec.exports).toEqual([
      { kind: "stream", subject: "pub.>" },
      { kind: "service", subject: "req.*", responseType: "stream", responseThreshold: 5000 }
    ])
    expect(Result.isSuccess(compileAccounts([spec]))).toBe(true)
  })

  it("reads imports of account JWTs as nats-server does", async () => {
    const b = createAccount()
    const token = await jwt.encodeAccount("B", b, {
      imports: [
        { name: "p", subject: "pub.>", account: w.account.getPublicKey(), type: "stream", to: "fromA" } as never,
        { name: "m", subject: "pub.x", account: w.account.getPublicKey(), type: "stream", local_subject: "x" } as never,
        { name: "r", subject: "req.x", account: w.account.getPublicKey(), type: "service", local_subject: "areq" } as never
      ]
    }, { signer: w.operator })
    const spec = accountSpecFromClaims(Result.getOrThrow(decodeAccountClaims(token)))
    expect(spec.imports).toEqual([
      { kind: "stream", account: w.account.getPublicKey(), subject: "pub.>", prefix: "fromA" },
      { kind: "stream", account: w.account.getPublicKey(), subject: "pub.x", to: "x" },
      { kind: "service", account: w.account.getPublicKey(), subject: "req.x", to: "areq" }
    ])
    const a = accountSpecFromClaims(Result.getOrThrow(decodeAccountClaims(w.accountJwt)))
    expect(Result.isSuccess(compileAccounts([{ ...a, name: w.account.getPublicKey() }, spec]))).toBe(true)
  })

  it("revocations: a user issued at or before the time, or everyone with `*`", () => {
    expect(isRevoked({ U1: 100 }, "U1", 100)).toBe(true)
    expect(isRevoked({ U1: 100 }, "U1", 101)).toBe(false)
    expect(isRevoked({ "*": 100 }, "U2", 99)).toBe(true)
    expect(isRevoked({ "*": 100 }, "U2", 101)).toBe(false)
    expect(isRevoked(undefined, "U2", 0)).toBe(false)
  })

  it("parses .creds files", () => {
    const u = createUser()
    const creds = td.decode(jwt.fmtCreds("eyJhbGciOiJ.eyJzdWIiOi.c2lnbmF0dXJl", u))
    expect(parseCreds(creds)).toEqual(Result.succeed({ jwt: "eyJhbGciOiJ.eyJzdWIiOi.c2lnbmF0dXJl", seed: td.decode(u.getSeed()) }))
    expect(Result.isFailure(parseCreds("nothing here"))).toBe(true)
    expect(parseCreds("-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n")).toEqual(
      Result.fail(expect.objectContaining({ message: "no nkey seed found" }))
    )
  })
})

const login = (creds: string, nonce = "nonce-abcdefg", badSig = false) => {
  const { jwt: token, seed } = Result.getOrThrow(parseCreds(creds))
  const kp = fromSeed(te.encode(seed))
  const sig = Buffer.from(kp.sign(te.encode(badSig ? "other" : nonce))).toString("base64url")
  const trust = makeTrust([Result.getOrThrow(decodeOperatorClaims(w.operatorJwt))])
  const resolver = new Map([[w.account.getPublicKey(), w.accountJwt], [w.other.getPublicKey(), w.otherJwt]])
  return authenticateJwt(trust, resolver, { jwt: token, sig, nonce, now: now() })
}

describe("authenticateJwt", () => {
  it("accepts and refuses each case with nats-server's reason", () => {
    for (const c of cases) {
      const r = login(c.creds)
      if (c.reason === undefined) expect(Result.isSuccess(r), c.name).toBe(true)
      else expect(Result.isFailure(r) ? r.failure.reason : "accepted", c.name).toContain(c.reason)
    }
    const bad = login(cases[0]!.creds, "nonce", true)
    expect(Result.isFailure(bad) && bad.failure.reason).toBe("Signature not verified")
    const r = login(cases[0]!.creds)
    expect(Result.isSuccess(r) && r.success.account.limits.maxConnections).toBe(5)
    // A scoped signing key's users get its template.
    const scoped = login(cases[2]!.creds)
    expect(Result.isSuccess(scoped) && scoped.success.permissions.pub?.allow).toEqual(["scoped.>"])
  })

  it("without a JWT or a signature", () => {
    const trust = makeTrust([Result.getOrThrow(decodeOperatorClaims(w.operatorJwt))])
    const r1 = authenticateJwt(trust, new Map(), { jwt: undefined, sig: undefined, nonce: "n", now: now() })
    expect(Result.isFailure(r1) && r1.failure.reason).toBe("Authentication requires a user JWT")
    const { jwt: token } = Result.getOrThrow(parseCreds(cases[0]!.creds))
    const r2 = authenticateJwt(trust, new Map([[w.account.getPublicKey(), w.accountJwt]]), { jwt: token, sig: undefined, nonce: "n", now: now() })
    expect(Result.isFailure(r2) && r2.failure.reason).toBe("Signature missing")
  })

  describe.skipIf(natsServerPath === undefined)("the same cases against real nats-server", () => {
    let server: ChildServer
    beforeAll(async () => {
      const conf = [
        `operator: ${w.operatorJwt}`,
        "resolver: MEMORY",
        "resolver_preload: {",
        `  ${w.account.getPublicKey()}: ${w.accountJwt}`,
        `  ${w.other.getPublicKey()}: ${w.otherJwt}`,
        "}"
      ].join("\n")
      server = await startNatsServer(["-c", writeConf(conf), "-a", "127.0.0.1", "-p", "-1", "-D"])
    }, 30_000)
    afterAll(async () => {
      await server?.stop()
    })

    it("a nonce signed by another key: Signature not verified, on both", async () => {
      const { jwt: token } = Result.getOrThrow(parseCreds(cases[0]!.creds))
      const other = createUser()
      const before = server.output().length
      const outcome = await connect({ servers: server.url, authenticator: jwtAuthenticator(token, other.getSeed()), reconnect: false, timeout: 10_000 })
        .then(async (nc) => {
          await nc.close()
          return "ok"
        }, (e: Error) => e.message)
      expect(outcome.toLowerCase()).toContain("authorization violation")
      await server.waitFor("Signature not verified", 10_000)
      expect(server.output().slice(before)).toContain("Signature not verified")
      const trust = makeTrust([Result.getOrThrow(decodeOperatorClaims(w.operatorJwt))])
      const sig = Buffer.from(other.sign(te.encode("nonce"))).toString("base64url")
      const ours = authenticateJwt(trust, new Map([[w.account.getPublicKey(), w.accountJwt]]), { jwt: token, sig, nonce: "nonce", now: now() })
      expect(Result.isFailure(ours) && ours.failure.reason).toBe("Signature not verified")
    }, 30_000)

    it("accepts and refuses alike, logging the same reason", async () => {
      for (const c of cases) {
        const before = server.output().length
        const outcome = await connect({ servers: server.url, authenticator: credsAuthenticator(te.encode(c.creds)), reconnect: false, timeout: 10_000 })
          .then(async (nc) => {
            await nc.close()
            return "ok"
          }, (e: Error) => e.message)
        if (c.reason === undefined) expect(outcome, `${c.name}\n${server.output().slice(before)}`).toBe("ok")
        else {
          expect(outcome.toLowerCase(), c.name).toContain("authorization violation")
          await server.waitFor(c.reason, 10_000)
          expect(server.output().slice(before), c.name).toContain(c.reason)
        }
      }
    }, 60_000)
  })
})
