#!/usr/bin/env node
/**
 * The build: `tsc` (the library under dist/src, with declarations; bench and examples under dist)
 * and an esbuild bundle of the executable under dist/bin (start-up is dominated by module loading:
 * one bundle with lazily loaded chunks for the monitor and the pub/sub client starts in a fraction
 * of the time of hundreds of module files).
 *
 *   node scripts/build.js             build
 *   node scripts/build.js --if-stale  build only when a source is newer than the last build
 *                                     (npm start / npm test / the test suite's global setup)
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const stamp = path.join(root, "dist", ".build-stamp")
/** What the build reads; newer than the stamp → stale. */
const inputs = ["src", "bench", "bin", "examples", "scripts/build.js", "tsconfig.json", "tsconfig.build.json", "package.json"]

const newest = (p) => {
  let st
  try {
    st = fs.statSync(p)
  } catch {
    return 0
  }
  if (!st.isDirectory()) return st.mtimeMs
  let max = st.mtimeMs
  for (const e of fs.readdirSync(p)) max = Math.max(max, newest(path.join(p, e)))
  return max
}

export const isStale = () => {
  let built
  try {
    built = fs.statSync(stamp).mtimeMs
  } catch {
    return true
  }
  if (!fs.existsSync(path.join(root, "dist/bin/effect-nats-server.cjs"))) return true
  return inputs.some((i) => newest(path.join(root, i)) > built)
}

/** The node flags the executable's shell line passes (`exec /usr/bin/env node --flag… "$0" "$@"`). */
const shebangFlags = () => {
  const line = fs.readFileSync(path.join(root, "bin/effect-nats-server.js"), "utf8").split("\n", 2)[1]
  const m = /^":" \/\/; exec \/usr\/bin\/env node((?: +--\S+)*) "\$0" "\$@"$/.exec(line)
  if (m === null) throw new Error(`bin/effect-nats-server.js: unexpected exec line ${line}`)
  return m[1].trim().split(/ +/).filter((f) => f.length > 0)
}

/**
 * Run the executable once (a standalone server on a random loopback port) under the node flags
 * `flags` so that it writes V8's code cache for the bundle next to it, for those flags
 * (bin/effect-nats-server.js reads it; V8 rejects a cache made under other flags). The cache holds
 * the bytecode of every function compiled by the time the run exits, so before stopping it the
 * run serves one client what a first client does — CONNECT, SUB (plain, wildcard, queue), PUB
 * with and without a reply, HPUB, UNSUB, PING — and the server compiles none of that when its
 * first real client arrives (measured: CONNECT to PONG of a fresh server's first client, and its
 * first request/reply, see the commit that added it).
 */
const writeCodeCache = (flags) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, path.join(root, "bin/effect-nats-server.js"), "-a", "127.0.0.1", "-p", "-1"], {
      env: { ...process.env, EFFECT_NATS_SERVER_WRITE_CODE_CACHE: "1" },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let err = ""
    let stopping = false
    let failed
    const stop = () => {
      if (stopping) return
      stopping = true
      child.kill("SIGINT")
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.stderr.on("data", (d) => {
      err += d.toString()
      if (!stopping && err.includes("Server is ready")) {
        const port = /Listening for client connections on [^\s]*:(\d+)/.exec(err)?.[1]
        if (port === undefined) {
          failed = new Error("no client port in the log")
          return stop()
        }
        // A session the server did not answer in full fails the build (the cache would miss it).
        firstClient(Number(port)).then(stop, (e) => {
          failed = e
          stop()
        })
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code === 0 && failed === undefined) resolve()
      else reject(new Error(`warm-up run for the code cache failed (${failed?.message ?? code}):\n${err}`))
    })
  })

