#!/bin/sh
":" //; exec /usr/bin/env node --max-semi-space-size=4 --no-lazy-feedback-allocation "$0" "$@"
// The process that runs this file is the server itself (no wrapper), so signals and exit codes reach it.
//
// The young generation is sized when V8 starts, so its flag must be on node's command line (a
// `v8.setFlagsFromString` here comes too late). The first two lines are both shell and JavaScript:
// sh runs the second (`:` ignores `//`, then exec replaces the shell with node — same process,
// so signals and exit codes still reach the server), while for node it is a string and a comment.
// `#!/usr/bin/env -S node …` would be shorter, but BusyBox's env (Alpine) has no -S. Every way of
// running the executable goes through it — npx, an installed bin, ./bin/…, `npm start`, the bench.
// 4 MiB semi-spaces instead of Node's 16: a load that holds much (connections, subscriptions) grows the young generation to its
// maximum and V8 keeps it there. Measured with `npm run bench` (this file with and without the
// flag, code caches made under each): 10,000 idle connections 204.6 -> 177.4 MiB, 100,000
// subscriptions 122.3 -> 100.8 MiB, idle 50.0 -> 50.4, the throughput rows within noise
// (0.92-1.05). `node bin/effect-nats-server.js` runs with Node's defaults.
//
// `--no-lazy-feedback-allocation`: V8 gives a function its feedback vector (where the type
// feedback the optimizer builds on is recorded) only after it ran for a while. What a connection
// does once, at its start — CONNECT, PING, the INFO write, the first SUB — runs while the
// functions have none, so the code optimized on a busy connection (reads that are all PUB or RMSG
// messages) had no feedback for those paths, and their next use in the traffic — the reply to
// the server's first keepalive PING 2 s after connect, a route's PONG, the first write to a
// connection that only publishes — deoptimized the parser loop, the session's read, the
// connection's apply and Node's socket write path, and recompiled them (10-15 ms of CPU each on a
// pinned server) in the middle of the bench's measured window. With feedback from the first call
// (--trace-deopt over `npm run bench` rows latency_10kps, reqrep_16B, cluster_reqrep) no deopt
// is left in the window; idle RSS, start-up: see the commit that added it.
//
// Start-up is module loading: the executable is one CommonJS bundle (dist/bin, see scripts/build.js)
// compiled with V8's code cache when a matching one was written at build time — Node 20 has no
// built-in compile cache for user code, and compiling the bundle is most of the start-up cost.
//
// This file is CommonJS (bin/package.json): run as an ES module, Node 20 sets up its ES module
// loader for it, ~1.3 MiB of the idle server's RSS that nothing else uses (the bundle loads with
// `require`).
"use strict"
const fs = require("node:fs")
const path = require("node:path")
const vm = require("node:vm")

const bundle = path.join(__dirname, "../dist/bin/effect-nats-server.cjs")
// V8 rejects a code cache made under other V8 flags, so there is one per flag set: the build
// warms up both the exec line's flags and none (`node bin/effect-nats-server.js`).
const flags = process.execArgv.join(" ")
const cacheFile = `${bundle}${flags === "" ? "" : `.${flags.replace(/[^\w.=-]+/g, "_")}`}.cache`
/**
 * The bundle compiled, with the code cache when a matching one is there. Only the Script keeps
 * the source (one copy: the build makes the bundle ASCII, so it is a one-byte string) and the
 * cache buffer is dropped once used — at idle, those are megabytes of the server's RSS.
 */
const compile = () => {
  let cachedData
  try {
    cachedData = fs.readFileSync(cacheFile)
  } catch {
    // no cache: compile from source
  }
  // The bundle is a function expression `(function (exports, require, module, __filename,
  // __dirname) {…})` (see scripts/build.js): compiled as read, the source is one string.
  return new vm.Script(fs.readFileSync(bundle, "utf8"), {
    filename: bundle,
    ...(cachedData !== undefined ? { cachedData } : {})
  })
}
const script = compile()
// The build writes the cache from a warm-up run, once the functions start-up needs are compiled.
if (process.env["EFFECT_NATS_SERVER_WRITE_CODE_CACHE"] === "1") {
  process.once("exit", () => fs.writeFileSync(cacheFile, script.createCachedData()))
}
const bundleModule = { exports: {} }
// The bundle's `require` (its externals and Node's builtins) is this file's own: dist/bin and
// bin resolve packages through the same node_modules, and `createRequire` would load
// `node:module` (with Node's ES module loader, ~0.13 MiB of idle RSS) for nothing else.
script.runInThisContext()(bundleModule.exports, require, bundleModule, bundle, path.dirname(bundle))
