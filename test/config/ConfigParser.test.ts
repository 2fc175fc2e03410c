import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type ConfigError,
  type ConfigMap,
  getEntry,
  parseConfig,
  parseConfigSync,
  parseFile,
  type ParseOptions,
  toPlain
} from "../../src/config/ConfigParser.js"

const parse = (text: string, opts: ParseOptions = {}): ConfigMap => parseConfigSync(text, { file: "t.conf", ...opts })
const plain = (text: string, opts: ParseOptions = {}): unknown => toPlain(parse(text, opts))
const failure = (text: string, opts: ParseOptions = {}): ConfigError => {
  const r = parseConfig(text, { file: "t.conf", ...opts })
  if (Result.isSuccess(r)) throw new Error(`expected a parse error, got ${JSON.stringify(toPlain(r.success))}`)
  return r.failure
}

describe("key/value syntax", () => {
  it("accepts ':', '=' and whitespace as separators, with optional ';' and ','", () => {
    expect(plain("a: 1\nb = 2\nc 3\nd:4; e=5,\nf: 6 ; g: 7")).toEqual({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 })
  })

  it("skips # and // comments, also after values", () => {
    const text = [
      "# a comment",
      "// another",
      "port: 4222 # trailing",
      "  host: 127.0.0.1 // trailing too",
      "url: nats-route://h:6222   # '//' inside a bare value is not a comment",
      "",
      "   # indented comment"
    ].join("\n")
    expect(plain(text)).toEqual({ port: 4222, host: "127.0.0.1", url: "nats-route://h:6222" })
  })

  it("parses maps with and without ':'/'=' and nested maps", () => {
    const text = `
      cluster {
        name: c1
        inner = { x: 1, y: 2 }
      }
      a: { b { c: d } }
      e={}
      f{g:1}
    `
    expect(plain(text)).toEqual({
      cluster: { name: "c1", inner: { x: 1, y: 2 } },
      a: { b: { c: "d" } },
      e: {},
      f: { g: 1 }
    })
  })

  it("parses arrays: comma or newline separated, mixed, nested, arrays of maps", () => {
    const text = `
      a: [1, 2, 3]
      b: [
        x
        "y"
        3,
        4.5 # comment
        // comment
      ]
      c = [ {user: a, password: b} {user: c, password: d}, { user: e } ]
      d: [ [1, 2], [] ]
      e: []
      f: [nats-route://a:1,nats-route://b:2]
      g: [1, 2,]
    `
    expect(plain(text)).toEqual({
      a: [1, 2, 3],
      b: ["x", "y", 3, 4.5],
      c: [{ user: "a", password: "b" }, { user: "c", password: "d" }, { user: "e" }],
      d: [[1, 2], []],
      e: [],
      f: ["nats-route://a:1", "nats-route://b:2"],
      g: [1, 2]
    })
  })

  it("keeps keys as written, later duplicates replace earlier values in place", () => {
    const m = parse("Port: 1\nhost: a\nPort: 2")
    expect(m.entries.map((e) => [e.key, toPlain(e.value)])).toEqual([["Port", 2], ["host", "a"]])
    expect(getEntry(m, "PORT")?.value).toMatchObject({ _tag: "Integer", value: 2 })
  })

  it("accepts quoted keys, CRLF line ends and a BOM", () => {
    expect(plain("\uFEFF\"my key\": 1\r\n'other': 2\r\n")).toEqual({ "my key": 1, other: 2 })
  })

  it("records positions of keys and values", () => {
    const m = parse("a: 1\n  b {\n    c: \"x\"\n  }\n")
    const a = m.entries[0]!
    expect(a.pos).toEqual({ file: "t.conf", line: 1, column: 1 })
    expect(a.value.pos).toEqual({ file: "t.conf", line: 1, column: 4 })
    const b = m.entries[1]!
    expect(b.pos).toEqual({ file: "t.conf", line: 2, column: 3 })
    expect(b.value.pos).toEqual({ file: "t.conf", line: 2, column: 5 })
    const c = (b.value as ConfigMap).entries[0]!
    expect(c.pos).toEqual({ file: "t.conf", line: 3, column: 5 })
    expect(c.value.pos).toEqual({ file: "t.conf", line: 3, column: 8 })
  })
})

