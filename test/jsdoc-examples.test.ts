// The code blocks in src/'s JSDoc (@example) are what JSR and editors show users: they must type-check.
// runtimes/check-examples.mjs runs `deno check --doc` over every src file (npm run check:examples).
// Runs on node20 only: the check is static, one runtime is enough (the deno binary does the work).
//
// PENDING lists the errors of examples in files other helpers are restructuring right now (issue 14);
// the test asserts the list EXACTLY, so a newly broken example fails it, and so does a fixed one
// (remove it from PENDING). Keys are "file code message", without lines, so edits above an example do
// not break the test; `node runtimes/check-examples.mjs` prints file:line for each.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { root } from "./_helpers/runtime.ts";

const SCRIPT = path.join(root, "runtimes", "check-examples.mjs");
const onNode20 = runtime === "node" && (process.env.GS_RUNTIME ?? "node20") === "node20";
const T = 120_000;

interface ExampleError {
  file: string;
  line: number;
  code: string;
  message: string;
}

function check(files: string[] = []): ExampleError[] {
  const out = execFileSync(process.execPath, [SCRIPT, "--json", ...files], { cwd: root, encoding: "utf8" });
  return JSON.parse(out) as ExampleError[];
}

const key = (e: ExampleError) => `${e.file} ${e.code} ${e.message}`;

/** Known failing examples, by file (each owned by a helper restructuring it; see the report of issue 14). */
const PENDING: string[] = [
  // A block that uses a name it does not declare (`server`, `request`, `db`, `queue`, ...).
  ...Array(7).fill("src/core/lifecycle.ts TS2304 Cannot find name 'server'."),
  "src/core/lifecycle.ts TS7006 Parameter 'event' implicitly has an 'any' type.",
  ...Array(3).fill("src/core/lifecycle.ts TS2304 Cannot find name 'myServer'."),
  ...Array(2).fill("src/core/lifecycle.ts TS2552 Cannot find name 'request'. Did you mean 'Request'?"),
  "src/core/lifecycle.ts TS1108 A 'return' statement can only be used within a function body.",
  "src/core/lifecycle.ts TS2304 Cannot find name 'db'.",
  ...Array(3).fill("src/core/lifecycle.ts TS2304 Cannot find name 'queue'."),
  ...Array(2).fill("src/core/signals.ts TS2304 Cannot find name 'lifecycle'."),
  "src/core/signals.ts TS2304 Cannot find name 'server'.",
  "src/core/signals.ts TS2304 Cannot find name 'platform'.",
  "src/core/signals.ts TS2304 Cannot find name 'reload'.",
  "src/restart/restart.ts TS2304 Cannot find name 'server'.",
  "src/serve/attach.ts TS2304 Cannot find name 'pool'.",
  "src/serve/attach.ts TS2868 Cannot find name 'Bun'. Do you need to install type definitions for Bun? Try `npm i --save-dev @types/bun` and then add 'bun' to the types field in your tsconfig.",
  // deno check --doc moves a block's imports and exports to the top and wraps the rest in a function:
  // `const app = ...; export default app;` then reads `app` before its declaration.
  "src/serve/graceful.ts TS2448 Block-scoped variable 'options' used before its declaration.",
  "src/serve/graceful.ts TS2454 Variable 'options' is used before being assigned.",
  ...Array(3).fill("src/serve/graceful.ts TS2448 Block-scoped variable 'app' used before its declaration."),
  ...Array(3).fill("src/serve/graceful.ts TS2454 Variable 'app' is used before being assigned."),
  "src/serve/graceful.ts TS2304 Cannot find name 'flushMetrics'.",
  "src/serve/options.ts TS2304 Cannot find name 'audit'.",
  "src/serve/server.ts TS2304 Cannot find name 'serve'.",
];

describe.skipIf(!onNode20)("JSDoc examples type-check (deno check --doc)", () => {
  it("fails on a broken example and passes a sound one (the check itself works)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gs-examples-"));
    const file = path.join(dir, "sample.ts");
    fs.writeFileSync(
      file,
      [
        "/**",
        " * Doubles a number.",
        " *",
        " * @example",
        " * ```ts",
        " * const n: number = double(2);",
        " * ```",
        " * @example",
        " * ```ts",
        ' * const s: string = double("2");',
        " * ```",
        " */",
        "export function double(n: number): number {",
        "  return n * 2;",
        "}",
        "",
      ].join("\n"),
    );
    const errors = check([file]);
    assert.deepEqual(
      errors.map((e) => [e.line, e.code]).sort(),
      [[10, "TS2322"], [10, "TS2345"]],
      JSON.stringify(errors),
    );
    // The exit code of the plain command says the same (npm run check:examples).
    const plain = spawnSync(process.execPath, [SCRIPT, file], { encoding: "utf8" });
    assert.equal(plain.status, 1, plain.stdout + plain.stderr);
    assert.match(plain.stdout, /sample\.ts:10 TS2345/);
  }, T);

  it("every @example in src/ type-checks, but for the pending list (exactly)", () => {
    const errors = check();
    const found = errors.map(key).sort();
    const pending = [...PENDING].sort();
    const lines = (list: string[]) => list.map((k) => errors.find((e) => key(e) === k)).filter(Boolean);
    const added = found.filter((k, i, all) => count(all, k) > count(pending, k) && all.indexOf(k) === i);
    const fixed = pending.filter((k, i, all) => count(all, k) > count(found, k) && all.indexOf(k) === i);
    assert.deepEqual(
      { added, fixed },
      { added: [], fixed: [] },
      `newly failing: ${JSON.stringify(lines(added).map((e) => `${e!.file}:${e!.line} ${e!.code} ${e!.message}`))}` +
        " (fix the example); fixed: remove from PENDING",
    );
    assert.deepEqual(found, pending);
  }, T);
});

function count(list: string[], k: string): number {
  return list.filter((x) => x === k).length;
}
