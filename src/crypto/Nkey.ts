/**
 * The text form of nkeys (public keys only): a prefix byte naming the kind, the 32 key bytes and a
 * CRC-16/XMODEM checksum (little-endian), base32 without padding. Encoding only — signatures are
 * checked with `node:crypto`'s Ed25519 (see `Secrets`, `Jwt`).
 *
 * The server reads public keys at start-up (server id) and when nkeys or JWTs are configured:
 * this keeps `@nats-io/nkeys` (and the pure-JS tweetnacl under it) out of the server process.
 *
 * @since 0.1.0
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/** nkeys prefix bytes of the public kinds the server reads or makes. */
export const NkeyPrefix = {
  operator: 14 << 3,
  server: 13 << 3,
  account: 0,
  user: 20 << 3
} as const

/** CRC-16/XMODEM, the checksum nkeys append. */
export const crc16 = (data: Uint8Array): number => {
  let crc = 0
  for (const byte of data) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

/** Base32 (RFC 4648 alphabet, no padding). */
export const encodeBase32 = (data: Uint8Array): string => {
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

/** Base32 back to bytes (leftover bits dropped); undefined on a character outside the alphabet. */
const decodeBase32 = (text: string): Uint8Array | undefined => {
  const out = new Uint8Array((text.length * 5) >> 3)
  let bits = 0
  let value = 0
  let j = 0
  for (let i = 0; i < text.length; i++) {
    const v = ALPHABET.indexOf(text[i]!)
    if (v === -1) return undefined
    value = ((value << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      out[j++] = (value >>> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  return out.subarray(0, j)
}

/** The text form of a public key of the kind `prefix` (32 bytes). */
export const encodePublicKey = (prefix: number, key: Uint8Array): string => {
  const raw = new Uint8Array(35)
  raw[0] = prefix
  raw.set(key, 1)
  const crc = crc16(raw.subarray(0, 33))
  raw[33] = crc & 0xff
  raw[34] = crc >> 8
  return encodeBase32(raw)
}

/**
 * The 32 key bytes of a public nkey of the kind `prefix`, or undefined when the text is not one
 * (alphabet, length, checksum or prefix byte).
 */
export const decodePublicKey = (prefix: number, text: string): Uint8Array | undefined => {
  const raw = decodeBase32(text)
  if (raw === undefined || raw.length !== 35) return undefined
  if (crc16(raw.subarray(0, 33)) !== (raw[33]! | (raw[34]! << 8))) return undefined
  if (raw[0] !== prefix) return undefined
  return raw.slice(1, 33)
}
