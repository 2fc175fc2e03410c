/**
 * The text form of nkeys (public keys only): a prefix byte naming the kind, the 32 key bytes and a
 * CRC-16/XMODEM checksum (little-endian), base32 without padding. Encoding only — signatures are
 * checked with `node:crypto`'s Ed25519 (see `Secrets`, `Jwt`).
 *
 * The server reads public keys at start-up (server id) and when nkeys or JWTs are configured.
 * The base32 and CRC-16 are `@nats-io/nkeys`'s own modules, imported alone: its entry point (and
 * its codec) evaluate all of nkeys and the pure-JS tweetnacl under it, megabytes of an idle
 * server's heap for key pairs the server never makes.
 *
 * @since 0.1.0
 */
import { base32 } from "@nats-io/nkeys/lib/base32.js"
import { crc16 } from "@nats-io/nkeys/lib/crc16.js"

/** nkeys prefix bytes of the public kinds the server reads or makes. */
export const NkeyPrefix = {
  operator: 14 << 3,
  server: 13 << 3,
  account: 0,
  user: 20 << 3
} as const

const ascii = new TextDecoder("latin1")
const encoder = new TextEncoder()

/** The text form of a public key of the kind `prefix` (32 bytes). */
export const encodePublicKey = (prefix: number, key: Uint8Array): string => {
  const raw = new Uint8Array(35)
  raw[0] = prefix
  raw.set(key, 1)
  const crc = crc16.checksum(raw.subarray(0, 33))
  raw[33] = crc & 0xff
  raw[34] = crc >> 8
  return ascii.decode(base32.encode(raw))
}

/**
 * The 32 key bytes of a public nkey of the kind `prefix`, or undefined when the text is not one
 * (alphabet, length, checksum or prefix byte).
 */
export const decodePublicKey = (prefix: number, text: string): Uint8Array | undefined => {
  let raw: Uint8Array
  try {
    raw = base32.decode(encoder.encode(text))
  } catch {
    return undefined // a character outside the alphabet
  }
  if (raw.length !== 35) return undefined
  if (crc16.checksum(raw.subarray(0, 33)) !== (raw[33]! | (raw[34]! << 8))) return undefined
  if (raw[0] !== prefix) return undefined
  return raw.slice(1, 33)
}
