// Runtime facts the request path's design rests on (issue 11, throughput; docs/runtimes.md "Issue 11:
// the request path's cost on Deno"). The BARE primitives (Deno.serve; no library code), in the test
// process, over real sockets on 127.0.0.1. What they cost is measured in bench/ (no timing here).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { bare } from "./_helpers/runtime.ts";

const T = 15_000;

const g = bare;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The bare runtime server with `handler`; resolves with its port. */
function bareServe(handler: (request: Request) => unknown): number {
  if (g.Deno) {
    const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
    cleanups.push(() => server.shutdown());
    return server.addr.port;
  }
  const server = g.Bun!.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
  cleanups.push(() => server.stop(true));
  return server.port;
}

describe.skipIf(runtime === "node")("Deno 2.9.6 and Bun 1.4.5: what the request path builds on", () => {
  /** A handler that returns a thenable (not a Promise) answering "from a thenable"; `calls` logs the order. */
  function thenableHandler(calls: string[]) {
    return () => {
      const thenable = {
        then(resolve: (r: Response) => void, reject: (e: unknown) => void) {
          calls.push(`then(${typeof resolve}, ${typeof reject})`);
          resolve(new Response("from a thenable"));
        },
      };
      calls.push("returned");
      return thenable;
    };
  }

  it.skipIf(runtime !== "deno")(
    "D-h11-5: Deno.serve adopts a thenable the handler returns: it calls its then() once, after the handler returned, with functions that answer the request",
    async () => {
      const calls: string[] = [];
      const port = bareServe(thenableHandler(calls));
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "from a thenable");
      // Adopted like `await` does (PromiseResolve + a job): Deno makes a promise of its own for it, so a
      // thenable saves the handler no promise (bench/results/web-throughput.md, deno-thenable).
      assert.deepEqual(calls, ["returned", "then(function, function)"]);
    },
    T,
  );

  it.skipIf(runtime !== "bun")(
    'B-h11-4: Bun.serve does not adopt a thenable: its then() is never called and the request is answered 200 "Welcome to Bun!"',
    async () => {
      const calls: string[] = [];
      const port = bareServe(thenableHandler(calls));
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^Welcome to Bun!/);
      assert.deepEqual(calls, ["returned"]);
    },
    T,
  );

  it.skipIf(runtime !== "bun")(
    'B-h11-5: Bun.serve answers a handler promise that resolves to undefined itself — 200 "Welcome to Bun!", or 204 with development: false — and never calls its error option: only a reaction on that promise sees the value',
    async () => {
      const errors: unknown[] = [];
      const answers: Array<[number, string]> = [];
      for (const development of [true, false]) {
        const server = g.Bun!.serve({
          port: 0,
          hostname: "127.0.0.1",
          development,
          fetch: async () => {
            await null;
            return undefined;
          },
          error: (error: unknown) => {
            errors.push(error);
            return new Response("from error", { status: 500 });
          },
        });
        cleanups.push(() => server.stop(true));
        const response = await fetch(`http://127.0.0.1:${server.port}/`);
        answers.push([response.status, (await response.text()).slice(0, 15)]);
      }
      assert.deepEqual(answers, [[200, "Welcome to Bun!"], [204, ""]]);
      assert.deepEqual(
        errors,
        [],
        "error is not called: the library's one .then per request is the least that can answer 500",
      );
    },
    T,
  );

  it.skipIf(runtime !== "deno")(
    "D-h11-6: the global Response is an accessor property, not a data property (each read is a getter call)",
    () => {
      const descriptor = Object.getOwnPropertyDescriptor(globalThis, "Response");
      assert.equal(typeof descriptor?.get, "function");
      assert.equal("value" in (descriptor ?? {}), false);
      // A captured reference is the same class: what the library compares against can be read once.
      assert.equal(globalThis.Response, descriptor!.get!.call(globalThis));
    },
  );

  it(
    "RS-D1, RS-B2: a Response whose body was already read goes to the runtime's own error hook (TypeError, 500), which the handler's promise never sees; one locked by a reader: Bun's hook too (Error), Deno sends it, 200",
    async () => {
      const errors: string[] = [];
      const onError = (error: unknown) => {
        errors.push(error instanceof Error ? error.constructor.name : String(error));
        return new Response("from the error hook", { status: 500 });
      };
      const handler = async (request: Request) => {
        const response = new Response("read already");
        if (new URL(request.url).pathname === "/used") await response.text();
        else response.body!.getReader();
        return response;
      };
      let port: number;
      if (g.Deno) {
        const server = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {}, onError }, handler);
        cleanups.push(() => server.shutdown());
        port = server.addr.port;
      } else {
        const server = g.Bun!.serve({ port: 0, hostname: "127.0.0.1", fetch: handler, error: onError });
        cleanups.push(() => server.stop(true));
        port = server.port;
      }
      const answers: Array<[number, string]> = [];
      for (const path of ["/used", "/locked"]) {
        const response = await fetch(`http://127.0.0.1:${port}${path}`);
        answers.push([response.status, await response.text()]);
      }
      // Deno's onError (default: console.error and a 500) and Bun's error option: so serve() passes its
      // logger's hook to both (src/adapters/deno.ts onError, src/adapters/bun.ts error). A locked body
      // Deno sends anyway (it reads the stream underneath the lock); serve() answers it 500 on every
      // runtime (the stream's reader is taken to track it, src/serve/request-path.ts).
      if (g.Deno) {
        assert.deepEqual(answers, [[500, "from the error hook"], [200, "read already"]]);
        assert.deepEqual(errors, ["TypeError"]);
      } else {
        assert.deepEqual(answers, [[500, "from the error hook"], [500, "from the error hook"]]);
        assert.deepEqual(errors, ["TypeError", "Error"]);
      }
    },
    T,
  );
});
