/**
 * Checking a secret a client presents (password, token) against the configured one, and an nkey
 * signature against the nonce the server sent.
 *
 * - A configured secret that looks like bcrypt (`$2a$`, `$2b$`, `$2x$`, `$2y$` + cost, as
 *   nats-server's `isBcrypt`) is verified with `@node-rs/bcrypt`'s async `verify`, which runs on a
 *   libuv worker thread: a storm of logins costs the event loop nothing. The result is then a
 *   `Promise`; callers that get one hold the connection until it settles.
 * - A plain secret is compared in constant time (`crypto.timingSafeEqual` over SHA-256 digests, so
 *   not even the length leaks), synchronously.
 * - An nkey is decoded and validated once, when the configuration is loaded (`Nkey`); the
 *   signature is verified with `node:crypto`'s native Ed25519 (tweetnacl's pure-JS verify, which
 *   `@nats-io/nkeys` uses, costs ~10 ms of event-loop time per login on this machine).
 *
 * @since 0.1.0
 */
import * as crypto from "node:crypto"
import { decodePublicKey, NkeyPrefix } from "./Nkey.js"
import type * as Random from "effect/Random"
import { randomBytes } from "./RandomBytes.js"

const BCRYPT = /^\$2[abxy]\$\d{2}\$/

/** nats-server's `isBcrypt`: the configured secret is a bcrypt hash. */
export const isBcrypt = (secret: string): boolean => secret.startsWith("$") && BCRYPT.test(secret)

const digest = (s: string): Buffer => crypto.createHash("sha256").update(s, "utf8").digest()

/** Constant-time equality of two plain secrets. */
export const safeEqual = (a: string, b: string): boolean => crypto.timingSafeEqual(digest(a), digest(b))

/**
 * nats-server's `comparePasswords`: bcrypt when the configured secret is a hash (asynchronous,
 * off the event loop), else a constant-time comparison (synchronous).
 */
export const compareSecret = (configured: string, presented: string | undefined): boolean | Promise<boolean> => {
  const given = presented ?? ""
  // The native addon is loaded with the first bcrypt secret checked: a server without one never maps it.
  if (isBcrypt(configured)) return import("@node-rs/bcrypt").then((bcrypt) => bcrypt.verify(given, configured)).then((ok) => ok, () => false)
  return safeEqual(configured, given)
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")

/** A configured nkey user's public key, ready to verify signatures. */
export interface NkeyVerifier {
  readonly nkey: string
  verify(nonce: string, signature: string | undefined): boolean
}

/** Decode a user nkey (`U…`); fails with nats-server's config error text when it is not one. */
export const nkeyVerifier = (nkey: string): NkeyVerifier | string => {
  const raw = decodePublicKey(NkeyPrefix.user, nkey)
  if (raw === undefined) return "Not a valid public nkey for a user"
  const key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" })
  return {
    nkey,
    verify: (nonce, signature) => {
      if (signature === undefined || signature === "") return false
      // nats-server takes raw URL base64 and falls back to standard; Node's decoder reads both.
      const sig = Buffer.from(signature, "base64")
      if (sig.length !== 64) return false
      try {
        return crypto.verify(null, Buffer.from(nonce, "latin1"), key, sig)
      } catch {
        return false
      }
    }
  }
}

/** A fresh INFO nonce as nats-server makes it: 11 random bytes, raw URL base64 (15 characters). */
export const makeNonce = (random?: Random.Random): string => randomBytes(11, random).toString("base64url")
