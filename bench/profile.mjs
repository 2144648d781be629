#!/usr/bin/env node
// A CPU profile of one server of bench/node-bridge.mjs under wrk load, summarised per function as µs
// per request (self time, and total time with callees), to find what a request costs beyond the floor.
//
//   node bench/profile.mjs [--node 20|24] [--impl gs] [--vs floor] [--shape async] [--seconds 5] [--top 25]
//                          [--keep DIR]
//
// The server runs under `node --cpu-prof` pinned to CPU 0, wrk -t1 -c32 pinned to CPU 1; SIGTERM makes
// the child exit normally so Node writes the profile. With --vs, a second server (e.g. the floor) is
// profiled in the same window, both loaded at once (bench/lib/together.mjs), and a per-function
// difference is printed: two profiles taken one after the other differ by ±30 % on this kind of
// machine (the whole request, kernel write included), which drowns the 1 µs items looked for.
// Run through /work/bin/gs-bench.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { options } from "./lib/args.mjs";
import { installCleanup } from "./lib/proc.mjs";
import { measureTogether } from "./lib/together.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const USAGE = "node bench/profile.mjs [--node 20|24] [--impl gs] [--vs floor] [--shape async] [--seconds 5] " +
  "[--top 25] [--keep DIR]";
const opt = options({
  node: { type: "string", default: "24" },
  impl: { type: "string", default: "gs" },
  vs: { type: "string" },
  shape: { type: "string", default: "async" },
  seconds: { type: "number", default: 5 },
  top: { type: "number", default: 25 },
  keep: { type: "string" },
}, USAGE);

installCleanup();
const node = opt.node === "20"
  ? "/usr/bin/node"
  : spawnSync(process.execPath, [join(ROOT, "runtimes", "node24.mjs")], { encoding: "utf8" }).stdout.trim();
const top = opt.keep ? resolve(opt.keep) : mkdtempSync(join(tmpdir(), "gs-prof-"));

function startProfiled(impl, dir) {
  mkdirSync(dir, { recursive: true });
  const child = spawn("taskset", [
    "-c",
    "0",
    node,
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    "--cpu-prof-interval=100",
    join(HERE, "node-bridge.mjs"),
    "--serve",
    impl,
    opt.shape,
  ], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_EXIT_ON_SIGTERM: "1" } });
  const port = new Promise((ok, fail) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /"port":(\d+)/.exec(buf);
      if (m) ok(Number(m[1]));
    });
    child.once("exit", (code) => fail(new Error(`${impl}: server exited ${code}`)));
  });
  return { impl, dir, child, port };
}

const impls = opt.vs ? [opt.impl, opt.vs] : [opt.impl];
const servers = impls.map((impl, i) => startProfiled(impl, join(top, `${i}-${impl}`)));
const targets = await Promise.all(servers.map(async (s) => ({ port: await s.port, pid: s.child.pid })));
const load = { connections: 32, cpu: 1 };
const warm = await measureTogether(targets, { ...load, seconds: 1 });
const run = await measureTogether(targets, { ...load, seconds: opt.seconds });
for (const s of servers) s.child.kill("SIGTERM");
await Promise.all(servers.map((s) => new Promise((ok) => s.child.once("exit", ok))));

const keyOf = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^file:\/\//, "").replace(ROOT + "/", "")}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};

/**
 * Self and total µs per request per function. Each sample weighs the time since the previous one
 * (timeDeltas, µs): on a loaded VM the sampling interval is not what was asked. Per request = over
 * every request served, warm-up included; start-up is counted too, so read request-path functions.
 */
function summarise(dir, requests) {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  profile.samples.forEach((id, i) => hits.set(id, (hits.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  const self = new Map();
  let total = 0;
  for (const [id, us] of hits) {
    const key = keyOf(byId.get(id));
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
  // Total time: each sample counted once for every distinct function on its stack.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map();
  for (const [id, us] of hits) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(byId.get(at)));
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
  const perReq = (m) => new Map([...m].map(([k, us]) => [k, us / requests]));
  const busy = total - (self.get("(idle)") ?? 0);
  return { file: join(dir, file), busy: busy / requests, self: perReq(self), inclusive: perReq(inclusive) };
}

const skip = new Set(["(root)", "(idle)", "(program)", "(garbage collector)"]);
const fmt = (x) => x.toFixed(2).padStart(7);
const summaries = servers.map((s, i) => summarise(s.dir, warm[i].requests + run[i].requests));
for (const [i, s] of summaries.entries()) {
  console.log(
    `node ${opt.node} ${impls[i]}/${opt.shape}: ${run[i].rps.toFixed(0)} req/s; ${fmt(s.busy)} µs/req non-idle ` +
      `profile time; profile: ${s.file}`,
  );
}
if (summaries.length === 1) {
  const [s] = summaries;
  for (
    const [title, m, filter] of [["self", s.self, (k) => k !== "(idle)"], [
      "total (with callees)",
      s.inclusive,
      (k) => !skip.has(k),
    ]]
  ) {
    console.log(`${title}, µs per request, top ${opt.top}:`);
    for (const [key, us] of [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, opt.top)) {
      console.log(`${fmt(us)}  ${key}`);
    }
  }
} else {
  const [a, b] = summaries;
  for (const [title, ma, mb] of [["self", a.self, b.self], ["total (with callees)", a.inclusive, b.inclusive]]) {
    console.log(
      `${title}, µs per request: ${impls[0]} − ${impls[1]} (${impls[0]}, ${impls[1]}), largest ${opt.top} each way:`,
    );
    const keys = new Set([...ma.keys(), ...mb.keys()]);
    keys.delete("(idle)");
    const rows = [...keys].map((k) => [(ma.get(k) ?? 0) - (mb.get(k) ?? 0), k]).sort((x, y) => y[0] - x[0]);
    const show = ([d, k]) =>
      console.log(`${(d >= 0 ? "+" : "") + d.toFixed(2)} (${fmt(ma.get(k) ?? 0)}, ${fmt(mb.get(k) ?? 0)})  ${k}`);
    rows.slice(0, opt.top).forEach(show);
    console.log("  …");
    rows.slice(-Math.min(opt.top, 10)).forEach(show);
  }
}
