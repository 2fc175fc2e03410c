/**
 * Reloading users and permissions (SIGHUP), as nats-server 2.9's `reloadAuthorization`: the
 * authentication configuration is rebuilt from the new options, then every client is
 * authenticated again with the credentials of its CONNECT (bcrypt verdicts off the event loop,
 * all clients at once). A client whose user (or nkey) is no longer configured is closed silently
 * (`Client Closed`, as nats-server's `clientHasMovedToDifferentAccount`); one that no longer
 * passes gets `-ERR 'Authorization Violation'` and is closed; the others take their user's new permissions, and every subscription those no longer
 * allow is removed with `-ERR 'Permissions Violation for Subscription to "…" (sid "…")'`, so it
 * stops receiving at once.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { GLOBAL_ACCOUNT } from "../../accounts/Accounts.js"
import { ClientConnection } from "../ClientConnection.js"
import type { ServerState } from "../ServerState.js"
import { AuthConfig, describeUser, type Verdict } from "./Auth.js"
import { quoted } from "./ClientAuth.js"

/** Apply the (already swapped in) options' authorization to the server and its clients. */
export const reloadAuthorization = (server: ServerState): Effect.Effect<void> =>
  Effect.gen(function*() {
    server.auth = AuthConfig.of(server.options, (text) => server.log.error(text))
    const all = [...server.clients.values()].filter((c): c is ClientConnection => c instanceof ClientConnection && !c.closing)
    const clients: Array<ClientConnection> = []
    for (const conn of all) {
      if (userRemoved(server, conn)) conn.close("Client Closed")
      else clients.push(conn)
    }
    const verdicts = yield* Effect.forEach(clients, (conn) => {
      if (!conn.connected && !conn.auth.connectReceived) return Effect.succeed<Verdict | "waiting">("waiting")
      const v = server.auth.authenticate(conn.auth.credentials, conn.auth.nonce, conn.now(), conn.ip)
      return v instanceof Promise ? Effect.promise(() => v) : Effect.succeed(v)
    }, { concurrency: "unbounded" })
    clients.forEach((conn, i) => {
      const verdict = verdicts[i]
      if (verdict === "waiting" || conn.closing) return
      if (verdict === undefined) {
        if (server.auth.required) conn.authViolation()
        return
      }
      // nats-server's clientHasMovedToDifferentAccount: closed without an error.
      if ((verdict.account ?? GLOBAL_ACCOUNT) !== conn.account.name) {
        conn.close("Client Closed")
        return
      }
      conn.auth.register(verdict)
      recheckSubscriptions(server, conn)
    })
    server.router.flush()
  })

/**
 * The client's user or nkey is no longer configured. (nats-server 2.9.10 also closes clients of a
 * single `user`/`password` on every reload, since it looks them up in the users list; we keep
 * those when the single user is unchanged.)
 */
const userRemoved = (server: ServerState, conn: ClientConnection): boolean => {
  const c = conn.auth.describeCredentials()
  const a = server.options.authorization
  if (c.nkey !== undefined && c.nkey !== "") return !server.auth.nkeys.has(c.nkey)
  if (c.user !== undefined && c.user !== "") return !server.auth.users.has(c.user) && a?.user !== c.user
  return false
}

/** nats-server's `processSubsOnConfigReload`: drop what the new permissions refuse. */
const recheckSubscriptions = (server: ServerState, conn: ClientConnection): void => {
  const perms = conn.auth.permissions
  if (perms === undefined) return
  for (const sub of [...conn.subs.values()]) {
    const plain = perms.canSubscribe(sub.subject)
    const queue = sub.queue !== undefined && perms.canSubscribe(sub.subject, sub.queue)
    if (plain || queue) {
      conn.auth.noteSubscription(perms, sub.subject)
      continue
    }
    conn.subs.delete(sub.sid)
    server.router.removeLocal(sub)
    conn.sendErr(`Permissions Violation for Subscription to ${quoted(sub.subject)} (sid ${quoted(sub.sid)})`)
    server.log.info(`Removed sub ${quoted(sub.subject)} (sid ${quoted(sub.sid)}) for ${describeUser(conn.auth.describeCredentials())} - not authorized`)
  }
}
