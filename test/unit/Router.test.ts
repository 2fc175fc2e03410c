/**
 * The routing core on its own: a `Router` built directly with fake subscribers, fake routes and a
 * recording `InterestListener` — no connection, no socket. Where the exact RMSG bytes matter, real
 * `RouteConnection`s with fake session I/O stand in for the routes.
 */
import { describe, expect, it } from "vitest"
import { StallSignal, Router, type Flushable, type Producer, type Publisher } from "../../src/server/Router.js"
import { LocalSubscription, RemoteInterest } from "../../src/server/Subscription.js"
import { ClientDriver, drain, FakeIO, makeServer, RecordingListener, RecordingRoute, RecordingSubscriber, seededRandom, bytes } from "./fakes.js"
import { RouteConnection } from "../../src/cluster/RouteConnection.js"

const payload = bytes("hi")
const publisher = (cid: number, echo = true): Publisher => ({ cid, echo })

const router = (seed = "router"): { router: Router; listener: RecordingListener } => {
  const listener = new RecordingListener()
  const r = new Router(listener)
  const random = seededRandom(seed)
  r.random = () => random.nextDoubleUnsafe()
  return { router: r, listener }
}

describe("Router: local delivery", () => {
  it("delivers to every matching plain subscription, with the published subject and reply", () => {
    const { router: r } = router()
    const a = new RecordingSubscriber(1)
    const b = new RecordingSubscriber(2)
    r.addLocal(new LocalSubscription(a, "orders.*", undefined, "1"))
    r.addLocal(new LocalSubscription(a, "orders.>", undefined, "2"))
    r.addLocal(new LocalSubscription(b, "orders.new", undefined, "9"))
    r.addLocal(new LocalSubscription(b, "other", undefined, "10"))
    expect(r.publishLocal(publisher(3), "orders.new", "r.1", -1, payload)).toBe(3)
    expect(a.got.map((d) => d.sid).sort()).toEqual(["1", "2"])
    expect(b.got).toEqual([{ sid: "9", subject: "orders.new", reply: "r.1", payload: "hi" }])
    expect(r.publishLocal(publisher(3), "nobody", undefined, -1, payload)).toBe(0)
    expect(r.stats).toMatchObject({ inMsgs: 2, outMsgs: 3, inBytes: 4, outBytes: 6 })
  })

  it.each([
    { echo: true, own: 1, other: 1 },
    { echo: false, own: 0, other: 1 }
  ])("echo=$echo: the publisher's own subscription gets $own, another's gets $other", ({ echo, own, other }) => {
    const { router: r } = router()
    const self = new RecordingSubscriber(7, echo)
    const peer = new RecordingSubscriber(8)
    r.addLocal(new LocalSubscription(self, "foo", undefined, "1"))
    r.addLocal(new LocalSubscription(peer, "foo", undefined, "1"))
    expect(r.publishLocal(publisher(7, echo), "foo", undefined, -1, payload)).toBe(own + other)
    expect(self.got.length).toBe(own)
    expect(peer.got.length).toBe(other)
  })

  it("echo=false: the publisher's own queue member is never picked; with only its own member nobody gets it", () => {
    const { router: r } = router()
    const self = new RecordingSubscriber(7, false)
    const peer = new RecordingSubscriber(8)
    r.addLocal(new LocalSubscription(self, "work", "q", "1"))
    for (let i = 0; i < 50; i++) r.publishLocal(publisher(7, false), "work", undefined, -1, payload)
    expect(self.got.length).toBe(0)
    r.addLocal(new LocalSubscription(peer, "work", "q", "1"))
    for (let i = 0; i < 50; i++) expect(r.publishLocal(publisher(7, false), "work", undefined, -1, payload)).toBe(1)
    expect([self.got.length, peer.got.length]).toEqual([0, 50])
  })

  it("a member that refuses (denied subject) passes the message to another member of its group", () => {
    const { router: r } = router()
    const refusing = new RecordingSubscriber(1)
    refusing.refuse = true
    const willing = new RecordingSubscriber(2)
    r.addLocal(new LocalSubscription(refusing, "work", "q", "1"))
    r.addLocal(new LocalSubscription(willing, "work", "q", "1"))
    for (let i = 0; i < 40; i++) expect(r.publishLocal(publisher(3), "work", undefined, -1, payload)).toBe(1)
    expect(willing.got.length).toBe(40)
  })
})

