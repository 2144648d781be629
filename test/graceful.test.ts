// graceful(): servers the platform owns — `deno serve` and Bun's default-export server.
import assert from "node:assert/strict";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { type FixtureEvent, runtime } from "./_helpers/fixture.ts";
import { follow, freePort, type Proc } from "./_helpers/procs.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const script = fileURLToPath(new URL("../runtimes/fixtures/graceful.mjs", import.meta.url));
let proc: Proc | undefined;
afterEach(() => {
  proc?.cleanup();
  proc = undefined;
});

/** Starts the platform's own server on the fixture's default export, and waits until it listens. */
async function startEdge(options: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  const port = await freePort();
  const args = runtime === "deno" ? ["serve", "-A", "--port", String(port), "--host", "127.0.0.1", script] : [script];
  const p =
    (proc = follow(process.execPath, args, { GS_OPTIONS: JSON.stringify(options), PORT: String(port), ...env }));
  // Deno prints "Listening on http://127.0.0.1:PORT/", Bun "Started development server: http://127.0.0.1:PORT".
  const address = `127.0.0.1:${port}`;
  const printed = (e: FixtureEvent) => e.event === "stdout" && String(e.line).includes(address);
  await p.waitUntil(() => p.stderr().includes(address) || p.events.some(printed) || undefined, `"${address}" printed`);
  return { port, proc: p.child, exited: p.exited, event: (name: string) => p.waitFor(name) };
}

describe.skipIf(runtime === "node")("graceful() on a platform-owned server", () => {
  it("SIGTERM: readiness 503, the in-flight response arrives whole, exit 0", async () => {
    const edge = await startEdge({ drainDelay: 2_000 });
    assert.equal((await request(edge.port, "/healthz")).status, 200);
    const conn = await RawConnection.open(edge.port);
    conn.send("/slow?ms=700");
    await edge.event("handling");
    process.kill(edge.proc.pid!, "SIGTERM");
    await edge.event("state");
    if (runtime === "deno") {
      // `deno serve` (2.9) drains its own listener on SIGTERM: a new connection is closed unanswered.
      await assert.rejects(request(edge.port, "/healthz"), /connection closed before a response|ECONNREFUSED/);
    } else {
      const probe = await request(edge.port, "/healthz");
      assert.equal(probe.status, 503, "during the drain delay Bun's listener is open; readiness says draining");
    }
    const response = await conn.response();
    assert.equal(response.status, 200);
    assert.equal(response.body, "slow done");
    assert.equal(response.complete, true);
    assert.deepEqual(await edge.exited, { code: 0, signal: null });
    const report = await edge.event("report");
    assert.equal(report.graceful, true);
    assert.ok((report.inFlight as number) >= 1);
  }, T);

  // SIGINT: what Deno Deploy sends, 5 s before SIGKILL.
  it("on SIGINT a hanging request is answered 503 or cut at the deadline; exit 1", async () => {
    const edge = await startEdge({ deadline: 500 });
    const conn = await RawConnection.open(edge.port);
    conn.send("/hang");
    await edge.event("handling");
    process.kill(edge.proc.pid!, "SIGINT");
    assert.deepEqual(await edge.exited, { code: 1, signal: null });
    const report = await edge.event("report");
    assert.equal(report.graceful, false);
    assert.ok((report.forced as number) >= 1);
    await conn.closed;
  }, T);

  // Before: graceful() dropped the `websocket` option, so Bun's default-export server had no handlers
  // and server.upgrade() threw (a 500).
  it.skipIf(runtime !== "bun")(
    "Bun: websocket handlers given to graceful() are in its default export; upgrades from sync and async handlers work, and the deadline closes them with 1001",
    async () => {
      const edge = await startEdge({ deadline: 600 }, { GS_GRACEFUL_WS: "1" });
      const open = async (path: string) => {
        const ws = new WebSocket(`ws://127.0.0.1:${edge.port}${path}`);
        const messages: string[] = [];
        const closed = new Promise<number>((resolve) => (ws.onclose = (event) => resolve(event.code)));
        ws.onmessage = (event) => messages.push(String(event.data));
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error(`${path}: WebSocket error`));
        });
        const reply = new Promise<string>((resolve) => (ws.onmessage = (event) => resolve(String(event.data))));
        ws.send("ping");
        assert.equal(await reply, "echo:ping", path);
        return { ws, closed, messages };
      };
      const sync = await open("/ws");
      const later = await open("/ws-async");
      process.kill(edge.proc.pid!, "SIGTERM");
      assert.equal(await sync.closed, 1001);
      assert.equal(await later.closed, 1001);
      assert.deepEqual(await edge.exited, { code: 1, signal: null }, "cut at the deadline: not graceful");
      const report = await edge.event("report");
      assert.ok((report.forced as number) >= 2, `forced ${report.forced}`);
    },
    T,
  );
});
