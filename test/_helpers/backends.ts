// Ending every backend a multi-process test started, even when it failed half-way: each fixture's
// first process and every restart successor that said "ready" on its stdout (successors are not our
// children, so killing the child is not enough). Used by test/haproxy.test.ts, test/nginx.test.ts and
// test/restart-keepalive.test.ts.
import process from "node:process";
import type { Fixture } from "./fixture.ts";

/** SIGKILLs every PID that said ready on any of `fixtures`, and empties the list. */
export function killEveryReady(fixtures: Fixture[]): void {
  for (const f of fixtures.splice(0)) {
    for (const e of f.events) {
      if (e.event !== "ready") continue;
      try {
        process.kill(e.pid as number, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