describe("Router: queue groups", () => {
  it("each message goes to exactly one member of each group; plain subscribers all get it", () => {
    const { router: r } = router()
    const members = [new RecordingSubscriber(1), new RecordingSubscriber(2), new RecordingSubscriber(3)]
    const others = [new RecordingSubscriber(4), new RecordingSubscriber(5)]
    const plain = new RecordingSubscriber(6)
    members.forEach((m) => r.addLocal(new LocalSubscription(m, "jobs.*", "workers", "1")))
    others.forEach((m) => r.addLocal(new LocalSubscription(m, "jobs.>", "auditors", "1")))
    r.addLocal(new LocalSubscription(plain, "jobs.run", undefined, "1"))
    const n = 300
    for (let i = 0; i < n; i++) expect(r.publishLocal(publisher(9), "jobs.run", undefined, -1, payload)).toBe(3)
    expect(members.reduce((s, m) => s + m.got.length, 0)).toBe(n)
    expect(others.reduce((s, m) => s + m.got.length, 0)).toBe(n)
    expect(plain.got.length).toBe(n)
    // Every member is used (random choice, not always the first).
    for (const m of [...members, ...others]) expect(m.got.length).toBeGreaterThan(n / 10)
  })

  it("remote queue interest counts with its RS+ weight: 1 local : 3 on route A : 2 on route B", () => {
    const N = 6000
    const run = (seed: string) => {
      const { router: r } = router(seed)
      const local = new RecordingSubscriber(1)
      const a = new RecordingRoute(100)
      const b = new RecordingRoute(101)
      r.addLocal(new LocalSubscription(local, "work", "q", "1"))
      r.addRemote(new RemoteInterest(a, "work", "q", 3))
      r.addRemote(new RemoteInterest(b, "work", "q", 2))
      let deliveries = 0
      for (let i = 0; i < N; i++) deliveries += r.publishLocal(publisher(9), "work", undefined, -1, payload)
      expect(deliveries).toBe(N)
      // A route chosen for the group carries the group's name (`| q`).
      for (const route of [a, b]) expect(route.sent.every((m) => m.queues?.length === 1 && m.queues[0] === "q")).toBe(true)
      return [local.got.length, a.sent.length, b.sent.length]
    }
    const counts = run("weights")
    expect(counts.reduce((x, y) => x + y, 0)).toBe(N)
    const expected = [1 / 6, 3 / 6, 2 / 6]
    // Binomial standard deviation is at most 0.0065 here: 0.025 is almost 4 of them.
    counts.forEach((c, i) => expect(Math.abs(c / N - expected[i]!)).toBeLessThan(0.025))
    // Deterministic for the seed; another seed gives another sequence with the same proportions.
    expect(run("weights")).toEqual(counts)
    const other = run("weights-2")
    expect(other).not.toEqual(counts)
    other.forEach((c, i) => expect(Math.abs(c / N - expected[i]!)).toBeLessThan(0.025))
  })

  it("a weight changed by a repeated RS+ takes effect at once", () => {
    const { router: r } = router("reweight")
    const local = new RecordingSubscriber(1)
    const route = new RecordingRoute(100)
    const interest = new RemoteInterest(route, "work", "q", 1)
    r.addLocal(new LocalSubscription(local, "work", "q", "1"))
    r.addRemote(interest)
    interest.weight = 9
    for (let i = 0; i < 2000; i++) r.publishLocal(publisher(9), "work", undefined, -1, payload)
    expect(Math.abs(route.sent.length / 2000 - 0.9)).toBeLessThan(0.03)
  })
})

