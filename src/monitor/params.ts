/**
 * Query parameters of the monitoring endpoints, decoded as nats-server does (Go `strconv`
 * syntax), with its `400 Bad Request` texts for values it cannot decode: a decoder fails with an
 * `InvalidQuery` whose `message` is that text.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"

/** What an endpoint answers: a status, a content type and a body. */
export interface MonitorResponse {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/**
 * A query parameter an endpoint cannot take: `parameter` is its name, `value` its text, and
 * `message` the body nats-server answers with (`Error decoding int for 'limit': …`).
 */
export class InvalidQuery extends Data.TaggedError("InvalidQuery")<{
  readonly parameter: string
  readonly value: string
  readonly message: string
}> {}

/** An `InvalidQuery` (shorthand for the decoders). */
export const invalidQuery = (parameter: string, value: string, message: string): Result.Result<never, InvalidQuery> =>
  Result.fail(new InvalidQuery({ parameter, value, message }))

/** A request nats-server refuses with 400 and a plain-text message (an `InvalidQuery`'s). */
export const badRequest = (error: InvalidQuery): MonitorResponse => ({
  status: 400,
  contentType: "text/plain; charset=utf-8",
  body: error.message
})

/** Go's `%q` of a short string (close enough: JSON string syntax). */
const quote = (s: string): string => JSON.stringify(s)

/** `strconv.ParseBool`. */
const parseBool = (text: string): boolean | undefined => {
  switch (text) {
    case "1":
    case "t":
    case "T":
    case "true":
    case "TRUE":
    case "True":
      return true
    case "0":
    case "f":
    case "F":
    case "false":
    case "FALSE":
    case "False":
      return false
    default:
      return undefined
  }
}

/** `decodeBool`: absent or empty is `false`. */
export const decodeBool = (query: URLSearchParams, name: string): Result.Result<boolean, InvalidQuery> => {
  const text = query.get(name) ?? ""
  if (text === "") return Result.succeed(false)
  const value = parseBool(text)
  return value === undefined
    ? invalidQuery(name, text, `Error decoding boolean for '${name}': strconv.ParseBool: parsing ${quote(text)}: invalid syntax`)
    : Result.succeed(value)
}

/** `decodeInt` (`strconv.Atoi`): absent or empty is 0. */
export const decodeInt = (query: URLSearchParams, name: string): Result.Result<number, InvalidQuery> => {
  const text = query.get(name) ?? ""
  if (text === "") return Result.succeed(0)
  if (!/^[+-]?[0-9]+$/.test(text)) {
    return invalidQuery(name, text, `Error decoding int for '${name}': strconv.Atoi: parsing ${quote(text)}: invalid syntax`)
  }
  const value = Number(text)
  if (!Number.isSafeInteger(value)) {
    return invalidQuery(name, text, `Error decoding int for '${name}': strconv.Atoi: parsing ${quote(text)}: value out of range`)
  }
  return Result.succeed(value)
}

/** `decodeUint64` (`strconv.ParseUint`): absent or empty is 0. */
export const decodeUint = (query: URLSearchParams, name: string): Result.Result<number, InvalidQuery> => {
  const text = query.get(name) ?? ""
  if (text === "") return Result.succeed(0)
  if (!/^[0-9]+$/.test(text)) {
    return invalidQuery(name, text, `Error decoding uint64 for '${name}': strconv.ParseUint: parsing ${quote(text)}: invalid syntax`)
  }
  const value = Number(text)
  if (!Number.isSafeInteger(value)) {
    return invalidQuery(name, text, `Error decoding uint64 for '${name}': strconv.ParseUint: parsing ${quote(text)}: value out of range`)
  }
  return Result.succeed(value)
}

/** `decodeSubs`: `subs=detail`, or a boolean `subs`. */
export const decodeSubs = (query: URLSearchParams): Result.Result<{ readonly subs: boolean; readonly detail: boolean }, InvalidQuery> => {
  if ((query.get("subs") ?? "").toLowerCase() === "detail") return Result.succeed({ subs: false, detail: true })
  const subs = decodeBool(query, "subs")
  return Result.isFailure(subs) ? Result.fail(subs.failure) : Result.succeed({ subs: subs.success, detail: false })
}

/** Connection states `/connz` can list. */
export type ConnState = "open" | "closed" | "all"

/** `decodeState`: `open` (default), `closed`, `any`/`all`. */
export const decodeState = (query: URLSearchParams): Result.Result<ConnState, InvalidQuery> => {
  const text = query.get("state") ?? ""
  if (text === "") return Result.succeed("open")
  switch (text.toLowerCase()) {
    case "open":
      return Result.succeed("open")
    case "closed":
      return Result.succeed("closed")
    case "any":
    case "all":
      return Result.succeed("all")
    default:
      return invalidQuery("state", text, `Error decoding state for ${text}`)
  }
}
