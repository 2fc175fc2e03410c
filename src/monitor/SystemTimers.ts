/**
 * The system account's timed events, on Effect's `Clock` (so a `TestClock` drives them):
 *
 * - the statsz heartbeat `$SYS.SERVER.<id>.STATSZ`: nats-server 2.9.10 sends the first 250 ms
 *   after start, then doubles the delay (500 ms, 1 s, … 16 s) up to 30 s, and stays there
 *   (measured on the real server: 0.75, 1.75, 3.75, 7.75, 15.75, 31.75, 61.75 s after start);
 * - the 30 s repeat of an account's CONNS event while it has connections (nats-server keeps one
 *   timer per account, reset by every CONNS event): checked once a second, so a repeat comes
 *   within a second of nats-server's.
 *
 * What is sent, and whether anybody listens, is the caller's: `Heartbeats` are two plain callbacks.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** The first statsz heartbeat, after start. */
export const STATSZ_FIRST_DELAY = Duration.millis(250)
/** The longest delay between statsz heartbeats (nats-server's `statsz` interval). */
export const STATSZ_MAX_DELAY = Duration.seconds(30)
/** How often due CONNS repeats are looked for. */
export const CONNS_CHECK_INTERVAL = Duration.seconds(1)

/** The delays after the first heartbeat: 500 ms doubling, at most 30 s. */
export const statszSchedule: Schedule.Schedule<Duration.Duration> = Schedule.exponential(Duration.millis(500), 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, STATSZ_MAX_DELAY)))
)

export interface Heartbeats {
  /** Publish this server's statsz heartbeat (when anybody listens). */
  readonly statsz: () => void
  /** Repeat the CONNS events that are due. */
  readonly accountConnections: () => void
}

/** Both timers, forever (fork it in a scope). */
export const run = (beats: Heartbeats): Effect.Effect<void> =>
  Effect.all([
    Effect.sleep(STATSZ_FIRST_DELAY).pipe(Effect.andThen(Effect.repeat(Effect.sync(beats.statsz), statszSchedule))),
    Effect.repeat(Effect.sync(beats.accountConnections), Schedule.spaced(CONNS_CHECK_INTERVAL))
  ], { concurrency: 2, discard: true })
