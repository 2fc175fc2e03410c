/**
 * Duplicate routes with a nats-server peer: it keeps the route it registered first, so we do too
 * (our own rule — keep the link dialed by the smaller id — would replace a working route that
 * nats-server keeps, and the pair would drop both links). Between our servers the id rule stays.
 * Found by the mixed-cluster chaos run (full-mesh config: flapping once a second after a freeze).
 */
import * as net from "node:net"
import { afterEach, expect, it } from "vitest"
import { RawClient } from "../support/raw.js"
import { startServer } from "../support/servers.js"
import { waitUntil } from "../support/wait.js"

// Smaller than any real id: by the id rule the link this peer dials is the one to keep.
// Server ids are base32 (A–Z, 2–7) after the N, and "2" sorts lowest: `N22…2` is below any
// real id (an all-"A" id is not: a real `NA6…` sorts below `NAA…`).
const PEER_ID = `N${"2".repeat(55)}`

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const scenario = async (natsServer: boolean) => {
  const info = `INFO {"server_id":"${PEER_ID}","server_name":"P","version":"2.9.10","proto":2,${natsServer ? `"go":"go1.19.8",` : ""}"host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"t"}\r\n`
  // The peer's route port: answers our dial with its INFO.
  const sockets: Array<net.Socket> = []
  const acceptor = net.createServer((s) => {
    sockets.push(s)
    s.on("error", () => {})
    s.write(info)
  })
  await new Promise<void>((r) => acceptor.listen(0, "127.0.0.1", r))
  cleanup.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy()
    acceptor.close(() => r())
  }))
  const url = `nats://127.0.0.1:${(acceptor.address() as net.AddressInfo).port}`
  const A = await startServer({ serverName: "A", cluster: { name: "t", host: "127.0.0.1", port: -1, routes: [url] } })
  cleanup.push(() => A.stop())
  await waitUntil("A registers the route it dialed", () => A.cluster!.routes.get(PEER_ID)?.solicitedUrl === url)
  const first = A.cluster!.routes.get(PEER_ID)!
  // The peer dials A too: a duplicate in the direction the id rule prefers.
  const second = await RawClient.connect(A.cluster!.listen!.port)
  cleanup.push(() => second.close())
  second.send(`CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"${PEER_ID}","cluster":"t"}\r\n${info}`)
  return { A, first, second }
}

it("against nats-server the route registered first stays and the duplicate is closed", async () => {
  const { A, first, second } = await scenario(true)
  await second.waitClosed()
  expect(A.cluster!.routes.get(PEER_ID)).toBe(first)
  expect(first.closing).toBe(false)
})

it("between our servers the link dialed by the smaller id replaces the other", async () => {
  const { A, first } = await scenario(false)
  await waitUntil("the first link is replaced", () => first.closing && A.cluster!.routes.get(PEER_ID) !== first)
  expect(A.cluster!.routes.get(PEER_ID)?.solicitedUrl).toBe(first.solicitedUrl)
})
