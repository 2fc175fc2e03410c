/**
 * The HTTP monitor: nats-server 2.9's monitoring endpoints (`/varz`, `/connz`, `/routez`,
 * `/subsz`, `/accountz`, `/accstatz`, `/healthz` and the `/` index) served on `http_host:http_port` — or over HTTPS on
 * `http_host:https_port` with the client `tls` block's certificate (no client certificates asked
 * for, as nats-server) — while the layer's scope is open.
 *
 * Every document is computed synchronously from the live `ServerState` at request time, so the
 * counters it shows move with the traffic. Responses are Go-style pretty JSON; `?callback=cb`
 * wraps them as JSONP.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Cluster, type ClusterState } from "../cluster/Cluster.js"
import { loadTls } from "../net/Tls.js"
import { ServerCore } from "../server/ServerCore.js"
import type { ServerState } from "../server/ServerState.js"
import { accountz, accstatz, decodeAccountzOptions, decodeAccstatzOptions } from "./Accountz.js"
import { connz, decodeConnzOptions } from "./Connz.js"
import { goJson, goJsonIndent, joinHostPort } from "./format.js"
import { badRequest, type MonitorResponse } from "./params.js"
import { decodeRoutezOptions, routez } from "./Routez.js"
import { decodeSubszOptions, subsz } from "./Subsz.js"
import { varz, type VarzRuntime } from "./Varz.js"
import { meshz } from "./Mesh.js"
import { meshPage } from "./MeshPage.js"
import { CONTENT_TYPE as METRICS_CONTENT_TYPE, MetricsRegistry, snapshot } from "./Metrics.js"
import * as Unserved from "./Unserved.js"
import { CpuSampler, registerMonitor } from "./Runtime.js"

/** Where the monitor of one broker listens (the bound port, also when `http_port` was -1/0). */
export interface MonitorAddress {
  readonly host: string
  readonly port: number
}

/** The bound monitor address of `server` (`ServerState.monitorAddress`), undefined without a monitor. */
export const monitorAddress = (server: ServerState): MonitorAddress | undefined => server.monitorAddress

/**
 * The monitor could not start: its port could not be bound (`address`, nats-server's `can't
 * listen to the monitor port: …`, `cause` the server's error), its TLS files could not be loaded
 * (`cause` the `TlsConfigError`), or the options ask for both HTTP and HTTPS or HTTPS without TLS.
 */
export class MonitorListenError extends Data.TaggedError("MonitorListenError")<{
  readonly message: string
  readonly address: string | undefined
  readonly cause?: unknown
}> {}

/** The endpoint paths, as nats-server names them (and counts them in `http_req_stats`). */
export const Paths = {
  root: "/",
  varz: "/varz",
  connz: "/connz",
  routez: "/routez",
  subsz: "/subsz",
  subscriptionsz: "/subscriptionsz",
  healthz: "/healthz",
  /** Prometheus text format (ours; nats-server needs an exporter). */
  metrics: "/metrics",
  /** The cluster as this server and the peers it can reach see it, for the `/` page (ours). */
  meshz: "/meshz",
  accountz: "/accountz",
  accstatz: "/accstatz",
  jsz: "/jsz",
  leafz: "/leafz",
  gatewayz: "/gatewayz"
} as const

const json = (body: string): MonitorResponse => ({ status: 200, contentType: "application/json", body })