describe("strings", () => {
  it("bare strings may contain ':' and '/', and end at whitespace , ; ] }", () => {
    expect(plain("a: 127.0.0.1:4222\nb: nats://u:p@h:4222/x;c: {d: e}\nf: [g,h]")).toEqual({
      a: "127.0.0.1:4222",
      b: "nats://u:p@h:4222/x",
      c: { d: "e" },
      f: ["g", "h"]
    })
  })

  it("double-quoted strings have escapes", () => {
    expect(plain(String.raw`a: "x\ty\nz\"q\\w\/\u00e9\U0001F600"`)).toEqual({ a: "x\ty\nz\"q\\w/é😀" })
    expect(plain("a: \"with # and // and , ; } ]\"")).toEqual({ a: "with # and // and , ; } ]" })
  })

  it("single-quoted strings are raw", () => {
    expect(plain(String.raw`a: 'C:\path\n $X'`)).toEqual({ a: String.raw`C:\path\n $X` })
  })

  it("block strings run until ')' alone on a line", () => {
    const text = "a: (\nline one\n  line (two)\n)\nb: 1\nc (\n  x\n  )\n"
    expect(plain(text)).toEqual({ a: "line one\n  line (two)", b: 1, c: "  x" })
  })

  it("quoted values are never numbers, booleans or variables", () => {
    const m = parse("a: \"1MB\"\nb: 'true'\nc: \"$X\"\nd: \"127.0.0.1:$P\"")
    expect(toPlain(m)).toEqual({ a: "1MB", b: "true", c: "$X", d: "127.0.0.1:$P" })
    expect(m.entries.every((e) => e.value._tag === "String" && e.value.quoted)).toBe(true)
  })
})

describe("scalars", () => {
  it.each([
    ["true", true],
    ["TRUE", true],
    ["yes", true],
    ["Yes", true],
    ["on", true],
    ["ON", true],
    ["false", false],
    ["False", false],
    ["no", false],
    ["NO", false],
    ["off", false],
    ["Off", false]
  ])("boolean %s", (text, value) => {
    expect(plain(`a: ${text}`)).toEqual({ a: value })
    expect(parse(`a: ${text}`).entries[0]!.value._tag).toBe("Boolean")
  })

  it.each([
    ["0", 0],
    ["4222", 4222],
    ["-1", -1],
    ["007", 7],
    ["1k", 1000],
    ["1K", 1000],
    ["1kb", 1024],
    ["1KB", 1024],
    ["1ki", 1024],
    ["1kib", 1024],
    ["1KiB", 1024],
    ["2m", 2_000_000],
    ["2M", 2_000_000],
    ["2mb", 2 * 1024 * 1024],
    ["2MB", 2 * 1024 * 1024],
    ["2mi", 2 * 1024 * 1024],
    ["2mib", 2 * 1024 * 1024],
    ["1g", 1e9],
    ["1gb", 1024 ** 3],
    ["1gi", 1024 ** 3],
    ["1GiB", 1024 ** 3],
    ["1t", 1e12],
    ["1tb", 1024 ** 4],
    ["1p", 1e15],
    ["1pb", 1024 ** 5],
    ["1e", 1e18],
    ["1eb", 1024 ** 6],
    ["-2k", -2000]
  ])("integer %s = %d", (text, value) => {
    const v = parse(`a: ${text}`).entries[0]!.value
    expect(v).toMatchObject({ _tag: "Integer", value, raw: text })
  })

  it.each([["0.5", 0.5], ["-1.25", -1.25], ["10.0", 10]])("float %s", (text, value) => {
    expect(parse(`a: ${text}`).entries[0]!.value).toMatchObject({ _tag: "Float", value })
  })

  it.each(["2s", "1m30s", "250ms", "1h", "500us", "1.5h", "1e5", "10x", "127.0.0.1", "1.2.3", "-", "$"])(
    "bare %s stays a string",
    (text) => {
      expect(parse(`a: ${text}`).entries[0]!.value).toMatchObject({ _tag: "String", value: text, quoted: false })
    }
  )

  it("datetime literal", () => {
    const v = parse("a: 2006-01-02T15:04:05Z").entries[0]!.value
    expect(v._tag).toBe("Datetime")
    expect(v._tag === "Datetime" && v.value.toISOString()).toBe("2006-01-02T15:04:05.000Z")
  })
})

