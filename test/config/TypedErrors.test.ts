/**
 * Typed errors: each failure of a Layer or a public function is a tagged class with the fields
 * and the `cause` it promises, tags are unique, and bad options fail the Layer (not its caller).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as NatsServer from "../../src/NatsServer.js"
import { loadOptions } from "../../src/Main.js"
import { InvalidOptions } from "../../src/config/OptionsError.js"
import { ConfigError } from "../../src/config/ConfigParser.js"
import { FlagError } from "../../src/config/Flags.js"
import { dialNet, DialError } from "../../src/net/Dial.js"
import { listen, ListenError } from "../../src/net/Listener.js"
import { TlsConfigError, TlsHandshakeError } from "../../src/net/Tls.js"
import { fileSink, LogError } from "../../src/log/Log.js"
import { MonitorListenError } from "../../src/monitor/Monitor.js"
import { MeshPeerError } from "../../src/monitor/Mesh.js"
import { SignalError } from "../../src/config/Signal.js"
import { ReloadRefused } from "../../src/config/Reload.js"
import { ProtocolError as ProtocolViolation } from "../../src/protocol/ProtocolError.js"
import * as ClientErrors from "../../src/message/Errors.js"
import { TestServer } from "../../src/testing/TestServer.js"
import { InvalidValue } from "../../src/values/InvalidValue.js"
import { InvalidQuery } from "../../src/monitor/params.js"
import { InvalidConnect } from "../../src/protocol/ConnectInfo.js"
import { InvalidInfo } from "../../src/protocol/ServerInfo.js"

const failure = async <E>(effect: Effect.Effect<unknown, E>): Promise<E> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const e = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (e === undefined || e._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return e.error
}

describe("typed errors", () => {
  it("invalid options fail the NatsServer Layer with InvalidOptions (cause: the SchemaError); calling layer() does not throw", async () => {
    const layer = NatsServer.layer({ host: "127.0.0.1", port: 70000 })
    const e = await failure(Effect.scoped(Layer.build(layer)))
    expect(e).toBeInstanceOf(InvalidOptions)
    expect((e as InvalidOptions).cause).toBeInstanceOf(Schema.SchemaError)
    expect((e as InvalidOptions).field).toBeUndefined()
  })

  it("a rule between fields is a schema check: InvalidOptions names the field, with nats-server's text", async () => {
    const e = await failure(Effect.scoped(Layer.build(NatsServer.layer({ maxPayload: 2048, maxPending: 1024 }))))
    expect(e).toMatchObject({ _tag: "InvalidOptions", field: "maxPayload", message: "max_payload (2048) cannot be higher than max_pending (1024)" })
    const t = await failure(Effect.scoped(Layer.build(TestServer.layer({ lameDuckDuration: 30_000, lameDuckGracePeriod: 30_000 }))))
    expect(t).toMatchObject({ _tag: "InvalidOptions", field: "lameDuckGracePeriod", message: "lame_duck_grace_period (30s) must be less than lame_duck_duration (30s)" })
  })

  it("loadOptions fails with ConfigError, FlagError, InvalidOptions or TlsConfigError", async () => {
    const missing = path.join(os.tmpdir(), `no-such-${process.pid}.conf`)
    const unreadable = await failure(loadOptions({ configFile: missing, flags: {} }))
    expect(unreadable).toBeInstanceOf(ConfigError)
    expect(((unreadable as ConfigError).cause as NodeJS.ErrnoException).code).toBe("ENOENT")
    expect(await failure(loadOptions({ configFile: undefined, flags: { cluster: { routes: ["nats://h:1"] } } }))).toBeInstanceOf(FlagError)
    const rule = await failure(loadOptions({ configFile: undefined, flags: { maxPayload: 10, maxPending: 5 } }))
    expect(rule).toMatchObject({ _tag: "InvalidOptions", message: "max_payload (10) cannot be higher than max_pending (5)" })
    const tls = await failure(loadOptions({ configFile: undefined, flags: { tls: { certFile: "/nonexistent.pem", keyFile: "/nonexistent.key" } } }))
    expect(tls).toBeInstanceOf(TlsConfigError)
    expect((tls as TlsConfigError).cause).toBeDefined()
  })

  it("ListenError carries the address and Node's error", async () => {
    const taken = Net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as Net.AddressInfo).port
    try {
      const e = await failure(Effect.scoped(listen("127.0.0.1", port, () => Effect.void)))
      expect(e).toBeInstanceOf(ListenError)
      expect((e as ListenError).address).toBe(`127.0.0.1:${port}`)
      expect(((e as ListenError).cause as NodeJS.ErrnoException).code).toBe("EADDRINUSE")
      expect((e as ListenError).message).toBe((e as ListenError).cause.message)
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()))
    }
  })

  it("DialError carries the address and the socket error; its message reads like Go's", async () => {
    const srv = Net.createServer()
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve))
    const port = (srv.address() as Net.AddressInfo).port
    await new Promise<void>((resolve) => srv.close(() => resolve()))
    const e = await failure(dialNet("127.0.0.1", port))
    expect(e).toBeInstanceOf(DialError)
    expect((e as DialError).address).toBe(`127.0.0.1:${port}`)
    expect(((e as DialError).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED")
    expect((e as DialError).message).toBe(`dial tcp 127.0.0.1:${port}: connect: connection refused`)
  })

  it("LogError carries the path and the file system's error", () => {
    const r = fileSink("/nonexistent-dir/x.log")
    expect(r._tag).toBe("Failure")
    const e = (r as { failure: LogError }).failure
    expect(e.path).toBe("/nonexistent-dir/x.log")
    expect((e.cause as NodeJS.ErrnoException).code).toBe("ENOENT")
    expect(e.message).toMatch(/^unable to open log file \/nonexistent-dir\/x\.log: ENOENT/)
  })

  it("every exported error class has its own tag", () => {
    const classes: Array<new(args: never) => { readonly _tag: string }> = [
      InvalidOptions, ConfigError, FlagError, DialError, ListenError, TlsConfigError, TlsHandshakeError, LogError, MonitorListenError,
      MeshPeerError, ProtocolViolation, SignalError, ReloadRefused, InvalidValue, InvalidQuery, InvalidConnect, InvalidInfo,
      ...Object.values(ClientErrors).filter((v): v is never => typeof v === "function")
    ]
    const tags = classes.map((C) => new C({ file: "", line: 0, column: 0, reason: "" } as never)._tag)
    expect(tags.length).toBeGreaterThan(15)
    expect(new Set(tags).size).toBe(tags.length)
  })
})
