/**
 * Tests that start the executable run `dist` (bin/effect-nats-server.js → dist/bin): rebuild it
 * first when a source is newer than the last build, so `npx vitest run <file>` never tests stale
 * code. A no-op when `dist` is current (the normal case after `npm install` / `npm test`).
 */
// @ts-expect-error -- a plain-JS build script without declarations
import { build, isStale } from "../../scripts/build.js"

export default async function setup(): Promise<void> {
  if ((isStale as () => boolean)()) await (build as () => Promise<void>)()
}
