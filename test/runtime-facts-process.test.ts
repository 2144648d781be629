// Runtime facts behind issue 13's fixes, with IDs (docs/runtimes.md, "Process facts (issue 13)").
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";
import { tempDir } from "./_helpers/procs.ts";

describe("process facts", () => {
  it("P1: setting process.title rewrites /proc/self/cmdline on Node and Deno, not on Bun", async () => {
    const script = path.join(tempDir(), "title.mjs");
    fs.writeFileSync(
      script,
      `import fs from "node:fs";
import process from "node:process";
const before = fs.readFileSync("/proc/self/cmdline", "utf8");
process.title = "myapp";
const after = fs.readFileSync("/proc/self/cmdline", "utf8");
console.log(JSON.stringify({ before, after }));
`,
    );
    const [cmd, args] = runtimeCommand(script);
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    await new Promise((resolve) => child.once("exit", resolve));
    const { before, after } = JSON.parse(out);
    assert.match(before, /title\.mjs/);
    if (runtime === "bun") assert.equal(after, before, "Bun leaves the command line alone");
    else {
      assert.match(after, /^myapp\0/, "the title overwrites argv[0]");
      assert.doesNotMatch(after, /title\.mjs/, "and the rest of the command line is gone");
    }
  }, 30_000);

  it("P2: a setTimeout delay above 2^31-1 ms fires at once (before a 1000 ms timer)", async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      const long = setTimeout(() => order.push("2^31 ms"), 2 ** 31);
      setTimeout(() => {
        clearTimeout(long);
        order.push("1000 ms");
        resolve();
      }, 1000);
    });
    assert.deepEqual(order, ["2^31 ms", "1000 ms"]);
  }, 30_000);
});