/** A first client's session on 127.0.0.1:`port`: resolves once the server answered all of it. */
const firstClient = (port) =>
  new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1")
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error("no answer"))
    }, 10_000)
    let got = ""
    sock.on("error", reject)
    sock.on("close", () => reject(new Error(`the server closed the session: ${JSON.stringify(got)}`)))
    sock.on("data", (d) => {
      got += d.toString("latin1")
      if (got.includes("-ERR")) {
        clearTimeout(timer)
        sock.destroy()
        return reject(new Error(`the server refused part of the session: ${JSON.stringify(got)}`))
      }
      // Each PING is answered after everything before it: the second PONG ends the session.
      if (got.split("PONG\r\n").length > 2) {
        clearTimeout(timer)
        sock.end()
        resolve()
      }
    })
    sock.write(
      'CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1,"lang":"build","version":"0"}\r\nPING\r\n' +
        "SUB w.q 1\r\nSUB w.* 2\r\nSUB w.> g 3\r\nSUB _INBOX.w.* 4\r\n" +
        "PUB w.q _INBOX.w.1 2\r\nhi\r\nPUB w.q 0\r\n\r\nPUB _INBOX.w.1 2\r\nok\r\n" +
        "HPUB w.q 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nUNSUB 2\r\nUNSUB 3 1\r\nPUB w.q 1\r\nx\r\nPING\r\n"
    )
  })

/**
 * Node builtins bound lazily: evaluating them is heap (and pages of the node binary) that a
 * server which never uses them pays for at idle. `node:tls`: Effect's NodeSocket (and our
 * net/Tls) import it at the top; with _tls_wrap, secure contexts, js_stream_socket it is heap a
 * server without TLS never uses. `node:crypto` (~0.7 MiB of idle RSS: all of internal/crypto
 * and OpenSSL's pages): JWT and nkey checks, bcrypt-less secrets, nonces (a server without auth
 * or a cluster makes none; its id comes from the OS's random device, crypto/RandomBytes).
 * `node:os`: the monitor's and system account's host facts. The bundle gets, for each, a module
 * whose exports are getters that require the real one on first use, so `tls.connect`,
 * `new tls.TLSSocket`, `instanceof`, `crypto.randomBytes` all see Node's own.
 */
const lazyBuiltins = (names) => {
  const filter = new RegExp(`^(node:)?(${names.join("|")})$`)
  return {
    name: "lazy-builtins",
    setup(build) {
      build.onResolve({ filter }, (args) => {
        const name = args.path.replace(/^node:/, "")
        return args.namespace === "lazy-builtins" ? { path: `node:${name}`, external: true } : { path: name, namespace: "lazy-builtins" }
      })
      build.onLoad({ filter: /.*/, namespace: "lazy-builtins" }, async (args) => {
        const keys = Object.keys(await import(`node:${args.path}`)).filter((k) => k !== "default")
        return {
          loader: "js",
          contents: `let m
const load = () => m ?? (m = require("node:${args.path}"))
for (const key of ${JSON.stringify(keys)}) Object.defineProperty(exports, key, { enumerable: true, get: () => load()[key] })
`
        }
      })
    }
  }
}

