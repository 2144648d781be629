#!/usr/bin/env node
// Lists the public API's documentation gaps, as JSR scores them: every symbol exported from a
// deno.json entry point should have JSDoc with an @example, and each entry point a module doc.
// Uses `deno doc --json` (offline). Prints one line per gap as file:line; exits 1 with --strict when
// there is any gap (missing JSDoc on members is what `deno doc --lint` reports, run with --lint).
//
//   node runtimes/check-jsdoc.mjs [--strict] [--lint]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const strict = process.argv.includes("--strict");
const lint = process.argv.includes("--lint");

const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
const entries = Object.values(typeof config.exports === "string" ? { ".": config.exports } : config.exports);
const json = execFileSync(DENO, ["doc", "--json", ...entries], {
  cwd: ROOT,
  encoding: "utf8",
  maxBuffer: 64 << 20,
  stdio: ["ignore", "pipe", "ignore"], // deno doc warns about unresolvable @types/node internals
});
const doc = JSON.parse(json);

const where = (loc) => `${relative(ROOT, fileURLToPath(loc.filename))}:${loc.line + 1}`; // deno doc lines are 0-based
const gaps = new Map(); // "file:line name" -> problem
for (const [file, node] of Object.entries(doc.nodes)) {
  if (!node.module_doc?.doc) gaps.set(`${relative(ROOT, fileURLToPath(file))}:1 (module)`, "no module doc (@module)");
  for (const symbol of node.symbols ?? []) {
    for (const decl of symbol.declarations ?? []) {
      if (decl.kind === "reference" || decl.kind === "import") continue; // re-export: judged where declared
      const tags = (decl.jsDoc?.tags ?? []).map((t) => t.kind);
      const key = `${where(decl.location)} ${symbol.name}`;
      if (!decl.jsDoc?.doc) gaps.set(key, "no JSDoc");
      else if (!tags.includes("example")) gaps.set(key, "no @example");
    }
  }
}
for (const [key, problem] of [...gaps].sort()) console.log(`${key}: ${problem}`);
console.log(`check-jsdoc: ${gaps.size} exported symbol(s) with gaps in ${entries.join(", ")}`);

let lintFailed = false;
if (lint) {
  try {
    execFileSync(DENO, ["doc", "--lint", ...entries], {
      cwd: ROOT,
      stdio: "inherit",
      env: { ...process.env, NO_COLOR: "1" },
    });
  } catch {
    lintFailed = true;
  }
}
if (strict && (gaps.size > 0 || lintFailed)) process.exit(1);