const NOT_FOUND: MonitorResponse = { status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n" }

/** The endpoint links of the `/` page, as nats-server's index lists them. */
const INDEX_LINKS: ReadonlyArray<readonly [path: string, text: string]> = [
  [Paths.varz, "General"],
  [Paths.connz, "Connections"],
  [Paths.accountz, "Accounts"],
  [Paths.accstatz, "Account Stats"],
  [Paths.subsz, "Subscriptions"],
  [Paths.routez, "Routes"],
  [Paths.healthz, "Health Probe"],
  [Paths.metrics, "Metrics"],
  [Paths.meshz, "Mesh (JSON)"]
]

/**
 * The monitor's request handling without HTTP: a path and query in, a response out. Counts
 * requests per endpoint for `/varz`'s `http_req_stats`.
 */
export class MonitorHandler {
  readonly reqStats = new Map<string, number>()
  private readonly cpu = new CpuSampler()

  constructor(
    readonly server: ServerState,
    /** The cluster, when this server has one. */
    readonly cluster: ClusterState | undefined,
    readonly address: MonitorAddress
  ) {}

  readonly metrics = new MetricsRegistry(() => snapshot(this.server, this.cluster, this.varzRuntime()))

  /** What `/varz` (and `/metrics`) need from the monitor. */
  varzRuntime(): VarzRuntime {
    return { httpHost: this.address.host, httpPort: this.address.port, reqStats: this.reqStats, cpu: this.cpu.read() }
  }

  private count(path: string): void {
    this.reqStats.set(path, (this.reqStats.get(path) ?? 0) + 1)
  }

  /** Handle a request target such as `/connz?subs=1&sort=msgs_to`. */
  handle(target: string): MonitorResponse {
    const q = target.indexOf("?")
    const rawPath = q < 0 ? target : target.slice(0, q)
    const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1))
    let path: string
    try {
      path = decodeURIComponent(rawPath)
    } catch {
      return NOT_FOUND
    }
    const response = this.route(path, query)
    // JSONP wraps successful documents only (nats-server's ResponseHandler).
    const callback = query.get("callback") ?? ""
    if (callback !== "" && response.status !== 400 && response.contentType === "application/json") {
      return { status: response.status, contentType: "application/javascript", body: `${callback}(${response.body})` }
    }
    return response
  }

  private route(path: string, query: URLSearchParams): MonitorResponse {
    const server = this.server
    switch (path) {
      case Paths.root:
        this.count(Paths.root)
        return { status: 200, contentType: "text/html; charset=utf-8", body: meshPage(INDEX_LINKS) }
      case Paths.varz: {
        this.count(Paths.varz)
        return json(goJsonIndent(varz(server, this.cluster, this.varzRuntime())))
      }
      case Paths.connz: {
        const options = decodeConnzOptions(query)
        this.count(Paths.connz)
        if (Result.isFailure(options)) return badRequest(options.failure)
        return json(goJsonIndent(connz(server, options.success)))
      }
      case Paths.routez: {
        const options = decodeRoutezOptions(query)
        if (Result.isFailure(options)) return badRequest(options.failure)
        this.count(Paths.routez)
        return json(goJsonIndent(routez(server, this.cluster, options.success)))
      }
      case Paths.subsz:
      case Paths.subscriptionsz: {
        this.count(Paths.subsz)
        const options = decodeSubszOptions(query)
        if (Result.isFailure(options)) return badRequest(options.failure)
        return json(goJsonIndent(subsz(server, options.success)))
      }
      case Paths.healthz:
        this.count(Paths.healthz)
        // Without JetStream nats-server is healthy once it accepts clients.
        return server.listen === undefined
          ? { status: 503, contentType: "application/json", body: goJson({ status: "unavailable", error: "server not ready" }) }
          : json(goJson({ status: "ok" }))
      case Paths.accountz: {
        this.count(Paths.accountz)
        const options = decodeAccountzOptions(query)
        if (Result.isFailure(options)) return badRequest(options.failure)
        const doc = accountz(server, options.success)
        return Result.isFailure(doc) ? badRequest(doc.failure) : json(goJsonIndent(doc.success))
      }
      case Paths.accstatz: {
        this.count(Paths.accstatz)
        const options = decodeAccstatzOptions(query)
        if (Result.isFailure(options)) return badRequest(options.failure)
        return json(goJsonIndent(accstatz(server, options.success)))
      }
      // Features this server does not have, answered as nats-server does without them.
      case Paths.jsz:
        this.count(Paths.jsz)
        return json(goJsonIndent(Unserved.jsz(server)))
      case Paths.leafz:
        this.count(Paths.leafz)
        return json(goJsonIndent(Unserved.leafz(server)))
      case Paths.gatewayz:
        this.count(Paths.gatewayz)
        return json(goJsonIndent(Unserved.gatewayz(server)))
      default:
        return NOT_FOUND
    }
  }

  /** The endpoints that answer asynchronously (`/metrics`, `/meshz`); undefined for the others. */
  handleAsync(target: string): Effect.Effect<MonitorResponse> | undefined {
    const q = target.indexOf("?")
    const path = q < 0 ? target : target.slice(0, q)
    if (path === Paths.metrics) {
      return Effect.promise(() => this.metrics.scrape()).pipe(
        Effect.map((body): MonitorResponse => ({ status: 200, contentType: METRICS_CONTENT_TYPE, body }))
      )
    }
    if (path === Paths.meshz) {
      return meshz(this.server, this.cluster, this.varzRuntime()).pipe(Effect.map((doc) => json(goJsonIndent(doc))))
    }
    return undefined
  }
}

