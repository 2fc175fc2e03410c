/**
 * Certificates generated at test time with Debian's `openssl` (never committed): a CA, a server
 * certificate for `localhost` / `127.0.0.1` (also usable as a route client certificate), client
 * certificates with a chosen subject and SANs, and a second, untrusted CA. EC P-256 keys keep it
 * fast. Everything lives in a fresh temporary directory that `cleanup()` removes.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface KeyPair {
  readonly cert: string
  readonly key: string
}

export interface Certs {
  readonly dir: string
  /** The CA every good certificate is signed by (`ca_file`). */
  readonly ca: string
  /** A CA nobody trusts. */
  readonly otherCa: string
  /** Server (and route) certificate: SAN DNS:localhost, IP:127.0.0.1; server and client auth. */
  readonly server: KeyPair
  /** A server certificate signed by the untrusted CA. */
  readonly otherServer: KeyPair
  /** A client certificate signed by `ca` (`subject` like `/C=US/O=Acme/CN=alice`, `san` like `email:a@b`). */
  readonly client: (name: string, subject: string, san?: string) => KeyPair
  /** A client certificate signed by the untrusted CA. */
  readonly untrustedClient: (name: string, subject: string) => KeyPair
  readonly cleanup: () => void
}

const openssl = (args: ReadonlyArray<string>, cwd: string) => execFileSync("openssl", [...args], { cwd, stdio: ["ignore", "pipe", "pipe"] })

const newCa = (dir: string, name: string, subject: string): KeyPair => {
  const key = path.join(dir, `${name}-key.pem`)
  const cert = path.join(dir, `${name}.pem`)
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", subject], dir)
  return { cert, key }
}

const issue = (dir: string, ca: KeyPair, name: string, subject: string, ext: string): KeyPair => {
  const key = path.join(dir, `${name}-key.pem`)
  const csr = path.join(dir, `${name}.csr`)
  const cert = path.join(dir, `${name}.pem`)
  const extFile = path.join(dir, `${name}.ext`)
  fs.writeFileSync(extFile, ext)
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", subject, "-utf8"], dir)
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extFile], dir)
  return { cert, key }
}

/** Make a fresh CA, server certificate and untrusted CA in a temporary directory. */
export const makeCerts = (): Certs => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ens-tls-"))
  const ca = newCa(dir, "ca", "/CN=effect-nats-server test CA")
  const other = newCa(dir, "other-ca", "/CN=untrusted CA")
  const serverExt = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"
  const server = issue(dir, ca, "server", "/CN=localhost", serverExt)
  const otherServer = issue(dir, other, "other-server", "/CN=localhost", serverExt)
  return {
    dir,
    ca: ca.cert,
    otherCa: other.cert,
    server,
    otherServer,
    client: (name, subject, san) =>
      issue(dir, ca, name, subject, `${san !== undefined ? `subjectAltName=${san}\n` : ""}extendedKeyUsage=clientAuth\n`),
    untrustedClient: (name, subject) => issue(dir, other, name, subject, "extendedKeyUsage=clientAuth\n"),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true })
  }
}
