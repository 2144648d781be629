#!/usr/bin/env node
/**
 * The `graceful-serve` command. `graceful-serve run [--port N] -- <command...>` keeps one PID while
 * the workers behind it are restarted with SIGHUP (see supervisor.ts).
 * @module
 */

import process from "node:process";
import { parseRunArgs, RUN_USAGE, runSupervisor, type SupervisorOptions } from "./restart/supervisor.ts";

const [verb, ...rest] = process.argv.slice(2);
if (verb !== "run") {
  console.error(
    verb === undefined || verb === "--help" || verb === "-h"
      ? RUN_USAGE
      : `unknown command ${JSON.stringify(verb)}\n${RUN_USAGE}`,
  );
  process.exit(verb === "--help" || verb === "-h" ? 0 : 2);
}
let options: SupervisorOptions | { help: true };
try {
  options = parseRunArgs(rest);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
if ("help" in options) {
  console.log(RUN_USAGE);
  process.exit(0);
}
// No top-level await: this file is also built as CommonJS. The exit is explicit: the supervisor keeps
// its signal handlers to the end, so a late signal never meets default death (issue 13, defect 4).
new Promise<number>((resolve) => resolve(runSupervisor(options as SupervisorOptions))).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