describe("variables", () => {
  it("resolves from the innermost map outwards, among earlier keys", () => {
    const text = `
      P: 4222
      NAME: outer
      port: $P
      inner {
        NAME: inner
        a: $NAME
        deeper { b: $NAME, c: $P }
      }
      d: $NAME
    `
    expect(plain(text)).toMatchObject({
      port: 4222,
      inner: { a: "inner", deeper: { b: "inner", c: 4222 } },
      d: "outer"
    })
  })

  it("keeps the type of the variable's value and marks the definition referenced", () => {
    const m = parse("LIST: [a, b]\nM { x: 1 }\nSIZE: 2MB\nUNUSED: 1\nl: $LIST\nm: $M\ns: $SIZE")
    expect(toPlain(m)).toMatchObject({ l: ["a", "b"], m: { x: 1 }, s: 2097152 })
    expect(m.entries.map((e) => [e.key, e.referenced])).toEqual([
      ["LIST", true],
      ["M", true],
      ["SIZE", true],
      ["UNUSED", false],
      ["l", false],
      ["m", false],
      ["s", false]
    ])
    // The value takes the position of the reference.
    expect(getEntry(m, "s")!.value.pos).toEqual({ file: "t.conf", line: 7, column: 4 })
  })

  it("falls back to the environment and parses its value as a config value", () => {
    const env = { MYNAME: "envname", MYNUM: "10", MYSIZE: "1MB", MYBOOL: "on", MYLIST: "[1, 2]", MYQ: "\"x y\"", MYRAW: "a b c", EMPTY: "" }
    const text = "a: $MYNAME\nb: $MYNUM\nc: $MYSIZE\nd: $MYBOOL\ne: $MYLIST\nf: $MYQ\ng: $MYRAW\nh: $EMPTY"
    expect(plain(text, { env })).toEqual({ a: "envname", b: 10, c: 1048576, d: true, e: [1, 2], f: "x y", g: "a b c", h: "" })
  })

  it("a map variable shadows the environment", () => {
    expect(plain("X: fromfile\na: $X", { env: { X: "fromenv" } })).toEqual({ X: "fromfile", a: "fromfile" })
  })

  it("environment values may reference other environment variables", () => {
    expect(plain("a: $A", { env: { A: "$B", B: "42" } })).toEqual({ a: 42 })
  })

  it("recursive environment values are an error", () => {
    const e = failure("a: $A", { env: { A: "$B", B: "$A" } })
    expect(e.message).toBe("t.conf:1:4: variable reference for 'A' on line 1 is recursive")
  })

  it("an unknown variable is an error with file:line:col", () => {
    const e = failure("a: 1\n\nb {\n  c: $NOPE\n}")
    expect(e.message).toBe("t.conf:4:6: variable reference for 'NOPE' on line 4 can not be found")
    expect([e.file, e.line, e.column]).toEqual(["t.conf", 4, 6])
    expect(e.reason).toBe("variable reference for 'NOPE' on line 4 can not be found")
    expect(e._tag).toBe("ConfigError")
    expect(String(e)).toBe(e.message)
  })

  it("a variable must be defined before it is used", () => {
    expect(failure("a: $B\nB: 1").message).toBe("t.conf:1:4: variable reference for 'B' on line 1 can not be found")
  })

  it("an unknown variable inside an environment value is reported at the reference", () => {
    expect(failure("\n a: $A", { env: { A: "$NOPE" } }).message).toBe(
      "t.conf:2:5: variable reference for 'NOPE' on line 2 can not be found"
    )
  })

  it("bcrypt hashes are not variables", () => {
    const hash = "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy"
    expect(plain(`password: ${hash}\nb: $2b$10$abc`)).toEqual({ password: hash, b: "$2b$10$abc" })
  })
})

