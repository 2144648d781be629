// Runtime facts NB1–NB4, NB8 (docs/runtimes.md, "Node bridge: undici bodies"): what src/adapters/node/body.ts reads
// of undici's Response and Node's Web streams on Node 20 and 24, and that it answers "unknown" (the
// stream is then read as usual) whenever what it finds is not what it expects. Node only.
import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "vitest";
import { AFTER_MICROTASK, knownBody, knownLength, UNKNOWN } from "../src/adapters/node/body.ts";
import { runtime } from "./_helpers/fixture.ts";

const major = runtime === "node" ? Number(process.versions.node.split(".")[0]) : 0;
/** The body as text; null (no body) is "", the markers stay visible in a failed assertion. */
const text = (body: unknown) =>
  body === null
    ? ""
    : typeof body === "string"
    ? body
    : body instanceof Uint8Array
    ? new TextDecoder().decode(body)
    : String(body);

describe.skipIf(runtime !== "node")("Node bridge facts", () => {
  it("NB1: Node 20 keeps a Response's body source under Symbol(state); Node 24 has no such symbol", () => {
    const symbols = Object.getOwnPropertySymbols(new Response("x")).map((s) => s.description);
    if (major === 20) {
      assert.ok(symbols.includes("state"));
      const state = (new Response("abc") as unknown as Record<symbol, { body: { source: unknown } }>)[
        Object.getOwnPropertySymbols(new Response("")).find((s) => s.description === "state")!
      ];
      assert.equal(state?.body.source, "abc");
    } else {
      assert.deepEqual(symbols, []);
    }
  });

  it("NB2: Node's ReadableStream and its controller keep their state under Symbol(kState)", () => {
    const stream = new ReadableStream({ type: "bytes" });
    const kState = Object.getOwnPropertySymbols(stream).find((s) => s.description === "kState")!;
    assert.ok(kState);
    const s = (stream as unknown as Record<symbol, Record<string, unknown>>)[kState]!;
    assert.equal(s.state, "readable");
    assert.equal(s.disturbed, false);
    const c = (s.controller as Record<symbol, Record<string, unknown>>)[kState]!;
    assert.equal(c.closeRequested, false);
    assert.ok("queue" in c && "queueTotalSize" in c);
  });

  it("NB3: Node 24 enqueues a string body at construction and closes it one microtask later", async () => {
    const response = new Response("hello");
    if (major >= 24) {
      assert.equal(knownBody(response, true), AFTER_MICROTASK);
      assert.equal(knownBody(response, false), UNKNOWN);
      await null;
    }
    assert.equal(text(knownBody(response, false)), "hello");
  });

  it("NB4: a Blob body's size is known on Node 20 (undici's state) but not through Node 24's stream", async () => {
    const response = new Response(new Blob(["abc"]));
    await null;
    assert.equal(knownBody(response, false), UNKNOWN);
    assert.equal(knownLength(response), major === 20 ? 3 : undefined);
  });

  // Why a Blob body stays chunked on Node 24 (issue 10.1 / hn item 2): its size is nowhere to read
  // (private #state, no own symbols, no content-length header; the stream is Blob.stream(), whose
  // source holds only the blob's native reader), and its end arrives only after the event loop
  // turns, so reading ahead to the end of the turn (where the head must go out, 10.3) cannot size it.
  it.skipIf(major < 24)(
    "NB8: Node 24 gives a Blob body's end only after a setImmediate; no header or symbol has its size",
    async () => {
      const response = new Response(new Blob(["abc"]));
      assert.equal(response.headers.get("content-length"), null);
      assert.deepEqual(Object.getOwnPropertySymbols(response), []);
      let turned = false;
      const immediate = new Promise<void>((resolve) =>
        setImmediate(() => {
          turned = true;
          resolve();
        })
      );
      const reader = response.body!.getReader();
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      assert.equal(bytes, 3);
      assert.equal(turned, true, "the end came after the event loop turned");
      await immediate;
    },
  );

  it("known bodies: string, bytes, Response.json, URLSearchParams, empty, null", async () => {
    const cases: Array<[Response, string | null]> = [
      [new Response("héllo"), "héllo"],
      [new Response(new Uint8Array([104, 105])), "hi"],
      [Response.json({ a: 1 }), '{"a":1}'],
      [new Response(new URLSearchParams({ q: "a b" })), "q=a+b"],
      [new Response(""), ""],
    ];
    await null;
    for (const [response, expected] of cases) assert.equal(text(knownBody(response, false)), expected);
    assert.equal(knownBody(new Response(null), false), null);
  });

  it("falls back (unknown) for open, read, locked and cloned-then-read bodies, without touching them", async () => {
    const open = new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array([1])) }));
    const read = new Response("read");
    await read.text();
    const locked = new Response("locked");
    locked.body!.getReader();
    await null;
    assert.equal(knownBody(open, false), UNKNOWN);
    assert.equal(open.bodyUsed, false);
    assert.equal(knownBody(read, false), UNKNOWN);
    assert.equal(knownBody(locked, false), UNKNOWN);
    // A clone that was read (hono/etag does) detaches Node 20's byte source: never taken as empty.
    const cloned = new Response(new Uint8Array([104, 105]));
    await cloned.clone().arrayBuffer();
    const body = knownBody(cloned, false);
    assert.ok(body === UNKNOWN || text(body) === "hi", String(body));
    assert.equal(await cloned.text(), "hi");
  });

  it("a closed byte stream with several chunks is known whole (Node 20 array queue) or unknown (Node 24)", async () => {
    const response = new Response(
      new ReadableStream({
        type: "bytes",
        start(c) {
          c.enqueue(new Uint8Array([97]));
          c.enqueue(new Uint8Array([98]));
          c.close();
        },
      }),
    );
    await null;
    const body = knownBody(response, false);
    if (major === 20) assert.equal(text(body), "ab");
    else assert.equal(body, UNKNOWN);
    // Either way the stream still gives its bytes.
    assert.equal(await response.text(), "ab");
  });
});
