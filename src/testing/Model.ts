/**
 * A reference model of NATS delivery, deliberately naive: a list of subscriptions and the plain
 * definition of matching. Use it as the oracle in property tests — of this server's index, or of
 * your own handlers' routing assumptions.
 *
 * @since 0.1.0
 */
import { matchesPattern } from "../subjects/Subject.js"

export interface ModelSubscription {
  readonly id: string
  readonly subject: string
  readonly queue?: string | undefined
}

/** Whether subscription subject `pattern` (with `*` / `>`) matches the literal `subject`. */
export const matches = (pattern: string, subject: string): boolean => matchesPattern(pattern, subject)

export interface ExpectedDelivery {
  /** Every plain subscription that gets its own copy. */
  readonly plain: ReadonlyArray<string>
  /** Per queue group that matched: the members one of which (and only one) gets a copy. */
  readonly groups: ReadonlyMap<string, ReadonlyArray<string>>
}

/** What a message on `subject` must reach, given `subs`. */
export const expectedDelivery = (subs: ReadonlyArray<ModelSubscription>, subject: string): ExpectedDelivery => {
  const plain: Array<string> = []
  const groups = new Map<string, Array<string>>()
  for (const s of subs) {
    if (!matches(s.subject, subject)) continue
    if (s.queue === undefined) plain.push(s.id)
    else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s.id])
  }
  return { plain, groups }
}

/**
 * Check an observed delivery (the subscription ids that received one message) against the model:
 * every plain subscriber exactly once, exactly one member of every matching group, nobody else.
 * Returns a description of the first violation, or undefined.
 */
export const checkDelivery = (expected: ExpectedDelivery, received: ReadonlyArray<string>): string | undefined => {
  const counts = new Map<string, number>()
  for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1)
  for (const id of expected.plain) {
    if (counts.get(id) !== 1) return `plain subscription ${id} received ${counts.get(id) ?? 0} copies`
    counts.delete(id)
  }
  for (const [queue, members] of expected.groups) {
    const got = members.filter((m) => counts.has(m))
    const copies = got.reduce((n, m) => n + counts.get(m)!, 0)
    if (copies !== 1) return `queue group ${queue} received ${copies} copies`
    for (const m of got) counts.delete(m)
  }
  if (counts.size > 0) return `unexpected deliveries to ${[...counts.keys()].join(", ")}`
  return undefined
}
