/**
 * An `effect/socket` `Socket` over a Node `net.Socket`, reading in flowing mode.
 *
 * `@effect/platform-node`'s adapter reads with `stream.read()`, which on Node < 26 concatenates
 * everything buffered into one new Buffer: one more copy (and allocation) of every inbound byte.
 * Here each chunk Node read from the kernel is handed over as it is. Backpressure stays end to
 * end: past a few buffered chunks the socket is paused until the next pull takes them. Writes can
 * be made synchronously (`writeNow`), so that a writer can keep a deadline timer for stalls only.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import type * as Net from "node:net"

/** Chunks buffered before the socket is paused (Node reads up to 64 KiB per chunk). */
const MAX_BUFFERED = 16

/**
 * The writer of a socket made here also writes synchronously: `writeNow` hands the chunk to Node
 * at once and returns undefined when the socket took it, else what to wait for (the drain, or the
 * failure). A session's writer then needs a timer only for a write that did not complete at once.
 */
export interface DirectWriter extends Socket.Writer {
  readonly writeNow: (chunk: Uint8Array | string) => Effect.Effect<void, Socket.SocketError> | undefined
}

/** The synchronous write of a writer from `fromNetSocket`, if it is one. */
export const writeNowOf = (writer: Socket.Writer): DirectWriter["writeNow"] | undefined =>
  (writer as Partial<DirectWriter>).writeNow

/** The Node socket under each `Socket` made by `fromNetSocket`. */
const rawSockets = new WeakMap<Socket.Socket, Net.Socket>()

/**
 * The Node socket a `Socket` from `fromNetSocket` runs on, if it is one. A session can then drive
 * it directly — read callbacks and synchronous writes — instead of through the `Socket` interface
 * (see `Session`); whoever does so owns its 'data' listener and its end (`end`/`destroySoon`).
 */
export const rawSocketOf = (socket: Socket.Socket): Net.Socket | undefined => rawSockets.get(socket)

const closed = (code = 1000) => new Socket.SocketError({ reason: new Socket.SocketCloseError({ code }) })

export const fromNetSocket = (conn: Net.Socket): Socket.Socket => {
  conn.setNoDelay(true)
  // The reader and writer are made on first use: a session that drives the Node socket directly
  // (`rawSocketOf`) never makes them, and an idle connection holds none of their closures.
  let made: Pick<Socket.Socket, "reader" | "writer"> | undefined
  const make = () => (made ??= readerWriter(conn))
  const socket = Socket.make({ reader: Effect.suspend(() => make().reader), writer: Effect.suspend(() => make().writer) })
  rawSockets.set(socket, conn)
  return socket
}

const readerWriter = (conn: Net.Socket): Pick<Socket.Socket, "reader" | "writer"> => {
  let chunks: Array<Uint8Array> = []
  let ended: Socket.SocketError | undefined
  let waiting: ((effect: Effect.Effect<readonly [Uint8Array, ...Array<Uint8Array>], Socket.SocketError>) => void) | undefined

  const wake = () => {
    const resume = waiting
    if (resume === undefined) return
    if (chunks.length > 0) {
      waiting = undefined
      const out = chunks as unknown as readonly [Uint8Array, ...Array<Uint8Array>]
      chunks = []
      if (conn.isPaused() && !conn.destroyed) conn.resume()
      resume(Effect.succeed(out))
    } else if (ended !== undefined) {
      waiting = undefined
      resume(Effect.fail(ended))
    }
  }
  const onData = (chunk: Buffer) => {
    chunks.push(chunk)
    if (chunks.length >= MAX_BUFFERED) conn.pause()
    wake()
  }
  const onEnd = () => {
    ended ??= closed()
    wake()
  }
  const onError = (cause: Error) => {
    ended ??= new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) })
    wake()
  }

  const pull = Effect.callback<readonly [Uint8Array, ...Array<Uint8Array>], Socket.SocketError>((resume) => {
    waiting = resume
    wake()
    return Effect.sync(() => {
      if (waiting === resume) waiting = undefined
    })
  })

  const reader: Socket.Socket["reader"] = Effect.acquireRelease(
    Effect.sync(() => {
      conn.on("data", onData)
      conn.on("end", onEnd)
      conn.on("close", onEnd)
      conn.on("error", onError)
      conn.resume()
      return {
        pull,
        upgrade: () => Effect.fail(new Socket.SocketError({ reason: new Socket.SocketUpgradeError({ cause: new Error("TLS is not supported") }) }))
      }
    }),
    () =>
      Effect.sync(() => {
        // Closing the reader's scope fails a pull that is still waiting, then closes the socket.
        ended ??= closed()
        wake()
        conn.off("data", onData)
        if (!conn.destroyed) conn.destroySoon()
      })
  )

  const awaitDrain = Effect.callback<void, Socket.SocketError>((resume) => {
    const done = () => {
      cleanup()
      resume(Effect.void)
    }
    const fail = () => {
      cleanup()
      resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause: new Error("socket closed") }) })))
    }
    const cleanup = () => {
      conn.off("drain", done)
      conn.off("close", fail)
    }
    conn.on("drain", done)
    conn.on("close", fail)
    return Effect.sync(cleanup)
  })

  const writeNow = (chunk: Uint8Array | string): Effect.Effect<void, Socket.SocketError> | undefined => {
    if (conn.destroyed || conn.writableEnded) return Effect.fail(closed(1006))
    try {
      return conn.write(chunk) ? undefined : awaitDrain
    } catch (cause) {
      return Effect.fail(new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) }))
    }
  }

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (Socket.isCloseEvent(chunk)) {
        conn.destroy()
        return Effect.void
      }
      return writeNow(chunk) ?? Effect.void
    })

  const writer: Socket.Socket["writer"] = Effect.acquireRelease(
    Effect.succeed<DirectWriter>({
      write,
      writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true }),
      writeNow
    }),
    () =>
      Effect.sync(() => {
        if (!conn.destroyed && !conn.writableEnded) conn.end()
      })
  )

  return { reader, writer }
}
