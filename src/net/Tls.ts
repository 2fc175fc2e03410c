/**
 * TLS over `node:tls`, shaped after nats-server 2.9 (Go's `crypto/tls`).
 *
 * - {@link loadTls} turns a `tls { … }` block into a Node secure context: the certificate and key,
 *   the CA pool (`ca_file`: client certificates are verified against it; routes verify both ways),
 *   nats-server's cipher suites and curves translated from Go's names, TLS 1.2 minimum. The TLS 1.3
 *   suites are always on, as in Go (they are not configurable there).
 * - {@link acceptTls} / {@link connectTls} upgrade a connected Node socket in place (server side /
 *   client side) within the handshake timeout, and fail with a {@link TlsHandshakeError} whose
 *   `message` is the text nats-server logs (`tls: client didn't provide a certificate`, …).
 *
 * The upgraded `TLSSocket` is a `net.Socket`, so sessions read it through the same flowing-mode
 * adapter (`NetSocket.fromNetSocket`): decrypted records arrive as chunks and the per-message path
 * is unchanged.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as NodeTls from "node:tls"
import * as HostPort from "../values/HostPort.js"

/** What a `tls` block says (structurally `config/ServerOptions`' `TlsOptions`; durations in ms). */
export interface TlsOptions {
  readonly certFile: string
  readonly keyFile: string
  readonly caFile?: string | undefined
  readonly verify: boolean
  readonly verifyAndMap: boolean
  readonly timeout: number
  readonly cipherSuites?: ReadonlyArray<string> | undefined
  readonly curvePreferences?: ReadonlyArray<string> | undefined
}

/** The `tls` block can not be turned into a working configuration; `message` is nats-server's text. */
export class TlsConfigError extends Data.TaggedError("TlsConfigError")<{ readonly message: string; readonly cause?: unknown }> {}

/** A handshake failed or timed out; `message` reads like Go's error (as nats-server logs it). */
export class TlsHandshakeError extends Data.TaggedError("TlsHandshakeError")<{
  readonly message: string
  readonly timedOut: boolean
  readonly cause?: unknown
}> {}

/** A loaded `tls` block. */
export interface TlsConfig {
  readonly options: TlsOptions
  readonly context: NodeTls.SecureContext
  /** What `context` was made of, for servers that take options (HTTPS monitoring). */
  readonly contextOptions: NodeTls.SecureContextOptions
  /** Clients must present a certificate signed by `ca_file` (verify / verify_and_map). */
  readonly verify: boolean
  readonly timeout: number
}

/** Go cipher suite names (nats-server's `cipherMap`) → OpenSSL names; `undefined` = not in OpenSSL 3. */
export const goCiphers: ReadonlyMap<string, string | undefined> = new Map([
  ["TLS_RSA_WITH_RC4_128_SHA", undefined],
  ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"],
  ["TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"],
  ["TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"],
  ["TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", undefined],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"],
  ["TLS_ECDHE_RSA_WITH_RC4_128_SHA", undefined],
  ["TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"],
  // TLS 1.3 suites: accepted, and always on (as in Go).
  ["TLS_AES_128_GCM_SHA256", undefined],
  ["TLS_AES_256_GCM_SHA384", undefined],
  ["TLS_CHACHA20_POLY1305_SHA256", undefined]
])

/** nats-server's `defaultCipherSuites()`. */
export const defaultCipherSuites: ReadonlyArray<string> = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
]

/** Go curve names (nats-server's `curvePreferenceMap`) → OpenSSL names. */
export const goCurves: ReadonlyMap<string, string> = new Map([
  ["X25519", "X25519"],
  ["CurveP256", "P-256"],
  ["CurveP384", "P-384"],
  ["CurveP521", "P-521"]
])

/** nats-server's `defaultCurvePreferences()`. */
export const defaultCurvePreferences: ReadonlyArray<string> = ["X25519", "CurveP256", "CurveP384", "CurveP521"]

const TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/** Why a cipher or curve name is refused (nats-server's text), or undefined when every name is known. */
export const checkTlsNames = (o: Pick<TlsOptions, "cipherSuites" | "curvePreferences">): string | undefined => {
  for (const c of o.cipherSuites ?? []) if (!goCiphers.has(c)) return `unrecognized cipher ${c}`
  for (const c of o.curvePreferences ?? []) if (!goCurves.has(c)) return `unrecognized curve preference ${c}`
  return undefined
}

/** The OpenSSL cipher string for a list of Go suite names (TLS 1.3 suites always first). */
export const opensslCiphers = (suites: ReadonlyArray<string>): string => {
  const names = suites.map((s) => goCiphers.get(s)).filter((s): s is string => s !== undefined)
  return [TLS13_SUITES, ...names].join(":")
}

/** Go's `open <path>: no such file or directory` for a file that can not be read. */
const readError = (path: string, e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  const reason = code === "ENOENT"
    ? "no such file or directory"
    : code === "EACCES"
    ? "permission denied"
    : code === "EISDIR"
    ? "is a directory"
    : String((e as Error).message)
  return `open ${path}: ${reason}`
}

const read = (path: string, wrap: (text: string) => string) =>
  Effect.try({
    try: () => Fs.readFileSync(path),
    catch: (e) => new TlsConfigError({ message: wrap(readError(path, e)), cause: e })
  })

/** Load a `tls` block (reads the files; fails with nats-server's configuration error texts). */
export const loadTls = (o: TlsOptions): Effect.Effect<TlsConfig, TlsConfigError> =>
  Effect.gen(function*() {
    const bad = checkTlsNames(o)
    if (bad !== undefined) return yield* new TlsConfigError({ message: bad })
    const pair = (t: string) => `error parsing X509 certificate/key pair: ${t}`
    const cert = yield* read(o.certFile, pair)
    const key = yield* read(o.keyFile, pair)
    const ca = o.caFile === undefined ? undefined : yield* read(o.caFile, (t) => t)
    if (ca !== undefined && !ca.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
      return yield* new TlsConfigError({ message: "failed to parse root ca certificate" })
    }
    const contextOptions: NodeTls.SecureContextOptions = {
      cert,
      key,
      ...(ca !== undefined ? { ca } : {}),
      minVersion: "TLSv1.2",
      ciphers: opensslCiphers(o.cipherSuites ?? defaultCipherSuites),
      ecdhCurve: (o.curvePreferences ?? defaultCurvePreferences).map((c) => goCurves.get(c)!).join(":"),
      honorCipherOrder: true
    }
    const context = yield* Effect.try({
      try: () => NodeTls.createSecureContext(contextOptions),
      catch: (e) => new TlsConfigError({ message: pair(opensslReason(e)), cause: e })
    })
    return { options: o, context, contextOptions, verify: o.verify || o.verifyAndMap, timeout: o.timeout }
  })

/** OpenSSL's reason, without its `error:0A00…:SSL routines::` prefix. */
const opensslReason = (e: unknown): string => {
  const m = String((e as Error)?.message ?? e)
  const parts = m.split(":")
  return parts.length >= 5 && m.startsWith("error:") ? parts.slice(4).join(":").trim() || m : m
}

// ---------------------------------------------------------------------------------------------
// Handshake errors as Go (1.19, nats-server 2.9.10's build) words them
// ---------------------------------------------------------------------------------------------

/** Node's certificate verification codes → Go's x509 error text. */
const x509Text = (code: string | undefined): string => {
  switch (code) {
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "CERT_SIGNATURE_FAILURE":
      return "x509: certificate signed by unknown authority"
    case "CERT_HAS_EXPIRED":
    case "CERT_NOT_YET_VALID":
      return "x509: certificate has expired or is not yet valid"
    default:
      return `x509: ${code ?? "certificate verification failed"}`
  }
}

/** Go's alert texts where they differ from OpenSSL's code names. */
const goAlerts: Readonly<Record<string, string>> = {
  "unknown ca": "unknown certificate authority",
  "protocol version": "protocol version not supported",
  "decrypt error": "error decrypting message"
}