describe("include", () => {
  const files: Record<string, string> = {
    "conf/main.conf": "port: 4222\ninclude ./auth.conf\ncluster {\n  include 'sub/cluster.conf'\n}\nafter: $FROM_INCLUDE",
    "conf/auth.conf": "authorization {\n  user: a\n  password: b\n}\nFROM_INCLUDE: 7",
    "conf/sub/cluster.conf": "name: c1\nport: $CPORT\ninclude \"../routes.conf\"",
    "conf/routes.conf": "routes: [nats-route://x:1]",
    "conf/bad.conf": "ok: 1\noops: $MISSING",
    "conf/loop.conf": "include loop.conf"
  }
  const readInclude = (p: string): string => {
    const text = files[p]
    if (text === undefined) throw new Error(`no such file ${p}`)
    return text
  }

  it("merges included keys into the current map, relative to the including file", () => {
    const m = parseConfigSync(files["conf/main.conf"]!.replace("cluster {", "CPORT: 6222\ncluster {"), {
      file: "conf/main.conf",
      readInclude
    })
    expect(toPlain(m)).toEqual({
      port: 4222,
      authorization: { user: "a", password: "b" },
      FROM_INCLUDE: 7,
      CPORT: 6222,
      cluster: { name: "c1", port: 6222, routes: ["nats-route://x:1"] },
      after: 7
    })
    const name = (getEntry(m, "cluster")!.value as ConfigMap).entries[0]!
    expect(name.pos).toEqual({ file: path.normalize("conf/sub/cluster.conf"), line: 1, column: 1 })
  })

  it("reports errors inside an included file with that file's position", () => {
    const e = parseConfig("a: 1\ninclude bad.conf", { file: "conf/main.conf", readInclude }).pipe(
      Result.flip,
      Result.getOrThrow
    )
    expect(e.message).toBe(
      `${path.normalize("conf/bad.conf")}:2:7: variable reference for 'MISSING' on line 2 can not be found`
    )
  })

  it("a missing include file is an error at the include", () => {
    const e = parseConfig("a: 1\n  include nope.conf", { file: "conf/main.conf", readInclude }).pipe(
      Result.flip,
      Result.getOrThrow
    )
    expect(e.message).toBe(
      `conf/main.conf:2:11: error opening include file "nope.conf": no such file ${path.normalize("conf/nope.conf")}`
    )
  })

  it("an include cycle is an error", () => {
    const e = parseConfig(files["conf/loop.conf"]!, { file: "conf/loop.conf", readInclude }).pipe(
      Result.flip,
      Result.getOrThrow
    )
    expect(e.message).toBe(`conf/loop.conf:1:9: include cycle: "${path.normalize("conf/loop.conf")}" includes itself`)
  })

  describe("on disk", () => {
    let dir = ""
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "nats-conf-"))
      fs.mkdirSync(path.join(dir, "inc"))
      fs.writeFileSync(path.join(dir, "main.conf"), "include inc/a.conf\nserver_name: $WHO\nlist: [$A_PORT]\n")
      fs.writeFileSync(path.join(dir, "inc", "a.conf"), "A_PORT: 1\ninclude ./b.conf\n")
      fs.writeFileSync(path.join(dir, "inc", "b.conf"), "b: true\n")
    })
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

    it("parseFile reads includes relative to each file and uses the given env", async () => {
      const m = await Effect.runPromise(parseFile(path.join(dir, "main.conf"), { env: { WHO: "me" } }))
      expect(toPlain(m)).toEqual({ A_PORT: 1, b: true, server_name: "me", list: [1] })
    })

    it("parseFile uses process.env by default", async () => {
      process.env["WHO"] = "process-env"
      try {
        const m = await Effect.runPromise(parseFile(path.join(dir, "main.conf")))
        expect(toPlain(m)).toMatchObject({ server_name: "process-env" })
      } finally {
        delete process.env["WHO"]
      }
    })

    it("parseFile fails with a ConfigError when the file can not be read", async () => {
      const exit = await Effect.runPromiseExit(parseFile(path.join(dir, "absent.conf")))
      expect(Exit.isFailure(exit)).toBe(true)
      const e = await Effect.runPromise(Effect.flip(parseFile(path.join(dir, "absent.conf"))))
      expect(e.message.startsWith(`${path.join(dir, "absent.conf")}: can not read config file: ENOENT`)).toBe(true)
      expect(e.line).toBe(0)
    })
  })
})

describe("syntax errors report file:line:col", () => {
  it.each([
    ["port:", "t.conf:1:6: missing value for key 'port'"],
    ["port\n", "t.conf:1:5: missing value for key 'port'"],
    ["a: 1\nport: # nothing", "t.conf:2:7: missing value for key 'port'"],
    ["a: 1 b: 2", "t.conf:1:6: expected a new line, ',' or ';' after the value of 'a', found 'b'"],
    ["a: \"open", "t.conf:1:4: unterminated quoted string"],
    ["a: 'open\nb: 2", "t.conf:1:4: unterminated quoted string"],
    ["a: \"bad \\q escape\"", "t.conf:1:10: invalid escape sequence '\\q' in quoted string"],
    ["a: \"\\u12G4\"", "t.conf:1:6: invalid unicode escape '\\u12G4'"],
    ["a {\n  b: 1\n", "t.conf:3:1: unexpected end of file: '{' opened on line 1 is not closed"],
    ["a: [1, 2\n", "t.conf:2:1: unexpected end of file: '[' opened on line 1 is not closed"],
    ["a: [1, , 2]", "t.conf:1:8: unexpected ',' in array"],
    ["a: [1 }", "t.conf:1:7: unexpected '}' in array"],
    ["}", "t.conf:1:1: unexpected '}'"],
    ["a: 1\n  = 2", "t.conf:2:3: unexpected '=', expected a key"],
    ["a: (\nno end\n", "t.conf:1:4: unterminated block string: ')' must stand alone on a line"],
    ["big: 10e", "t.conf:1:6: integer value 10e is out of range"],
    ["big: 9223372036854775808", "t.conf:1:6: integer value 9223372036854775808 is out of range"],
    ["include other.conf", "t.conf:1:9: can not include \"other.conf\": includes are not available here"]
  ])("%j → %s", (text, message) => {
    expect(failure(text).message).toBe(message)
  })
})

