/**
 * A lexer/parser for the nats-server configuration file syntax (see NATS-REFERENCE.md §3.2).
 *
 * The parser is pure: it turns text into a tree of values that remember where they were written
 * (file, line, column). Includes and environment variables come in through {@link ParseOptions}, so
 * tests need no file system; {@link parseFile} is the convenience that reads real files.
 *
 * Syntax accepted:
 * - `key: value`, `key = value`, `key value`; an optional `;` or `,` after a value (which also lets
 *   another key follow on the same line);
 * - maps `name { … }` / `name: { … }`, arrays `[ … ]` (comma and/or newline separated, mixed types,
 *   arrays of maps);
 * - comments `#` and `//` to the end of the line (where a key, value or separator may start);
 * - strings: bare (end at whitespace, new line, `,` `;` `]` `}`), `"double"` with escapes, `'single'`
 *   (raw), block strings `(` … `)` with `)` alone on its line;
 * - booleans `true/false/yes/no/on/off` (any case), integers (optionally with a size suffix: `k`=1000,
 *   `kb`/`ki`/`kib`=1024, `m`=10^6, `mb`/`mi`/`mib`=2^20, … up to `e`), floats `1.5`, datetimes
 *   `2006-01-02T15:04:05Z`; anything else bare (`2s`, `1m30s`, `127.0.0.1:4222`) stays a string —
 *   note that, as in nats-server, a bare `2m` is the integer 2000000, not a duration;
 * - variables: `$NAME` (bare only) looked up in the maps being parsed, innermost to outermost, among
 *   keys defined before the reference, then in the environment, whose value is parsed again as a
 *   config value; `$2a$…`-style bcrypt hashes are strings;
 * - `include path` (relative to the including file) merges the included file's keys into the
 *   current map, at any level. Included text sees the variables of the enclosing maps.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Size from "../values/Size.js"

// ---------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------

/** Where a key or value was written. Lines and columns count from 1. */
export interface Position {
  readonly file: string
  readonly line: number
  readonly column: number
}

export interface ConfigString {
  readonly _tag: "String"
  readonly value: string
  /** True when written as `"…"`, `'…'` or `( … )`. */
  readonly quoted: boolean
  readonly pos: Position
}

export interface ConfigInteger {
  readonly _tag: "Integer"
  readonly value: number
  /** The text as written, e.g. `2MB`. */
  readonly raw: string
  readonly pos: Position
}

export interface ConfigFloat {
  readonly _tag: "Float"
  readonly value: number
  readonly raw: string
  readonly pos: Position
}

export interface ConfigBoolean {
  readonly _tag: "Boolean"
  readonly value: boolean
  readonly raw: string
  readonly pos: Position
}

export interface ConfigDatetime {
  readonly _tag: "Datetime"
  readonly value: Date
  readonly raw: string
  readonly pos: Position
}

export interface ConfigArray {
  readonly _tag: "Array"
  readonly items: ReadonlyArray<ConfigValue>
  readonly pos: Position
}

export interface ConfigEntry {
  /** The key exactly as written (case preserved). */
  readonly key: string
  /** Position of the key. */
  readonly pos: Position
  readonly value: ConfigValue
  /** True when some `$key` reference resolved to this entry (it then serves as a variable). */
  readonly referenced: boolean
}

export interface ConfigMap {
  readonly _tag: "Map"
  /** Entries in the order they were first defined; a later duplicate key replaces the value. */
  readonly entries: ReadonlyArray<ConfigEntry>
  readonly pos: Position
}

export type ConfigValue =
  | ConfigString
  | ConfigInteger
  | ConfigFloat
  | ConfigBoolean
  | ConfigDatetime
  | ConfigArray
  | ConfigMap

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** `file:line:col: ` (or `file: ` when there is no line, e.g. a file that can not be read). */
export const formatPosition = (pos: Position): string =>
  pos.line > 0 ? `${pos.file}:${pos.line}:${pos.column}: ` : `${pos.file}: `

/**
 * A configuration error at a position. `reason` is the bare text, `message` (and `toString()`)
 * is `file:line:col: reason`; `cause` is the file system's error when a file could not be read.
 */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly file: string
  readonly line: number
  readonly column: number
  readonly reason: string
  readonly message: string
  readonly cause?: unknown
}> {
  constructor(args: { readonly file: string; readonly line: number; readonly column: number; readonly reason: string; readonly cause?: unknown }) {
    super({ ...args, message: formatPosition(args) + args.reason })
  }
  override toString(): string {
    return this.message
  }
}

