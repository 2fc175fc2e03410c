/**
 * What the cluster knows about its members, as an immutable snapshot held in a `Ref`.
 *
 * Everything clients and operators see about the cluster derives from it: the `connect_urls` in
 * client INFO (peers in the order they joined, lame-duck members left out) and, later, /routez.
 * The pure functions here are the whole membership logic, so they are property-tested directly.
 *
 * @since 0.1.0
 */

export interface Member {
  readonly serverId: string
  readonly serverName: string
  /** Where the member accepts routes (`host:port`). */
  readonly routeUrl: string
  /** Where the member accepts clients (`host:port`), as it advertised them. */
  readonly clientUrls: ReadonlyArray<string>
  /** In lame-duck mode: still a member, but clients must not be sent to it. */
  readonly ldm: boolean
  /** The route connection id it is reached through. */
  readonly rid: number
  /** Join order, so connect_urls keep a stable order. */
  readonly seq: number
}

export interface MembershipState {
  readonly members: ReadonlyMap<string, Member>
  readonly seq: number
}

export const empty: MembershipState = { members: new Map(), seq: 0 }

/** A member joined (or re-joined through a new route). */
export const join = (state: MembershipState, member: Omit<Member, "seq">): MembershipState => {
  const members = new Map(state.members)
  const seq = state.seq + 1
  members.set(member.serverId, { ...member, seq })
  return { members, seq }
}

/** A member's route went away; only the route it was known through can remove it. */
export const leave = (state: MembershipState, serverId: string, rid: number): MembershipState => {
  const known = state.members.get(serverId)
  if (known === undefined || known.rid !== rid) return state
  const members = new Map(state.members)
  members.delete(serverId)
  return { members, seq: state.seq }
}

/** A member re-announced itself (lame duck, new client URLs). */
export const update = (
  state: MembershipState,
  serverId: string,
  change: { readonly ldm?: boolean; readonly clientUrls?: ReadonlyArray<string> }
): MembershipState => {
  const known = state.members.get(serverId)
  if (known === undefined) return state
  const members = new Map(state.members)
  members.set(serverId, {
    ...known,
    ldm: change.ldm ?? known.ldm,
    clientUrls: change.clientUrls ?? known.clientUrls
  })
  return { members, seq: state.seq }
}

/** The peers' client URLs for connect_urls: join order, no duplicates, lame ducks left out. */
export const peerClientUrls = (state: MembershipState): Array<string> => {
  const ordered = [...state.members.values()].sort((a, b) => a.seq - b.seq)
  const out: Array<string> = []
  for (const m of ordered) {
    if (m.ldm) continue
    for (const url of m.clientUrls) if (!out.includes(url)) out.push(url)
  }
  return out
}
