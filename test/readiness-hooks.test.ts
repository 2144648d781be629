// Readiness endpoint, drain delay and shutdown hooks on a real process.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "vitest";
import { fixturePerTest, inFlight } from "./_helpers/fixture.ts";
import { connectOutcome, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const startOne = fixturePerTest();
const start = (options: Record<string, unknown>, env: Record<string, string> = {}) => startOne(options, undefined, env);

describe("production lifecycle", () => {
  it("healthPath answers 200 while serving, before fetch sees it; HEAD works; other paths untouched", async () => {
    const f = await start({ healthPath: "/healthz" });
    const ok = await request(f.port, "/healthz");
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "ok\n");
    assert.equal(ok.headers["cache-control"], "no-store");
    assert.equal((await request(f.port, "/healthz?probe=1")).status, 200);
    const head = await request(f.port, "/healthz", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal((await request(f.port, "/healthzz")).status, 404, "only the exact path");
    assert.equal((await request(f.port, "/")).body, "hello");
  }, T);

  it("healthPath answers an HTTP/1.0 request without Host (HAProxy's default check)", async () => {
    const f = await start({ healthPath: "/healthz" });
    const socket = net.connect(f.port, "127.0.0.1");
    let raw = "";
    socket.on("data", (d) => (raw += d));
    socket.write("GET /healthz HTTP/1.0\r\n\r\n");
    await new Promise((resolve) => socket.once("close", resolve));
    assert.match(raw, /^HTTP\/1\.[01] 200/);
    assert.match(raw, /\r\n\r\nok\n$/);
  }, T);

  it("readiness stays 200 while draining after a restart: the successor answers on the same port", async () => {
    const { createLifecycle } = await import("../src/core.ts");
    const { isReady } = await import("../src/serve/options.ts");
    const restarting = createLifecycle({ logger: false, deadline: 60_000 });
    restarting.waitUntil(new Promise(() => {}));
    void restarting.shutdown({ reason: "restart" });
    assert.equal(restarting.state, "draining");
    assert.equal(isReady(restarting), true);
    const stopping = createLifecycle({ logger: false, deadline: 60_000 });
    stopping.waitUntil(new Promise(() => {}));
    void stopping.shutdown({ reason: "SIGTERM" });
    assert.equal(isReady(stopping), false);
    await Promise.all([restarting.hammer(), stopping.hammer()]);
  }, T);

  it(
    "on SIGTERM readiness flips to 503 at once, requests are still served during the drain delay, then the listener closes",
    async () => {
      const f = await start({ healthPath: "/healthz", drainDelay: 1_500, deadline: 10_000 });
      f.kill("SIGTERM");
      await f.waitFor("state", (e) => e.state === "draining");
      const probe = await request(f.port, "/healthz");
      assert.equal(probe.status, 503);
      assert.equal(probe.body, "draining\n");
      assert.equal(probe.headers.connection, "close");
      const during = await request(f.port, "/");
      assert.equal(during.status, 200, "a fresh connection is still served during the delay");
      assert.equal(during.body, "hello");
      assert.equal(during.headers.connection, "close");
      assert.deepEqual(await f.exited, { code: 0, signal: null });
      assert.equal(await connectOutcome(f.port), "ECONNREFUSED");
      const report = f.events.find((e) => e.event === "report")!;
      assert.ok((report.durationMs as number) >= 1_500, `the delay was honoured (${report.durationMs} ms)`);
      assert.equal(f.events.find((e) => e.event === "on-drain")?.reason, "SIGTERM");
    },
    T,
  );

  it("shutdown hooks run after the drain in reverse order; a failing one makes the exit code 1", async () => {
    const f = await start({ deadline: 10_000 }, { GS_HOOKS: "db:ok,cache:throw,queue:hang" });
    const conn = await inFlight(f, "/slow?ms=400");
    f.kill("SIGTERM");
    const response = await conn.response();
    assert.equal(response.body, "slow 400 done");
    assert.deepEqual(await f.exited, { code: 1, signal: null });
    const hooks = f.events.filter((e) => e.event === "hook");
    assert.deepEqual(hooks.map((e) => e.name), ["queue", "cache", "db"]);
    assert.ok(hooks.every((e) => e.reason === "SIGTERM"));
    const report = f.events.find((e) => e.event === "report")!;
    assert.equal(report.graceful, true);
    assert.deepEqual(report.errors, [
      'Error: shutdown hook "queue" timed out after 300 ms',
      'Error: shutdown hook "cache" failed: cache broke',
    ]);
    const handledAt = f.events.findIndex((e) => e.event === "state" && e.state === "draining");
    const firstHook = f.events.findIndex((e) => e.event === "hook");
    assert.ok(handledAt < firstHook);
    await f.waitForStderr(/shutdown hook "cache" failed/);
  }, T);
});