// -----------------------------------------------------------------------------------------------
// Property: random trees written in random (valid) styles parse back to the same plain value.
// -----------------------------------------------------------------------------------------------

interface Written {
  readonly text: string
  readonly value: unknown
}

const RESERVED = new Set(["true", "false", "yes", "no", "on", "off", "include"])
const keyArb = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/).filter((k) => !RESERVED.has(k.toLowerCase()))
const bareArb = fc
  .stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.:/-]{0,12}$/)
  .filter((s) => !RESERVED.has(s.toLowerCase()) && !s.includes("//"))

const SUFFIXES: ReadonlyArray<readonly [string, number]> = [
  ["", 1], ["k", 1000], ["KB", 1024], ["ki", 1024], ["m", 1e6], ["MiB", 1024 ** 2], ["g", 1e9], ["gb", 1024 ** 3]
]

const scalarArb: fc.Arbitrary<Written> = fc.oneof(
  fc.string().map((s) => ({ text: JSON.stringify(s), value: s })),
  fc.string({ unit: "binary" }).map((s) => ({ text: JSON.stringify(s), value: s })),
  fc.string().filter((s) => !s.includes("'")).map((s) => ({ text: `'${s}'`, value: s })),
  bareArb.map((s) => ({ text: s, value: s })),
  fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }).filter((n) => n !== 0 || Object.is(n, 0)).map((n) => ({ text: String(n), value: n })),
  fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(...SUFFIXES)).map(([n, [s, m]]) => ({
    text: `${n}${s}`,
    value: n * m
  })),
  fc.tuple(fc.integer({ min: -999, max: 999 }), fc.integer({ min: 0, max: 99 })).map(([a, b]) => ({
    text: `${a}.${String(b).padStart(2, "0")}`,
    value: Number(`${a}.${String(b).padStart(2, "0")}`)
  })),
  fc.tuple(fc.boolean(), fc.constantFrom(["true", "false"], ["yes", "no"], ["ON", "OFF"], ["True", "False"])).map(
    ([b, [t, f]]) => ({ text: b ? t : f, value: b })
  )
)

const sepArb = fc.constantFrom(": ", " = ", " ", ":", "=", ":\t")
const termArb = fc.constantFrom("", ",", ";", " # c", " // c", " ;")

const { tree } = fc.letrec<{ value: Written; array: Written; map: Written; tree: Written }>((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalarArb, tie("array"), tie("map")),
  array: fc
    .tuple(fc.array(tie("value"), { maxLength: 4 }), fc.constantFrom(", ", ",\n", "\n", " ,\n  # c\n"))
    .map(([items, sep]) => ({
      text: `[${items.map((i) => i.text).join(sep)}]`,
      value: items.map((i) => i.value)
    })),
  map: fc
    .tuple(
      fc.uniqueArray(fc.tuple(keyArb, sepArb, termArb, tie("value")), {
        maxLength: 4,
        selector: ([k]) => k
      }),
      fc.boolean()
    )
    .map(([entries, oneLine]) => {
      const body = oneLine
        ? entries.map(([k, s, , v]) => `${k}${s}${v.text}`).join(", ")
        : entries.map(([k, s, t, v]) => `  ${k}${s}${v.text}${t}`).join("\n")
      return {
        text: oneLine ? `{${body}}` : `{\n${body}\n}`,
        value: Object.fromEntries(entries.map(([k, , , v]) => [k, v.value]))
      }
    }),
  tree: fc
    .uniqueArray(fc.tuple(keyArb, sepArb, termArb, tie("value")), { maxLength: 6, selector: ([k]) => k })
    .map((entries) => ({
      text: entries.map(([k, s, t, v]) => `${k}${s}${v.text}${t}`).join("\n") + "\n",
      value: Object.fromEntries(entries.map(([k, , , v]) => [k, v.value]))
    }))
}))

describe("property", () => {
  it("random documents in random styles parse to the values they were written from", () => {
    fc.assert(
      fc.property(tree, (w) => {
        expect(toPlain(parseConfigSync(w.text))).toEqual(w.value)
      }),
      { numRuns: 300 }
    )
  })
})
