/**
 * Authentication with real clients (`nats` 2.x and `@nats-io/transport-node` 3.x), good and bad
 * credentials of every kind — user/password plain and bcrypt, token plain and bcrypt, the users
 * list, nkeys (keys generated here), no_auth_user — against our server and real nats-server
 * started from the same config text. Bad credentials must give `Authorization Violation` and
 * nats-server's log line on both. The credential cases run again over TLS (the same configs with a
 * `tls {}` block, certificates made at test time): the INFO-then-handshake upgrade must carry
 * every kind of login, the nkey nonce signature included.
 */
import * as bcrypt from "@node-rs/bcrypt"
import * as nkeys from "@nats-io/nkeys"
import { connect as connectV3, nkeyAuthenticator as nkeyV3 } from "@nats-io/transport-node"
import { connect as connectV2, nkeyAuthenticator as nkeyV2 } from "nats"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Certs, makeCerts } from "../support/certs.js"
import { RawClient } from "../support/raw.js"
import { type ConfServer, confTargets } from "../support/confServers.js"
import { waitUntil } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()

// Cost 4 keeps the suite fast; the cost-11 storm is in bench/auth.ts.
const BOB_HASH = bcrypt.hashSync("hunter2", 4)
const TOKEN_HASH = bcrypt.hashSync("t0ken", 4)
const user = nkeys.createUser()
const stranger = nkeys.createUser()

const USERS = `
authorization {
  timeout: 2
  users: [
    { user: alice, password: "s3cret" }
    { user: bob, password: "${BOB_HASH}" }
    { nkey: ${user.getPublicKey()} }
  ]
}
`
const TOKEN_PLAIN = `authorization { token: "t0ken" }\n`
const TOKEN_BCRYPT = `authorization { token: "${TOKEN_HASH}" }\n`
const SINGLE_BCRYPT = `authorization { user: carol, password: "${BOB_HASH}" }\n`
const NO_AUTH = `
authorization { users: [ { user: guest, password: "guestpw" }, { user: admin, password: "adminpw" } ] }
no_auth_user: guest
`

type Creds =
  | { readonly kind: "none" }
  | { readonly kind: "user"; readonly user: string; readonly pass: string }
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "nkey"; readonly seed: Uint8Array }

interface Case {
  readonly conf: string
  readonly label: string
  readonly creds: Creds
  readonly ok: boolean
  /** The log line nats-server writes for this failure. */
  readonly log?: string
}

const cases: ReadonlyArray<Case> = [
  { conf: "USERS", label: "users list, plain password", creds: { kind: "user", user: "alice", pass: "s3cret" }, ok: true },
  { conf: "USERS", label: "users list, bcrypt password", creds: { kind: "user", user: "bob", pass: "hunter2" }, ok: true },
  { conf: "USERS", label: "users list, nkey", creds: { kind: "nkey", seed: user.getSeed() }, ok: true },
  { conf: "USERS", label: "users list, wrong plain password", creds: { kind: "user", user: "alice", pass: "nope" }, ok: false, log: `authentication error - Nkey ""` },
  { conf: "USERS", label: "users list, wrong bcrypt password", creds: { kind: "user", user: "bob", pass: "nope" }, ok: false, log: `authentication error - Nkey ""` },
  { conf: "USERS", label: "users list, unknown user", creds: { kind: "user", user: "mallory", pass: "x" }, ok: false },
  { conf: "USERS", label: "users list, unknown nkey", creds: { kind: "nkey", seed: stranger.getSeed() }, ok: false, log: `authentication error - Nkey "${stranger.getPublicKey()}"` },
  { conf: "USERS", label: "users list, no credentials", creds: { kind: "none" }, ok: false },
  { conf: "TOKEN_PLAIN", label: "plain token", creds: { kind: "token", token: "t0ken" }, ok: true },
  { conf: "TOKEN_PLAIN", label: "wrong plain token", creds: { kind: "token", token: "t0ke" }, ok: false, log: "authentication error" },
  { conf: "TOKEN_BCRYPT", label: "bcrypt token", creds: { kind: "token", token: "t0ken" }, ok: true },
  { conf: "TOKEN_BCRYPT", label: "wrong bcrypt token", creds: { kind: "token", token: "nope" }, ok: false, log: "authentication error" },
  { conf: "SINGLE_BCRYPT", label: "single user, bcrypt password", creds: { kind: "user", user: "carol", pass: "hunter2" }, ok: true },
  { conf: "SINGLE_BCRYPT", label: "single user, wrong password", creds: { kind: "user", user: "carol", pass: "hunter3" }, ok: false, log: "authentication error" },
  { conf: "NO_AUTH", label: "no_auth_user, no credentials", creds: { kind: "none" }, ok: true },
  { conf: "NO_AUTH", label: "no_auth_user, another user's credentials", creds: { kind: "user", user: "admin", pass: "adminpw" }, ok: true },
  { conf: "NO_AUTH", label: "no_auth_user, wrong password", creds: { kind: "user", user: "admin", pass: "guestpw" }, ok: false, log: `authentication error - User "admin"` }
]

