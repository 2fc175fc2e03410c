#!/usr/bin/env node
// The process that runs this file is the server itself (no wrapper), so signals and exit codes reach it.
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
const { createRequire } = require("node:module")
const path = require("node:path")
const vm = require("node:vm")

const bundle = path.join(__dirname, "../dist/bin/effect-nats-server.cjs")
const cacheFile = `${bundle}.cache`
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
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, path.dirname(bundle))
