// graceful(): servers the platform owns — `deno serve` and Bun's default-export server.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { entry, runtime } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const script = fileURLToPath(new URL("../runtimes/fixtures/edge.mjs", import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the platform's own server on the fixture's default export, and waits until it listens. */
async function startEdge(options: Record<string, unknown> = {}) {
  const port = await freePort();
  const args = runtime === "deno" ? ["serve", "-A", "--port", String(port), "--host", "127.0.0.1", script] : [script];
  const proc = (child = spawn(process.execPath, args, {
    env: { ...process.env, GS_ENTRY: entry, GS_OPTIONS: JSON.stringify(options), PORT: String(port), NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  }));
  let output = "";
  const events: Array<Record<string, unknown>> = [];
  let waiters: Array<() => void> = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  proc.stdout!.on("data", (d) => {
    output += d;
    for (const line of String(d).split("\n")) if (line.startsWith("{")) events.push(JSON.parse(line));
    wake();
  });
  proc.stderr!.on("data", (d) => {
    output += d;
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal }))
  );
  const until = (test: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (test() ? resolve() : waiters.push(check));
      exited.then(() => reject(new Error(`exited; output:\n${output}`)));
      check();
    });
  // Deno prints "Listening on http://127.0.0.1:PORT/", Bun "Started development server: http://127.0.0.1:PORT".
  await until(() => output.includes(`127.0.0.1:${port}`));
  const event = (name: string) =>
    until(() => events.some((e) => e.event === name)).then(() => events.find((e) => e.event === name)!);
  return { port, proc, exited, event, output: () => output };
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
});
