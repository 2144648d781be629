// Issue 10.11: one response that cannot be sent never takes the process down. Each bad response is
// answered 500 (or, when its head is already out, only its connection is cut) and logged through
// the server's logger; a request in flight meanwhile is unaffected and the process keeps serving.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Fixture, runtime, startFixture } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const SCRIPT = fileURLToPath(new URL("../runtimes/fixtures/bad-responses.mjs", import.meta.url));
let f: Fixture;
let slow: Promise<{ status: number; body: string }>;

beforeAll(async () => {
  f = await startFixture({}, SCRIPT);
  // In flight during every bad response below; released by the last test.
  slow = request(f.port, "/slow");
  await f.waitFor("handling", (e) => e.path === "/slow");
}, T);
afterAll(async () => {
  f.kill("SIGKILL");
  await f.exited;
}, T);

const logged = () => f.events.filter((e) => e.event === "log-error").length;

describe("a bad response costs one request, not the process (10.11)", () => {
  for (
    const path of [
      "/error",
      "/error-async",
      "/fast-crlf",
      "/fast-bad-name",
      "/fast-bad-status-text",
      "/fast-status-99",
      "/native-crlf",
      "/status-99",
      "/fake",
      "/fake-async",
      "/body-used",
      "/body-locked",
      "/fast-body-locked",
    ]
  ) {
    // Response.error() on bare Deno 2.9.6 and Bun 1.4.5 gets no answer at all (Deno leaves the request
    // pending, Bun logs "Cannot send a Response with status 0" and holds it until its idle timeout);
    // serve() answers it 500 on every runtime (src/serve/request-path.ts isRealResponse, deno-runtime.ts).
    // A Response subclass whose status getter lies: Deno and Bun read their internal state and send
    // 200, which is fine; only the Node bridge reads the getter.
    // Bun 1.4.5 accepts a statusText with CR/LF and answers 200 (src/adapters/bun.ts passes it on; NB6).
    const skip = (path === "/status-99" && runtime !== "node") ||
      (path === "/fast-bad-status-text" && runtime === "bun");
    it.skipIf(skip)(`${path}: 500, logged, and the server keeps serving`, async () => {
      const before = logged();
      const r = await request(f.port, path);
      assert.equal(r.status, 500, `${path} answered ${r.status}`);
      assert.doesNotMatch(JSON.stringify(r.headers), /injected/i, "no header was injected");
      await f.waitFor("log-error", () => logged() > before);
      const ok = await request(f.port, "/ok");
      assert.equal(ok.body, "ok");
      assert.equal(f.child.exitCode, null);
    }, T);
  }

  it("a body cancelled before the handler returned it is sent empty, and the connection is reused", async () => {
    const conn = await RawConnection.open(f.port);
    conn.send("/body-cancelled");
    const r = await conn.response();
    assert.equal(r.status, 200);
    assert.equal(r.complete, true, `complete response (headers ${JSON.stringify(r.headers)})`);
    assert.equal(r.body, "");
    conn.send("/ok");
    const ok = await conn.response();
    assert.equal(ok.body, "ok");
    conn.close();
  }, T);

  it("a body that fails after the head: only that connection is cut, the next one is served", async () => {
    const before = logged();
    const conn = await RawConnection.open(f.port);
    conn.send("/stream-error");
    const r = await conn.response();
    assert.equal(r.status, 200);
    assert.equal(r.complete, false, "the client sees an incomplete body, not a truncated-but-valid one");
    await conn.closed;
    // Through the server's logger on Node and Deno (its onError); Bun 1.4.5 prints it itself (seen
    // by hand, not asserted: its error option is not called for it).
    if (runtime !== "bun") await f.waitFor("log-error", () => logged() > before);
    const ok = await request(f.port, "/ok");
    assert.equal(ok.body, "ok");
  }, T);

  it("the request in flight all along is answered", async () => {
    const released = await request(f.port, "/release-slow");
    assert.equal(released.body, "released");
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, "slow done");
    assert.equal(f.child.exitCode, null, `runtime ${runtime}`);
  }, T);
});
