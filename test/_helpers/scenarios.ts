// Scenarios more than one server kind must pass (serve(), attach(), ...), asserted in one place.
import assert from "node:assert/strict";
import { type Fixture, inFlight } from "./fixture.ts";

/** A request that never gets an answer is in flight; SIGTERM; the deadline cuts it and the exit is 1. */
export async function hangingRequestCutAtDeadline(f: Fixture): Promise<void> {
  const conn = await inFlight(f, "/hang");
  f.kill("SIGTERM");
  assert.deepEqual(await f.exited, { code: 1, signal: null });
  const report = await f.waitFor("report");
  assert.equal(report.graceful, false);
  assert.ok((report.forced as number) >= 1, `forced ${report.forced}`);
  await conn.closed;
}