/** A {@link ConfigError} at `pos`. */
export const configError = (pos: Position, reason: string, cause?: unknown): ConfigError =>
  new ConfigError({ file: pos.file, line: pos.line, column: pos.column, reason, ...(cause !== undefined ? { cause } : {}) })

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

export interface ParseOptions {
  /** Name used in positions and to resolve relative includes. Default `"<config>"`. */
  readonly file?: string
  /**
   * Reads an included file; receives the path joined with the including file's directory (or the
   * absolute path as written). May throw: the error becomes a {@link ConfigError} at the include.
   * Absent → any `include` is an error.
   */
  readonly readInclude?: (path: string) => string
  /** Environment for `$VAR` lookups that no map defines. Default: none (an empty environment). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

const MAX_INCLUDE_DEPTH = 32
const MAX_ENV_DEPTH = 16

// ---------------------------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------------------------

const EOF = ""

class Scanner {
  i = 0
  line = 1
  column = 1
  constructor(readonly text: string, readonly file: string) {
    if (text.charCodeAt(0) === 0xfeff) this.i = 1
  }
  peek(offset = 0): string {
    const j = this.i + offset
    return j < this.text.length ? this.text[j]! : EOF
  }
  next(): string {
    const c = this.peek()
    if (c === EOF) return c
    this.i++
    if (c === "\n") {
      this.line++
      this.column = 1
    } else {
      this.column++
    }
    return c
  }
  pos(): Position {
    return { file: this.file, line: this.line, column: this.column }
  }
  atEnd(): boolean {
    return this.i >= this.text.length
  }
  atComment(): boolean {
    const c = this.peek()
    return c === "#" || (c === "/" && this.peek(1) === "/")
  }
  /** Spaces, tabs and carriage returns. */
  skipSpaces(): void {
    for (;;) {
      const c = this.peek()
      if (c === " " || c === "\t" || c === "\r") this.next()
      else return
    }
  }
  skipComment(): void {
    while (!this.atEnd() && this.peek() !== "\n") this.next()
  }
  /** Spaces, new lines and comments. */
  skipTrivia(): void {
    for (;;) {
      this.skipSpaces()
      if (this.peek() === "\n") this.next()
      else if (this.atComment()) this.skipComment()
      else return
    }
  }
}

const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\r"

/** Where a bare (unquoted) value ends. */
const endsBare = (c: string): boolean =>
  c === EOF || isSpace(c) || c === "\n" || c === "," || c === ";" || c === "]" || c === "}"

/** Where a bare key ends. */
const endsKey = (c: string): boolean =>
  endsBare(c) || c === ":" || c === "=" || c === "{" || c === "["

const show = (c: string): string => (c === EOF ? "end of file" : c === "\n" ? "new line" : `'${c}'`)

// ---------------------------------------------------------------------------------------------
// Bare value classification
// ---------------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ["true", true],
  ["yes", true],
  ["on", true],
  ["false", false],
  ["no", false],
  ["off", false]
])

const INTEGER_RE = /^(-?\d+)([a-zA-Z]*)$/
const FLOAT_RE = /^-?\d+\.\d+$/
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/
const BCRYPT_RE = /^\$2[abxy]\$/

