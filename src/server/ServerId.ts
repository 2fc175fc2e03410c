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
import { randomBytes } from "../crypto/RandomBytes.js"

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
/** nkeys prefix byte for server keys: 13 << 3, which base32-encodes to a leading `N`. */
const PREFIX_SERVER = 13 << 3

const crc16 = (data: Uint8Array): number => {
  // CRC-16/XMODEM, the checksum nkeys append.
  let crc = 0
  for (const byte of data) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

const base32 = (data: Uint8Array): string => {
  let out = ""
  let bits = 0
  let value = 0
  for (const byte of data) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/** A fresh server id, e.g. `NATLQK7OY3EF6JQQLLS37R73KUB2DWEZRFWEOT7GVBX2ZRNC7CU3W4E6`. */
export const makeServerId = (random?: Random.Random): string => {
  const raw = new Uint8Array(35)
  raw[0] = PREFIX_SERVER
  raw.set(randomBytes(32, random), 1)
  const crc = crc16(raw.subarray(0, 33))
  raw[33] = crc & 0xff
  raw[34] = crc >> 8
  return base32(raw)
}

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
