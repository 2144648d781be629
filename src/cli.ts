#!/usr/bin/env node
/**
 * The `graceful-serve` command. `graceful-serve run [--port N] -- <command...>` keeps one PID while
 * the workers behind it are restarted with SIGHUP (see supervisor.ts).
 * @module
 */

import process from "node:process";
import { parseRunArgs, runSupervisor } from "./supervisor.ts";

const [verb, ...rest] = process.argv.slice(2);
if (verb !== "run") {
  console.error(
    "usage: graceful-serve run [--port 8000] [--host 0.0.0.0] [--timeout 30000] [--pid-file PATH] [--handoff auto|fd|reuseport] -- <command...>",
  );
  process.exit(verb === "--help" || verb === "-h" ? 0 : 2);
}
// No top-level await: this file is also built as CommonJS.
new Promise<number>((resolve) => resolve(runSupervisor(parseRunArgs(rest)))).then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
