// A restart must not close a keep-alive connection a client (a proxy's pool) holds to the old process
// (issue 12, defect 4): after the successor is ready, a request on an idle connection to the old
// process is still answered there, with `Connection: close`, and the old process then drains
// gracefully. Raw sockets, so the test sees which process answered and what the connection did.
// Deno's shutdown() and Bun's stop() close idle connections at once (docs/runtimes.md D7, B3, K1):
// before the fix the request below met a closed connection on those runtimes.
import assert from "node:assert/strict";
import process from "node:process";
import { afterEach, describe, it } from "vitest";
import { type Fixture, startFixture } from "./_helpers/fixture.ts";
import { RawConnection } from "./_helpers/raw-http.ts";
import { killEveryReady } from "./_helpers/backends.ts";

const T = 30_000;
const fixtures: Fixture[] = [];
const connections: RawConnection[] = [];

afterEach(() => {
  for (const c of connections.splice(0)) c.close();
  killEveryReady(fixtures);
});

async function open(port: number): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  connections.push(c);
  return c;
}

describe("restart with keep-alive connections to the old process", () => {
  it(
    "idle keep-alive connections (a proxy's pool) are still served after the successor is ready, with Connection: close",
    async () => {
      const f = await startFixture({ restart: true });
      fixtures.push(f);
      const old = f.pid;
      // A pool of 4 connections, each used once: all idle, all to the old process.
      const pool = await Promise.all([0, 1, 2, 3].map(() => open(f.port)));
      for (const c of pool) {
        c.send("/pid");
        const r = await c.response();
        assert.equal(r.body, String(old));
        assert.notEqual(r.headers.connection, "close");
      }
      f.kill("SIGHUP");
      const successor = (await f.waitFor("ready", (e) => e.pid !== old)).pid;
      // The old process is draining (its successor answers the port) ...
      await f.waitFor("state", (e) => e.pid === old && e.state === "draining");
      // ... and each pooled connection, reused now, is answered by it, once, with Connection: close.
      for (const [i, c] of pool.entries()) {
        c.send("/text", { method: "POST", body: "x".repeat(100 + i) });
        const r = await c.response();
        assert.equal(r.status, 200, `connection ${i}`);
        assert.equal(r.body, `POST ${100 + i}`, `connection ${i}`);
        assert.equal(r.headers.connection, "close", `connection ${i}: ${JSON.stringify(r.headers)}`);
      }
      // New connections reach a server that serves (the successor, or the old one with Connection: close).
      const fresh = await open(f.port);
      fresh.send("/pid");
      const r = await fresh.response();
      assert.equal(r.status, 200);
      assert.ok([String(old), String(successor)].includes(r.body), r.body);
      // The old process then closes on its own, gracefully, well inside the deadline.
      const report = await f.waitFor("report", (e) => e.pid === old);
      assert.equal(report.reason, "restart");
      assert.equal(report.graceful, true, JSON.stringify(report));
      assert.deepEqual(await f.exited, { code: 0, signal: null });
      process.kill(successor as number, "SIGTERM");
      await f.allGone;
    },
    T,
  );
});
