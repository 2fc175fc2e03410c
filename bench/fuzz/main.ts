/**
 * `npm run fuzz -- [--seed S] [--cases N] [--from I] [--pairs P] [--idle MS] [--show K]`
 *
 * Starts our server (the built binary) and real nats-server with the same small limits, runs the
 * differential fuzzer and prints `N cases, 0 unexplained differences` — exit code 0 — or the
 * first differences (the case's bytes and both answers) and exit code 1.
 */
import { describe, runFuzz } from "./fuzz.js"
import { NATS_SERVER, startProc } from "./servers.js"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`)
  if (at < 0) return fallback
  const v = Number(args[at + 1])
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`)
  return v
}

const main = async () => {
  if (NATS_SERVER === undefined) {
    console.error("nats-server not found (set NATS_SERVER or install it): the fuzzer needs the reference server")
    process.exit(2)
  }
  const seed = flag("seed", 1)
  const cases = flag("cases", 2000)
  const from = flag("from", 0)
  const show = flag("show", 10)
  const pairs = flag("pairs", 2)
  const procs = await Promise.all(Array.from({ length: pairs * 2 }, (_, i) => startProc(i % 2 === 0 ? "ours" : "ref")))
  const targets = Array.from({ length: pairs }, (_, i) => ({ ours: procs[2 * i]!.port, ref: procs[2 * i + 1]!.port }))
  const started = Date.now()
  let last = 0
  try {
    const result = await runFuzz({
      targets,
      seed,
      cases,
      from,
      idleMs: flag("idle", 60),
      onProgress: (done) => {
        if (Date.now() - last > 10_000) {
          last = Date.now()
          console.error(`  … ${done}/${cases} cases (${((Date.now() - started) / 1000).toFixed(0)} s)`)
        }
      }
    })
    for (const d of result.unexplained.slice(0, show)) console.log(describe(d) + "\n")
    const explained = [...result.explained].map(([id, n]) => `${id} ×${n}`).join(", ")
    console.log(`seed ${seed}, cases ${from}..${from + cases - 1}, ${((Date.now() - started) / 1000).toFixed(1)} s` +
      `, re-run to confirm: ${result.retried}, explained: ${explained || "none"}`)
    console.log(`${result.cases} cases, ${result.unexplained.length} unexplained differences`)
    process.exitCode = result.unexplained.length === 0 ? 0 : 1
  } finally {
    await Promise.all(procs.map((p) => p.stop()))
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(2)
})
