// What a response body that fails, or that the deadline cuts, leaves in the server's log. A body that
// fails on its own is an application error: logged (test/node-bad-response.test.ts). A body the deadline
// cuts is the lifecycle's doing, reported once by it ("force-closing", report.forced): on Deno the cut
// errors the tracked stream, which reached Deno.serve's onError and was logged as "fetch handler
// failed: Error: graceful-serve: deadline reached" (before onError was ours: printed by Deno itself).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { serve, type Server } from "../src/mod.ts";

const T = 15_000;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown();
});

describe("response bodies in the log", () => {
  it("a streaming body cut at the deadline is reported by the lifecycle, not logged as an error", async () => {
    const errors: string[] = [];
    const warnings: string[] = [];
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      signals: false,
      deadline: 200,
      logger: { info() {}, warn: (m) => warnings.push(m), error: (m) => errors.push(m) },
      // An event stream that never ends: one event, then nothing.
      fetch: () =>
        new Response(
          new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode("data: 1\n\n")) }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    });
    servers.push(server);
    await server.ready();
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    const reader = response.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "data: 1\n\n");
    const rest = reader.read().then(() => "ended", () => "cut");
    const report = await server.shutdown();
    assert.equal(report.graceful, false);
    assert.equal(report.forced, 1);
    // The client's read ends either way (an error, or the end of a body it cannot trust).
    assert.match(await rest, /^(cut|ended)$/);
    assert.equal(warnings.filter((m) => m.includes("force-closing")).length, 1, warnings.join("\n"));
    assert.deepEqual(errors, []);
  }, T);
});
