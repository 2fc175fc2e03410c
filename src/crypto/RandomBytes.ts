/**
 * Random bytes for ids and nonces: from `node:crypto`, unless a `Random` other than Effect's
 * default (`Math.random`) is given — a seeded `Random` (tests, `SimulatedCluster`) makes ids,
 * nonces and names replayable.
 *
 * The server id, the one random value every start-up needs, reads the OS's random device
 * instead when there is one (`systemRandomBytes`): `node:crypto` is ~0.7 MiB of an idle
 * server's RSS (its JavaScript and OpenSSL's pages), and the executable's bundle loads it only
 * on first use (see scripts/build.js) — a server without auth, TLS or a cluster never does.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Random from "effect/Random"
import * as Crypto from "node:crypto"
import * as fs from "node:fs"

/** Effect's default `Random` (Math.random): not seeded, so crypto bytes are used instead. */
const defaultRandom = Context.get(Context.empty(), Random.Random)

const seeded = (n: number, random: Random.Random): Buffer => {
  const out = Buffer.alloc(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random.nextDoubleUnsafe() * 256)
  return out
}

/** `n` random bytes: from a seeded `random` when one is given, else from `node:crypto`. */
export const randomBytes = (n: number, random?: Random.Random): Buffer =>
  random === undefined || random === defaultRandom ? Crypto.randomBytes(n) : seeded(n, random)

/** `n` bytes of `/dev/urandom` (the kernel's CSPRNG, what OpenSSL seeds from), or undefined without one. */
const urandom = (n: number): Buffer | undefined => {
  let fd: number
  try {
    fd = fs.openSync("/dev/urandom", "r")
  } catch {
    return undefined
  }
  try {
    const out = Buffer.alloc(n)
    for (let off = 0; off < n;) {
      const got = fs.readSync(fd, out, off, n - off, null)
      if (got <= 0) return undefined
      off += got
    }
    return out
  } catch {
    return undefined
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * As {@link randomBytes}, but from the OS's random device where there is one (else
 * `node:crypto`): for what start-up needs, so that a server that never needs `node:crypto`
 * never loads it.
 */
export const systemRandomBytes = (n: number, random?: Random.Random): Buffer =>
  random === undefined || random === defaultRandom ? (urandom(n) ?? Crypto.randomBytes(n)) : seeded(n, random)
