// Runtime facts about keep-alive connections at shutdown that the restart drain behind a proxy is
// built on (issue 12; docs/runtimes.md "Keep-alive connections behind a proxy"). The BARE primitives
// (Deno.serve, Bun.serve; no library code), in the test process, over real sockets on 127.0.0.1.
// IDs K1, K2, DP1 are cited by src/deno.ts, src/bun.ts and docs/runtimes.md; the nginx facts (X1, X2) are
// in test/nginx.test.ts.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { bare } from "./_helpers/runtime.ts";
import { type CloseKind, RawConnection } from "./_helpers/raw-http.ts";

const T = 15_000;
/** Bound on waiting for a close that should come at once: a clear failure instead of a test timeout. */
const CLOSE_BOUND_MS = 2_000;

const g = bare;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function closedWithin(c: RawConnection, ms: number): Promise<CloseKind | "still open"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<"still open">((resolve) => (timer = setTimeout(() => resolve("still open"), ms)));
  return Promise.race([c.closed, bound]).finally(() => clearTimeout(timer));
}

async function idleConnection(port: number): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  cleanups.push(() => c.close());
  c.send("/");
  const r = await c.response();
  assert.equal(r.status, 200);
  assert.notEqual(r.headers.connection, "close");
  return c;
}

describe.skipIf(runtime !== "deno")("Deno.serve keep-alive at shutdown (Deno 2)", () => {
  it("K1: shutdown() closes an idle keep-alive connection at once (FIN), while the listener closes", async () => {
    const server = g.Deno!.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response("hi"));
    const idle = await idleConnection(server.addr.port);
    const stopped = server.shutdown();
    assert.equal(await closedWithin(idle, CLOSE_BOUND_MS), "end");
    await stopped;
  }, T);
});

describe.skipIf(runtime !== "deno")("Deno.serve pipelining (Deno 2)", () => {
  it("DP1: a pipelined request's handler runs only after the response before it is written", async () => {
    const order: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let secondStarted!: () => void;
    const second = new Promise<"second ran">((resolve) => (secondStarted = () => resolve("second ran")));
    const server = g.Deno!.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      ((request: Request) => {
        const path = new URL(request.url).pathname;
        order.push(`${path} start`);
        if (path === "/first") return released.then(() => (order.push("/first answered"), new Response("first")));
        secondStarted();
        return new Response("second");
      }) as unknown as (r: Request) => Response,
    );
    cleanups.push(() => server.shutdown());
    const c = await RawConnection.open(server.addr.port);
    cleanups.push(() => c.close());
    c.socket.write(["/first", "/second"].map((p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(""));
    // Bounded: were the second handler run beside the first, it would start within this.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<"bound">((resolve) => (timer = setTimeout(() => resolve("bound"), CLOSE_BOUND_MS)));
    assert.equal(await Promise.race([second, bound]), "bound", JSON.stringify(order));
    clearTimeout(timer);
    release();
    assert.equal((await c.response()).body, "first");
    assert.equal((await c.response()).body, "second");
    assert.deepEqual(order, ["/first start", "/first answered", "/second start"]);
  }, T);
});

describe.skipIf(runtime !== "bun")("Bun.serve keep-alive (Bun 1)", () => {
  it(
    "K2: a Connection: close header set by the handler makes Bun close the socket after the response (Deno keeps it: D6)",
    async () => {
      const server = g.Bun!.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (request: Request) =>
          new Response("bye", request.url.endsWith("/close") ? { headers: { connection: "close" } } : {}),
      });
      cleanups.push(() => server.stop(true));
      const c = await idleConnection(server.port);
      c.send("/close");
      const r = await c.response();
      assert.equal(r.headers.connection, "close");
      assert.equal(await closedWithin(c, CLOSE_BOUND_MS), "end");
    },
    T,
  );
});