describe("Router: auto-unsubscribe", () => {
  it("stops after max deliveries, removes the subscription from the index and tells the listener 1→0", () => {
    const { router: r, listener } = router()
    const owner = new RecordingSubscriber(1)
    const sub = new LocalSubscription(owner, "foo", undefined, "5")
    r.addLocal(sub)
    sub.max = 2
    const results = [0, 1, 2].map(() => r.publishLocal(publisher(2), "foo", undefined, -1, payload))
    expect(results).toEqual([1, 1, 0])
    expect(owner.got.length).toBe(2)
    expect(owner.forgotten).toEqual(["5"])
    expect(sub.closed).toBe(true)
    expect(r.index.match("foo").plain.length).toBe(0)
    expect(r.global.localInterest.has("foo")).toBe(false)
    expect(listener.changes).toEqual([
      { account: "$G", subject: "foo", queue: undefined, count: 1 },
      { account: "$G", subject: "foo", queue: undefined, count: 0 }
    ])
    // Removing it again (the client's UNSUB or close) changes nothing.
    r.removeLocal(sub)
    expect(listener.changes.length).toBe(2)
  })

  it("a queue member with max leaves its group after max; the others take over", () => {
    const { router: r, listener } = router()
    const a = new RecordingSubscriber(1)
    const b = new RecordingSubscriber(2)
    const subA = new LocalSubscription(a, "q.x", "g", "1")
    r.addLocal(subA)
    r.addLocal(new LocalSubscription(b, "q.x", "g", "1"))
    subA.max = 3
    for (let i = 0; i < 100; i++) r.publishLocal(publisher(3), "q.x", undefined, -1, payload)
    expect(a.got.length).toBe(3)
    expect(b.got.length).toBe(97)
    expect(listener.changes.map((c) => c.count)).toEqual([1, 2, 1])
  })
})

describe("Router: interest announced to the listener", () => {
  it.each([
    {
      name: "plain: only 0→1 and 1→0",
      steps: [["add", "a"], ["add", "a"], ["remove", "a"], ["remove", "a"]] as const,
      want: [["a", undefined, 1], ["a", undefined, 0]]
    },
    {
      name: "queue: every change, with the member count as weight",
      steps: [["add", "a q"], ["add", "a q"], ["remove", "a q"], ["remove", "a q"]] as const,
      want: [["a", "q", 1], ["a", "q", 2], ["a", "q", 1], ["a", "q", 0]]
    },
    {
      name: "a subject and a queue group on it are separate interests",
      steps: [["add", "a"], ["add", "a q"], ["remove", "a"]] as const,
      want: [["a", undefined, 1], ["a", "q", 1], ["a", undefined, 0]]
    }
  ])("$name", ({ steps, want }) => {
    const { router: r, listener } = router()
    const owner = new RecordingSubscriber(1)
    const live = new Map<string, Array<LocalSubscription>>()
    steps.forEach(([what, key], i) => {
      const [subject, queue] = key.split(" ")
      const list = live.get(key) ?? []
      live.set(key, list)
      if (what === "add") {
        const sub = new LocalSubscription(owner, subject!, queue, String(i))
        list.push(sub)
        r.addLocal(sub)
      } else {
        r.removeLocal(list.pop()!)
      }
    })
    expect(listener.changes.map((c) => [c.subject, c.queue, c.count])).toEqual(want)
  })

  it("remote interest is never announced (one hop)", () => {
    const { router: r, listener } = router()
    r.addRemote(new RemoteInterest(new RecordingRoute(1), "foo", undefined, 1))
    r.addRemote(new RemoteInterest(new RecordingRoute(1), "bar", "q", 4))
    expect(listener.changes).toEqual([])
    expect(r.global.localInterest.size).toBe(0)
  })
})

