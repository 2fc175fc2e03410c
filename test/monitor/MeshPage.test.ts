/**
 * The live mesh page at `/`, in a real headless browser (Debian's chromium through
 * playwright-core) against a three-node cluster: the drawn servers, routes, client counts and
 * message rates, the page updating itself when clients come and go and when a server leaves, a peer
 * without a monitor, our version and nats-server's endpoint links; screenshots are saved to
 * `test-output/` (git-ignored).
 */
import { existsSync, mkdirSync } from "node:fs"
import * as path from "node:path"
import { connect, type NatsConnection } from "@nats-io/transport-node"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { monitorAddress } from "../../src/monitor/Monitor.js"
import { NATS_COMPAT_VERSION, SERVER_VERSION } from "../../src/server/ServerState.js"
import { repoRoot, startServer, type TestServer } from "../support/servers.js"
import { waitUntil, waitUntilAsync } from "../support/wait.js"

const CHROMIUM = "/usr/bin/chromium"
const outDir = path.join(repoRoot, "test-output")

interface DrawnNode {
  readonly id: string
  readonly name: string
  readonly source: string
  readonly clients: string
  readonly cls: string
  readonly text: string
}
interface DrawnEdge {
  readonly a: string
  readonly b: string
  readonly sides: string
  readonly text: string
}

// Page-side code is passed as source text: the tests are type-checked without the DOM library.
const DRAWN = `(() => ({
  nodes: [...document.querySelectorAll("#mesh g.node")].map((g) => ({
    id: g.getAttribute("data-id") || "",
    name: g.getAttribute("data-name") || "",
    source: g.getAttribute("data-source") || "",
    clients: g.getAttribute("data-clients") || "",
    cls: g.getAttribute("class") || "",
    text: g.textContent || ""
  })),
  edges: [...document.querySelectorAll("#mesh g.edge")].map((g) => ({
    a: g.getAttribute("data-a") || "",
    b: g.getAttribute("data-b") || "",
    sides: g.getAttribute("data-sides") || "",
    text: g.getAttribute("data-label") || ""
  })),
  // Drawn geometry: every server a visible circle, every route a line of some length.
  circles: [...document.querySelectorAll("#mesh g.node circle.server")].map((c) => c.getBBox().width),
  lines: [...document.querySelectorAll("#mesh g.edge line")].map((l) => { const b = l.getBBox(); return Math.hypot(b.width, b.height) }),
  clientDots: [...document.querySelectorAll("#mesh g.node")].map((g) => g.querySelectorAll("circle.client").length)
}))()`

const drawn = (page: Page) =>
  page.evaluate(DRAWN) as Promise<{ nodes: Array<DrawnNode>; edges: Array<DrawnEdge>; circles: Array<number>; lines: Array<number>; clientDots: Array<number> }>

/**
 * Wait until the page-side `condition` (source text) holds. Polled with `evaluate` from here:
 * playwright's `waitForFunction` evaluates strings with `eval`, which the page's CSP forbids.
 */
const waitForPage = (page: Page, condition: string, timeout: number) =>
  waitUntilAsync(condition, async () => (await page.evaluate(condition)) === true, timeout)

const clientsOf = (id: string, n: number) => `document.querySelector('#mesh g.node[data-id="${id}"]')?.getAttribute("data-clients") === "${n}"`

