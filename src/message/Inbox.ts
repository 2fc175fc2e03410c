/**
 * Unique names as NATS clients make them: a nuid (22 random base62 characters) and the inbox
 * subject `_INBOX.<nuid>` a request's reply comes back on. Shared by the TCP client and the
 * in-process broker API.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"

const NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** A random 22-character base62 identifier, as NATS clients use for inboxes. */
export const nuid = (): string => {
  const bytes = randomBytes(22)
  let out = ""
  for (const b of bytes) out += NUID_ALPHABET[b % 62]
  return out
}

/** A unique inbox subject, `_INBOX.<nuid>`. */
export const newInbox = (): string => `_INBOX.${nuid()}`
