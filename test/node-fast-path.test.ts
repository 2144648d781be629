// deno-lint-ignore-file require-await -- async handlers are the shape under test
// The cheapest write path of the Node bridge (src/adapters/node/serve.ts, sendKnown): a known body
// goes out with the head in one write, its length written by Node itself (fact NF1), small bytes as a
// one-byte string (NF2). Over real sockets, on every runtime: the bytes and the framing must be the
// same everywhere, whichever branch a request takes (HEAD and HTTP/1.0 take the explicit-header one).
import assert from "node:assert/strict";
import * as nodeBuffer from "node:buffer";
import net from "node:net";
import process from "node:process";
import { afterAll, beforeAll, describe, it } from "vitest";
import { FastResponse, type Logger, serve, type Server } from "../src/mod.ts";
import { nodeWritesLength } from "../src/adapters/node/serve.ts";
import { runtime } from "./_helpers/fixture.ts";

const T = 30_000;
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const errors: string[] = [];
const logger: Logger = { info() {}, warn() {}, error: (m) => void errors.push(m) };

const routes: Record<string, () => Response | Promise<Response>> = {
  "/all-bytes": async () => new Response(ALL_BYTES),
  "/all-bytes-sync": () => new Response(ALL_BYTES),
  "/high": async () => new Response(new Uint8Array([0xe9, 0x80, 0xff])),
  "/ascii-bytes": async () => new Response(new TextEncoder().encode("plain ascii")),
  "/text": async () => new Response("héllo"),
  "/json": async () => Response.json({ a: "é" }),
  "/fast": () => new FastResponse("héllo") as unknown as Response,
  "/fast-bytes": () => new FastResponse(ALL_BYTES) as unknown as Response,
  "/empty": async () => new Response(""),
  "/fast-json": () => FastResponse.json({ a: "é" }),
  "/typed": async () => new Response("<p>", { headers: { "content-type": "text/html" } }),
};

let server: Server;
beforeAll(async () => {
  server = serve({
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger,
    fetch: (req) => (routes[new URL(req.url).pathname] ?? (() => new Response("not found", { status: 404 })))(),
  });
  await server.ready();
}, T);
afterAll(async () => {
  await server.shutdown();
}, T);

interface Exchange {
  head: string;
  /** Every header line, lower-cased name → values (a name sent twice has two). */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** Sends `text` on a fresh connection and reads until the server closes it (the request says close). */
function exchange(text: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(server.port!, "127.0.0.1", () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no complete head in ${JSON.stringify(all.toString("latin1"))}`));
      const head = all.subarray(0, end).toString("latin1");
      const headers = new Map<string, string[]>();
      for (const line of head.split("\r\n").slice(1)) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
      }
      resolve({ head, headers, body: all.subarray(end + 4) });
    });
  });
}
const get = (path: string, method = "GET") =>
  exchange(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);

describe("known bodies: exact bytes, one Content-Length, no chunking", () => {
  for (
    const [path, bytes] of [
      ["/all-bytes", ALL_BYTES],
      ["/all-bytes-sync", ALL_BYTES],
      ["/high", new Uint8Array([0xe9, 0x80, 0xff])],
      ["/ascii-bytes", new TextEncoder().encode("plain ascii")],
      ["/text", new TextEncoder().encode("héllo")],
      ["/json", new TextEncoder().encode('{"a":"é"}')],
      ["/fast", new TextEncoder().encode("héllo")],
      ["/fast-bytes", ALL_BYTES],
      ["/empty", new Uint8Array(0)],
    ] as const
  ) {
    it(`${path}: ${bytes.byteLength} bytes as sent, Content-Length once`, async () => {
      const r = await get(path);
      assert.match(r.head, /^HTTP\/1\.1 200 /);
      assert.deepEqual(r.headers.get("content-length"), [String(bytes.byteLength)], r.head);
      assert.equal(r.headers.get("transfer-encoding"), undefined, r.head);
      assert.deepEqual([...r.body], [...bytes]);
    }, T);
  }

  // One Content-Type, whichever way the head is built (Bun 1.4 spells it `charset=utf-8`).
  for (
    const [path, type] of [
      ["/text", /^text\/plain;charset=utf-8$/i],
      ["/json", /^application\/json(;charset=utf-8)?$/i],
      ["/fast", /^text\/plain;charset=utf-8$/i],
      ["/fast-json", /^application\/json(;charset=utf-8)?$/i],
      ["/typed", /^text\/html$/],
    ] as const
  ) {
    it(`${path}: Content-Type ${type.source}, once`, async () => {
      const r = await get(path);
      const types = r.headers.get("content-type") ?? [];
      assert.equal(types.length, 1, r.head);
      assert.match(types[0]!, type);
    }, T);
  }

  it("HEAD: the length of the body it would get, and no body", async () => {
    const r = await get("/all-bytes", "HEAD");
    assert.deepEqual(r.headers.get("content-length"), ["256"], r.head);
    assert.equal(r.body.byteLength, 0);
  }, T);

  it("an HTTP/1.0 request gets the length and the whole body", async () => {
    // With a Host: without one, Bun 1.4.5 hands the handler a request whose url does not parse.
    const r = await exchange("GET /all-bytes HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    assert.deepEqual(r.headers.get("content-length"), ["256"], r.head);
    assert.equal(r.headers.get("transfer-encoding"), undefined, r.head);
    assert.deepEqual([...r.body], [...ALL_BYTES]);
  }, T);

  it("nothing was logged", () => {
    assert.deepEqual(errors, []);
  });
});

const major = runtime === "node" ? Number(process.versions.node.split(".")[0]) : 0;
describe.skipIf(runtime !== "node")("Node facts the fast path reads (NF1, NF2)", () => {
  it(`NF1: Node ${major} writes Content-Length itself from _contentLength when the head has none`, () => {
    assert.equal(nodeWritesLength(), true);
  });

  it(`NF2: Node ${major} has buffer.isAscii, and Buffer.prototype.latin1Slice takes a plain Uint8Array`, () => {
    const isAscii = (nodeBuffer as { isAscii?: (b: Uint8Array) => boolean }).isAscii;
    assert.equal(typeof isAscii, "function");
    assert.equal(isAscii!(new Uint8Array([0x41, 0x7f])), true);
    assert.equal(isAscii!(new Uint8Array([0x41, 0x80])), false);
    const latin1Slice =
      (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, s: number, e: number) => string })
        .latin1Slice;
    const view = new Uint8Array(ALL_BYTES.buffer, 250, 6);
    assert.equal(latin1Slice.call(view, 0, view.byteLength), "\xfa\xfb\xfc\xfd\xfe\xff");
  });
});
