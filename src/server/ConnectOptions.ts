/**
 * The client's (and a dialing route's) CONNECT as the server reads it: the one `ConnectInfo`
 * schema of `protocol/ConnectInfo`, decoded with nats-server's defaults filled in (verbose,
 * pedantic and echo are *true*: `CONNECT {}` makes a verbose connection). A field of the wrong type
 * fails the decode with an `InvalidConnect` whose message nats-server would log; the connection
 * is then closed as a protocol violation, as Go's JSON unmarshalling does.
 *
 * @since 0.1.0
 */
export { type ConnectOptions, decode as parseConnect, InvalidConnect } from "../protocol/ConnectInfo.js"
