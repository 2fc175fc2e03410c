/**
 * The server's options: one Schema that the config file, the command line and the library API all
 * decode to. Every field has the nats-server 2.9 default, so `decodeServerOptions({})` is a working
 * standalone server on 0.0.0.0:4222. Durations are milliseconds.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as Duration from "../values/Duration.js"
import * as Url from "../values/Url.js"
import { TLS_TIMEOUT_MS } from "../net/TlsTimeout.js"
import { AUTH_TIMEOUT_MS } from "./AuthTimeout.js"


/** The two timeouts whose defaults the server also needs without options at hand (`auth/Auth`, `net/Tls`). */
export { AUTH_TIMEOUT_MS, TLS_TIMEOUT_MS }

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
/** A TCP port; `-1` asks for a random free port (as nats-server's RANDOM_PORT), `0` too. */
const Port = Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 65535 }))

/** Subjects a user may (`allow`) or may not (`deny`) publish or subscribe to (see `auth/Permissions`). */
export const SubjectPermission = Schema.Struct({
  allow: Schema.optional(Schema.Array(Schema.String)),
  deny: Schema.optional(Schema.Array(Schema.String))
})
export type SubjectPermission = typeof SubjectPermission.Type

/** `allow_responses`: publish up to `max` replies to a received request within `expires` ms. */
export const ResponsePermission = Schema.Struct({
  max: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(1))),
  expires: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(120_000)))
})
export type ResponsePermission = typeof ResponsePermission.Type

export const Permissions = Schema.Struct({
  publish: Schema.optional(SubjectPermission),
  /** Entries may name a queue group: `"foo.* myqueue"`. */
  subscribe: Schema.optional(SubjectPermission),
  allowResponses: Schema.optional(ResponsePermission)
})
export type Permissions = typeof Permissions.Type

/** One user of `authorization { users: [...] }`, addressable by name; bcrypt (`$2a$…`) or plain password. */
export const User = Schema.Struct({
  user: Schema.String,
  /** Absent for a user that a client certificate maps to (`tls { verify_and_map: true }`). */
  password: Schema.optional(Schema.String),
  permissions: Schema.optional(Permissions)
})
export type User = typeof User.Type

/** An nkey user (`users: [{ nkey: U… }]`): authenticated by signing the INFO nonce. */
export const NkeyUser = Schema.Struct({
  nkey: Schema.String,
  permissions: Schema.optional(Permissions)
})
export type NkeyUser = typeof NkeyUser.Type

/** Client authorization: a single user/password, a token, or a list of users (and nkeys). */
export const Authorization = Schema.Struct({
  user: Schema.optional(Schema.String),
  password: Schema.optional(Schema.String),
  token: Schema.optional(Schema.String),
  users: Schema.Array(User).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  nkeys: Schema.Array(NkeyUser).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  /** For users (and nkeys) without permissions of their own. */
  defaultPermissions: Schema.optional(Permissions),
  /** A client that presents no credentials is this user (of `users`). */
  noAuthUser: Schema.optional(Schema.String),
  /** Milliseconds a client has to send CONNECT when auth is required; absent = nats-server's default (`authTimeout` in `server/auth/Auth`). */
  timeout: Schema.optional(Schema.Number)
})
export type Authorization = typeof Authorization.Type

/**
 * `accounts { A: { exports: [...] } }`: a stream or service an account lets others import; no
 * `accounts` = public. `responseThreshold` in milliseconds. See `accounts/Accounts`.
 */
export const AccountExport = Schema.Struct({
  kind: Schema.Literals(["stream", "service"]),
  subject: Schema.String,
  accounts: Schema.optional(Schema.Array(Schema.String)),
  responseType: Schema.optional(Schema.Literals(["singleton", "stream", "chunked"])),
  responseThreshold: Schema.optional(Schema.Number)
})
export type AccountExport = typeof AccountExport.Type

