// Real signals to a real server process: what drains, what hammers, and how the process exits.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { fixturePerTest, inFlight } from "./_helpers/fixture.ts";
import { hangingRequestCutAtDeadline } from "./_helpers/scenarios.ts";
import { request } from "./_helpers/raw-http.ts";

const T = 30_000;
const startOne = fixturePerTest();
const start = (options: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
  startOne(options, undefined, env);

describe("signals on a real process", () => {
  it("SIGTERM with nothing in flight drains and exits 0", async () => {
    const f = await start({ deadline: 20_000 });
    assert.equal((await request(f.port, "/")).body, "hello");
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    const report = await f.waitFor("report");
    assert.equal(report.reason, "SIGTERM");
    assert.equal(report.graceful, true);
    await f.waitForStderr(/draining \(SIGTERM\)/);
  }, T);

  it("SIGINT lets the in-flight request finish, then exits 0", async () => {
    const f = await start({ deadline: 20_000 });
    const conn = await inFlight(f, "/slow?ms=600");
    f.kill("SIGINT");
    const response = await conn.response();
    assert.equal(response.body, "slow 600 done");
    assert.equal(response.headers.connection, "close");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
  }, T);

  it("exits 1 when the deadline cut a hanging request", async () => {
    const f = await start({ deadline: 300 });
    await hangingRequestCutAtDeadline(f);
  }, T);

  it("a second SIGTERM hammers: exit 1 long before the deadline", async () => {
    const f = await start({ deadline: 20_000 });
    await inFlight(f, "/hang");
    f.kill("SIGTERM");
    await f.waitFor("state", (e) => e.state === "draining");
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 1, signal: null });
    const report = await f.waitFor("report");
    assert.equal(report.graceful, false);
    assert.ok((report.durationMs as number) < 10_000, `hammered, not deadline (${report.durationMs} ms)`);
    await f.waitForStderr(/SIGTERM again while draining: hammering/);
  }, T);

  it("SIGUSR2 hammers at once", async () => {
    const f = await start({ deadline: 20_000 });
    await inFlight(f, "/hang");
    f.kill("SIGUSR2");
    assert.deepEqual(await f.exited, { code: 1, signal: null });
    const report = await f.waitFor("report");
    assert.equal(report.reason, "SIGUSR2");
    assert.ok((report.durationMs as number) < 10_000);
  }, T);

  it("signals: false leaves the default signal death", async () => {
    const f = await start({ signals: false });
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: null, signal: "SIGTERM" });
    assert.equal(f.events.some((e) => e.event === "state"), false, "no drain happened");
  }, T);

  it("exit: false drains on SIGTERM without exiting, then restores default death", async () => {
    const f = await start({ exit: false }, { GS_KEEPALIVE: "1" });
    f.kill("SIGTERM");
    const report = await f.waitFor("report");
    assert.equal(report.graceful, true);
    assert.equal(f.child.exitCode, null, "still running after the drain");
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: null, signal: "SIGTERM" }, "handlers were removed once closed");
  }, T);
});
