// A handler that returns a thenable that is not a Promise (a PromiseLike from a polyfill or a library):
// Deno.serve adopts one (D-h11-5) and Bun answers it 200 "Welcome to Bun!" (B-h11-4); graceful-serve's
// request path answered both with a 500, and so did the Node bridge. serve() on this runtime and graceful()'s fetch, in process.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { graceful, serve, type Server } from "../src/mod.ts";

const T = 15_000;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.shutdown();
});

/** A thenable answering `text`, or failing with `error`, the way a PromiseLike does: later, not in then(). */
function thenable(outcome: { text: string } | { error: Error }): PromiseLike<Response> {
  return {
    then(resolve, reject) {
      queueMicrotask(() => "error" in outcome ? reject?.(outcome.error) : resolve?.(new Response(outcome.text)));
      return undefined as never;
    },
  } as PromiseLike<Response>;
}

describe("a fetch handler returning a non-Promise thenable", () => {
  it("serve(): the thenable's Response is sent (200), not a 500", async () => {
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      signals: false,
      logger: false,
      fetch: () => thenable({ text: "from a thenable" }) as unknown as Promise<Response>,
    });
    servers.push(server);
    await server.ready();
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "from a thenable");
  }, T);

  it("serve(): a rejecting thenable goes to onError like a rejected Promise", async () => {
    const seen: unknown[] = [];
    const server = serve({
      port: 0,
      hostname: "127.0.0.1",
      signals: false,
      logger: false,
      fetch: () => thenable({ error: new Error("boom") }) as unknown as Promise<Response>,
      onError: (error) => (seen.push(error), new Response("handled", { status: 502 })),
    });
    servers.push(server);
    await server.ready();
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(response.status, 502);
    assert.equal(await response.text(), "handled");
    assert.equal((seen[0] as Error).message, "boom");
  }, T);

  it("graceful(): fetch() resolves with the thenable's Response", async () => {
    const app = graceful({
      signals: false,
      logger: false,
      fetch: () => thenable({ text: "via graceful" }) as unknown as Promise<Response>,
    });
    const response = await app.fetch(new Request("http://127.0.0.1/"));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "via graceful");
    await app.lifecycle.shutdown();
  }, T);
});