describe("Router: routes", () => {
  it("a message matching several interests of one route goes to that route once, with the chosen groups", () => {
    const { router: r } = router()
    const a = new RecordingRoute(1)
    const b = new RecordingRoute(2)
    for (const subject of ["q.x", "q.*", "q.>", ">"]) r.addRemote(new RemoteInterest(a, subject, undefined, 1))
    r.addRemote(new RemoteInterest(a, "q.>", "grp", 2))
    r.addRemote(new RemoteInterest(a, "q.*", "other", 1))
    r.addRemote(new RemoteInterest(b, "q.x", undefined, 1))
    expect(r.publishLocal(publisher(9), "q.x", "_INBOX.r1", -1, payload)).toBe(2)
    expect(a.sent).toEqual([{ account: "$G", subject: "q.x", reply: "_INBOX.r1", queues: ["grp", "other"], payload: "hi" }])
    expect(b.sent).toEqual([{ account: "$G", subject: "q.x", reply: "_INBOX.r1", queues: undefined, payload: "hi" }])
    // The scratch is per message: the next one to only plain interest carries no groups.
    r.publishLocal(publisher(9), "z", undefined, -1, payload)
    expect(a.sent[1]).toEqual({ account: "$G", subject: "z", reply: undefined, queues: undefined, payload: "hi" })
  })

  it("a group with a local member chosen is not named in the RMSG; the route still gets its plain copy once", () => {
    const { router: r } = router("local-wins")
    const route = new RecordingRoute(1)
    const local = new RecordingSubscriber(1)
    r.addLocal(new LocalSubscription(local, "q.x", "grp", "1"))
    r.addRemote(new RemoteInterest(route, "q.x", "grp", 1))
    r.addRemote(new RemoteInterest(route, "q.x", undefined, 1))
    for (let i = 0; i < 200; i++) r.publishLocal(publisher(9), "q.x", undefined, -1, payload)
    expect(route.sent.length).toBe(200)
    const named = route.sent.filter((m) => m.queues !== undefined).length
    expect(named + local.got.length).toBe(200)
    expect(local.got.length).toBeGreaterThan(50)
    expect(named).toBeGreaterThan(50)
  })

  it("the RMSG bytes: `| queues` without reply, `+ reply queues` with one, as nats-server's route.go writes them", () => {
    const { server } = makeServer()
    const route = new RouteConnection(server.nextId(), server, "127.0.0.1", 1, undefined, false, new FakeIO())
    const r = server.router
    r.addRemote(new RemoteInterest(route, "q.>", "grp", 1))
    r.addRemote(new RemoteInterest(route, "q.x", undefined, 1))
    r.addRemote(new RemoteInterest(route, "q.*", "other", 1))
    r.addRemote(new RemoteInterest(route, "zz.a", undefined, 1))
    r.publishLocal(publisher(9), "q.x", undefined, -1, bytes("m1"))
    r.publishLocal(publisher(9), "q.x", "_INBOX.r1", -1, bytes("m2"))
    r.publishLocal(publisher(9), "q.x", "_INBOX.r2", 12, bytes("NATS/1.0\r\n\r\nm3"))
    r.publishLocal(publisher(9), "zz.a", "r.1", -1, bytes("abc"))
    r.flush()
    // nats-server 2.9.10 live (NATS-REFERENCE §2.5), for the same interest.
    expect(drain(route.out)).toBe(
      "RMSG $G q.x | grp other 2\r\nm1\r\n" +
        "RMSG $G q.x + _INBOX.r1 grp other 2\r\nm2\r\n" +
        "HMSG $G q.x + _INBOX.r2 grp other 12 14\r\nNATS/1.0\r\n\r\nm3\r\n" +
        "RMSG $G zz.a r.1 3\r\nabc\r\n"
    )
  })

  it("a message from a route goes to local subscribers only, never to a route (one hop)", () => {
    const { router: r } = router()
    const route = new RecordingRoute(1)
    const local = new RecordingSubscriber(1)
    r.addRemote(new RemoteInterest(route, "foo", undefined, 1))
    r.addRemote(new RemoteInterest(route, "foo", "q", 1))
    r.addLocal(new LocalSubscription(local, "foo", undefined, "1"))
    r.publishFromRoute("foo", undefined, ["q"], -1, payload)
    expect(route.sent).toEqual([])
    expect(local.got.length).toBe(1)
  })

  it.each([
    { queues: undefined, plain: 1, g1: 0, g2: 0 },
    { queues: ["g1"], plain: 1, g1: 1, g2: 0 },
    { queues: ["g1", "g2"], plain: 1, g1: 1, g2: 1 },
    { queues: ["nope"], plain: 1, g1: 0, g2: 0 }
  ])("from a route with queues $queues: plain $plain, one member of each named group", ({ queues, plain, g1, g2 }) => {
    const { router: r } = router()
    const p = new RecordingSubscriber(1)
    const g1m = [new RecordingSubscriber(2), new RecordingSubscriber(3)]
    const g2m = [new RecordingSubscriber(4)]
    r.addLocal(new LocalSubscription(p, "foo", undefined, "1"))
    g1m.forEach((m) => r.addLocal(new LocalSubscription(m, "foo", "g1", "1")))
    g2m.forEach((m) => r.addLocal(new LocalSubscription(m, "foo", "g2", "1")))
    r.publishFromRoute("foo", undefined, queues, -1, payload)
    expect(p.got.length).toBe(plain)
    expect(g1m.reduce((s, m) => s + m.got.length, 0)).toBe(g1)
    expect(g2m.reduce((s, m) => s + m.got.length, 0)).toBe(g2)
  })
})