/**
 * The monitor as a Layer over the server (`ServerCore`, and the `Cluster` when there is one): listens on `httpHost ?? host` : `httpPort` (-1 or 0 =
 * a random port; see `monitorAddress`), logs `Starting http monitor on <host>:<port>` and stops
 * serving when its scope closes. Fails if the port cannot be bound.
 */
export const layer: Layer.Layer<never, MonitorListenError, ServerCore> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* ServerCore
    // Built before the cluster's network layer, after its state (the route INFO names our monitor).
    const cluster = Option.getOrUndefined(yield* Effect.serviceOption(Cluster))
    const options = server.options
    const host = options.httpHost ?? options.host
    if (options.httpPort !== undefined && options.httpsPort !== undefined) {
      return yield* new MonitorListenError({ message: `can't specify both HTTP (${options.httpPort}) and HTTPs (${options.httpsPort}) ports`, address: undefined })
    }
    const secure = options.httpsPort !== undefined
    if (secure && options.tls === undefined) return yield* new MonitorListenError({ message: "TLS cert and key required for HTTPS", address: undefined })
    const tls = secure ? yield* loadTls(options.tls!).pipe(Effect.mapError((e) => new MonitorListenError({ message: e.message, address: undefined, cause: e }))) : undefined
    const configured = secure ? options.httpsPort! : options.httpPort!
    const port = configured < 0 ? 0 : configured
    const make = () => (tls === undefined ? createServer() : createHttpsServer({ ...tls.contextOptions, requestCert: false }))
    const http = yield* NodeHttpServer.make(make, { host, port, gracefulShutdownTimeout: Duration.seconds(1) }).pipe(
      Effect.mapError((e) =>
        new MonitorListenError({
          message: `can't listen to the monitor port: ${String((e.cause as Error | undefined)?.message ?? e.cause)}`,
          address: joinHostPort(host, port),
          cause: e
        })
      )
    )
    const bound = "port" in http.address ? http.address.port : port
    const address: MonitorAddress = { host, port: bound }
    server.monitorAddress = { host, port: bound }
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      server.monitorAddress = undefined
    }))
    server.log.info(`Starting ${secure ? "https" : "http"} monitor on ${joinHostPort(host, bound)}`)

    const handler = new MonitorHandler(server, cluster, address)
    // `$SYS.REQ.SERVER.<id>.VARZ` answers with this monitor's numbers while it runs.
    const unregister = registerMonitor(server, () => handler.varzRuntime())
    yield* Effect.addFinalizer(() => Effect.sync(unregister))
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const response = yield* (handler.handleAsync(request.url) ?? Effect.sync(() => handler.handle(request.url)))
      return HttpServerResponse.text(response.body, { status: response.status, contentType: response.contentType })
    })
    yield* http.serve(app)
  })
)