/** OpenSSL alerts received from the peer → Go's `remote error: tls: <alert>`. */
const alertText = (code: string): string | undefined => {
  const m = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code)
  if (m === null) return undefined
  const name = m[1]!.toLowerCase().replace(/_/g, " ")
  return `remote error: tls: ${goAlerts[name] ?? name}`
}

/** Node's host-check reason → Go's `x509: certificate is valid for a, b, not host`. */
const hostnameText = (reason: string | undefined): string => {
  const m = /^(?:Host: (.+?)\.|IP: (.+?)) is not in the cert's (?:altnames|list): (.*)$/.exec(reason ?? "")
  if (m === null) return `x509: ${reason ?? "certificate is not valid for this host"}`
  // Go lists the DNS names for a host name, the IP addresses for an IP.
  const entries = m[3]!.split(/,\s*/)
  const names = m[1] !== undefined ? entries.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4)) : entries
  return `x509: certificate is valid for ${names.join(", ")}, not ${m[1] ?? m[2]}`
}

/** OpenSSL's ways of saying that the first bytes were not a TLS record (e.g. a plain `CONNECT`). */
const notTls = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_HTTPS_PROXY_REQUEST",
  "ERR_SSL_UNKNOWN_PROTOCOL",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_RECORD_LAYER_FAILURE"
])

/** A Node TLS error (during a handshake) as Go's error text. */
export const handshakeErrorText = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException & { reason?: string }
  const code = err?.code ?? ""
  if (code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE") return "tls: client didn't provide a certificate"
  if (notTls.has(code)) return "tls: first record does not look like a TLS handshake"
  const alert = alertText(code)
  if (alert !== undefined) return alert
  if (code === "ECONNRESET") return "read: connection reset by peer"
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return hostnameText(err.reason)
  if (/^[A-Z_]+$/.test(code) && !code.startsWith("ERR_")) {
    // A certificate verification code (client side, the peer's chain).
    return x509Text(code)
  }
  return opensslReason(e).replace(/^.*?:SSL routines:[^:]*:/, "")
}

/** The private `verifyError()` of Node's TLS handle: the peer chain's verification result. */
const peerVerifyError = (socket: NodeTls.TLSSocket): Error | null => {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle
  return handle?.verifyError?.() ?? null
}

/** The peer's certificate (DER), when it sent one. */
export const peerCertificate = (socket: NodeTls.TLSSocket): Uint8Array | undefined => {
  const cert = socket.getPeerX509Certificate()
  return cert === undefined ? undefined : cert.raw
}

/** The negotiated session as nats-server names it (Go's `tlsVersion` / `tlsCipher`): `1.3`, `TLS_AES_128_GCM_SHA256`. */
export const sessionInfo = (socket: NodeTls.TLSSocket): { readonly version: string; readonly cipher: string } => {
  const protocol = socket.getProtocol() ?? "unknown"
  const version = protocol.startsWith("TLSv") ? protocol.slice(4) : protocol
  const c = socket.getCipher() as { name: string; standardName?: string }
  // Go names the ECDHE ChaCha20 suites without the `_SHA256` of the IANA name.
  const cipher = (c.standardName ?? c.name).replace(/^(TLS_ECDHE_(?:RSA|ECDSA)_WITH_CHACHA20_POLY1305)_SHA256$/, "$1")
  return { version, cipher }
}

/** The debug line `TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256`. */
export const describeSession = (socket: NodeTls.TLSSocket): string => {
  const { cipher, version } = sessionInfo(socket)
  return `TLS version ${version}, cipher suite ${cipher}`
}

/** Go's read-deadline error: `read tcp <local>-><remote>: i/o timeout`. */
const ioTimeout = (raw: Net.Socket): string => {
  const hp = (ip: string | undefined, port: number | undefined) => {
    const host = (ip ?? "").replace(/^::ffff:/, "")
    return HostPort.format(host, port ?? 0)
  }
  return `read tcp ${hp(raw.localAddress, raw.localPort)}->${hp(raw.remoteAddress, raw.remotePort)}: i/o timeout`
}

