#!/usr/bin/env node
// The process that runs this file is the server itself (no wrapper), so signals and exit codes reach it.
import { setFlagsFromString } from "node:v8"

// A broker allocates a short-lived op per message: a larger young generation (32 MiB semi-spaces
// instead of 16) halves the scavenges. Measured with `npm run bench`: pubsub_1KB +40%. Set here,
// before the heap grows, and only for the server executable — an app embedding the library keeps
// its own settings.
setFlagsFromString("--max-semi-space-size=32")

await import("../dist/src/bin.js")
