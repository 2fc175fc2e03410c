/**
 * `npm run bench:natsbench`: the cross-check of issue 12 with the independent Go load generator
 * natsbench (`compare.sh`, not part of this repository), our server against nats-server, server
 * pinned to CPU 0 and client to CPU 1, three rounds:
 *
 *   compare.sh --runs 3 --server-cpus 0 --client-cpus 1 --names nats-server,ours \
 *     --server '<ours, cluster node>' --server-single '<ours, standalone>'   [extra arguments]
 *
 * Extra arguments are appended, so they override the defaults (`-- --runs 1`, `-- --rows pubsub`).
 * compare.sh is looked up in $NATSBENCH_DIR, then ../shared/natsbench next to the repository, then
 * /work/shared/natsbench. It builds natsbench with Go on first use (see its README) and prints
 * its table on stdout; results go under ~/.cache/natsbench/results/.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const candidates = [
  ...(process.env["NATSBENCH_DIR"] !== undefined ? [process.env["NATSBENCH_DIR"]] : []),
  path.resolve(repo, "../shared/natsbench"),
  "/work/shared/natsbench"
]
const dir = candidates.find((d) => fs.existsSync(path.join(d, "compare.sh")))
if (dir === undefined) {
  console.error(`natsbench's compare.sh not found in ${candidates.join(", ")} (set NATSBENCH_DIR)`)
  process.exit(2)
}
if (!fs.existsSync(path.join(repo, "dist/bin/effect-nats-server.cjs"))) {
  console.error("build first: npm run build")
  process.exit(2)
}

const bin = path.join(repo, "bin/effect-nats-server.js")
// compare.sh substitutes {port} {cport} {routes}; {routes} must stay unquoted (it becomes "" standalone).
const args = [
  "--runs", "3",
  "--server-cpus", "0",
  "--client-cpus", "1",
  "--names", "nats-server,ours",
  "--server", `${bin} -a 127.0.0.1 -p {port} --cluster nats://127.0.0.1:{cport} --cluster_name bench --routes {routes}`,
  "--server-single", `${bin} -a 127.0.0.1 -p {port}`,
  ...process.argv.slice(2)
]
console.error(`${path.join(dir, "compare.sh")} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(" ")}`)
const child = spawn(path.join(dir, "compare.sh"), args, { cwd: repo, stdio: "inherit" })
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig))
child.on("exit", (code, signal) => process.exit(code ?? (signal !== null ? 130 : 1)))