const classifyBare = (raw: string, pos: Position): ConfigValue => {
  const bool = BOOLEANS.get(raw.toLowerCase())
  if (bool !== undefined) return { _tag: "Boolean", value: bool, raw, pos }
  const int = INTEGER_RE.exec(raw)
  if (int !== null) {
    const suffix = int[2]!.toLowerCase()
    const mult = Size.multiplier(suffix)
    if (mult !== undefined) {
      const big = BigInt(int[1]!) * mult
      if (big < INT64_MIN || big > INT64_MAX) {
        throw configError(pos, `integer value ${raw} is out of range`)
      }
      return { _tag: "Integer", value: Number(big), raw, pos }
    }
    return { _tag: "String", value: raw, quoted: false, pos }
  }
  if (FLOAT_RE.test(raw)) return { _tag: "Float", value: Number(raw), raw, pos }
  const dt = DATETIME_RE.exec(raw)
  if (dt !== null) {
    const date = new Date(raw)
    if (Number.isNaN(date.getTime())) throw configError(pos, `invalid datetime ${raw}`)
    return { _tag: "Datetime", value: date, raw, pos }
  }
  return { _tag: "String", value: raw, quoted: false, pos }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

interface MutableEntry {
  key: string
  pos: Position
  value: ConfigValue
  referenced: boolean
}

class MapBuilder {
  readonly entries: Array<MutableEntry> = []
  private readonly index = new Map<string, MutableEntry>()
  constructor(readonly pos: Position) {}
  set(key: string, pos: Position, value: ConfigValue): void {
    const existing = this.index.get(key)
    if (existing !== undefined) {
      existing.pos = pos
      existing.value = value
    } else {
      const entry: MutableEntry = { key, pos, value, referenced: false }
      this.entries.push(entry)
      this.index.set(key, entry)
    }
  }
  get(key: string): MutableEntry | undefined {
    return this.index.get(key)
  }
  build(): ConfigMap {
    return { _tag: "Map", entries: this.entries, pos: this.pos }
  }
}

/** Gives `value` (and everything inside it) the position `pos`. */
const relocate = (value: ConfigValue, pos: Position): ConfigValue => {
  switch (value._tag) {
    case "Array":
      return { ...value, pos, items: value.items.map((v) => relocate(v, pos)) }
    case "Map":
      return {
        ...value,
        pos,
        entries: value.entries.map((e) => ({ ...e, pos, value: relocate(e.value, pos) }))
      }
    default:
      return { ...value, pos }
  }
}

class Parser {
  private scopes: Array<MapBuilder> = []
  private readonly includeStack: Array<string> = []
  private readonly envStack: Array<string> = []
  private envRef: Position | undefined = undefined

  constructor(private readonly options: ParseOptions) {}

  document(text: string, file: string): ConfigMap {
    const root = new MapBuilder({ file, line: 1, column: 1 })
    this.scopes.push(root)
    this.includeStack.push(path.normalize(file))
    this.entries(new Scanner(text, file), root, undefined)
    this.includeStack.pop()
    this.scopes.pop()
    return root.build()
  }

  /** Parses `key value` entries into `into` until EOF (top level) or the `}` closing `open`. */
  private entries(s: Scanner, into: MapBuilder, open: Position | undefined): void {
    for (;;) {
      s.skipTrivia()
      const c = s.peek()
      if (c === EOF) {
        if (open !== undefined) {
          throw configError(s.pos(), `unexpected end of file: '{' opened on line ${open.line} is not closed`)
        }
        return
      }
      if (c === "}") {
        if (open === undefined) throw configError(s.pos(), "unexpected '}'")
        s.next()
        return
      }
      const keyPos = s.pos()
      let key: string
      let quotedKey = false
      if (c === "\"") {
        key = this.doubleQuoted(s)
        quotedKey = true
      } else if (c === "'") {
        key = this.singleQuoted(s)
        quotedKey = true
      } else {
        let k = ""
        while (!endsKey(s.peek())) k += s.next()
        if (k === "") throw configError(keyPos, `unexpected ${show(c)}, expected a key`)
        key = k
      }
      s.skipSpaces()
      if (s.peek() === ":" || s.peek() === "=") {
        s.next()
        s.skipSpaces()
      }
      if (!quotedKey && key.toLowerCase() === "include") {
        this.include(s, into, keyPos)
      } else {
        const value = this.value(s, key)
        into.set(key, keyPos, value)
      }
      this.afterValue(s, key)
    }
  }

  /** After a value in a map: optional `,`/`;`, then a new line, comment, `}` or EOF. */
  private afterValue(s: Scanner, key: string): void {
    s.skipSpaces()
    let terminated = false
    if (s.peek() === "," || s.peek() === ";") {
      s.next()
      terminated = true
      s.skipSpaces()
    }
    const c = s.peek()
    if (c === EOF || c === "\n" || c === "}" || s.atComment() || terminated) return
    throw configError(
      s.pos(),
      `expected a new line, ',' or ';' after the value of '${key}', found ${show(c)}`
    )
  }

  private include(s: Scanner, into: MapBuilder, keyPos: Position): void {
    const pos = s.pos()
    const c = s.peek()
    let target: string
    if (c === "\"") target = this.doubleQuoted(s)
    else if (c === "'") target = this.singleQuoted(s)
    else {
      let raw = ""
      while (!endsBare(s.peek())) raw += s.next()
      target = raw
    }
    if (target === "") throw configError(keyPos, "include needs a file name")
    const readInclude = this.options.readInclude
    if (readInclude === undefined) {
      throw configError(pos, `can not include "${target}": includes are not available here`)
    }
    const resolved = path.normalize(path.isAbsolute(target) ? target : path.join(path.dirname(s.file), target))
    if (this.includeStack.includes(resolved)) {
      throw configError(pos, `include cycle: "${resolved}" includes itself`)
    }
    if (this.includeStack.length > MAX_INCLUDE_DEPTH) {
      throw configError(pos, `includes are nested more than ${MAX_INCLUDE_DEPTH} deep`)
    }
    let text: string
    try {
      text = readInclude(resolved)
    } catch (e) {
      throw configError(pos, `error opening include file "${target}": ${e instanceof Error ? e.message : String(e)}`, e)
    }
    this.includeStack.push(resolved)
    this.entries(new Scanner(text, resolved), into, undefined)
    this.includeStack.pop()
  }

  /** A value; `key` is the key it belongs to, or undefined inside an array. */
  private value(s: Scanner, key: string | undefined): ConfigValue {
    const pos = s.pos()
    const c = s.peek()
    if (c === EOF || c === "\n" || c === "," || c === ";" || c === "}" || c === "]" || s.atComment()) {
      throw configError(
        pos,
        key !== undefined ? `missing value for key '${key}'` : `unexpected ${show(c)} in array`
      )
    }
    switch (c) {
      case "{":
        return this.map(s)
      case "[":
        return this.array(s)
      case "\"":
        return { _tag: "String", value: this.doubleQuoted(s), quoted: true, pos }
      case "'":
        return { _tag: "String", value: this.singleQuoted(s), quoted: true, pos }
      case "(":
        return { _tag: "String", value: this.block(s), quoted: true, pos }
    }
    let raw = ""
    while (!endsBare(s.peek())) raw += s.next()
    if (raw.startsWith("$") && raw.length > 1 && !BCRYPT_RE.test(raw)) {
      return this.variable(raw.slice(1), pos)
    }
    return classifyBare(raw, pos)
  }

  private map(s: Scanner): ConfigMap {
    const open = s.pos()
    s.next()
    const builder = new MapBuilder(open)
    this.scopes.push(builder)
    try {
      this.entries(s, builder, open)
    } finally {
      this.scopes.pop()
    }
    return builder.build()
  }

  private array(s: Scanner): ConfigArray {
    const open = s.pos()
    s.next()
    const items: Array<ConfigValue> = []
    for (;;) {
      s.skipTrivia()
      const c = s.peek()
      if (c === EOF) {
        throw configError(s.pos(), `unexpected end of file: '[' opened on line ${open.line} is not closed`)
      }
      if (c === "]") {
        s.next()
        return { _tag: "Array", items, pos: open }
      }
      items.push(this.value(s, undefined))
      s.skipTrivia()
      if (s.peek() === ",") s.next()
    }
  }

  private doubleQuoted(s: Scanner): string {
    const open = s.pos()
    s.next()
    let out = ""
    for (;;) {
      const c = s.peek()
      if (c === EOF) throw configError(open, "unterminated quoted string")
      s.next()
      if (c === "\"") return out
      if (c !== "\\") {
        out += c
        continue
      }
      const escPos = s.pos()
      const e = s.next()
      switch (e) {
        case "t":
          out += "\t"
          break
        case "n":
          out += "\n"
          break
        case "r":
          out += "\r"
          break
        case "b":
          out += "\b"
          break
        case "f":
          out += "\f"
          break
        case "\"":
        case "\\":
        case "/":
          out += e
          break
        case "u":
        case "U": {
          const len = e === "u" ? 4 : 8
          let hex = ""
          for (let k = 0; k < len; k++) hex += s.next()
          const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === len ? parseInt(hex, 16) : NaN
          if (Number.isNaN(code) || code > 0x10ffff) {
            throw configError(escPos, `invalid unicode escape '\\${e}${hex}'`)
          }
          out += e === "u" ? String.fromCharCode(code) : String.fromCodePoint(code)
          break
        }
        default:
          throw configError(escPos, `invalid escape sequence '\\${e === EOF ? "" : e}' in quoted string`)
      }
    }
  }

  private singleQuoted(s: Scanner): string {
    const open = s.pos()
    s.next()
    let out = ""
    for (;;) {
      const c = s.peek()
      if (c === EOF) throw configError(open, "unterminated quoted string")
      s.next()
      if (c === "'") return out
      out += c
    }
  }

  /** `(` … `)` where the closing `)` stands alone on its line; the lines in between are the value. */
  private block(s: Scanner): string {
    const open = s.pos()
    s.next()
    const lines: Array<string> = []
    let first = true
    for (;;) {
      let line = ""
      while (!s.atEnd() && s.peek() !== "\n") line += s.next()
      const clean = line.endsWith("\r") ? line.slice(0, -1) : line
      if (!first && clean.trim() === ")") {
        // Leave the scanner just after the ')'.
        return lines.join("\n")
      }
      if (!first || clean.trim() !== "") lines.push(clean)
      first = false
      if (s.atEnd()) throw configError(open, "unterminated block string: ')' must stand alone on a line")
      s.next()
    }
  }

  private variable(name: string, at: Position): ConfigValue {
    // Inside an environment value, report at the reference in the file.
    const pos = this.envRef ?? at
    for (let k = this.scopes.length - 1; k >= 0; k--) {
      const entry = this.scopes[k]!.get(name)
      if (entry !== undefined) {
        entry.referenced = true
        return relocate(entry.value, pos)
      }
    }
    const envValue = this.options.env?.[name]
    if (envValue === undefined) {
      throw configError(pos, `variable reference for '${name}' on line ${pos.line} can not be found`)
    }
    if (this.envStack.includes(name) || this.envStack.length >= MAX_ENV_DEPTH) {
      throw configError(pos, `variable reference for '${name}' on line ${pos.line} is recursive`)
    }
    return relocate(this.envValue(name, envValue, pos), pos)
  }

  /** An environment value parsed as a config value; text that is not one value stays a string. */
  private envValue(name: string, text: string, pos: Position): ConfigValue {
    const fallback: ConfigValue = { _tag: "String", value: text, quoted: false, pos }
    if (text.trim() === "") return fallback
    const s = new Scanner(text, pos.file)
    const savedScopes = this.scopes
    const savedRef = this.envRef
    this.scopes = []
    this.envRef = pos
    this.envStack.push(name)
    try {
      s.skipSpaces()
      const value = this.value(s, name)
      s.skipTrivia()
      return s.atEnd() ? value : fallback
    } catch (e) {
      if (e instanceof ConfigError && e.reason.startsWith("variable reference for")) throw e
      return fallback
    } finally {
      this.envStack.pop()
      this.scopes = savedScopes
      this.envRef = savedRef
    }
  }
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

const DEFAULT_FILE = "<config>"

/** Parses config text; throws {@link ConfigError}. */
export const parseConfigSync = (text: string, options: ParseOptions = {}): ConfigMap =>
  new Parser(options).document(text, options.file ?? DEFAULT_FILE)

/** Parses config text. Pure. */
export const parseConfig = (text: string, options: ParseOptions = {}): Result.Result<ConfigMap, ConfigError> => {
  try {
    return Result.succeed(parseConfigSync(text, options))
  } catch (e) {
    if (e instanceof ConfigError) return Result.fail(e)
    throw e
  }
}

/** Reads a file as UTF-8 (used for the main file and includes by {@link parseFile}). */
export const readFileText = (file: string): string => fs.readFileSync(file, "utf8")

/**
 * Reads and parses a config file and its includes from disk. `env` defaults to `process.env`.
 */
export const parseFile = (
  file: string,
  options: { readonly env?: Readonly<Record<string, string | undefined>> } = {}
): Effect.Effect<ConfigMap, ConfigError> =>
  Effect.suspend(() => {
    let text: string
    try {
      text = readFileText(file)
    } catch (e) {
      return Effect.fail(
        new ConfigError({
          file,
          line: 0,
          column: 0,
          reason: `can not read config file: ${e instanceof Error ? e.message : String(e)}`,
          cause: e
        })
      )
    }
    return Effect.fromResult(
      parseConfig(text, { file, readInclude: readFileText, env: options.env ?? process.env })
    )
  })

/** Finds an entry by key, case-insensitively (the last matching entry wins). */
export const getEntry = (map: ConfigMap, key: string): ConfigEntry | undefined => {
  const lower = key.toLowerCase()
  let found: ConfigEntry | undefined
  for (const e of map.entries) if (e.key.toLowerCase() === lower) found = e
  return found
}

/** Plain JavaScript form of a value (maps become objects keyed as written). */
export const toPlain = (value: ConfigValue): unknown => {
  switch (value._tag) {
    case "Array":
      return value.items.map(toPlain)
    case "Map": {
      const out: Record<string, unknown> = {}
      for (const e of value.entries) out[e.key] = toPlain(e.value)
      return out
    }
    default:
      return value.value
  }
}
