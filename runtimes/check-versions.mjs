#!/usr/bin/env node
// Checks that the npm and JSR manifests agree: package.json and deno.json carry the same version,
// license and entry points (every deno.json export has an npm subpath of the same name), and
// CHANGELOG.md has a section for that version. Exits 1 with one line per problem.
//
//   node runtimes/check-versions.mjs
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Returns the problems found in `root` (empty when the manifests agree). */
export function checkVersions(root = ROOT) {
  const read = (name) => JSON.parse(readFileSync(join(root, name), "utf8"));
  const pkg = read("package.json");
  const deno = read("deno.json");
  const problems = [];
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(pkg.version ?? "")) {
    problems.push(`package.json version "${pkg.version}" is not semver`);
  }
  if (pkg.version !== deno.version) {
    problems.push(`version: package.json has "${pkg.version}", deno.json has "${deno.version}"`);
  }
  if (pkg.license !== deno.license) {
    problems.push(`license: package.json has "${pkg.license}", deno.json has "${deno.license}"`);
  }
  const denoExports = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports ?? {};
  for (const subpath of Object.keys(denoExports)) {
    if (!pkg.exports?.[subpath]) problems.push(`deno.json exports "${subpath}" but package.json does not`);
  }
  let changelog = "";
  try {
    changelog = readFileSync(join(root, "CHANGELOG.md"), "utf8");
  } catch {
    problems.push("CHANGELOG.md is missing");
  }
  const escaped = String(pkg.version).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  if (changelog && !new RegExp(`^## \\[?${escaped}\\]?`, "m").test(changelog)) {
    problems.push(`CHANGELOG.md has no "## ${pkg.version}" section`);
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkVersions();
  for (const p of problems) console.error(`check-versions: ${p}`);
  if (problems.length) process.exit(1);
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  console.log(`check-versions: package.json and deno.json agree on ${version}`);
}
