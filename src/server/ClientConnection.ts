/**
 * One client connection's protocol state and the synchronous handling of its ops.
 *
 * `apply` takes one parsed batch (every op of one read chunk) and runs it through the router in a
 * plain loop, then flushes every connection the batch touched. Effect stays outside: the session
 * (`ClientSession`) owns the socket, the writer and the timers and is reached through the small
 * `SessionIO` interface, so nothing here allocates an Effect or a closure per message.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { toText } from "../protocol/ByteString.js"
import * as Encoder from "../protocol/Encoder.js"
import type * as Op from "../protocol/Op.js"
import type { MsgSink, Parsed } from "../protocol/Parser.js"
import { type CloseReason, ErrText } from "../protocol/ProtocolError.js"
import { isValidLiteralSubject, isValidQueueName, isValidSubject } from "../subjects/Subject.js"
import type { Verdict } from "./auth/Auth.js"
import { ClientAuth } from "./auth/ClientAuth.js"
import { type ConnectOptions, parseConnect } from "./ConnectOptions.js"
import { ConnectionCore } from "./ConnectionCore.js"
import type { Connection, InfoListener, ServerState } from "./ServerState.js"
import type { Account } from "./Subscription.js"
import { SidMap } from "./SidMap.js"
import { type Producer, StallSignal } from "./Router.js"
import { LocalSubscription, type Subscriber } from "./Subscription.js"
import type { CertNames } from "../net/CertNames.js"
import { certificateUser, mapsCertificates } from "./TlsMap.js"

/** What the connection needs from its session: wake the writer, and finish a close. */
export interface SessionIO {
  wakeWriter(): void
  closed(): void
}

/** The 503 status header of a no-responders reply: `NATS/1.0 503\r\n\r\n`. */
const NO_RESPONDERS = Buffer.from("NATS/1.0 503\r\n\r\n")

export class ClientConnection extends ConnectionCore implements Connection, Subscriber, InfoListener, MsgSink {
  readonly kind = "Client" as const
  readonly subs = new SidMap()

  // From CONNECT (nats-server's defaults before CONNECT arrives).
  verbose = true
  pedantic = true
  echo = true
  headers = false
  noResponders = false
  protocol = 0
  name: string | undefined = undefined
  lang: string | undefined = undefined
  version: string | undefined = undefined
  user: string | undefined = undefined
  connected = false
  /** The first byte the client sent (-1 before any): with auth, it must begin a CONNECT. */
  firstByte = -1
  /** The names in the client's TLS certificate, when it presented one (verify_and_map). */
  peerCert: CertNames | undefined = undefined
  /** The negotiated TLS version and cipher suite (nats-server's names), for /connz. */
  tlsSession: { readonly version: string; readonly cipher: string } | undefined = undefined
  /** The pending PUB's line was already checked (a `PubLine` came before its payload). */
  private pubLineChecked = false
  /** Authentication and permissions of this connection (see `auth/ClientAuth`). */
  readonly auth: ClientAuth
  /** The account this connection lives in: the global one until a user of another authenticates. */
  account: Account
  private accountBound = false

  // Keepalive and async INFO.
  /** Async INFOs are only sent after the client's first PING was answered. */
  firstPingDone = false
  /** connect_urls changed since the client last got an INFO. */
  infoStale = false
  private infoSent = false
  stop: Date | undefined = undefined

  constructor(
    readonly cid: number,
    readonly server: ServerState,
    readonly ip: string,
    readonly port: number,
    private readonly io: SessionIO
  ) {
    super(server.clock)
    this.account = server.router.global
    this.auth = new ClientAuth(this)
  }

  /**
   * Bind the connection to the account its user belongs to (once, at login; `undefined` = the
   * global account). Subscriptions made before (none can be: SUB needs a login) stay where they are.
   */
  bindAccount(name: string | undefined): void {
    if (this.accountBound) this.account.connections--
    const router = this.server.router
    this.account = name === undefined ? router.global : router.lookup(name) ?? router.account(name)
    this.account.connections++
    this.accountBound = true
    this.server.system.clientBound(this)
  }