/** An import of another account's stream (`prefix` or `to`) or service (`to` = the local subject). */
export const AccountImport = Schema.Struct({
  kind: Schema.Literals(["stream", "service"]),
  account: Schema.String,
  subject: Schema.String,
  prefix: Schema.optional(Schema.String),
  to: Schema.optional(Schema.String)
})
export type AccountImport = typeof AccountImport.Type

/** One account of the `accounts` block: its users (bound to it), exports and imports. */
export const AccountOptions = Schema.Struct({
  name: Schema.String,
  nkey: Schema.optional(Schema.String),
  users: Schema.Array(User).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  nkeys: Schema.Array(NkeyUser).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  defaultPermissions: Schema.optional(Permissions),
  exports: Schema.Array(AccountExport).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  imports: Schema.Array(AccountImport).pipe(Schema.withDecodingDefault(Effect.succeed([])))
})
export type AccountOptions = typeof AccountOptions.Type

/**
 * A `tls { ... }` block (clients at the top level, routes inside `cluster`). Cipher suites and
 * curves are nats-server's (Go) names; absent → nats-server's defaults. `verifyAndMap` implies
 * `verify`. The timeout is the handshake's, in milliseconds.
 */
export const TlsOptions = Schema.Struct({
  certFile: Schema.String,
  keyFile: Schema.String,
  caFile: Schema.optional(Schema.String),
  verify: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),
  verifyAndMap: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),
  timeout: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(TLS_TIMEOUT_MS))),
  cipherSuites: Schema.optional(Schema.Array(Schema.String)),
  curvePreferences: Schema.optional(Schema.Array(Schema.String))
})
export type TlsOptions = typeof TlsOptions.Type

/** Route authorization: exactly one user/password pair (as nats-server allows). */
export const ClusterAuthorization = Schema.Struct({
  user: Schema.String,
  password: Schema.String,
  timeout: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(AUTH_TIMEOUT_MS)))
})
export type ClusterAuthorization = typeof ClusterAuthorization.Type

const isConfiguredRoute = (u: unknown): u is Url.ConfiguredRoute =>
  typeof u === "object" && u !== null && typeof (u as { raw?: unknown }).raw === "string" && "url" in u

/** A route URL's text, decoded once into a `ConfiguredRoute` (`values/Url`); encodes back to its text. */
export const ConfiguredRouteFromString = Schema.String.pipe(
  Schema.decodeTo(
    Schema.declare(isConfiguredRoute),
    SchemaTransformation.transform({ decode: (text: string) => Url.configuredRoute(text.trim()), encode: (route: Url.ConfiguredRoute) => route.raw })
  )
)

export const ClusterOptions = Schema.Struct({
  /** Cluster name; absent → a dynamic name is generated and negotiated. */
  name: Schema.optional(Schema.String),
  host: Schema.String.pipe(Schema.withDecodingDefault(Effect.succeed("0.0.0.0"))),
  port: Port.pipe(Schema.withDecodingDefault(Effect.succeed(6222))),
  /** host:port put in our route INFO instead of the listen address. */
  advertise: Schema.optional(Schema.String),
  noAdvertise: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),
  /** Extra attempts for implicit (gossiped) routes. */
  connectRetries: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  /** Explicit route URLs (`nats-route://host:port`, `nats://user:pass@host:port`). */
  routes: Schema.Array(ConfiguredRouteFromString).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  authorization: Schema.optional(ClusterAuthorization),
  /** Route TLS: both ends verify each other's certificate against `caFile`, as nats-server. */
  tls: Schema.optional(TlsOptions)
})
export type ClusterOptions = typeof ClusterOptions.Type

