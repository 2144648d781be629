// deno-lint-ignore-file require-await -- async handlers are the shape under test
// The response side of the bridge (issue 10.1, 10.2, 10.3, 10.7), over real sockets with a raw
// client, on every runtime: the same handler must give the same framing and bytes everywhere.
import assert from "node:assert/strict";
import process from "node:process";
import { afterAll, beforeAll, describe, it } from "vitest";
import { FastResponse, type Logger, serve, type Server } from "../src/mod.ts";
import { runtime } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const node24 = runtime === "node" && Number(process.versions.node.split(".")[0]) >= 24;
const enc = new TextEncoder();
const errors: string[] = [];
const logger: Logger = { info() {}, warn() {}, error: (m) => void errors.push(m) };

/** An SSE stream whose first event is sent only when `release()` is called. */
let release: () => void = () => {};
const routes: Record<string, (request: Request) => Response | Promise<Response>> = {
  "/string": () => new Response("héllo"),
  "/string-async": async () => new Response("héllo"),
  "/bytes": async () => new Response(new Uint8Array([1, 2, 3, 4])),
  "/json": async () => Response.json({ a: 1 }),
  "/json-sync": () => Response.json({ a: 1 }),
  "/params": async () => new Response(new URLSearchParams({ q: "a b" })),
  "/blob": async () => new Response(new Blob(["blob!"], { type: "text/x-blob" })),
  "/empty": async () => new Response(""),
  "/empty-sync": () => new Response(""),
  "/null": async () => new Response(null, { status: 200 }),
  "/no-content": async () => new Response(null, { status: 204 }),
  "/own-length": async () => new Response("abc", { headers: { "content-length": "3" } }),
  "/cookies": async () => {
    const headers = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-one", "1"]]);
    return new Response("c", { headers });
  },
  "/sse": () =>
    new Response(
      new ReadableStream({
        start(c) {
          release = () => {
            c.enqueue(enc.encode("data: first\n\n"));
            c.close();
          };
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    ),
  "/fast-length": () => new FastResponse("abc", { headers: { "Content-Length": "3", "content-type": "text/plain" } }),
  "/fast-length-obj": () =>
    FastResponse.json({ ok: true }, { headers: [["content-length", String(JSON.stringify({ ok: true }).length)]] }),
};

// 10.7: a FastResponse keeps the init it was given, not later edits of it.
const init = { headers: { "x-init": "before" } as Record<string, string>, status: 201 };
const fromInit = new FastResponse("init", init);
init.headers["x-init"] = "after";
init.headers["x-added"] = "later";
init.status = 202;
const initHeaders = new Headers({ "x-h": "1" });
const fromHeaders = new FastResponse("headers", { headers: initHeaders });
initHeaders.set("x-h", "2");
initHeaders.set("x-added", "later");
routes["/fast-init"] = () => fromInit as unknown as Response;
routes["/fast-headers"] = () => fromHeaders as unknown as Response;

let server: Server;
beforeAll(async () => {
  server = serve({
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger,
    fetch: (req) => {
      const route = routes[new URL(req.url).pathname];
      return route ? route(req) : new Response("not found", { status: 404 });
    },
  });
  await server.ready();
}, T);
afterAll(async () => {
  await server.shutdown();
}, T);

const port = () => server.port!;

describe("known-length bodies are sent with Content-Length (10.1)", () => {
  for (
    const [path, body, type] of [
      ["/string", "héllo", "text/plain;charset=UTF-8"],
      ["/string-async", "héllo", "text/plain;charset=UTF-8"],
      ["/bytes", "\x01\x02\x03\x04", undefined],
      ["/json", '{"a":1}', "application/json"],
      ["/json-sync", '{"a":1}', "application/json"],
      ["/params", "q=a+b", "application/x-www-form-urlencoded;charset=UTF-8"],
      ["/blob", "blob!", "text/x-blob"],
    ] as const
  ) {
    // NB4: on Node 24 a Blob's stream does not carry its size; it is sent chunked there, as Deno
    // 2.9.6 sends every Blob body (NB5).
    const skip = path === "/blob" && (node24 || runtime === "deno");
    it.skipIf(skip)(`${path}: Content-Length, not chunked`, async () => {
      const r = await request(port(), path);
      assert.equal(r.status, 200);
      assert.equal(r.body, body);
      assert.equal(r.headers["content-length"], String(Buffer.byteLength(body)));
      assert.equal(r.headers["transfer-encoding"], undefined);
      // Bun writes the charset in lower case (utf-8); media types compare case-insensitively (RFC 9110 §8.3.1).
      // Bun adds ";charset=utf-8" to application/json (NB6).
      if (type) {
        const [media, ...params] = r.headers["content-type"]!.toLowerCase().split(";");
        assert.equal(media, type.toLowerCase().split(";")[0]);
        if (runtime !== "bun") assert.equal(params.join(";"), type.toLowerCase().split(";").slice(1).join(";"));
      }
    }, T);
  }

  it("HEAD gets the length and no body; the connection stays usable", async () => {
    const conn = await RawConnection.open(port());
    try {
      conn.send("/string", { method: "HEAD" });
      const head = await conn.response({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.headers["content-length"], String(Buffer.byteLength("héllo")));
      assert.equal(head.headers["transfer-encoding"], undefined);
      conn.send("/json");
      const next = await conn.response();
      assert.equal(next.body, '{"a":1}', "no HEAD body bytes were sent before the next response");
    } finally {
      conn.close();
    }
  }, T);

  it("an empty or null body is Content-Length: 0; a 204 has no length and no body", async () => {
    const conn = await RawConnection.open(port());
    try {
      for (const path of ["/empty", "/empty-sync", "/null"]) {
        conn.send(path);
        const r = await conn.response();
        assert.equal(r.status, 200, path);
        assert.equal(r.headers["content-length"], "0", path);
        assert.equal(r.headers["transfer-encoding"], undefined, path);
      }
      conn.send("/no-content");
      const r = await conn.response();
      assert.equal(r.status, 204);
      assert.equal(r.headers["content-length"], undefined);
      assert.equal(r.headers["transfer-encoding"], undefined);
      conn.send("/string");
      assert.equal((await conn.response()).body, "héllo", "nothing stray after the 204");
    } finally {
      conn.close();
    }
  }, T);

  it("a Content-Length the application set is sent once", async () => {
    const conn = await RawConnection.open(port());
    try {
      conn.send("/own-length");
      const r = await conn.response();
      assert.equal(r.headers["content-length"], "3");
      assert.equal(r.body, "abc");
    } finally {
      conn.close();
    }
  }, T);

  it("keeps Set-Cookie values apart next to other headers", async () => {
    const r = await request(port(), "/cookies");
    assert.equal(r.headers["set-cookie"], "a=1\nb=2");
    assert.equal(r.headers["x-one"], "1");
    assert.equal(r.body, "c");
  }, T);
});

describe("FastResponse headers (10.2, 10.7)", () => {
  it("a FastResponse with its own content-length gets exactly one (raw bytes)", async () => {
    for (const path of ["/fast-length", "/fast-length-obj"]) {
      const conn = await RawConnection.open(port());
      try {
        conn.send(path);
        const r = await conn.response();
        assert.equal(r.headers["content-length"]?.includes("\n"), false, `${path}: ${r.headers["content-length"]}`);
      } finally {
        conn.close();
      }
    }
    // Node's own fetch rejects a response with two Content-Length headers.
    const res = await fetch(`http://127.0.0.1:${port()}/fast-length`);
    assert.equal(await res.text(), "abc");
    const json = await fetch(`http://127.0.0.1:${port()}/fast-length-obj`);
    assert.deepEqual(await json.json(), { ok: true });
  }, T);

  it("a FastResponse sends the init it was built with, not later edits", async () => {
    const r = await request(port(), "/fast-init");
    assert.equal(r.status, 201);
    assert.equal(r.headers["x-init"], "before");
    assert.equal(r.headers["x-added"], undefined);
    const h = await request(port(), "/fast-headers");
    assert.equal(h.headers["x-h"], "1");
    assert.equal(h.headers["x-added"], undefined);
  }, T);

  it("a FastResponse built from a parent keeps the parent's headers as they were", () => {
    const parentInit = { headers: { "x-p": "1" } as Record<string, string> };
    const child = new FastResponse("child", parentInit);
    parentInit.headers["x-p"] = "2";
    assert.equal(child.headers.get("x-p"), "1");
  });

  it("rejects statuses the Response constructor rejects, with a RangeError", () => {
    assert.throws(() => new FastResponse("x", { status: 99 }), RangeError);
    assert.throws(() => new FastResponse("x", { status: 600 }), RangeError);
    // Bun 1.4.5's Response (FastResponse there) accepts a body with 204 (NB6); the standard says TypeError.
    if (runtime !== "bun") assert.throws(() => new FastResponse("x", { status: 204 }), TypeError);
  });
});

describe("streams: status and headers go out at once (10.3)", () => {
  // Bun 1.4.5: the head is held back until the first body chunk (NB7; src/adapters/bun.ts or Bun.serve, not this file).
  it.skipIf(runtime === "bun")(
    "an SSE response that waits for its first event shows its headers before it",
    async () => {
      const conn = await RawConnection.open(port());
      try {
        conn.send("/sse");
        // The event is released only once the head has arrived: without an immediate head this waits forever.
        const head = new Promise<void>((resolve) => {
          const check = () => {
            if (conn.pending.includes("\r\n\r\n")) {
              conn.socket.off("data", check);
              resolve();
            }
          };
          conn.socket.on("data", check);
          check();
        });
        await head;
        assert.match(conn.pending, /^HTTP\/1\.1 200/);
        assert.match(conn.pending.toLowerCase(), /content-type: text\/event-stream/);
        release();
        const r = await conn.response();
        assert.equal(r.body, "data: first\n\n");
        assert.equal(r.complete, true);
      } finally {
        conn.close();
      }
    },
    T,
  );
});

describe("nothing was logged by the cases above", () => {
  it("no error logged", () => {
    assert.deepEqual(errors, []);
  });
});
