/**
 * The HTTP monitor: nats-server 2.9's monitoring endpoints (`/varz`, `/connz`, `/routez`,
 * `/subsz`, `/healthz` and the `/` index) served on `http_host:http_port` while the layer's
 * scope is open.
 *
 * Every document is computed synchronously from the live `ServerState` at request time, so the
 * counters it shows move with the traffic. Responses are Go-style pretty JSON; `?callback=cb`
 * wraps them as JSONP.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Broker } from "../server/Broker.js"
import { NATS_COMPAT_VERSION, SERVER_NAME, type ServerState } from "../server/ServerState.js"
import { connz, decodeConnzOptions } from "./Connz.js"
import { goJson, goJsonIndent, joinHostPort } from "./format.js"
import { badRequest, type MonitorResponse } from "./params.js"
import { decodeRoutezOptions, routez } from "./Routez.js"
import { decodeSubszOptions, subsz } from "./Subsz.js"
import * as Unserved from "./Unserved.js"
import { varz } from "./Varz.js"

/** Where the monitor of one broker listens (the bound port, also when `http_port` was -1/0). */
export interface MonitorAddress {
  readonly host: string
  readonly port: number
}

/** The bound monitor address of `server` (`ServerState.monitorAddress`), undefined without a monitor. */
export const monitorAddress = (server: ServerState): MonitorAddress | undefined => server.monitorAddress

/** The monitor port could not be bound (nats-server: `can't listen to the monitor port: …`). */
export class MonitorListenError extends Data.TaggedError("MonitorListenError")<{ readonly message: string }> {
  constructor(message: string) {
    super({ message })
  }
}

/** The endpoint paths, as nats-server names them (and counts them in `http_req_stats`). */
export const Paths = {
  root: "/",
  varz: "/varz",
  connz: "/connz",
  routez: "/routez",
  subsz: "/subsz",
  subscriptionsz: "/subscriptionsz",
  healthz: "/healthz",
  accountz: "/accountz",
  accstatz: "/accstatz",
  jsz: "/jsz",
  leafz: "/leafz",
  gatewayz: "/gatewayz"
} as const

/**
 * Process CPU as nats-server's `pse` reports it: percent of one core over the last window of at
 * least a second, truncated to one decimal.
 */
class CpuSampler {
  private lastUsage = process.cpuUsage()
  private lastAt = performance.now()
  private value = 0

  read(): number {
    const at = performance.now()
    const elapsedMs = at - this.lastAt
    if (elapsedMs >= 1000) {
      const usage = process.cpuUsage(this.lastUsage) // µs since the last sample
      const tenths = Math.floor(((usage.user + usage.system) / 1000 / elapsedMs) * 1000)
      this.value = tenths / 10
      this.lastUsage = process.cpuUsage()
      this.lastAt = at
    }
    return this.value
  }
}

const json = (body: string): MonitorResponse => ({ status: 200, contentType: "application/json", body })

const NOT_FOUND: MonitorResponse = { status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n" }

/** The `/` page: links to the endpoints we serve. */
const rootPage = (): string => {
  const link = (path: string, text: string, cls?: string) =>
    `    <a href=.${path}${cls !== undefined ? ` class=${cls}` : ""}>${text}</a>\n`
  return `<html lang="en">
  <head>
    <title>${SERVER_NAME} monitoring</title>
    <style type="text/css">
      body { font-family: ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; font-size: 18; margin-left: 32px }
      a { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }
      a:hover { font-weight: 600; color: rgb(59 50 202) }
      a.last { padding-bottom: 16px }
    </style>
  </head>
  <body>
    <h2>${SERVER_NAME}</h2>
    <p>v${NATS_COMPAT_VERSION} (nats-server protocol)</p>
${link(Paths.varz, "General")}${link(Paths.connz, "Connections")}${link(Paths.subsz, "Subscriptions")}${
    link(Paths.routez, "Routes")
  }${link(Paths.healthz, "Health Probe", "last")}    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
  </body>
</html>`
}

/**
 * The monitor's request handling without HTTP: a path and query in, a response out. Counts
 * requests per endpoint for `/varz`'s `http_req_stats`.
 */
export class MonitorHandler {
  readonly reqStats = new Map<string, number>()
  private readonly cpu = new CpuSampler()

  constructor(
    readonly server: ServerState,
    readonly address: MonitorAddress
  ) {}

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
        return { status: 200, contentType: "text/html; charset=utf-8", body: rootPage() }
      case Paths.varz: {
        this.count(Paths.varz)
        const doc = varz(server, {
          httpHost: this.address.host,
          httpPort: this.address.port,
          reqStats: this.reqStats,
          cpu: this.cpu.read()
        })
        return json(goJsonIndent(doc))
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
        return json(goJsonIndent(routez(server, options.success)))
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
      // Features this server does not have, answered as nats-server does without them.
      case Paths.accountz:
        this.count(Paths.accountz)
        return json(goJsonIndent(Unserved.accountz(server)))
      case Paths.accstatz:
        this.count(Paths.accstatz)
        return json(goJsonIndent(Unserved.accstatz(server, query)))
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
}

/**
 * The monitor as a Layer over the `Broker`: listens on `httpHost ?? host` : `httpPort` (-1 or 0 =
 * a random port; see `monitorAddress`), logs `Starting http monitor on <host>:<port>` and stops
 * serving when its scope closes. Fails if the port cannot be bound.
 */
export const layer: Layer.Layer<never, MonitorListenError, Broker> = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* Broker
    const options = server.options
    const host = options.httpHost ?? options.host
    const port = options.httpPort === undefined || options.httpPort < 0 ? 0 : options.httpPort
    const http = yield* NodeHttpServer.make(() => createServer(), { host, port, gracefulShutdownTimeout: Duration.seconds(1) }).pipe(
      Effect.mapError((e) => new MonitorListenError(`can't listen to the monitor port: ${String((e.cause as Error | undefined)?.message ?? e.cause)}`))
    )
    const bound = "port" in http.address ? http.address.port : port
    const address: MonitorAddress = { host, port: bound }
    server.monitorAddress = { host, port: bound }
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      server.monitorAddress = undefined
    }))
    server.log.info(`Starting http monitor on ${joinHostPort(host, bound)}`)

    const handler = new MonitorHandler(server, address)
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const response = handler.handle(request.url)
      return HttpServerResponse.text(response.body, { status: response.status, contentType: response.contentType })
    })
    yield* http.serve(app)
  })
)
