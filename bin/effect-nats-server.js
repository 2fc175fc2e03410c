#!/usr/bin/env node
// The process that runs this file is the server itself (no wrapper), so signals and exit codes reach it.
import "../dist/src/bin.js"
