/**
 * Operator mode's accounts are subject spaces: JWT users of different accounts never see each
 * other's messages, and the exports and imports of the account JWTs work — a stream import with a
 * prefix, a service import with a local subject (request/reply), a private export for one
 * account only. The same generated config on ours and on real nats-server 2.9.10, with nats.js's
 * creds authenticator.
 */
import { createAccount, createOperator, createUser, type KeyPair } from "@nats-io/nkeys"
import * as jwt from "@nats-io/jwt"
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ConfServer, confTargets } from "../support/confServers.js"

const te = new TextEncoder()
const td = new TextDecoder()
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 }

let conf = ""
const creds = new Map<string, string>()

beforeAll(async () => {
  const operator = createOperator()
  const operatorJwt = await jwt.encodeOperator("O", operator)
  const a = createAccount()
  const b = createAccount()
  const c = createAccount()
  const sys = createAccount()
  const aJwt = await jwt.encodeAccount("A", a, {
    limits: UNLIMITED as never,
    exports: [
      { name: "news", subject: "news.>", type: "stream" },
      { name: "price", subject: "svc.price", type: "service" }
    ] as never
  }, { signer: operator })
  const bJwt = await jwt.encodeAccount("B", b, {
    limits: UNLIMITED as never,
    imports: [
      { name: "news", subject: "news.>", account: a.getPublicKey(), type: "stream", to: "a" },
      { name: "price", subject: "svc.price", account: a.getPublicKey(), type: "service", local_subject: "price" }
    ] as never
  }, { signer: operator })
  const cJwt = await jwt.encodeAccount("C", c, { limits: UNLIMITED as never }, { signer: operator })
  const sysJwt = await jwt.encodeAccount("SYS", sys, { limits: UNLIMITED as never }, { signer: operator })
  for (const [name, account] of [["a", a], ["b", b], ["c", c]] as Array<[string, KeyPair]>) {
    const u = createUser()
    creds.set(name, jwt.fmtCreds(await jwt.encodeUser(name, u, account), u) as unknown as string)
  }
  conf = [
    `operator: ${operatorJwt}`,
    "resolver: MEMORY",
    `system_account: ${sys.getPublicKey()}`,
    "resolver_preload: {",
    ...[[a, aJwt], [b, bJwt], [c, cJwt], [sys, sysJwt]].map(([k, t]) => `  ${(k as KeyPair).getPublicKey()}: ${t as string}`),
    "}"
  ].join("\n")
})

for (const target of confTargets) {
  describe.skipIf(!target.available)(`operator-mode accounts on ${target.name}`, () => {
    let s: ConfServer
    const conns: Array<NatsConnection> = []
    const login = async (user: string) => {
      const raw = creds.get(user)!
      const nc = await connect({ servers: s.url, authenticator: credsAuthenticator(typeof raw === "string" ? te.encode(raw) : raw), reconnect: false })
      conns.push(nc)
      return nc
    }
    const settle = async () => {
      for (const nc of conns) await nc.flush()
      for (const nc of conns) await nc.flush()
    }
    beforeAll(async () => {
      s = await target.start(conf)
    }, 30_000)
    afterAll(async () => {
      for (const nc of conns) await nc.close()
      await s?.stop()
    })

    it("accounts are apart; B gets A's news under its prefix; C gets nothing", async () => {
      const a = await login("a")
      const b = await login("b")
      const c = await login("c")
      const got: Array<string> = []
      for (const [name, nc] of [["a", a], ["b", b], ["c", c]] as const) nc.subscribe(">", { callback: (_e, m) => void got.push(`${name} ${m.subject}`) })
      await settle()
      a.publish("news.today", te.encode("1"))
      a.publish("inside.a", te.encode("2"))
      c.publish("news.today", te.encode("3"))
      await settle()
      expect(got.sort()).toEqual(["a inside.a", "a news.today", "b a.news.today", "c news.today"])
    })

    it("B's request on its local subject reaches A's responder and the response comes back", async () => {
      const a = await login("a")
      const b = await login("b")
      a.subscribe("svc.price", { callback: (_e, m) => void m.respond(te.encode(`price: ${td.decode(m.data)}`)) })
      await a.flush()
      const res = await b.request("price", te.encode("tea"), { timeout: 5000 })
      expect(td.decode(res.data)).toBe("price: tea")
      // C has no such import: nobody answers it.
      const c = await login("c")
      await expect(c.request("price", te.encode("tea"), { timeout: 500 })).rejects.toThrow()
    })
  })
}
