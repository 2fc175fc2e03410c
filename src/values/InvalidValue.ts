/**
 * The one failure of the value parsers (`Duration`, `Size`, `HostPort`, `Url`): the text could not
 * be read as a value of its `kind`. `message` is the `reason` — the text nats-server (or Go's
 * parser) gives, which the config file and flag errors quote as it is.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/** What a value parser was reading. */
export type ValueKind = "duration" | "size" | "address" | "port" | "url" | "route-url"

/** `input` is not a `kind`; `reason` says why (`missing unit in duration "5"`). */
export class InvalidValue extends Data.TaggedError("InvalidValue")<{
  readonly kind: ValueKind
  readonly input: string
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** An `InvalidValue` (shorthand for the parsers). */
export const invalid = (kind: ValueKind, input: string, reason: string): InvalidValue => new InvalidValue({ kind, input, reason })
