// A Hono app on serve(): the request-side behaviours @hono/node-server's request.test.ts and
// url.test.ts check, observed over HTTP as a Hono user would meet them (issue 10). Hono reads
// request.url as a string to route, so what it sees is exactly what the bridge serialized.
import assert from "node:assert/strict";
import process from "node:process";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { describe, it } from "vitest";
import { nativeRequest, serve, type Server } from "../src/mod.ts";
import { runtime } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const nodeMajor = runtime === "node" ? Number(process.versions.node.split(".")[0]) : 0;
const quiet = { info() {}, warn() {}, error() {} };

function app(): Hono {
  const app = new Hono();
  app.get("/secret.txt", (c) => c.text("the secret"));
  app.get("/static/*", (c) => c.text(`static ${c.req.path}`));
  app.get("/url", (c) => c.text(c.req.url));
  app.post("/json", async (c) => c.json({ got: await c.req.json() }));
  app.post("/form", async (c) => c.json(await c.req.parseBody()));
  app.post("/limited", bodyLimit({ maxSize: 16 }), async (c) => c.text(`ok ${await c.req.text()}`));
  app.get("/next", (c) => c.text("next"));
  return app;
}

async function withServer(run: (port: number) => Promise<void>, native = false): Promise<void> {
  const hono = app();
  const server: Server = serve({
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    exit: false,
    logger: quiet,
    // The opt-in for RQ-N1: the app gets a Request undici's constructor accepts.
    fetch: native ? (request) => hono.fetch(nativeRequest(request)) : hono.fetch,
  });
  await server.ready();
  try {
    await run(server.port!);
  } finally {
    await server.shutdown();
  }
}

async function raw(port: number, head: string, body = ""): Promise<{ status: number; body: string }> {
  const c = await RawConnection.open(port);
  c.socket.write(head + body);
  try {
    return await c.response();
  } finally {
    c.close();
  }
}

describe("Hono on serve(): the request", () => {
  // Deno hands Hono the raw target (RQ-D1): `/static/../secret.txt` reaches the static route as is.
  it.skipIf(runtime === "deno")(
    "dot segments and %2e never reach a route: Hono routes the normalised path",
    async () => {
      await withServer(async (port) => {
        for (
          const target of [
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E/secret.txt",
            "/static\\..\\secret.txt",
          ]
        ) {
          const r = await raw(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          assert.equal(r.body, "the secret", target);
        }
        const ok = await raw(port, "GET /static/a/./b/../c.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert.equal(ok.body, "static /static/a/c.txt");
      });
    },
    T,
  );

  // RFC 9112 §3.2.2; Bun keeps the Host (RQ-B1), Deno the raw target (RQ-D1).
  it.skipIf(runtime !== "node")("an absolute-form request line routes by its path and reports its URL", async () => {
    await withServer(async (port) => {
      const r = await raw(port, "GET http://Example.com:80/url HTTP/1.1\r\nHost: other.test\r\n\r\n");
      assert.equal(r.body, "http://example.com/url");
    });
  }, T);

  // Hono parses text() itself, so even Deno (whose own json() rejects the BOM, RQ-D3) passes.
  it("c.req.json() reads a body that starts with a UTF-8 BOM", async () => {
    await withServer(async (port) => {
      const r = await request(port, "/json", {
        method: "POST",
        body: '\uFEFF{"a":1}',
        headers: { "content-type": "application/json" },
      });
      assert.equal(r.body, '{"got":{"a":1}}');
    });
  }, T);

  it("c.req.parseBody() reads a form", async () => {
    await withServer(async (port) => {
      const r = await request(port, "/form", {
        method: "POST",
        body: "a=1&b=two",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      assert.deepEqual(JSON.parse(r.body), { a: "1", b: "two" });
    });
  }, T);

  it(
    "bodyLimit with Content-Length: 413 at once, the upload drains, the connection serves the next request",
    async () => {
      await withServer(async (port) => {
        const size = 8 * 1024 * 1024;
        const c = await RawConnection.open(port);
        c.socket.write(`POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
        const chunk = Buffer.alloc(64 * 1024, 120);
        await new Promise<void>((resolve, reject) => {
          let sent = 0;
          const write = () => {
            while (sent < size) {
              sent += chunk.length;
              if (sent >= size) return void c.socket.write(chunk, (e) => (e ? reject(e) : resolve()));
              if (!c.socket.write(chunk)) return void c.socket.once("drain", write);
            }
          };
          c.socket.once("error", reject);
          write();
        });
        assert.equal((await c.response()).status, 413);
        c.send("/next");
        assert.equal((await c.response()).body, "next");
        c.close();
      });
    },
    T,
  );

  // Without Content-Length, bodyLimit reads the stream and then does `new Request(c.req.raw, { body })`:
  // the case Node 24's private Request slots rule out for a lazy request (RQ-N1).
  it.skipIf(runtime === "node" && nodeMajor >= 24)(
    "bodyLimit on a chunked body under the limit passes it on",
    async () => {
      await withServer(async (port) => {
        const head =
          "POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n";
        const r = await raw(port, head, "5\r\nsmall\r\n0\r\n\r\n");
        assert.equal(r.body, "ok small");
        const over = await raw(port, head, "20\r\n" + "y".repeat(32) + "\r\n0\r\n\r\n");
        assert.equal(over.status, 413);
      });
    },
    T,
  );

  // The same with the opt-in wrapper, on every runtime and Node version (docs/runtimes.md, RQ-N1).
  it("bodyLimit on a chunked body under the limit passes it on, via nativeRequest(request)", async () => {
    await withServer(async (port) => {
      const head =
        "POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n";
      const r = await raw(port, head, "5\r\nsmall\r\n0\r\n\r\n");
      assert.equal(r.body, "ok small");
      const over = await raw(port, head, "20\r\n" + "y".repeat(32) + "\r\n0\r\n\r\n");
      assert.equal(over.status, 413);
    }, true);
  }, T);
});
