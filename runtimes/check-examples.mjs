#!/usr/bin/env node
// Type-checks the code blocks of the JSDoc comments in src/ (the @example blocks JSR and editors show
// users): `deno check --doc` checks each ```ts block of each file it is given as a module of its own,
// next to the file (`deno check` without --doc checks only the code; with the entry points alone it
// checks only their own comments, not those of the modules they re-export, so every src file is given).
// Prints one line per error: `file:line TSnnnn message` (line: the block's first code line).
//
//   node runtimes/check-examples.mjs [--json] [files...]   (default: every .ts file under src/)
//
// Exits 1 when any block fails (with --json: prints the list as JSON and exits 0 unless deno itself
// failed to run). test/jsdoc-examples.test.ts runs it and compares the list with the pending ones.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const argv = process.argv.slice(2);
const json = argv.includes("--json");
const given = argv.filter((a) => !a.startsWith("--"));

function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}
const files = given.length ? given.map((f) => resolve(f)) : walk(join(ROOT, "src")).sort();

const run = spawnSync(DENO, ["check", "--doc", "--quiet", ...files], {
  cwd: ROOT,
  encoding: "utf8",
  env: { ...process.env, NO_COLOR: "1" },
  maxBuffer: 64 << 20,
});
if (run.error) throw run.error;
const output = run.stdout + run.stderr;

/**
 * deno prints each error as "TSnnnn [ERROR]: message" (or "error: SyntaxError: message"), the source
 * line, then "    at file:///…/src/x.ts#A-B.ts:L:C" where A-B are the lines of the block's fences;
 * related information ("'x' is declared here.") follows, indented further, and is not an error.
 */
function parse(text) {
  const errors = [];
  let pending;
  for (const line of text.split("\n")) {
    const head = /^(?:(TS\d+) \[ERROR\]|error): (.*)$/.exec(line);
    if (head) {
      pending = { code: head[1] ?? "error", message: head[2] };
      continue;
    }
    const at = /^ {4}at (file:\/\/\S+?)#(\d+)-(\d+)\.\w+:\d+:\d+$/.exec(line);
    if (at && pending) {
      const file = relative(ROOT, fileURLToPath(at[1])).split("\\").join("/");
      errors.push({ file, line: Number(at[2]) + 1, code: pending.code, message: pending.message });
      pending = undefined;
    } else if (pending && /^ {4}at /.test(line)) {
      // An error in the file's own code (no #block): --doc also checks the code.
      const plain = /^ {4}at (file:\/\/\S+?):(\d+):\d+$/.exec(line);
      if (plain) {
        const file = relative(ROOT, fileURLToPath(plain[1])).split("\\").join("/");
        errors.push({ file, line: Number(plain[2]), code: pending.code, message: pending.message });
      }
      pending = undefined;
    }
  }
  return errors;
}
const errors = parse(output);

if (run.status !== 0 && errors.length === 0) {
  // deno failed without an error we can read (a missing binary, a config error): never report "clean".
  process.stderr.write(output);
  process.exit(2);
}
if (json) {
  process.stdout.write(JSON.stringify(errors, null, 2) + "\n");
  process.exit(0);
}
for (const e of errors) console.log(`${e.file}:${e.line} ${e.code} ${e.message}`);
console.log(
  errors.length
    ? `${errors.length} errors in JSDoc code blocks`
    : `JSDoc code blocks of ${files.length} files type-check`,
);
process.exit(errors.length ? 1 : 0);
