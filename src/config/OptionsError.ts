/**
 * What loading and checking the server's options can fail with, each a tagged error with its
 * cause: `InvalidOptions` (the options do not decode to `ServerOptions`: a field of the wrong
 * type or out of range, or a rule between fields), beside the config file's `ConfigError`
 * (`ConfigParser`), the command line's `FlagError` (`Flags`) and `TlsConfigError` (`net/Tls`) for
 * TLS files that cannot be loaded.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as SchemaIssue from "effect/SchemaIssue"
import type { OperatorJwtError } from "./AccountsStartup.js"
import type { ConfigError } from "./ConfigParser.js"
import type { FlagError } from "./Flags.js"
import type { TlsConfigError } from "../net/Tls.js"
import { ServerOptions } from "./ServerOptions.js"

/**
 * The options do not decode. `message` is the rule's text for a rule between fields (nats-server's
 * wording, e.g. `max_payload (…) cannot be higher than max_pending (…)`), else the schema's report;
 * `cause` is the `SchemaError` with the whole issue.
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  readonly message: string
  /** The field a rule between fields points at (`maxPayload`, `lameDuckGracePeriod`), if any. */
  readonly field: string | undefined
  readonly cause: Schema.SchemaError
}> {}

/** Everything `Main.loadOptions` can fail with. */
export type LoadOptionsError = ConfigError | FlagError | InvalidOptions | TlsConfigError | OperatorJwtError

/** A rule between fields that failed: the field it points at and its message. */
export const ruleOf = (issue: SchemaIssue.Issue): { readonly field: string; readonly message: string } | undefined => {
  switch (issue._tag) {
    case "Pointer": {
      const inner = issue.issue
      const field = issue.path[0]
      if (inner._tag === "InvalidValue" && typeof field === "string" && typeof inner.annotations?.message === "string") {
        return { field, message: inner.annotations.message }
      }
      return undefined
    }
    case "Filter":
      return ruleOf(issue.issue)
    case "Composite":
      for (const i of issue.issues) {
        const r = ruleOf(i)
        if (r !== undefined) return r
      }
      return undefined
    default:
      return undefined
  }
}

/** An `InvalidOptions` for a `SchemaError` from decoding `ServerOptions`. */
export const invalidOptions = (cause: Schema.SchemaError): InvalidOptions => {
  const rule = ruleOf(cause.issue)
  return new InvalidOptions({ message: rule?.message ?? cause.message, field: rule?.field, cause })
}

const decode = Schema.decodeUnknownEffect(ServerOptions)

/** Decode options (defaults for what `input` leaves out), failing with `InvalidOptions`. */
export const decodeOptions = (input: unknown): Effect.Effect<ServerOptions, InvalidOptions> =>
  decode(input).pipe(Effect.mapError(invalidOptions))
