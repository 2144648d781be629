// The code blocks in src/'s JSDoc (@example) are what JSR and editors show users: they must type-check.
// runtimes/check-examples.mjs runs `deno check --doc` over every src file (npm run check:examples).
// Runs on node20 only: the check is static, one runtime is enough (the deno binary does the work).
//
// PENDING lists the errors of examples known to fail (none now); the test asserts the list EXACTLY, so
// a newly broken example fails it, and so does a fixed one (remove it from PENDING). Keys are
// "file code message", without lines, so edits above an example do not break the test;
// `node runtimes/check-examples.mjs` prints file:line for each.
//
// Writing an example that passes: import what it uses from the package entry ("graceful-serve", ...),
// create what it needs or `declare const db: { end(): Promise<void> };` what lives outside the package.
// deno check --doc (2.9) moves a block's `export default <expression>` to the top and wraps the rest in
// a function, so `const app = ...; export default app;` reads `app` before its declaration (TS2448):
// write `export { app as default };`, which it checks as written. `Bun` has no types under deno check:
// a module-local `declare const Bun: { serve(...): ... }` shadows the global (valid with @types/bun too).
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

/**
 * Known failing examples: none (issue 14 made every one a program a user can paste). The list stays so
 * an example that cannot be fixed at once is named here, with why, rather than the check switched off.
 */
const PENDING: string[] = [];

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