const CONFS: Record<string, string> = { USERS, TOKEN_PLAIN, TOKEN_BCRYPT, SINGLE_BCRYPT, NO_AUTH }

const options = (c: Creds, v3: boolean): Record<string, unknown> => {
  switch (c.kind) {
    case "none":
      return {}
    case "user":
      return { user: c.user, pass: c.pass }
    case "token":
      return { token: c.token }
    case "nkey":
      return { authenticator: v3 ? nkeyV3(c.seed) : nkeyV2(c.seed) }
  }
}

/** Connect, prove the connection works with a round trip, close. Rejects with the client's error. */
const tryClient = async (lib: "nats" | "@nats-io/transport-node", url: string, c: Creds, caFile?: string): Promise<void> => {
  const common = { servers: url, reconnect: false, maxReconnectAttempts: 0, timeout: 10_000, ...(caFile !== undefined ? { tls: { caFile } } : {}) }
  if (lib === "nats") {
    const nc = await connectV2({ ...common, ...options(c, false) })
    const sub = nc.subscribe("auth.roundtrip", { max: 1 })
    nc.publish("auth.roundtrip", enc.encode("hi"))
    for await (const m of sub) expect(dec.decode(m.data)).toBe("hi")
    await nc.close()
  } else {
    const nc = await connectV3({ ...common, ...options(c, true) })
    const sub = nc.subscribe("auth.roundtrip", { max: 1 })
    nc.publish("auth.roundtrip", enc.encode("hi"))
    for await (const m of sub) expect(dec.decode(m.data)).toBe("hi")
    await nc.close()
  }
}

/** Over TLS: one accepted and one refused login of each kind. */
const TLS_CASES = new Set([
  "users list, plain password",
  "users list, bcrypt password",
  "users list, nkey",
  "users list, wrong bcrypt password",
  "users list, unknown nkey",
  "bcrypt token",
  "wrong plain token",
  "no_auth_user, no credentials"
])

