// Issue 11: the wrapped handler keeps nothing per request. The old wrapper raced every async request
// against one long-lived "deadline cut" promise; each Promise.race left a reaction on it until the
// deadline, so the heap grew by 300 B–3 KB per request without bound (30 000 requests: +28 to +95 MB).
// Now each request settles its own promise. A child process with a forced GC calls graceful()'s
// handler in-process (sync, async and streaming-body handlers) and reports heap growth after GC.
import assert from "node:assert/strict";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { follow } from "./_helpers/procs.ts";

const SCRIPT = fileURLToPath(new URL("../runtimes/fixtures/memory.mjs", import.meta.url));
const REQUESTS = 30_000;
/** Far above GC noise (< 0.1 MiB measured), far below the old growth (≥ 28 MB for 30 000 requests). */
const LIMIT = 2 * 1024 * 1024;
const g = globalThis as { Deno?: { execPath(): string } };

function command(): [string, string[]] {
  if (runtime === "deno") return [g.Deno!.execPath(), ["run", "-A", "--v8-flags=--expose-gc", SCRIPT]];
  if (runtime === "bun") return [process.execPath, [SCRIPT]];
  return [process.execPath, ["--expose-gc", SCRIPT]];
}

describe("memory per request (issue 11)", () => {
  it(
    "M-h11-1: graceful()'s handler: heap after GC grows < 2 MiB over 30 000 sync, async and streaming requests",
    async () => {
      const [cmd, args] = command();
      const p = follow(cmd, args, { GS_REQUESTS: String(REQUESTS) });
      const { code } = await p.exited;
      await p.allGone; // every line of stdout read
      assert.equal(code, 0, p.stderr());
      const result = p.events.find((e) => e.event === "memory");
      assert.ok(result, `no result; stderr:\n${p.stderr()}`);
      const growth = result.growth as Record<string, number>;
      assert.deepEqual(Object.keys(growth), ["sync", "async", "stream"]);
      for (const [shape, bytes] of Object.entries(growth)) {
        assert.ok(bytes < LIMIT, `${shape}: heap grew ${(bytes / 1048576).toFixed(1)} MiB over ${REQUESTS} requests`);
      }
    },
    120_000,
  );
});