  /** Log prefix as nats-server writes it: `ip:port - cid:N - ["v:lang:name" - ]`. */
  get prefix(): string {
    const who = this.connected && (this.name !== undefined || this.lang !== undefined || this.version !== undefined)
      ? ` - "v${this.version ?? ""}:${this.lang ?? ""}:${this.name ?? ""}"`
      : ""
    return `${this.ip}:${this.port} - cid:${this.cid}${who} - `
  }

  // --- output ----------------------------------------------------------------------------------

  sendErr(text: string): void {
    if (this.server.log.traceEnabled) this.server.log.trace(`${this.prefix}->> [-ERR ${text}]`)
    this.send(Encoder.err(text))
  }

  sendInfo(): void {
    this.infoStale = false
    // Only the greeting carries the nonce (async INFOs are built without it, as nats-server's).
    const nonce = this.infoSent ? undefined : this.auth.nonce
    this.infoSent = true
    this.send(Encoder.info(this.server.clientInfo(this.cid, this.ip, nonce, this.auth.maxPayload)))
  }

  private ok(): void {
    if (this.verbose) this.send(Encoder.OK_BYTES)
  }

  /** Flushable: hand the buffered output to the writer fiber. */
  flush(producer?: Producer): void {
    this.dirty = false
    if (this.out.size > 0) this.io.wakeWriter()
    // nats-server's fast-producer stall: past half of max_pending, the client whose batch fed us
    // waits (a bounded time) for us to drain before it is read again.
    if (producer !== undefined && !this.closing && this.pending > this.server.options.maxPending / 2 && producer.stalledBy(this)) {
      this.stalls++
    }
  }

  /** Output not yet accepted by the socket: buffered plus handed over. */
  get pending(): number {
    return this.out.size + this.inFlight
  }

  /** Producers this connection stalled so far. */
  stalls = 0
  /** This client's own stall as a producer: set by a connection its batch backlogged, taken by its session. */
  readonly stall = new StallSignal()
  private drained: Deferred.Deferred<void> | undefined = undefined

  /**
   * Backlogged: wait until the pending output is below half of max_pending again, at most
   * nats-server's `stallDuration` (100 ms, growing with the backlog to 1 s at max_pending).
   */
  awaitDrain(): Effect.Effect<void> {
    const max = this.server.options.maxPending
    if (this.closing || this.pending <= max / 2) return Effect.void
    this.drained ??= Deferred.makeUnsafe<void>()
    return Deferred.await(this.drained).pipe(Effect.timeoutOption(Duration.millis(stallMillis(this.pending, max))), Effect.asVoid)
  }

  /** The socket accepted a write: release a stalled producer once below half of max_pending. */
  written(): void {
    if (this.drained !== undefined && (this.closing || this.pending < this.server.options.maxPending / 2)) {
      Deferred.doneUnsafe(this.drained, Effect.void)
      this.drained = undefined
    }
  }

  /** Subscriber: one message for one of our subscriptions (hot path). */
  deliver(sub: LocalSubscription, subject: string, reply: string | undefined, headerSize: number, buf: Uint8Array, start: number, end: number): boolean {
    if (this.closeReason !== undefined) return false
    const auth = this.auth
    if (auth.denyFilter !== undefined && auth.denyFilter.denied(subject)) return false
    if (headerSize >= 0 && !this.headers) {
      // A client that did not negotiate headers gets the body only, as nats-server does.
      start += headerSize
      headerSize = -1
    }
    this.out.appendMsg(subject, sub.wireSid, reply, headerSize, buf, start, end)
    this.outMsgs++
    this.outBytes += end - start
    if (!this.dirty) this.server.router.markDirty(this)
    if (auth.responses !== undefined && reply !== undefined) auth.responses.received(reply)
    if (this.out.size + this.inFlight > this.server.options.maxPending) this.slowConsumer()
    return true
  }

