#!/usr/bin/env node
// Memory soak (issue 11): heap after forced GC, before and after ≥ 300 000 requests, for every runtime
// × entry (serve, attach, graceful) × handler shape (sync, async, stream, hono). Goal: < 2 MiB growth.
//
//   node bench/memory.mjs [--only node20,node24,deno,bun] [--entries serve,attach,graceful]
//                         [--shapes sync,async,stream,hono] [--requests 300000] [--md FILE] [--json FILE]
//
// Each cell: fresh server pinned to CPU 0 (taskset), wrk pinned to CPU 1 against 127.0.0.1; 20 000
// warm-up requests, a GC'd heap sample, then wrk until the server counted ≥ --requests more, another
// sample. Rows are appended to --json (merged by key) and the whole table re-rendered into --md, so the
// matrix can be filled by several runs of < 5 min each (`gs-bench`).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { canPin, installCleanup, start, stop } from "./lib/proc.mjs";
import { ensureWrk, wrk } from "./lib/wrk.mjs";
import { options } from "./lib/args.mjs";
import { readJsonLines } from "../test/_helpers/json-lines.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const SERVER = join(HERE, "web-server.mjs");
const BIN = join(ROOT, "node_modules", ".bin");
const opt = options({
  only: { type: "list", default: ["node20", "node24", "deno", "bun"] },
  entries: { type: "list", default: ["serve", "attach", "graceful"] },
  shapes: { type: "list", default: ["sync", "async", "stream", "hono"] },
  requests: { type: "number", default: 300_000 },
  md: { type: "string", default: join(HERE, "results", "memory.md") },
  json: { type: "string", default: join(HERE, "results", "memory.json") },
}, "node bench/memory.mjs [--only node20,node24,deno,bun] [--entries serve,attach,graceful] " +
  "[--shapes sync,async,stream,hono] [--requests 300000] [--md FILE] [--json FILE]");
const RUNTIMES = opt.only;
const ENTRIES = opt.entries;
const SHAPES = opt.shapes;
const REQUESTS = opt.requests;
const WARM = 20_000;
const MD = resolve(opt.md);
const JSON_OUT = resolve(opt.json);
const node24 = RUNTIMES.includes("node24") ? (await import(join(ROOT, "runtimes", "node24.mjs"))).ensureNode24() : "";
const PIN = os.cpus().length >= 2 && canPin();
const log = (...a) => console.error(...a);

function runtimeCommand(name) {
  if (name === "node20" || name === "node24") {
    const bin = name === "node20" ? process.execPath : node24;
    if (!bin.includes("node") || (name === "node20" && !process.version.startsWith("v20."))) {
      throw new Error(`${name}: run this script with Node 20 (node20 uses process.execPath)`);
    }
    return { bin, args: ["--expose-gc", SERVER], entry: join(ROOT, "dist", "index.js") };
  }
  if (name === "deno") {
    return { bin: join(BIN, "deno"), args: ["run", "-A", "--no-config", "--v8-flags=--expose-gc", SERVER], entry: join(ROOT, "src", "mod.ts") };
  }
  return { bin: join(BIN, "bun"), args: [SERVER], entry: join(ROOT, "src", "mod.ts") };
}

function events(child) {
  const queue = [];
  let waiters = [];
  readJsonLines(child.stdout, (event) => {
    if (event.event === "stdout") return; // not one of the server's JSON events
    queue.push(event);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  return (name) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const i = queue.findIndex((e) => e.event === name || e.event === "error");
        if (i >= 0) {
          const [e] = queue.splice(i, 1);
          return e.event === "error" ? reject(new Error(e.message)) : resolve(e);
        }
        waiters.push(check);
      };
      check();
    });
}