const noop = () => {}

/** Run a handshake within `timeout` ms; interrupting or timing out destroys the socket. */
const handshake = (
  raw: Net.Socket,
  timeout: number,
  start: (done: (result: Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError>) => void) => NodeTls.TLSSocket
): Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError> => {
  // The raw socket's own errors surface through the TLS socket from now on.
  raw.on("error", noop)
  const timeoutText = ioTimeout(raw)
  let sock: NodeTls.TLSSocket | undefined
  let ok = false
  return Effect.callback<NodeTls.TLSSocket, TlsHandshakeError>((resume) => {
    let settled = false
    sock = start((result) => {
      if (settled) return
      settled = true
      sock?.removeAllListeners("secure").removeAllListeners("secureConnect")
      resume(result)
    })
    return Effect.sync(() => {
      if (!ok) sock?.destroy()
    })
  }).pipe(
    Effect.timeoutOption(Duration.millis(timeout)),
    Effect.flatMap(Option.match({
      onNone: () => {
        raw.destroy()
        return Effect.fail(new TlsHandshakeError({ message: timeoutText, timedOut: true }))
      },
      onSome: (s) => {
        ok = true
        return Effect.succeed(s)
      }
    }))
  )
}

/** During the handshake a socket error fails it with Go's text (and destroys the socket). */
const failOnError = (sock: NodeTls.TLSSocket, done: (result: Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError>) => void): void => {
  sock.on("error", (e) => {
    sock.destroy()
    done(Effect.fail(new TlsHandshakeError({ message: handshakeErrorText(e), timedOut: false, cause: e })))
  })
}

/** Handshake done: later socket errors belong to the session (it sees the close). */
const settleErrors = (sock: NodeTls.TLSSocket): void => {
  sock.removeAllListeners("error")
  sock.on("error", noop)
}

/**
 * Server side: upgrade an accepted socket (nothing read from it yet). With `verify`, the client
 * must present a certificate that `ca_file` signed.
 */
export const acceptTls = (raw: Net.Socket, config: TlsConfig, verify = config.verify): Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError> =>
  handshake(raw, config.timeout, (done) => {
    const sock = new NodeTls.TLSSocket(raw, {
      isServer: true,
      secureContext: config.context,
      requestCert: verify,
      // OpenSSL then refuses a client without a certificate during the handshake (with an alert);
      // the chain itself is checked below, as Node leaves it to the caller.
      rejectUnauthorized: verify
    })
    failOnError(sock, done)
    sock.once("secure", () => {
      settleErrors(sock)
      const verifyError = verify ? peerVerifyError(sock) : null
      if (verifyError !== null) {
        const code = (verifyError as NodeJS.ErrnoException).code
        const presented = peerCertificate(sock) !== undefined
        sock.destroy()
        const text = !presented
          ? "tls: client didn't provide a certificate"
          : `tls: failed to verify client certificate: ${x509Text(code)}`
        return done(Effect.fail(new TlsHandshakeError({ message: text, timedOut: false, cause: verifyError })))
      }
      done(Effect.succeed(sock))
    })
    return sock
  })

/**
 * Client side: upgrade a connected socket, verifying the server's certificate against `ca_file`
 * and `host` (a name or an IP address, checked against the certificate's SANs), presenting our
 * certificate as the client certificate.
 */
export const connectTls = (raw: Net.Socket, config: TlsConfig, host: string): Effect.Effect<NodeTls.TLSSocket, TlsHandshakeError> =>
  handshake(raw, config.timeout, (done) => {
    const sock = NodeTls.connect({
      socket: raw,
      secureContext: config.context,
      host,
      ...(Net.isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: true
    })
    failOnError(sock, done)
    sock.once("secureConnect", () => {
      settleErrors(sock)
      done(Effect.succeed(sock))
    })
    return sock
  })