  forget(sub: LocalSubscription): void {
    this.subs.delete(sub.sid)
  }

  private slowConsumer(): void {
    this.server.router.stats.slowConsumers++
    this.account.stats.slowConsumers++
    this.server.log.info(`${this.prefix}Slow Consumer Detected: MaxPending of ${this.server.options.maxPending} Exceeded`)
    this.out.clear()
    this.close("Slow Consumer (Pending Bytes)")
  }

  /** InfoListener: connect_urls changed; protocol ≥ 1 clients get an async INFO. */
  infoChanged(): void {
    if (this.protocol < 1 || this.closing) {
      this.infoStale = true
      return
    }
    if (!this.firstPingDone) {
      this.infoStale = true
      return
    }
    this.sendInfo()
    this.flush()
  }

  /** Close with an optional `-ERR` first. Idempotent; the session does the rest. */
  close(reason: CloseReason, errText?: string): void {
    if (this.closing) return
    if (errText !== undefined) this.sendErr(errText)
    this.closeReason = reason
    // It no longer counts in its account (operator mode's `limits.conn`, /accstatz).
    this.releaseAccount()
    this.stop = new Date(this.now())
    this.flush()
    this.written()
    this.io.closed()
  }

  // --- input -----------------------------------------------------------------------------------

  /** Apply one parsed batch, then flush everything it touched. */
  apply(parsed: Parsed): void {
    if (parsed.ops.length > 0 || parsed.sunk > 0) this.lastActivityMs = this.now()
    this.run(parsed, 0)
  }

  /**
   * Run a batch from op `from` on. A CONNECT whose verdict is not in yet (bcrypt) stops the loop:
   * the rest of the batch is held in `auth` and the session resumes it (`resume`) once the
   * verdict arrived, reading nothing more from the socket meanwhile.
   */
  private run(parsed: Parsed, from: number): void {
    const ops = parsed.ops
    for (let i = from; i < ops.length && !this.closing; i++) {
      const op = ops[i]!
      if (op._tag === "Pub") this.pub(op)
      else this.control(op)
      if (this.auth.pending !== undefined) {
        this.auth.hold(parsed, i + 1)
        this.server.router.flush(this.stall)
        return
      }
    }
    if (parsed.error !== undefined && !this.closing) {
      const e = parsed.error
      if (!this.connected && this.server.authRequired() && ((this.firstByte | 0x20) !== 0x63 && !this.auth.noAuthUserFirstOp())) {
        // nats-server refuses a first op that does not start with C/c before parsing it.
        this.authViolation()
      } else {
        this.server.log.error(`${this.prefix}${e.detail}`)
        this.close(e.reason, e.errText)
      }
    }
    this.server.router.flush(this.stall)
  }

  /** The verdict the session waited for arrived: finish that CONNECT, then the held ops. */
  resume(): void {
    const { verdict, connect, held } = this.auth.release()
    this.finishConnect(connect, verdict)
    if (held !== undefined) this.run(held.parsed, held.from)
    else this.server.router.flush(this.stall)
  }

  /**
   * What nats-server checks on a PUB/HPUB control line, before its payload: auth, headers, and in
   * pedantic mode the subject. False when the connection was closed.
   */
  private checkPubLine(subject: string, headerSize: number): boolean {
    if (!this.connected && this.server.authRequired() && !this.auth.noAuthUserFirstOp()) {
      this.authViolation()
      return false
    }
    if (headerSize >= 0 && !this.headers) {
      this.server.log.error(`${this.prefix}message headers not supported`)
      this.close("Protocol Violation")
      return false
    }
    // nats-server 2.9 (live): pedantic only *reports* a publish subject that is not a valid literal;
    // the message is still routed (`-ERR 'Invalid Publish Subject'`, `+OK`, then the MSGs).
    if (this.pedantic && !isValidLiteralSubject(subject)) this.sendErr(ErrText.invalidPublishSubject)
    return true
  }

