// Zero-downtime restart on SIGHUP: real processes, real signals, load from a separate process.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, it } from "vitest";
import { type Fixture, runtime, startFixture } from "./_helpers/fixture.ts";
import { startLoad } from "./_helpers/load.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 60_000;
/**
 * Requests a restart may lose. Node passes the listening socket itself to the successor: 0.
 * Deno.serve and Bun.serve cannot listen on an inherited socket, so they hand over with reusePort,
 * and Linux resets connections still queued on the closed listener (measured 0–8 of 2000; see
 * docs/runtimes.md). The bound is 1% of the load; the benchmark reports the real figure.
 */
const lossBound = (total: number) => (runtime === "node" ? 0 : Math.ceil(total / 100));

let fixture: Fixture | undefined;
afterEach(() => {
  for (const e of fixture?.events ?? []) {
    if (e.event === "ready") {
      try {
        process.kill(e.pid as number, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  fixture = undefined;
});

async function start(options: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  fixture = await startFixture({ deadline: 10_000, ...options }, undefined, env);
  return fixture;
}

/** PID of the n-th server that became ready (0 = the original). */
async function readyPid(f: Fixture, n: number): Promise<number> {
  const pids: number[] = [];
  await f.waitFor("ready", (e) => {
    if (!pids.includes(e.pid as number)) pids.push(e.pid as number);
    return pids.length > n;
  });
  return pids[n]!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tempPidFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gs-restart-")), "server.pid");
}

describe("restart", () => {
  it("SIGHUP under load: the successor takes over, nothing refused, the old process exits 0", async () => {
    const f = await start({ restart: true });
    const total = 2000;
    const load = startLoad(f.port, total, 8);
    await load.reached(total / 4);
    f.kill("SIGHUP");
    const successor = await readyPid(f, 1);
    const result = await load.result;
    assert.ok(
      result.failed <= lossBound(total),
      `${result.failed} of ${total} failed: ${JSON.stringify(result.failures)}`,
    );
    assert.deepEqual(Object.keys(result.pids).map(Number).sort(), [f.pid, successor].sort(), "both PIDs answered");
    assert.deepEqual(await f.exited, { code: 0, signal: null }, "old process drained and exited 0");
    const report = await f.waitFor("report", (e) => e.pid === f.pid);
    assert.equal(report.reason, "restart");
    assert.equal((await request(f.port, "/pid")).body, String(successor), "successor serving");
    process.kill(successor, "SIGTERM");
    await f.allGone;
  }, T);

  it("a slow request in flight on the old process completes during the handoff", async () => {
    const f = await start({ restart: true });
    const conn = await RawConnection.open(f.port);
    conn.send("/slow?ms=1500");
    await f.waitFor("handling");
    f.kill("SIGHUP");
    const successor = await readyPid(f, 1);
    const response = await conn.response();
    assert.equal(response.body, "slow 1500 done");
    assert.equal(response.complete, true);
    assert.equal(response.headers.connection, "close");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    process.kill(successor, "SIGTERM");
    await f.allGone;
  }, T);

  it("a successor that crashes at start leaves the old process serving", async () => {
    const f = await start({ restart: true }, { GS_SUCCESSOR: "crash" });
    f.kill("SIGHUP");
    const failed = await f.waitFor("restart");
    assert.equal(failed.ok, false);
    assert.match(String(failed.error), /exited \(code 3\) before it was ready/);
    assert.equal((await request(f.port, "/pid")).body, String(f.pid));
    await f.waitForStderr(/restart failed: .*still serving/);
    // A later SIGHUP may retry; here it fails the same way, and the server still serves.
    f.kill("SIGHUP");
    await f.waitFor("restart", (e) => e !== failed);
    assert.equal((await request(f.port, "/pid")).body, String(f.pid));
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
  }, T);

  it("a successor that never becomes ready is killed at restart.timeout", async () => {
    const f = await start({ restart: { timeout: 800 } }, { GS_SUCCESSOR: "hang" });
    f.kill("SIGHUP");
    const failed = await f.waitFor("restart");
    assert.equal(failed.ok, false);
    assert.match(String(failed.error), /not ready within 800 ms/);
    assert.equal(alive(failed.pid as number), false, "the stuck successor was killed");
    assert.equal((await request(f.port, "/pid")).body, String(f.pid));
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
  }, T);

  it("SIGHUP during a restart is logged and ignored", async () => {
    const f = await start({ restart: true }, { GS_SUCCESSOR: "slow" });
    f.kill("SIGHUP");
    await f.waitForStderr(/restart: starting successor/);
    f.kill("SIGHUP");
    const successor = await readyPid(f, 1);
    await f.waitForStderr(/restart already in progress; ignored/);
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    assert.equal(f.events.filter((e) => e.event === "restart").length, 1, "one restart ran");
    process.kill(successor, "SIGTERM");
    await f.allGone;
    assert.equal(f.events.filter((e) => e.event === "ready").length, 2, "no third process was started");
  }, T);

  it("three restarts in a row, with the PID file naming the server each time", async () => {
    const pidFile = tempPidFile();
    const f = await start({ restart: { pidFile } });
    const pids = [f.pid];
    assert.equal(fs.readFileSync(pidFile, "utf8").trim(), String(f.pid));
    for (let i = 1; i <= 3; i++) {
      process.kill(pids[i - 1]!, "SIGHUP");
      pids.push(await readyPid(f, i));
      await f.waitFor("report", (e) => e.pid === pids[i - 1]);
      assert.equal(fs.readFileSync(pidFile, "utf8").trim(), String(pids[i]), `PID file after restart ${i}`);
      assert.equal((await request(f.port, "/pid")).body, String(pids[i]));
    }
    assert.equal(new Set(pids).size, 4);
    process.kill(pids[3]!, "SIGTERM");
    await f.allGone;
    assert.equal(fs.existsSync(pidFile), false, "removed on final exit");
  }, T);
});
