/**
 * Server identities in the shape nats-server uses: a 56-character nkey-style public key starting
 * with `N` (base32 of a prefix byte, 32 random bytes and a CRC16), and random nonces.
 *
 * The bytes come from `node:crypto` unless a `Random` other than Effect's default (`Math.random`)
 * is given: a seeded `Random` (tests, `SimulatedCluster`) makes ids, nonces and names replayable.
 *
 * @since 0.1.0
 */
import type * as Random from "effect/Random"
import { encodePublicKey, NkeyPrefix } from "../crypto/Nkey.js"
import { randomBytes, systemRandomBytes } from "../crypto/RandomBytes.js"

/**
 * A fresh server id, e.g. `NATLQK7OY3EF6JQQLLS37R73KUB2DWEZRFWEOT7GVBX2ZRNC7CU3W4E6` (its bytes
 * from the OS's random device: every start-up makes one, see `systemRandomBytes`).
 */
export const makeServerId = (random?: Random.Random): string => encodePublicKey(NkeyPrefix.server, systemRandomBytes(32, random))

/** A random URL-safe nonce like nats-server's (15 characters). */
export const makeNonce = (random?: Random.Random): string => randomBytes(11, random).toString("base64url").slice(0, 15)

/** A random 22-character name, as nats-server generates for a dynamic cluster. */
export const makeDynamicName = (random?: Random.Random): string => {
  const bytes = randomBytes(22, random)
  let out = ""
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  for (const b of bytes) out += chars[b % chars.length]
  return out
}