for (const overTls of [false, true]) for (const target of confTargets) describe.skipIf(!target.available)(`authentication with real clients${overTls ? " over TLS" : ""}: ${target.name}`, () => {
  const servers = new Map<string, ConfServer>()
  let certs: Certs | undefined
  beforeAll(async () => {
    if (overTls) certs = makeCerts()
    const tls = certs === undefined ? "" : `tls { cert_file: "${certs.server.cert}", key_file: "${certs.server.key}" }\n`
    for (const [name, conf] of Object.entries(CONFS)) servers.set(name, await target.start(tls + conf))
  }, 60_000)
  afterAll(async () => {
    for (const s of servers.values()) await s.stop()
    certs?.cleanup()
  })

  for (const lib of ["nats", "@nats-io/transport-node"] as const) {
    for (const c of cases) {
      if (overTls && !TLS_CASES.has(c.label)) continue
      it(`${lib}: ${c.label} → ${c.ok ? "accepted" : "Authorization Violation"}`, async () => {
        const server = servers.get(c.conf)!
        const caFile = certs?.ca
        if (c.ok) {
          await tryClient(lib, server.url, c.creds, caFile)
        } else {
          const error = await tryClient(lib, server.url, c.creds, caFile).then(() => undefined, (e: unknown) => e as Error)
          expect(error, "the connection must be refused").toBeDefined()
          expect(String(error?.message)).toMatch(/Authorization Violation/i)
          if (c.log !== undefined) {
            await waitUntil(`log line ${c.log}`, () => server.lines().some((l) => l.includes(`[ERR]`) && l.endsWith(c.log!)))
          }
        }
      }, 30_000)
    }
  }

  if (overTls) return
  it("INFO has auth_required, and a 15-character nonce only where nkey users are configured", async () => {
    const withNkeys = await RawClient.connect(servers.get("USERS")!.port)
    const without = await RawClient.connect(servers.get("TOKEN_PLAIN")!.port)
    try {
      expect(withNkeys.info["auth_required"]).toBe(true)
      expect(String(withNkeys.info["nonce"])).toMatch(/^[A-Za-z0-9_-]{15}$/)
      expect(Object.keys(withNkeys.info).indexOf("nonce")).toBe(Object.keys(withNkeys.info).indexOf("client_ip") + 1)
      expect(without.info["auth_required"]).toBe(true)
      expect(without.info["nonce"]).toBeUndefined()
    } finally {
      withNkeys.close()
      without.close()
    }
  })

  it("with no_auth_user a first op other than CONNECT is served as that user", async () => {
    const c = await RawClient.connect(servers.get("NO_AUTH")!.port)
    try {
      c.send("PING\r\n")
      await c.expectPastPings("PONG\r\n")
    } finally {
      c.close()
    }
  })

  it("a wrong nkey signature is refused", async () => {
    const c = await RawClient.connect(servers.get("USERS")!.port)
    const nonce = String(c.info["nonce"])
    const sig = Buffer.from(stranger.sign(enc.encode(nonce))).toString("base64url")
    c.send(`CONNECT {"verbose":false,"nkey":"${user.getPublicKey()}","sig":"${sig}"}\r\nPING\r\n`)
    expect(await c.waitClosed()).toBe("-ERR 'Authorization Violation'\r\n")
  })

  it("a right nkey signature in standard base64 is accepted too", async () => {
    const c = await RawClient.connect(servers.get("USERS")!.port)
    const nonce = String(c.info["nonce"])
    const sig = Buffer.from(user.sign(enc.encode(nonce))).toString("base64")
    c.send(`CONNECT {"verbose":false,"nkey":"${user.getPublicKey()}","sig":"${sig}"}\r\nPING\r\n`)
    await c.expectPastPings("PONG\r\n")
    c.close()
  })

  it("ops pipelined behind a bcrypt CONNECT wait for the verdict and run in order", async () => {
    const c = await RawClient.connect(servers.get("USERS")!.port)
    c.send(`CONNECT {"verbose":true,"user":"bob","pass":"hunter2"}\r\nSUB p.q 1\r\nPUB p.q 2\r\nhi\r\nPING\r\n`)
    await c.expectPastPings("+OK\r\n+OK\r\n+OK\r\nMSG p.q 1 2\r\nhi\r\nPONG\r\n")
    c.close()
  })

  it("ops pipelined behind a failing bcrypt CONNECT are never run", async () => {
    const c = await RawClient.connect(servers.get("USERS")!.port)
    c.send(`CONNECT {"verbose":true,"user":"bob","pass":"wrong"}\r\nSUB p.q 1\r\nPING\r\n`)
    expect(await c.waitClosed()).toBe("-ERR 'Authorization Violation'\r\n")
  })
})

describe("--user --pass and --auth on the command line (our binary)", () => {
  it("--auth sets a token, --user/--pass a single user", async () => {
    const { startOurs } = await import("../support/servers.js")
    const token = await startOurs(["-a", "127.0.0.1", "-p", "-1", "--auth", "flag-token"])
    const single = await startOurs(["-a", "127.0.0.1", "-p", "-1", "--user", "fu", "--pass", "fp"])
    try {
      await tryClient("@nats-io/transport-node", token.url, { kind: "token", token: "flag-token" })
      await expect(tryClient("nats", token.url, { kind: "token", token: "other" })).rejects.toThrow(/Authorization Violation/i)
      await tryClient("nats", single.url, { kind: "user", user: "fu", pass: "fp" })
      await expect(tryClient("@nats-io/transport-node", single.url, { kind: "user", user: "fu", pass: "x" })).rejects.toThrow(/Authorization Violation/i)
    } finally {
      await token.stop()
      await single.stop()
    }
  }, 60_000)
})
