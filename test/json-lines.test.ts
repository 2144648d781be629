// The tests' one reader of a child's JSON-lines stdout (test/_helpers/json-lines.mjs). A pipe hands over
// chunks, not lines; the copies this reader replaced split each chunk on "\n" and so dropped (or failed
// to parse) an event whose line arrived in two chunks. Each chunk here is emitted as its own "data"
// event on a bare EventEmitter (what the reader listens to), so the chunk boundaries are exactly these.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { describe, it } from "vitest";
import { type LineEvent, readJsonLines, readLines } from "./_helpers/json-lines.ts";

/** A stand-in for a child's stdout: `chunk()` emits one "data" event, `end()` the "end" event. */
function pipe() {
  const emitter = new EventEmitter();
  return {
    stream: emitter as unknown as Readable,
    chunk: (c: string | Uint8Array) => void emitter.emit("data", Buffer.from(c)),
    end: () => void emitter.emit("end"),
  };
}

function feed(chunks: Array<string | Uint8Array>) {
  const p = pipe();
  const events: LineEvent[] = [];
  const chunksSeen: number[] = [];
  readJsonLines(p.stream, (e) => events.push(e), () => chunksSeen.push(events.length));
  for (const c of chunks) p.chunk(c);
  p.end();
  return { events, chunksSeen };
}

describe("readJsonLines (the tests' child-output reader)", () => {
  it("joins a JSON line split across two chunks into one event", () => {
    const { events } = feed(['{"event":"ready","port":', '8000}\n{"event":"state"}\n']);
    assert.deepEqual(events, [{ event: "ready", port: 8000 }, { event: "state" }]);
  });

  it("joins a line split across many chunks, one character each", () => {
    const line = JSON.stringify({ event: "done", total: 3000, ok: 2999, failed: 1 }) + "\n";
    const { events } = feed([...line]);
    assert.deepEqual(events, [{ event: "done", total: 3000, ok: 2999, failed: 1 }]);
  });

  it("keeps a multi-byte character whose bytes are split across chunks", () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ event: "log", text: "draining → closed ✓" }) + "\n");
    const cut = bytes.indexOf(0xe2) + 1; // inside the three bytes of "→"
    const { events } = feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
    assert.deepEqual(events, [{ event: "log", text: "draining → closed ✓" }]);
  });

  it("hands on an unterminated last line when the stream ends", () => {
    const { events } = feed(['{"event":"a"}\n{"event":', '"b"}']);
    assert.deepEqual(events, [{ event: "a" }, { event: "b" }]);
  });

  it("turns a line that is not JSON into a stdout event, and skips blank lines", () => {
    const { events } = feed(["Listening on http://127.0.0.1:8000/\r\n", "\n  \n", '{"event":"x"}\n']);
    assert.deepEqual(events, [{ event: "stdout", line: "Listening on http://127.0.0.1:8000/" }, { event: "x" }]);
  });

  it("calls onChunk after the chunk's events (so a waiter woken by it sees them)", () => {
    const { chunksSeen } = feed(['{"event":"a"}\n{"ev', 'ent":"b"}\n', '{"event":"c"}\n']);
    assert.deepEqual(chunksSeen, [1, 2, 3]);
  });

  it("does not turn an exception thrown by the callback into a stdout event", () => {
    const p = pipe();
    const seen: LineEvent[] = [];
    readJsonLines(p.stream, (e) => {
      seen.push(e);
      if (e.event === "boom") throw new Error("callback failed");
    });
    assert.throws(() => p.chunk('{"event":"boom"}\n'), /callback failed/);
    assert.deepEqual(seen, [{ event: "boom" }]);
  });
});

describe("readLines", () => {
  it("hands on complete lines only, joined across chunks", () => {
    const p = pipe();
    const lines: string[] = [];
    readLines(p.stream, (l) => lines.push(l));
    p.chunk("[graceful-serve] list");
    assert.deepEqual(lines, [], "no line before its newline");
    p.chunk("ening on 127.0.0.1:1 (pid 7)\nsecond");
    assert.deepEqual(lines, ["[graceful-serve] listening on 127.0.0.1:1 (pid 7)"]);
    p.chunk(" line\n");
    p.end();
    assert.deepEqual(lines, ["[graceful-serve] listening on 127.0.0.1:1 (pid 7)", "second line"]);
  });
});
