#!/usr/bin/env node
// A CPU profile of one server of bench/node-bridge.mjs under wrk load, summarised as self time per
// function (top N), to find what a request costs beyond the floor.
//
//   node bench/profile.mjs [--node 20|24] [--impl gs] [--shape async] [--seconds 5] [--top 25] [--keep DIR]
//
// The server runs under `node --cpu-prof` pinned to CPU 0, wrk -t1 -c32 pinned to CPU 1; SIGTERM makes
// the child exit normally so Node writes the profile. Run through /work/bin/gs-bench.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { options } from "./lib/args.mjs";
import { installCleanup } from "./lib/proc.mjs";
import { wrk } from "./lib/wrk.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const opt = options({
  node: { type: "string", default: "24" },
  impl: { type: "string", default: "gs" },
  shape: { type: "string", default: "async" },
  seconds: { type: "number", default: 5 },
  top: { type: "number", default: 25 },
  keep: { type: "string" },
}, "node bench/profile.mjs [--node 20|24] [--impl gs] [--shape async] [--seconds 5] [--top 25] [--keep DIR]");

installCleanup();
const node = opt.node === "20"
  ? "/usr/bin/node"
  : spawnSync(process.execPath, [join(ROOT, "runtimes", "node24.mjs")], { encoding: "utf8" }).stdout.trim();
const dir = opt.keep ? resolve(opt.keep) : mkdtempSync(join(tmpdir(), "gs-prof-"));
const child = spawn("taskset", [
  "-c",
  "0",
  node,
  "--cpu-prof",
  `--cpu-prof-dir=${dir}`,
  "--cpu-prof-interval=100",
  join(HERE, "node-bridge.mjs"),
  "--serve",
  opt.impl,
  opt.shape,
], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_EXIT_ON_SIGTERM: "1" } });
const port = await new Promise((ok, fail) => {
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    const m = /"port":(\d+)/.exec(buf);
    if (m) ok(Number(m[1]));
  });
  child.once("exit", (code) => fail(new Error(`server exited ${code}`)));
});
const warm = await wrk(port, { seconds: 1, connections: 32, cpu: 1 });
const r = await wrk(port, { seconds: opt.seconds, connections: 32, cpu: 1 });
child.kill("SIGTERM");
await new Promise((ok) => child.once("exit", ok));
const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
const requests = warm.requests + r.requests;

// Each sample weighs the time since the previous one (timeDeltas, µs): on a loaded VM the sampling
// interval is not what was asked, so counts alone would not compare across runs. µs per request =
// that time over every request served (warm-up included; start-up is counted too, so read the
// per-request figures of request-path functions only).
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
profile.samples.forEach((id, i) => hits.set(id, (hits.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
const keyOf = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\//, "").replace(ROOT + "/", "")}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};
// Self time per function (grouped by name + location).
const self = new Map();
let total = 0;
for (const [id, us] of hits) {
  const key = keyOf(byId.get(id));
  self.set(key, (self.get(key) ?? 0) + us);
  total += us;
}
const busy = total - (self.get("(idle)") ?? 0);
const line = (key, us) =>
  `${((100 * us) / busy).toFixed(1).padStart(5)} % ${(us / requests).toFixed(2).padStart(7)} µs/req  ${key}`;
console.log(
  `node ${opt.node} ${opt.impl}/${opt.shape}: ${r.rps.toFixed(0)} req/s; ${requests} requests; ` +
    `${(busy / requests).toFixed(2)} µs CPU (non-idle JS profile time) per request; self time:`,
);
for (const [key, us] of [...self].filter(([k]) => k !== "(idle)").sort((a, b) => b[1] - a[1]).slice(0, opt.top)) {
  console.log(line(key, us));
}

// Total (inclusive) time per function: each sample counted once for every distinct function on its
// stack, so what a bridge function costs with everything it calls (writeHead, the Headers iterator…).
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
for (const [id, us] of hits) {
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(byId.get(at)));
  for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
}
console.log(`total time (with callees), top ${opt.top}:`);
const skip = new Set(["(root)", "(idle)", "(program)", "(garbage collector)"]);
for (const [key, us] of [...inclusive].filter(([k]) => !skip.has(k)).sort((a, b) => b[1] - a[1]).slice(0, opt.top)) {
  console.log(line(key, us));
}
console.log(`profile: ${join(dir, file)}`);