const ServerOptionsFields = Schema.Struct({
  serverName: Schema.optional(Schema.String),
  /** `server_tags`, reported in /varz `tags`. */
  serverTags: Schema.optional(Schema.Array(Schema.String)),
  host: Schema.String.pipe(Schema.withDecodingDefault(Effect.succeed("0.0.0.0"))),
  port: Port.pipe(Schema.withDecodingDefault(Effect.succeed(4222))),
  clientAdvertise: Schema.optional(Schema.String),

  maxPayload: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(1024 * 1024))),
  maxPending: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(64 * 1024 * 1024))),
  maxControlLine: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(4096))),
  maxConnections: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(64 * 1024))),
  /** 0 = unlimited. */
  maxSubscriptions: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(0))),
  pingInterval: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(120_000))),
  pingMax: NonNegativeInt.pipe(Schema.withDecodingDefault(Effect.succeed(2))),
  writeDeadline: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(10_000))),
  lameDuckDuration: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(120_000))),
  lameDuckGracePeriod: Schema.Number.pipe(Schema.withDecodingDefault(Effect.succeed(10_000))),
  noHeaderSupport: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),

  debug: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),
  trace: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(false))),
  logtime: Schema.Boolean.pipe(Schema.withDecodingDefault(Effect.succeed(true))),
  logFile: Schema.optional(Schema.String),
  pidFile: Schema.optional(Schema.String),
  portsFileDir: Schema.optional(Schema.String),

  /** HTTP monitoring; absent port = off. The host defaults to the client listen host, as nats-server. */
  httpHost: Schema.optional(Schema.String),
  httpPort: Schema.optional(Port),
  /** HTTPS monitoring with the client `tls` block's certificate (not together with httpPort). */
  httpsPort: Schema.optional(Port),
  /** Client TLS: INFO in plain text, then every client must upgrade (nats-server 2.9). */
  tls: Schema.optional(TlsOptions),

  authorization: Schema.optional(Authorization),
  /** Accounts (parsed and checked, not served yet: the server refuses to start with them). */
  accounts: Schema.optional(Schema.Array(AccountOptions)),
  systemAccount: Schema.optional(Schema.String),
  /** Trusted operators: each an inline operator JWT or the path of a file holding one. */
  operators: Schema.optional(Schema.Array(Schema.String)),
  /** Account JWT resolver; only nats-server's `MEMORY` is read. */
  resolver: Schema.optional(Schema.Literal("MEMORY")),
  /** `resolver_preload`: account public key → account JWT. */
  resolverPreload: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** The file these options were read from (logged at startup, re-read on reload). */
  configFile: Schema.optional(Schema.String),
  cluster: Schema.optional(ClusterOptions)
})

/**
 * The rules between fields, as nats-server checks them (`max_payload` ≤ `max_pending`; the lame
 * duck grace period shorter than the lame duck duration). Each failure points at the field the
 * config file reports it on, with nats-server's text as the message (see `OptionsError.ruleOf`).
 */
export const ServerOptions = ServerOptionsFields.check(
  Schema.makeFilter((o) =>
    o.maxPayload > o.maxPending
      ? { path: ["maxPayload"], issue: `max_payload (${o.maxPayload}) cannot be higher than max_pending (${o.maxPending})` }
      : undefined
  ),
  Schema.makeFilter((o) =>
    o.lameDuckGracePeriod >= o.lameDuckDuration
      ? {
        path: ["lameDuckGracePeriod"],
        issue: `lame_duck_grace_period (${Duration.format(o.lameDuckGracePeriod)}) must be less than lame_duck_duration (${
          Duration.format(o.lameDuckDuration)
        })`
      }
      : undefined
  )
)
export type ServerOptions = typeof ServerOptions.Type
/** What callers write: every field optional. */
export type ServerOptionsInput = typeof ServerOptions.Encoded

export const decodeServerOptions = Schema.decodeUnknownSync(ServerOptions)
export const decodeServerOptionsEffect = Schema.decodeUnknownEffect(ServerOptions)

/** The cluster block's defaults (`host`, `port`, …), from the schema. */
export const clusterDefaults: ClusterOptions = Schema.decodeUnknownSync(ClusterOptions)({})