describe.skipIf(!existsSync(CHROMIUM))("the mesh page in headless chromium", () => {
  let A: TestServer
  let B: TestServer
  let C: TestServer
  let browser: Browser
  let page: Page
  const clients = new Map<TestServer, Array<NatsConnection>>()
  let traffic: ReturnType<typeof setInterval> | undefined
  const pageErrors: Array<string> = []
  const requests: Array<string> = []
  let cStopped = false
  let D: TestServer | undefined

  const open = async (s: TestServer, n: number) => {
    const list = clients.get(s) ?? []
    const opened: Array<NatsConnection> = []
    for (let i = 0; i < n; i++) opened.push(await connect({ servers: s.url, name: `${s.broker.serverName}-${list.length + i}` }))
    clients.set(s, [...list, ...opened])
    return opened
  }

  beforeAll(async () => {
    A = await startServer({ httpPort: -1, serverName: "alpha", cluster: { name: "MESHPAGE", host: "127.0.0.1", port: -1 } })
    const routes = [`nats-route://127.0.0.1:${A.cluster!.listen!.port}`]
    B = await startServer({ httpPort: -1, serverName: "bravo", cluster: { name: "MESHPAGE", host: "127.0.0.1", port: -1, routes } })
    C = await startServer({ httpPort: -1, serverName: "charlie", cluster: { name: "MESHPAGE", host: "127.0.0.1", port: -1, routes } })
    await waitUntil("full mesh", () => [A, B, C].every((s) => s.cluster!.routes.size === 2), 20_000)
    // alpha: a publisher and a subscriber; bravo: one subscriber; charlie: three idle clients.
    const [pub, subA] = await open(A, 2)
    const [subB] = await open(B, 1)
    await open(C, 3)
    subA!.subscribe("mesh.>")
    subB!.subscribe("mesh.>")
    await subA!.flush()
    await subB!.flush()
    await waitUntil("bravo's interest on alpha", () => A.broker.router.index.match("mesh.x").plain.length === 2)
    // Steady traffic, so that the page has rates to show: alpha → (alpha, bravo).
    const payload = new Uint8Array(64)
    traffic = setInterval(() => {
      for (let i = 0; i < 20; i++) pub!.publish("mesh.x", payload)
    }, 20)

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    })
    page = await browser.newPage({ viewport: { width: 1320, height: 1000 } })
    page.on("pageerror", (e) => pageErrors.push(String(e)))
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text())
    })
    page.on("request", (r) => requests.push(r.url()))
    await page.goto(`http://127.0.0.1:${monitorAddress(A.broker)!.port}/?interval=300`)
  }, 90_000)

  afterAll(async () => {
    if (traffic !== undefined) clearInterval(traffic)
    await browser?.close()
    for (const list of clients.values()) for (const c of list) await c.close().catch(() => {})
    await D?.stop()
    if (!cStopped) await C?.stop()
    for (const s of [B, A]) await s?.stop()
  })

  it("draws three servers, three routes seen from both ends, clients per server and message rates", async () => {
    // Route RTTs are measured by the first route PING, about a second after the route came up.
    const routes = [A, B, C].flatMap((s) => [...s.cluster!.routes.values()])
    await waitUntil("route RTTs measured", () => routes.every((r) => (r.rtt ?? 0) > 0), 15_000)
    // Rates need two polls with traffic in between.
    await waitForPage(page, `(() => {
      const svg = document.getElementById("mesh")
      const sides = [...svg.querySelectorAll("g.edge")].map((g) => g.getAttribute("data-sides"))
      const self = svg.querySelector("g.node.self")
      const measured = [...svg.querySelectorAll("g.edge")].every((g) => !(g.getAttribute("data-label") || "").includes("rtt n/a"))
      return svg.getAttribute("data-nodes") === "3" && sides.length === 3 && sides.every((s) => s === "2") && measured &&
        self !== null && /in [1-9][^ ]* · out [1-9]/.test(self.textContent || "")
    })()`, 30_000)
    const d = await drawn(page)
    const ids = { [A.broker.serverId]: "alpha", [B.broker.serverId]: "bravo", [C.broker.serverId]: "charlie" }
    expect(Object.fromEntries(d.nodes.map((n) => [n.id, n.name]))).toEqual(ids)
    const node = (s: TestServer) => d.nodes.find((n) => n.id === s.broker.serverId)!
    expect(node(A).cls).toBe("node self")
    expect(node(B).cls).toBe("node peer")
    expect(node(C).cls).toBe("node peer")
    expect(node(A).source).toBe("self")
    expect(node(B).source).toBe("monitor")
    for (const [s, n] of [[A, 2], [B, 1], [C, 3]] as const) {
      expect(node(s).clients).toBe(String(n))
      expect(node(s).text).toContain(`${n} client`)
      expect(s.broker.clients.size).toBe(n)
    }
    expect(d.clientDots).toEqual(d.nodes.map((n) => Number(n.clients)))
    expect(node(A).text).toContain(`v${NATS_COMPAT_VERSION}`)
    // Every pair of servers is joined once.
    const pairs = d.edges.map((e) => [ids[e.a], ids[e.b]].sort().join("-")).sort()
    expect(pairs).toEqual(["alpha-bravo", "alpha-charlie", "bravo-charlie"])
    for (const e of d.edges) expect(e.text).toMatch(/^rtt \d[\d.]*(ns|µs|ms|s) · [\d.]+k? msg\/s$/)
    // Traffic flows alpha → bravo: that route has a non-zero rate, bravo–charlie none.
    const edge = (x: string, y: string) => d.edges.find((e) => [ids[e.a], ids[e.b]].sort().join("-") === [x, y].sort().join("-"))!
    expect(edge("alpha", "bravo").text).toMatch(/ · [1-9][\d.]*k? msg\/s$/)
    expect(edge("bravo", "charlie").text).toMatch(/ · 0 msg\/s$/)
    // Drawn for real: visible circles and lines.
    expect(d.circles.every((w) => w > 50)).toBe(true)
    expect(d.lines.every((len) => len > 100)).toBe(true)
    // The table below lists the three servers.
    const rows = (await page.evaluate(`[...document.querySelectorAll("#servers tr")].map((tr) => tr.children[0].textContent)`)) as Array<string>
    expect(rows.sort()).toEqual(["alpha (this server)", "bravo", "charlie"])
    mkdirSync(outDir, { recursive: true })
    await page.screenshot({ path: path.join(outDir, "mesh-three-nodes.png"), fullPage: true })
    expect(pageErrors).toEqual([])
  }, 60_000)

  it("shows our version and keeps nats-server's endpoint links; talks to its own origin only", async () => {
    expect(await page.textContent("#version")).toBe(`v${SERVER_VERSION} · nats-server ${NATS_COMPAT_VERSION} protocol`)
    const links = await page.evaluate(`[...document.querySelectorAll("nav a")].map((a) => a.getAttribute("href"))`)
    expect(links).toEqual(["./varz", "./connz", "./accountz", "./accstatz", "./subsz", "./routez", "./healthz", "./metrics", "./meshz", "https://docs.nats.io/running-a-nats-service/nats_admin/monitoring"])
    const origin = `http://127.0.0.1:${monitorAddress(A.broker)!.port}/`
    expect(requests.length).toBeGreaterThan(2)
    expect(requests.filter((u) => !u.startsWith(origin))).toEqual([])
  })

  it("updates itself: clients come and go, a server leaves", async () => {
    const extra = await open(B, 2)
    await waitForPage(page, clientsOf(B.broker.serverId, 3), 15_000)
    for (const c of extra) await c.close()
    for (const c of clients.get(C)!) await c.close()
    clients.set(C, [])
    await waitForPage(page, clientsOf(C.broker.serverId, 0), 15_000)
    await C.stop()
    cStopped = true
    await waitForPage(page, `document.getElementById("mesh").getAttribute("data-nodes") === "2" &&
      document.getElementById("mesh").getAttribute("data-edges") === "1"`, 20_000)
    const d = await drawn(page)
    expect(d.nodes.map((n) => n.name).sort()).toEqual(["alpha", "bravo"])
    await page.screenshot({ path: path.join(outDir, "mesh-after-charlie-left.png"), fullPage: true })
    expect(pageErrors).toEqual([])
  }, 60_000)

  it("draws a peer without a monitor from the routes to it, dashed (one end reports them)", async () => {
    D = await startServer({
      serverName: "delta",
      cluster: { name: "MESHPAGE", host: "127.0.0.1", port: -1, routes: [`nats-route://127.0.0.1:${A.cluster!.listen!.port}`] }
    })
    await waitUntil("delta meshed", () => D!.cluster!.routes.size === 2, 20_000)
    await waitForPage(page, `document.getElementById("mesh").getAttribute("data-nodes") === "3" &&
      document.getElementById("mesh").getAttribute("data-edges") === "3"`, 20_000)
    const d = await drawn(page)
    const delta = d.nodes.find((n) => n.id === D!.broker.serverId)!
    expect(delta.name).toBe("delta")
    expect(delta.source).toBe("route")
    expect(delta.cls).toBe("node unknown")
    expect(delta.clients).toBe("")
    expect(delta.text).toContain("no monitor")
    const toDelta = d.edges.filter((e) => e.a === D!.broker.serverId || e.b === D!.broker.serverId)
    expect(toDelta).toHaveLength(2)
    for (const e of toDelta) expect(e.sides).toBe("1")
    expect(d.edges.find((e) => !toDelta.includes(e))!.sides).toBe("2")
    await page.screenshot({ path: path.join(outDir, "mesh-peer-without-monitor.png"), fullPage: true })
    expect(pageErrors).toEqual([])
  }, 60_000)
})
