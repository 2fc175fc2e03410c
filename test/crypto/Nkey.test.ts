/**
 * `Nkey`: the server's own reading and writing of public nkeys, checked against `@nats-io/nkeys`
 * (the library the keys in configs and JWTs are made with): the same text for the same bytes, the
 * same bytes back, and every corruption the library refuses refused.
 */
import { Codec } from "@nats-io/nkeys/lib/codec.js"
import { createAccount, createOperator, createServer, createUser, Prefix } from "@nats-io/nkeys"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodePublicKey, encodePublicKey, NkeyPrefix } from "../../src/crypto/Nkey.js"

const kinds = [
  ["operator", NkeyPrefix.operator, Prefix.Operator, createOperator],
  ["server", NkeyPrefix.server, Prefix.Server, createServer],
  ["account", NkeyPrefix.account, Prefix.Account, createAccount],
  ["user", NkeyPrefix.user, Prefix.User, createUser]
] as const

const libraryDecode = (prefix: Prefix, text: string): Uint8Array | undefined => {
  try {
    return Codec.decode(prefix, new TextEncoder().encode(text))
  } catch {
    return undefined
  }
}

describe("Nkey", () => {
  it.each(kinds)("%s keys: the library's public keys decode to its bytes and encode back", (_, ours, theirs, create) => {
    for (let i = 0; i < 20; i++) {
      const text = create().getPublicKey()
      const raw = decodePublicKey(ours, text)
      expect(raw).toEqual(libraryDecode(theirs, text))
      expect(encodePublicKey(ours, raw!)).toBe(text)
    }
  })

  it("encodes 32 bytes as the library does, for every kind", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...kinds), (bytes, [, ours, theirs]) => {
      const text = encodePublicKey(ours, bytes)
      expect(text).toBe(new TextDecoder().decode(Codec.encode(theirs, bytes)))
      expect(decodePublicKey(ours, text)).toEqual(bytes)
    }))
  })

  it("refuses what the library refuses: another kind, a changed character, a cut, a foreign character", () => {
    const text = createUser().getPublicKey()
    expect(decodePublicKey(NkeyPrefix.account, text)).toBeUndefined()
    expect(libraryDecode(Prefix.Account, text)).toBeUndefined()
    fc.assert(fc.property(fc.nat({ max: text.length - 1 }), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ234567a1=-"), (at, c) => {
      const changed = text.slice(0, at) + c + text.slice(at + 1)
      if (changed === text) return
      const lib = libraryDecode(Prefix.User, changed)
      const ours = decodePublicKey(NkeyPrefix.user, changed)
      // A changed character that keeps the checksum (rare) decodes in both; else both refuse.
      expect(ours).toEqual(lib?.length === 32 ? lib : undefined)
    }))
    expect(decodePublicKey(NkeyPrefix.user, text.slice(0, -1))).toBeUndefined()
    expect(decodePublicKey(NkeyPrefix.user, "")).toBeUndefined()
    expect(decodePublicKey(NkeyPrefix.user, text.toLowerCase())).toBeUndefined()
  })
})