async function cell(runtime, entry, shape) {
  const rt = runtimeCommand(runtime);
  const child = start(rt.bin, rt.args, {
    cwd: ROOT,
    cpu: PIN ? 0 : undefined,
    stdin: true,
    env: { ...process.env, BENCH_IMPL: entry, BENCH_SHAPE: shape, BENCH_ENTRY: rt.entry, BENCH_ROOT: ROOT, NO_COLOR: "1" },
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const next = events(child);
  try {
    const { port } = await next("ready");
    const mem = async () => {
      child.stdin.write("mem\n");
      return next("mem");
    };
    const load = async (until) => {
      // Bounded: at most 40 rounds of 4 s.
      for (let i = 0; i < 40; i++) {
        await wrk(port, { seconds: 4, connections: 20, cpu: PIN ? 1 : undefined });
        const m = await mem();
        if (m.count >= until) return m;
      }
      throw new Error(`fewer than ${until} requests served`);
    };
    const warm = await load(WARM);
    const before = await mem();
    const after = await load(before.count + REQUESTS);
    if (!after.gc) throw new Error("no forced GC in the server");
    return {
      runtime, entry, shape,
      requests: after.count - before.count,
      heapBefore: before.heapUsed, heapAfter: after.heapUsed, growth: after.heapUsed - before.heapUsed,
      rssGrowth: after.rss - before.rss, warmCount: warm.count,
    };
  } catch (error) {
    throw new Error(`${runtime} ${entry} ${shape}: ${error.message}\n${stderr}`);
  } finally {
    await stop(child);
  }
}

const MiB = (b) => (b / 1048576).toFixed(2);
function render(rows) {
  const order = ["node20", "node24", "deno", "bun"];
  const sorted = Object.values(rows).sort((a, b) =>
    order.indexOf(a.runtime) - order.indexOf(b.runtime) || a.entry.localeCompare(b.entry) ||
    ["sync", "async", "stream", "hono"].indexOf(a.shape) - ["sync", "async", "stream", "hono"].indexOf(b.shape)
  );
  const lines = [
    "# Memory per request (issue 11)",
    "",
    "`node bench/memory.mjs` — heap after forced GC (Node `--expose-gc`, Deno `--v8-flags=--expose-gc`,",
    "`Bun.gc(true)`) after 20 000 warm-up requests, and again after ≥ 300 000 more (wrk -t1 -c20 against",
    "127.0.0.1; server and wrk pinned to separate cores). Goal: growth < 2 MiB. Node's `attach` and",
    "`graceful` run behind a minimal node:http → Request bridge (bench/web-server.mjs).",
    "",
    "| runtime | entry | handler | requests | heap before (MiB) | heap after (MiB) | growth (MiB) | per request (B) | RSS growth (MiB) | goal |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of sorted) {
    lines.push(
      `| ${r.runtime} | ${r.entry} | ${r.shape} | ${r.requests} | ${MiB(r.heapBefore)} | ${MiB(r.heapAfter)} | ${MiB(r.growth)} | ${
        Math.max(0, r.growth / r.requests).toFixed(1)
      } | ${MiB(r.rssGrowth)} | ${r.growth < 2 * 1048576 ? "met" : "**missed**"} |`,
    );
  }
  return lines.join("\n") + "\n";
}

installCleanup();
ensureWrk(log);
const rows = existsSync(JSON_OUT) ? JSON.parse(readFileSync(JSON_OUT, "utf8")) : {};
let failed = 0;
for (const runtime of RUNTIMES) {
  for (const entry of ENTRIES) {
    for (const shape of SHAPES) {
      const t0 = performance.now();
      try {
        const row = await cell(runtime, entry, shape);
        row.at = new Date().toISOString();
        rows[`${runtime}/${entry}/${shape}`] = row;
        log(`${runtime} ${entry} ${shape}: +${MiB(row.growth)} MiB over ${row.requests} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      } catch (error) {
        failed++;
        log(String(error.message ?? error));
      }
      writeFileSync(JSON_OUT, JSON.stringify(rows, null, 2) + "\n");
      writeFileSync(MD, render(rows));
    }
  }
}
process.stdout.write(render(rows));
process.exit(failed ? 1 : 0);
