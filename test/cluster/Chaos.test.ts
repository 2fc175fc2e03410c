/**
 * Cluster chaos, bounded: three of our executables as child processes, a publisher and a
 * subscriber pinned to each, steady load, and one fault of each kind — SIGKILL + restart,
 * SIGSTOP/SIGCONT, a route reset and a silent route drop that only the route PING notices
 * (ping_interval 1s) — each held until the peers noticed it, then ended. After each fault the mesh
 * must re-form (every node routed to both others, with their interest) within a generous deadline;
 * at the end no message may be duplicated or lost outside the fault windows (see `ChaosRun` for
 * how a window is fixed by events). `npm run chaos` runs longer seeded schedules.
 */
import { chaosSuite } from "../support/chaosSuite.js"

chaosSuite("cluster chaos: three of ours", [{ name: "A", impl: "ours" }, { name: "B", impl: "ours" }, { name: "C", impl: "ours" }], [1, 2])