  /**
   * A PUB line whose payload is still to come: check it now, as nats-server does — twice when it
   * re-checks a line whose payload spills into the next read (see `Op.PubLine`).
   */
  private pubLine(op: Op.PubLine): void {
    if (!this.checkPubLine(op.subject, op.headerSize)) return
    if (op.recheck && this.pedantic && !isValidLiteralSubject(op.subject)) this.sendErr(ErrText.invalidPublishSubject)
    this.pubLineChecked = true
  }

  private pub(op: Op.Pub): void {
    this.publish(op.subject, op.reply, op.headerSize, op.payload, 0, op.payload.length)
  }

  /**
   * MsgSink: a whole PUB/HPUB straight from the parser, before any op of its batch (the hot
   * path: no op object, and no payload view unless someone receives it).
   */
  msg(_account: string, subject: string, reply: string | undefined, _queues: ReadonlyArray<string> | undefined, headerSize: number, buf: Uint8Array, from: number, to: number): void {
    if (!this.closing) this.publish(subject, reply, headerSize, buf, from, to)
  }

  /** One PUB/HPUB whose payload is `buf[from, to)`. */
  private publish(subject: string, reply: string | undefined, hdr: number, buf: Uint8Array, from: number, to: number): void {
    if (this.pubLineChecked) this.pubLineChecked = false
    else if (!this.checkPubLine(subject, hdr)) return
    const size = to - from
    // Account or user JWT limits below the server's max_payload (the parser checked that one).
    if (size > this.auth.payloadLimit) return this.auth.payloadViolation(size)
    this.inMsgs++
    this.inBytes += size
    if (this.server.log.traceEnabled) this.tracePub(subject, reply, hdr, buf.subarray(from, to))
    const perms = this.auth.permissions
    if (perms !== undefined && perms.checksPublish && !this.auth.mayPublish(perms, subject)) return this.auth.publishViolation(subject)
    // The verbose +OK goes out before any delivery (to this client's own subs or a 503).
    if (this.verbose) this.ok()
    // An HPUB with an empty header block (`HPUB foo 0 5`) is routed as a plain message (nats-server: MSG).
    const headerSize = hdr > 0 ? hdr : -1
    const delivered = this.server.router.publishLocalRange(this, subject, reply, headerSize, buf, from, to, this.account)
    if (delivered === 0 && this.noResponders && reply !== undefined) this.noRespondersReply(reply)
  }

  private tracePub(subj: string, rep: string | undefined, headerSize: number, payload: Uint8Array): void {
    const subject = toText(subj)
    const reply = rep === undefined ? undefined : toText(rep)
    const head = headerSize >= 0 ? `HPUB ${subject}${reply ? " " + reply : ""} ${headerSize} ${payload.length}` : `PUB ${subject}${reply ? " " + reply : ""} ${payload.length}`
    this.server.log.trace(`${this.prefix}<<- [${head}]`)
    this.server.log.trace(`${this.prefix}<<- MSG_PAYLOAD: [${JSON.stringify(Buffer.from(payload).toString("utf8"))}]`)
  }

  /** Nobody had interest: answer the requester's own reply subscription with a 503 status. */
  private noRespondersReply(reply: string): void {
    const result = this.account.index.match(reply)
    for (const sub of result.plain) {
      if (!sub.remote && sub.owner === this && !sub.closed) {
        this.deliver(sub, reply, undefined, NO_RESPONDERS.length, NO_RESPONDERS, 0, NO_RESPONDERS.length)
        return
      }
    }
  }

