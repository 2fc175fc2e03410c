/**
 * Rolling restarts: a three-node cluster of child processes where a nats.js client that was given
 * only A's URL keeps working through B or C after A is stopped gracefully — by SIGINT, by SIGTERM
 * and by lame duck. nats.js drops discovered servers that a later INFO no longer lists, so this
 * fails if a server going away pushes a `connect_urls` without its peers.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type ChildServer, freePort, startOurs } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const enc = new TextEncoder()
const dec = new TextDecoder()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-rolling-"))

describe("graceful stop: clients fail over to servers they learned", () => {
  const procs: Array<ChildServer> = []
  const clients: Array<NatsConnection> = []
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => {})
    for (const p of procs) await p.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("after SIGINT, SIGTERM and lame duck on A, a client that knew only A works through B or C", async () => {
    const [pa, pb, pc, ca, cb, cc] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()])
    const start = async (name: string, port: number, cport: number, seed?: number) => {
      const file = path.join(dir, `${name}.conf`)
      fs.writeFileSync(
        file,
        `listen: 127.0.0.1:${port}\nserver_name: ${name}\nlame_duck_duration: "30s"\nlame_duck_grace_period: "500ms"\n` +
          `cluster { name: rolling, listen: 127.0.0.1:${cport}${seed !== undefined ? `, routes: [nats://127.0.0.1:${seed}]` : ""} }\n`
      )
      const p = await startOurs(["-c", file])
      procs.push(p)
      return p
    }
    let A = await start("A", pa!, ca!)
    await Promise.all([start("B", pb!, cb!, ca), start("C", pc!, cc!, ca)])
    const all = [pa, pb, pc].map((p) => `127.0.0.1:${p}`).sort()

    const pub = await connect({ servers: `nats://127.0.0.1:${pb}` })
    clients.push(pub)

    const stopA: Array<[string, (a: ChildServer) => void]> = [
      ["SIGINT", (a) => a.child.kill("SIGINT")],
      ["SIGTERM", (a) => a.child.kill("SIGTERM")],
      ["lame duck", (a) => a.child.kill("SIGUSR2")]
    ]
    for (const [i, [how, stop]] of stopA.entries()) {
      const client = await connect({ servers: `nats://127.0.0.1:${pa}`, reconnectTimeWait: 50, maxReconnectAttempts: -1 })
      clients.push(client)
      await waitUntil(`${how}: the client on A learns the cluster`, () => JSON.stringify([...(client.info?.connect_urls ?? [])].sort()) === JSON.stringify(all), 15_000)
      const subject = `rolling.${i}`
      const got: Array<string> = []
      const sub = client.subscribe(subject)
      void (async () => {
        for await (const m of sub) got.push(dec.decode(m.data))
      })()
      await client.flush()

      stop(A)
      expect(await A.exited, how).toBe(how === "SIGTERM" ? 1 : 0)
      await waitUntil(`${how}: the client reconnects to B or C`, () => {
        const name = client.info?.server_name
        return !client.isClosed() && (name === "B" || name === "C")
      }, 20_000)
      await waitUntilAsync(`${how}: messages from B reach the resubscribed client`, async () => {
        pub.publish(subject, enc.encode(how))
        await pub.flush()
        return got.includes(how)
      }, 15_000)
      // The client can publish too (through whichever survivor it is on).
      let back = 0
      pub.subscribe(`${subject}.back`, { callback: () => { back++ } })
      await pub.flush()
      await waitUntilAsync(`${how}: the client's publish reaches B`, async () => {
        client.publish(`${subject}.back`, enc.encode("back"))
        await client.flush()
        return back > 0
      }, 15_000)

      A = await start("A", pa!, ca!)
    }
  }, 120_000)
})
