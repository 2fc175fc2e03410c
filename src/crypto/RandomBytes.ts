/**
 * Random bytes for ids and nonces: from `node:crypto`, unless a `Random` other than Effect's
 * default (`Math.random`) is given — a seeded `Random` (tests, `SimulatedCluster`) makes ids,
 * nonces and names replayable.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Random from "effect/Random"
import * as Crypto from "node:crypto"

/** Effect's default `Random` (Math.random): not seeded, so crypto bytes are used instead. */
const defaultRandom = Context.get(Context.empty(), Random.Random)

/** `n` random bytes: from a seeded `random` when one is given, else from `node:crypto`. */
export const randomBytes = (n: number, random?: Random.Random): Buffer => {
  if (random === undefined || random === defaultRandom) return Crypto.randomBytes(n)
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random.nextDoubleUnsafe() * 256)
  return out
}
