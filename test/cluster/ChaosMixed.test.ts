/**
 * Cluster chaos, bounded, in a mixed cluster: our A and C with real nats-server 2.9 as N (killed
 * and restarted, its explicit link to A reset, its gossiped link to C silently dropped; C frozen).
 * Same checks as Chaos.test.ts. nats-server delays a route's PING while it delivers messages on
 * that route, so under load only our end notices a freeze or a silent drop; nats-server's end sees
 * our close when the fault ends.
 */
import { haveNatsServer } from "../support/ChaosCluster.js"
import { chaosSuite } from "../support/chaosSuite.js"

// Only our C is expected to notice (see above).
chaosSuite("cluster chaos: mixed with nats-server 2.9", [{ name: "A", impl: "ours" }, { name: "N", impl: "nats" }, { name: "C", impl: "ours" }], [2], !haveNatsServer)
