/**
 * The cluster plugs into the server through the `ClusterPort` only: constructing a `ClusterState`
 * changes nothing on the server or its router; once attached, the server reads the cluster's
 * name and peers' URLs through the port and forwards local interest changes to its routes; the
 * cluster is the one writer of its name (reload included). No sockets: the cores, with a fake
 * route writer.
 */
import { describe, expect, it } from "vitest"
import { ClusterState } from "../../src/cluster/Cluster.js"
import { RouteConnection } from "../../src/cluster/RouteConnection.js"
import { decodeServerOptions } from "../../src/config/ServerOptions.js"
import { makeTestLog } from "../../src/log/Log.js"
import { ServerState } from "../../src/server/ServerState.js"
import { LocalSubscription, type Subscriber } from "../../src/server/Subscription.js"

const options = decodeServerOptions({ host: "127.0.0.1", port: -1, cluster: { host: "127.0.0.1", port: -1 } })

const subscriber: Subscriber = { cid: 99, echo: true, deliver: () => true, forget: () => {} }

/** Everything the route was asked to write so far, as text. */
const written = (route: RouteConnection): string => {
  let text = ""
  for (let chunk = route.out.take(); chunk !== undefined; chunk = route.out.take()) text += Buffer.from(chunk).toString("latin1")
  return text
}

describe("ClusterPort", () => {
  it("constructing the cluster patches nothing; attached, the server reads it and tells it of interest", () => {
    const server = new ServerState(options, makeTestLog().log)
    const cluster = new ClusterState(server, options.cluster!)
    expect(server.cluster).toBeUndefined()
    expect(server.clusterName).toBeUndefined()
    expect(server.connectUrls()).toBeUndefined()

    const route = new RouteConnection(server.nextId(), server, "127.0.0.1", 1, undefined, false, { wakeWriter: () => {}, closed: () => {} })
    cluster.routes.set("PEER", route)
    // Not attached: local interest stays local.
    const early = new LocalSubscription(subscriber, "early", undefined, "1")
    server.router.addLocal(early)
    server.router.flush()
    expect(written(route)).toBe("")

    server.attachCluster(cluster)
    expect(server.cluster).toBe(cluster)
    expect(server.clusterName).toBe(cluster.name)
    expect(cluster.dynamic).toBe(true)
    expect(server.connectUrls()).toEqual([])
    server.router.addLocal(new LocalSubscription(subscriber, "orders.*", undefined, "2"))
    server.router.addLocal(new LocalSubscription(subscriber, "work", "q", "3"))
    server.router.flush()
    expect(written(route)).toBe("RS+ $G orders.*\r\nRS+ $G work q 1\r\n")
    server.router.removeLocal(early)
    server.router.flush()
    expect(written(route)).toBe("RS- $G early\r\n")

    // Reload: the cluster renames itself; the server sees the new name through the port.
    cluster.reload({ ...options.cluster!, name: "renamed" })
    expect(cluster.name).toBe("renamed")
    expect(cluster.dynamic).toBe(false)
    expect(server.clusterName).toBe("renamed")

    server.detachCluster(cluster)
    expect(server.cluster).toBeUndefined()
    expect(server.clusterName).toBeUndefined()
  })
})