  private control(op: Op.Op): void {
    if (op._tag === "PubLine") return this.pubLine(op)
    if (this.server.log.traceEnabled && op._tag !== "Connect") this.server.log.trace(`${this.prefix}<<- [${traceText(op)}]`)
    if (!this.connected && op._tag !== "Connect" && this.server.authRequired() && !this.auth.noAuthUserFirstOp()) return this.authViolation()
    switch (op._tag) {
      case "Connect":
        return this.connect(op.json)
      case "Ping":
        return this.ping()
      case "Pong":
        return this.pong()
      case "Sub":
        return this.sub(op)
      case "Unsub":
        return this.unsub(op)
      case "Info":
        // A client's INFO is parsed and ignored, but it must be JSON.
        try {
          JSON.parse(op.json)
        } catch (e) {
          this.server.log.error(`${this.prefix}${String((e as Error).message)}`)
          this.close("Protocol Violation")
        }
        return
      case "HpubRefused":
        // nats-server refuses HPUB from a client without headers before reading its arguments.
        if (!this.headers) {
          this.server.log.error(`${this.prefix}message headers not supported`)
          this.close("Protocol Violation")
        }
        return
      case "Ok":
        return
      case "Err":
        this.server.log.error(`${this.prefix}Client Error ${op.message}`)
        return this.close("Parse Error")
      default:
        return
    }
  }

  private connect(json: string): void {
    const parsed = parseConnect(json)
    if (this.server.log.traceEnabled) this.server.log.trace(`${this.prefix}<<- [CONNECT ${redact(json)}]`)
    if (Result.isFailure(parsed)) {
      this.server.log.error(`${this.prefix}${parsed.failure.message}`)
      return this.close("Protocol Violation")
    }
    const c: ConnectOptions = parsed.success
    if (!Number.isInteger(c.protocol)) {
      // Go cannot unmarshal a fraction into clientOpts.protocol (an int): a silent close.
      this.server.log.error(`${this.prefix}json: cannot unmarshal number ${c.protocol} into Go struct field clientOpts.protocol of type int`)
      return this.close("Protocol Violation")
    }
    // nats-server authenticates before it looks at protocol and no_responders; a bcrypt verdict
    // arrives later (the session waits for it and calls `resume`).
    const verdict = this.auth.authenticate(c)
    if (verdict instanceof Promise) return this.auth.wait(verdict, c)
    this.finishConnect(c, verdict)
  }

  private finishConnect(c: ConnectOptions, verdict: Verdict): void {
    if (this.closing) return
    if (verdict === undefined) return this.authViolation()
    if (!this.auth.register(verdict)) return
    if (c.protocol !== 0 && c.protocol !== 1) {
      this.server.log.error(`${this.prefix}${ErrText.invalidProtocol}`)
      return this.close("Protocol Violation", ErrText.invalidProtocol)
    }
    if (c.no_responders && !c.headers) {
      this.server.log.error(`${this.prefix}${ErrText.noRespondersRequiresHeaders}`)
      return this.close("Protocol Violation", ErrText.noRespondersRequiresHeaders)
    }
    this.verbose = c.verbose
    this.pedantic = c.pedantic
    this.echo = c.echo
    this.headers = c.headers && !this.server.options.noHeaderSupport
    this.noResponders = c.no_responders
    this.protocol = c.protocol
    this.name = c.name
    this.lang = c.lang
    this.version = c.version
    this.connected = true
    // Until a PING measures it, the time from accept to CONNECT is the RTT estimate (as nats-server).
    if (this.rtt === undefined) this.rtt = this.now() - this.startMs
    this.ok()
    this.server.system.clientConnected(this)
  }

  private authorize(c: ConnectOptions): boolean {
    const auth = this.server.options.authorization
    if (auth === undefined) return true
    if (auth.token !== undefined) return c.auth_token === auth.token
    if (mapsCertificates(this.server.options)) {
      this.user = certificateUser(this.server.options, this.peerCert, c, this.server.log, this.prefix)
      return this.user !== undefined
    }
    if (auth.user !== undefined && c.user === auth.user && c.pass === auth.password) {
      this.user = c.user
      return true
    }
    for (const u of auth.users) {
      if (u.user === c.user && u.password === c.pass) {
        this.user = c.user
        return true
      }
    }
    return false
  }