describe("Router: flush and stall", () => {
  class FakeConn implements Flushable {
    dirty = false
    flushes: Array<Producer | undefined> = []
    flush(producer?: Producer): void {
      this.flushes.push(producer)
    }
  }

  it("a connection touched several times in a batch is flushed once, with the batch's producer", () => {
    const { router: r } = router()
    const a = new FakeConn()
    const b = new FakeConn()
    const producer = new StallSignal()
    r.markDirty(a)
    r.markDirty(b)
    r.markDirty(a)
    r.flush(producer)
    expect([a.flushes, b.flushes]).toEqual([[producer], [producer]])
    expect([a.dirty, b.dirty]).toEqual([false, false])
    r.flush()
    expect(a.flushes.length).toBe(1)
    r.markDirty(a)
    r.flush()
    expect(a.flushes).toEqual([producer, undefined])
  })

  it("many messages to one client in one batch wake its writer once", () => {
    const { server } = makeServer()
    const sub = new ClientDriver(server)
    sub.send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n")
    const wakes = sub.io.wakes
    const pub = new ClientDriver(server)
    pub.send("CONNECT {\"verbose\":false}\r\n" + "PUB foo 1\r\nx\r\n".repeat(20))
    expect(sub.io.wakes).toBe(wakes + 1)
    expect(sub.output()).toBe("MSG foo 1 1\r\nx\r\n".repeat(20))
  })

  it("the stall goes to the producer whose batch backlogged the consumer, and only to it", () => {
    const { server } = makeServer({ maxPending: 4096, maxPayload: 1024 })
    const consumer = new ClientDriver(server)
    consumer.send("CONNECT {\"verbose\":false}\r\nSUB big 1\r\nSUB small 2\r\n")
    const fast = new ClientDriver(server)
    const polite = new ClientDriver(server)
    fast.send("CONNECT {\"verbose\":false}\r\n")
    polite.send("CONNECT {\"verbose\":false}\r\nPUB small 1\r\nx\r\n")
    expect(polite.conn.stall.stalledOn).toBeUndefined()
    const body = "b".repeat(1000)
    // Three 1000-byte messages: past half of max_pending (2048) while the writer took nothing.
    fast.send(`PUB big 1000\r\n${body}\r\n`.repeat(3))
    expect(consumer.conn.pending).toBeGreaterThan(2048)
    expect(fast.conn.stall.stalledOn).toBe(consumer.conn)
    expect(polite.conn.stall.stalledOn).toBeUndefined()
    expect(consumer.conn.stalls).toBe(1)
    // A flush outside any producer's batch (a keepalive PING, an async INFO) stalls nobody, the
    // backlogged connection itself included.
    consumer.conn.sendPing()
    server.infoChanged()
    expect(consumer.conn.stall.stalledOn).toBeUndefined()
    expect(polite.conn.stall.stalledOn).toBeUndefined()
    expect(consumer.conn.stalls).toBe(1)
    // The next batch of the polite producer into the backlogged consumer stalls it too, on its own signal.
    polite.send("PUB small 1\r\nx\r\n")
    expect(polite.conn.stall.stalledOn).toBe(consumer.conn)
    expect(consumer.conn.stalls).toBe(2)
  })
})
