/**
 * `tls { verify_and_map: true }`: the client certificate names the user (nats-server 2.9's
 * `checkClientTLSCertSubject` in client authentication). The certificate's SAN e-mail, DNS name or
 * URI, or its subject DN, must be the `user` of one of `authorization.users`; the CONNECT's
 * user is ignored (with nats-server's warning) and its password must match the mapped user's
 * (normally both empty).
 *
 * Users are looked up by name through {@link findUser} only, so the users schema can grow.
 *
 * @since 0.1.0
 */
import type { ServerOptions } from "../config/ServerOptions.js"
import type { LogShape } from "../log/Log.js"
import { type CertNames, mapCertificate } from "../net/CertNames.js"

type Users = NonNullable<ServerOptions["authorization"]>["users"]

/** The configured user with this name. */
export const findUser = (options: ServerOptions, name: string): Users[number] | undefined =>
  options.authorization?.users.find((u) => u.user === name)

/** Whether certificate mapping decides who a client is (verify_and_map with a users list). */
export const mapsCertificates = (options: ServerOptions): boolean =>
  options.tls?.verifyAndMap === true && (options.authorization?.users.length ?? 0) > 0

interface ConnectFields {
  readonly user?: string | undefined
  readonly pass?: string | undefined
  readonly name?: string | undefined
  readonly lang?: string | undefined
  readonly version?: string | undefined
}

/**
 * nats-server's client log prefix once CONNECT was read: `ip:port - cid:N - "v<version>:<lang>:<name>" - `
 * with the empty parts left out (and no quoted part when all are empty).
 */
export const connectPrefix = (base: string, c: ConnectFields): string => {
  const parts = [c.version !== undefined && c.version !== "" ? `v${c.version}` : "", c.lang ?? "", c.name ?? ""].filter((p) => p !== "")
  return parts.length === 0 ? base : `${base}${JSON.stringify(parts.join(":"))} - `
}

/**
 * The user a client's certificate maps to, when its CONNECT password matches; undefined =
 * authentication fails. `base` is the client's log prefix (`ip:port - cid:N - `).
 */
export const certificateUser = (
  options: ServerOptions,
  cert: CertNames | undefined,
  connect: ConnectFields,
  log: LogShape,
  base: string
): string | undefined => {
  const prefix = connectPrefix(base, connect)
  if (cert === undefined) {
    log.debug(`${prefix}User required in cert, no peer certificates found`)
    return undefined
  }
  const names = (options.authorization?.users ?? []).map((u) => u.user)
  const name = mapCertificate(cert, names, (line) => log.debug(`${prefix}${line}`))
  if (name === undefined) return undefined
  if (connect.user !== undefined && connect.user !== "") {
    log.warn(`User ${JSON.stringify(connect.user)} found in connect proto, but user required from cert`)
  }
  const user = findUser(options, name)
  if (user === undefined || (user.password ?? "") !== (connect.pass ?? "")) return undefined
  return name
}