  authViolation(): void {
    this.server.log.error(`${this.prefix}${this.server.auth.failureLog(this.auth.credentials)}`)
    this.close("Authentication Failure", ErrText.authViolation)
  }

  private ping(): void {
    // The first PING of a protocol-1 client opens async INFO; an INFO it missed goes out first.
    if (!this.firstPingDone) {
      this.firstPingDone = true
      if (this.infoStale && this.protocol >= 1) this.sendInfo()
      else if (this.protocol >= 1 && this.auth.maxPayload !== this.server.options.maxPayload) {
        // nats-server: a client whose max_payload account limits lowered gets an INFO with it
        // after the PONG of its first PING (live).
        this.send(Encoder.PONG_BYTES)
        return this.sendInfo()
      }
    }
    this.send(Encoder.PONG_BYTES)
  }

  private sub(op: Op.Sub): void {
    // nats-server's order (processSub): permissions, the subscription limit, then a live sid
    // (silently ignored, whatever the subject: the first subscription stays), then the subject.
    if (this.auth.permissions !== undefined && !this.auth.maySubscribe(this.auth.permissions, op)) return
    const max = this.auth.maxSubscriptions
    if (max > 0 && this.subs.size >= max) return this.auth.subscriptionLimit()
    if (this.subs.has(op.sid)) return this.ok()
    if (!isValidSubject(op.subject) || (op.queue !== undefined && !isValidQueueName(op.queue))) {
      this.sendErr(ErrText.invalidSubject)
      return
    }
    const sub = new LocalSubscription(this, op.subject, op.queue, op.sid, this.account)
    this.subs.set(op.sid, sub)
    this.server.router.addLocal(sub)
    this.ok()
  }

  private unsub(op: Op.Unsub): void {
    const sub = this.subs.get(op.sid)
    if (sub !== undefined) {
      if (op.max !== undefined && op.max > sub.delivered) {
        sub.max = op.max
      } else {
        this.subs.delete(op.sid)
        this.server.router.removeLocal(sub)
      }
    }
    this.ok()
  }

  /**
   * Withdraw every subscription from the router (the connection is gone). The map is kept as a
   * record of what the closed connection had, for /connz?state=closed.
   */
  removeAllSubscriptions(): void {
    for (const sub of this.subs.values()) this.server.router.removeLocal(sub)
    this.releaseAccount()
  }

  private releaseAccount(): void {
    if (!this.accountBound) return
    this.accountBound = false
    this.account.connections--
  }
}

/**
 * nats-server 2.9's `stallDuration`: 100 ms, plus 100 ms per tenth of half of max_pending above
 * that half (Go's integer division, so just below max_pending it can be 1.1 s), 1 s at max_pending.
 */
export const stallMillis = (pending: number, max: number): number => {
  if (pending >= max) return 1000
  // Go's integer division: `hmp := mp / 2`, `bsz := hmp / 10`.
  const half = Math.floor(max / 2)
  if (pending <= half) return 100
  return 100 + 100 * Math.floor((pending - half) / Math.max(1, Math.floor(half / 10)))
}

const traceText = (op: Op.Op): string => {
  switch (op._tag) {
    case "Sub":
      return toText(`SUB ${op.subject}${op.queue !== undefined ? " " + op.queue : ""} ${op.sid}`)
    case "Unsub":
      return toText(`UNSUB ${op.sid}${op.max !== undefined ? " " + op.max : ""}`)
    case "Ping":
      return "PING"
    case "Pong":
      return "PONG"
    case "Ok":
      return "OK"
    case "Err":
      return `-ERR ${op.message}`
    case "Info":
      return `INFO ${op.json}`
    default:
      return op._tag.toUpperCase()
  }
}

/** Passwords and tokens never reach the trace log. */
const redact = (json: string): string =>
  json.replace(/("(?:pass|auth_token)"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[REDACTED]"')
