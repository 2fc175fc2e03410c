/**
 * Logging in with a `.creds` file (a user JWT and its nkey seed), as nats.js's
 * `credsAuthenticator`: the CONNECT carries the JWT and the server's INFO nonce signed with the
 * seed (Ed25519 through `@nats-io/nkeys`, base64url as nats.js sends it). The creds are read at
 * every connection attempt, so a file replaced on disk is picked up on reconnect.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Result from "effect/Result"
import { fromSeed } from "@nats-io/nkeys"
import { parseCreds } from "../accounts/Jwt.js"

/** Where the creds come from: their text (or bytes), or the path of a `.creds` file. */
export type CredsSource = { readonly creds: string | Uint8Array } | { readonly credsFile: string }

/** The CONNECT fields of a creds login for this nonce: `jwt`, and `sig` when there is a nonce. */
export const credsConnectFields = (
  source: CredsSource,
  nonce: string | undefined
): Result.Result<{ readonly jwt: string; readonly sig?: string }, string> => {
  let text: string
  if ("credsFile" in source) {
    try {
      text = fs.readFileSync(source.credsFile, "utf8")
    } catch (e) {
      return Result.fail(`cannot read creds file ${source.credsFile}: ${(e as Error).message}`)
    }
  } else text = typeof source.creds === "string" ? source.creds : new TextDecoder().decode(source.creds)
  const parsed = parseCreds(text)
  if (Result.isFailure(parsed)) return Result.fail(`invalid creds: ${parsed.failure.message}`)
  const { jwt, seed } = parsed.success
  if (nonce === undefined) return Result.succeed({ jwt })
  try {
    const kp = fromSeed(new TextEncoder().encode(seed))
    const sig = Buffer.from(kp.sign(new TextEncoder().encode(nonce))).toString("base64url")
    return Result.succeed({ jwt, sig })
  } catch (e) {
    return Result.fail(`invalid creds: ${(e as Error).message}`)
  }
}
