/**
 * The README is true: its TypeScript snippets, as a new user would use them. The package is packed
 * (`npm pack`, from the built `dist`), the tarball unpacked into a fresh project's `node_modules`,
 * next to links to the already-installed packages it declares (dependencies, peers) and the test
 * tooling — no network. Each snippet is taken from README.md by its `<!-- snippet: file -->` marker
 * (so README and test cannot drift), type-checked with the repository's strict settings against the
 * packed typings, compiled and run: the service and the client program by a small harness, the
 * property test by vitest.
 *
 * The one substitution: the README's `NatsServer.layer({ port: 4222 })` becomes an ephemeral port
 * on loopback (checked to be present, so the README cannot change silently).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "../support/servers.js"

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")

/** `{ file → code }` for every `<!-- snippet: file -->` followed by a ```ts block. */
const snippets = (() => {
  const out = new Map<string, string>()
  for (const m of readme.matchAll(/<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)```/g)) out.set(m[1]!, m[2]!)
  return out
})()

const PORT_IN_README = "NatsServer.layer({ port: 4222 })"
const PORT_IN_TEST = `NatsServer.layer({ host: "127.0.0.1", port: -1 })`

const HARNESS = `import { Context, Effect, Layer } from "effect"
import { Broker, NatsClient } from "effect-nats-server"
import { App } from "./greet-service.js"
import { clientLayer, program } from "./client.js"

const main = Effect.gen(function*() {
  const broker = Context.get(yield* Layer.build(App), Broker)
  const url = \`nats://127.0.0.1:\${broker.address.port}\`
  const text = yield* program([url])
  const client = Context.get(yield* Layer.build(clientLayer([url])), NatsClient)
  const viaLayer = yield* client.request("greet", "layer")
  return { text, viaLayer: viaLayer.text() }
}).pipe(Effect.scoped)

Effect.runPromise(main).then(
  (result) => { console.log("RESULT " + JSON.stringify(result)); process.exit(0) },
  (error) => { console.error(error); process.exit(1) }
)
`

/** The repository's strict compiler settings, for the user's project. */
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    types: ["node"],
    outDir: "dist",
    rootDir: "src"
  },
  include: ["src/**/*.ts"]
}

const VITEST_CONFIG = `import { defineConfig } from "vitest/config"
${fs.readFileSync(path.join(repoRoot, "vitest.config.ts"), "utf8").split("export default")[0]!.replace(/^import .*$/m, "")}
export default defineConfig({ test: { include: ["src/**/*.test.ts"], testTimeout: 60_000 } })
`

/** Test tooling the user's project brings itself (dev dependencies of a typical Effect app). */
const TOOLING = ["typescript", "@types/node", "vitest", "@effect/vitest", "fast-check"]

let work: string
let project: string

const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 120_000) => {
  const r = spawnSync(command, [...args], { cwd, encoding: "utf8", timeout, env: { ...process.env, NODE_OPTIONS: "" } })
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error === undefined ? "" : String(r.error)}` }
}

beforeAll(() => {
  if (!fs.existsSync(path.join(repoRoot, "dist/src/index.js"))) throw new Error("dist/ is not built: run `npm run build` first")
  work = fs.mkdtempSync(path.join(os.tmpdir(), "readme-"))
  // Pack what `npm publish` would ship (from the current build; `prepare` is not rerun here).
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: repoRoot, encoding: "utf8" })
  ) as Array<{ readonly filename: string }>
  const tarball = path.join(work, path.basename(packed[0]!.filename))
  project = path.join(work, "app")
  const pkgDir = path.join(project, "node_modules", "effect-nats-server")
  fs.mkdirSync(pkgDir, { recursive: true })
  execFileSync("tar", ["-xzf", tarball, "-C", pkgDir, "--strip-components=1"])
  // Only what the packed package declares, plus the user's tooling: a missing dependency fails here.
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8")) as {
    readonly dependencies?: Record<string, string>
    readonly peerDependencies?: Record<string, string>
  }
  const names = [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {}), ...TOOLING]
  for (const name of new Set(names)) {
    const from = path.join(repoRoot, "node_modules", name)
    if (!fs.existsSync(from)) throw new Error(`${name} is not installed in the repository`)
    const to = path.join(project, "node_modules", name)
    fs.mkdirSync(path.dirname(to), { recursive: true })
    fs.symlinkSync(from, to, "dir")
  }
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "readme-app", private: true, type: "module" }, null, 2))
  fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2))
  fs.writeFileSync(path.join(project, "vitest.config.ts"), VITEST_CONFIG)
  const src = path.join(project, "src")
  fs.mkdirSync(src)
  for (const [file, code] of snippets) {
    fs.writeFileSync(path.join(src, file), file === "greet-service.ts" ? code.replace(PORT_IN_README, PORT_IN_TEST) : code)
  }
  fs.writeFileSync(path.join(src, "harness.ts"), HARNESS)
}, 180_000)

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

describe("the README's library snippets, against the packed tarball", () => {
  it("every TypeScript block is a marked snippet, and the expected ones are there", () => {
    const fences = readme.match(/^```ts$/gm) ?? []
    expect(fences.length).toBe(snippets.size)
    // (Every marked snippet is type-checked below; these three are also run.)
    expect([...snippets.keys()]).toEqual(expect.arrayContaining(["client.ts", "greet-service.ts", "greeter.test.ts", "partition.test.ts"]))
    expect(snippets.get("greet-service.ts")).toContain(PORT_IN_README)
  })

  it("the tarball holds the built library, and nothing of the repository's sources", () => {
    const pkgDir = path.join(project, "node_modules", "effect-nats-server")
    expect(fs.existsSync(path.join(pkgDir, "dist/src/index.js"))).toBe(true)
    expect(fs.existsSync(path.join(pkgDir, "dist/src/index.d.ts"))).toBe(true)
    expect(fs.existsSync(path.join(pkgDir, "test"))).toBe(false)
  })

  it("type-checks (strict) and compiles against the packed typings", () => {
    const tsc = run(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", project], project, 180_000)
    expect(tsc.out).toBe("")
    expect(tsc.status).toBe(0)
  }, 200_000)

  it("runs: the service answers the client program's request right after its layer is built", () => {
    const r = run(process.execPath, [path.join(project, "dist/harness.js")], project)
    expect(r.out).toContain("RESULT ")
    const result = JSON.parse(r.out.slice(r.out.indexOf("RESULT ") + 7).split("\n")[0]!) as Record<string, string>
    expect(result).toEqual({ text: "hello, Ada", viaLayer: "hello, layer" })
    expect(r.status).toBe(0)
  }, 130_000)

  it("runs: the property tests (greeter, partitioned cluster) pass under vitest", () => {
    const r = run(process.execPath, [path.join(repoRoot, "node_modules/vitest/vitest.mjs"), "run", "--root", project], project, 180_000)
    expect(r.out).toMatch(/2 passed/)
    expect(r.status).toBe(0)
  }, 200_000)
})