export const build = async () => {
  // A clean build: no output of a source that was moved or deleted (nor its map) survives.
  fs.rmSync(path.join(root, "dist"), { recursive: true, force: true })
  const tsc = spawnSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit" })
  if (tsc.status !== 0) throw new Error("tsc failed")
  const esbuild = await import("esbuild")
  const bundle = path.join(root, "dist/bin/effect-nats-server.cjs")
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ["src/bin.ts"],
    outfile: bundle,
    bundle: true,
    // CommonJS: Node's ESM loader costs start-up time per module and per builtin; the dynamic
    // imports of optional parts (monitor, pub/sub client) stay lazy (evaluated on first use).
    format: "cjs",
    platform: "node",
    target: "node20",
    // Identifiers minified too: the bundle's source is one string in the idle heap, and every
    // top-level name is an internalized string in its scope tables (1.10 -> 0.73 MB of source,
    // 0.6 MiB less idle RSS). The price: stack traces of the executable name minified functions;
    // the library under dist/src keeps its names, and errors the server reports are messages.
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    // Native addons stay ordinary dependencies, and so does prom-client (with @opentelemetry/api
    // under it, a tenth of the bundle), which only the monitor's /metrics imports: the bundle's
    // source is one string in the server's heap whether or not its code ever runs.
    external: ["@node-rs/*", "prom-client"],
    plugins: [lazyBuiltins(["tls", "crypto", "os"])],
    // …loaded with `require` where the source has `import()`: the bundle runs as a vm.Script
    // (bin/effect-nats-server.js), which has no dynamic-import callback.
    supported: { "dynamic-import": false },
    // The file is the CommonJS wrapper function itself, which bin/effect-nats-server.js compiles
    // as it is read: wrapping it there (source + wrapper) made a second 1.2 MB string, garbage
    // in the large-object space until a major GC (a megabyte of idle RSS).
    banner: { js: "(function (exports, require, module, __filename, __dirname) {" },
    footer: { js: "\n})" },
    logLevel: "warning"
  })
  shareNamespaces(bundle)
  asciiOnly(bundle)
  // As its exec line runs it, and as `node bin/effect-nats-server.js` does.
  await writeCodeCache(shebangFlags())
  await writeCodeCache([])
  fs.writeFileSync(stamp, new Date().toISOString() + "\n")
}

/**
 * One namespace object per CommonJS module instead of one per import site. For
 * `import * as fs from "node:fs"` (and every import of a builtin or a CommonJS package) esbuild's
 * CommonJS output calls its `__toESM` helper at the importing module's start, and that copies the
 * module's exports onto a fresh object as getters: a closure and an accessor pair per export, per
 * site (node:fs alone is imported at 11 sites, ~100 exports each) — ~1,100 getters in an idle
 * server. The copies are equal (read-only views of the same module), so the helper is wrapped to
 * return the first one made for a module (and mode) again: 0.3 MiB less idle RSS. The helper is
 * found by its exact minified shape; if esbuild's changes, the build fails here rather than ship
 * the bundle unpatched silently.
 */
const shareNamespaces = (file) => {
  const text = fs.readFileSync(file, "utf8")
  const helper = /var ([\w$]+)=(\(e,t,r\)=>\(r=e!=null\?[\w$]+\([\w$]+\(e\)\):\{\},[\w$]+\(t\|\|!e\|\|!e\.__esModule\?[\w$]+\(r,"default",\{value:e,enumerable:!0\}\):r,e\)\));/g
  const found = [...text.matchAll(helper)]
  if (found.length !== 1) throw new Error(`scripts/build.js: esbuild's __toESM helper not found once in ${file} (${found.length} matches)`)
  const [whole, name, body] = found[0]
  if (text.includes(`${name}$m`) || text.includes(`${name}$c`)) throw new Error(`scripts/build.js: ${name}$m or ${name}$c already in ${file}`)
  const shared = `var ${name}$m=${body},${name}$c=new WeakMap,${name}=(e,t)=>{if(e==null||typeof e!="object"&&typeof e!="function")return ${name}$m(e,t);let s=${name}$c.get(e);s===void 0&&${name}$c.set(e,s=[void 0,void 0]);let i=t?1:0;return s[i]??(s[i]=${name}$m(e,t))};`
  fs.writeFileSync(file, text.replace(whole, () => shared))
}

/**
 * Escape what esbuild leaves non-ASCII (the text of `String.raw` templates: the mesh page's
 * script) as `\uXXXX`. One non-ASCII character makes V8 hold the whole bundle source as a
 * two-byte string: 2 MiB more of the server's idle RSS. In the page's script such characters are
 * in JS strings, regular expressions and comments, where the escape means the same character.
 */
const asciiOnly = (file) => {
  const text = fs.readFileSync(file, "utf8")
  if (!/[^\x00-\x7f]/.test(text)) return
  fs.writeFileSync(file, text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))
}

const main = async () => {
  if (process.argv.includes("--if-stale") && !isStale()) return
  await build()
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e)
    process.exit(1)
  })
}
