/**
 * The accounts example of README.md, read from the README itself and run: WEB's subscriber gets
 * SHOP's orders under the prefix, WEB's request on `price` is answered by SHOP's responder, a
 * client without credentials is WEB (no_auth_user), and nothing else crosses between the two.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { connect, type NatsConnection, StringCodec } from "nats"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ConfServer, startOursWithConf } from "../support/confServers.js"
import { repoRoot } from "../support/servers.js"

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const section = readme.slice(readme.indexOf("## Accounts"))
const snippet = /```\n([\s\S]*?)```/.exec(section)![1]!
const sc = StringCodec()

describe("README: accounts", () => {
  let server: ConfServer
  let shop: NatsConnection
  let web: NatsConnection
  beforeAll(async () => {
    server = await startOursWithConf(snippet, { debug: false, trace: false })
    shop = await connect({ servers: server.url, user: "shop", pass: "shop-secret", reconnect: false })
    // no_auth_user: web
    web = await connect({ servers: server.url, reconnect: false })
  })
  afterAll(async () => {
    await shop?.close()
    await web?.close()
    await server?.stop()
  })

  it("WEB receives SHOP's orders under the prefix, and nothing SHOP publishes elsewhere", async () => {
    const got: Array<string> = []
    web.subscribe(">", { callback: (_e, m) => got.push(`${m.subject} ${sc.decode(m.data)}`) })
    await web.flush()
    shop.publish("orders.new", sc.encode("#1"))
    shop.publish("inventory.low", sc.encode("x"))
    await shop.flush()
    await web.flush()
    expect(got).toEqual(["shop.orders.new #1"])
  })

  it("WEB's request on price reaches SHOP's prices.get responder and the response comes back", async () => {
    shop.subscribe("prices.get", { callback: (_e, m) => m.respond(sc.encode(`price of ${sc.decode(m.data)}: 42`)) })
    await shop.flush()
    const res = await web.request("price", sc.encode("tea"), { timeout: 5000 })
    expect(sc.decode(res.data)).toBe("price of tea: 42")
  })

  it("SHOP does not see WEB's own subjects", async () => {
    const got: Array<string> = []
    shop.subscribe("web.>", { callback: (_e, m) => got.push(m.subject) })
    await shop.flush()
    web.publish("web.internal")
    await web.flush()
    await shop.flush()
    expect(got).toEqual([])
  })
})
