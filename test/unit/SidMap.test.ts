import { describe, expect, it } from "vitest"
import { SidMap } from "../../src/server/SidMap.js"
import { LocalSubscription, type Subscriber } from "../../src/server/Subscription.js"

const owner: Subscriber = { cid: 1, echo: true, deliver: () => true, forget: () => {} }
let seq = 0
const sub = (sid: string): LocalSubscription => {
  const s = new LocalSubscription(owner, "foo", undefined, sid)
  s.seq = ++seq // what the index writes when the router adds it
  return s
}

describe("SidMap", () => {
  it("answers like a Map, in insertion order, whatever the sids", () => {
    const sids = ["1", "2", "10", "01", "x", "3", "0", "999999999", "1000000000", "5000", "4", "-1", "", "900", "1900", "2900", "3900", "1023", "1024", "2047"]
    const m = new SidMap()
    const model = new Map<string, LocalSubscription>()
    for (const sid of sids) {
      const s = sub(sid)
      m.set(sid, s)
      model.set(sid, s)
    }
    expect(m.size).toBe(model.size)
    expect([...m.keys()]).toEqual([...model.keys()])
    expect([...m]).toEqual([...model])
    for (const sid of ["2", "x", "1000000000", "7", "1900", "1024"]) expect(m.delete(sid)).toBe(model.delete(sid))
    for (const sid of [...sids, "7", "02"]) {
      expect(m.has(sid)).toBe(model.has(sid))
      expect(m.get(sid)).toBe(model.get(sid))
    }
    const again = sub("2")
    m.set("2", again)
    model.set("2", again)
    expect([...m.values()]).toEqual([...model.values()])
    expect(m.size).toBe(model.size)
  })

  it("increasing integer sids stay in order without the stamps; emptied it starts over", () => {
    const m = new SidMap()
    const subs = Array.from({ length: 3000 }, (_, i) => new LocalSubscription(owner, "foo", undefined, String(i + 1)))
    for (const s of subs) m.set(s.sid, s)
    expect([...m.values()]).toEqual(subs)
    for (const s of subs) expect(m.delete(s.sid)).toBe(true)
    expect(m.size).toBe(0)
    expect([...m.keys()]).toEqual([])
    expect(m.delete("1")).toBe(false)
  })
})
