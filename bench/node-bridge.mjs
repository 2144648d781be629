#!/usr/bin/env node
// Issue 10: what the Node bridge costs with the handler shapes users write, against the floor a
// bridge with native globals cannot go below, and against the peers (srvx, @hono/node-server).
//
//   node bench/node-bridge.mjs [--node 20|24|both] [--rounds 3] [--seconds 2] [--shapes a,b] [--no-pin]
//                              [--mode pair|together|alone] [--out bench/results/node-bridge.md] [--label text]
//
// Each shape starts one server per implementation (pinned to CPU 0) and warms them up. --mode pair
// (default): each round loads the first row (the floor) together with one other server at a time,
// one `wrk -t1 -c32` each (pinned to CPU 1), the others in rotated order; each ratio is taken inside
// its own window, so the machine's speed swings cancel (bench/lib/together.mjs) while only two
// servers share the core. --mode together: all servers of a shape at once (4–5 Node processes on one
// core: every request runs with the others' data in the caches, which inflated the floor's CPU cost
// 3–4× and so moved the ratios; kept for comparison). --mode alone: one after the other in
// interleaved order (A B C, B C A, …). Two metrics per round: req/s and the
// server's CPU µs per request (bench/lib/cpu.mjs); ratios are taken per round against the first row
// (CPU: its µs ÷ the row's µs, so higher is better for both) and the median is reported.
//
// BENCH_IMPLS=a,b,… keeps only those implementations; BENCH_BASE=floor,raw makes the first of those a
// shape has the base of its ratios. Default base (issue 10's yardsticks, read as the issue defines
// them: "the cost no bridge with native globals can avoid"): floor-await for the async and json
// shapes, raw-ct for the fast shape, floor for the others. Each does what any bridge must do for that
// handler — run it (and await it when it is async), send the head its Response carries, write the
// body — with the body's string at hand instead of read out of the Response.
//
// Implementations:
//   floor        raw node:http that builds the same Response per request (new Response(str) /
//                Response.json(obj) / the stream) synchronously and writes the string with
//                res.end(str), for text without the content-type the Response carries: the
//                constructor cost no bridge with native globals can avoid, and a lower bound for an
//                async handler (it skips the handler's promise and one header).
//   raw          raw node:http res.end("hello") with no Response and no header at all.
//   floor-await  (async and json shapes: their base) raw node:http that awaits the same async
//                handler, sets the content-type its Response carries (text/plain;charset=UTF-8 or
//                application/json) and writes the string with res.end(str): the floor plus the
//                handler's own promise and the head the Response asks for.
//   floor-ct     (sync and async shapes, only when BENCH_IMPLS names it) the floor that also sends the
//                Content-Type the Response carries (text/plain;charset=UTF-8), set the usual way
//                (res.setHeader, then res.end(str)) — the same head graceful-serve sends. The json
//                floor sends its content-type already; the plain floor sends none.
//   raw-ct       (fast shape: its base) raw with the Content-Type a FastResponse("hello") carries.
//   gs           graceful-serve serve() (dist/node.js of this checkout; build first: npx tsup).
//   gs-before    the same from $BEFORE_DIST (a build of an earlier commit), for before/after in one run.
//   srvx         srvx serve() (global Response kept).
//   hns          @hono/node-server serve({ overrideGlobalObjects: false }) (native globals kept).
//   hns-default  @hono/node-server serve() with its default global override (hono shape only).
//
// @hono/node-server is found in node_modules or under $HNS_DIR (a directory with
// node_modules/@hono/node-server, e.g. an `npm pack` extracted into /tmp); without it those rows
// are skipped. Run through /work/bin/gs-bench (exclusive CPU).
//
// Child mode (internal): node bench/node-bridge.mjs --serve <impl> <shape>
import { spawn, spawnSync } from "node:child_process";
import { median, options } from "./lib/args.mjs";
import { cpuPerRequest } from "./lib/cpu.mjs";
import { installCleanup } from "./lib/proc.mjs";
import { measureTogether } from "./lib/together.mjs";
import { wrk } from "./lib/wrk.mjs";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const argv = process.argv.slice(2);

// ------------------------------------------------------------------------------------------ shapes
const OBJ = { hello: "world", n: 1, list: [1, 2, 3] };
const POST_BODY = JSON.stringify({ name: "bench", items: [1, 2, 3], nested: { ok: true } });
const TEXT = "hello";
/** The content-type `new Response(TEXT)` carries (Fetch: a string body), which graceful-serve sends. */
const TEXT_TYPE = "text/plain;charset=UTF-8";

function hnsPath() {
  const dirs = [process.env.HNS_DIR, ROOT].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, "node_modules", "@hono", "node-server", "dist", "index.mjs");
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The Web handler for a shape, written as a user would. `R` is the Response class. */
function handlerFor(shape, R) {
  const enc = new TextEncoder();
  switch (shape) {
    case "sync":
      return (_request) => new R(TEXT);
    case "async":
      return async (_request) => new R(TEXT);
    case "json":
      return async (_request) => R.json(OBJ);
    case "headers":
      return async (_request) =>
        new R(TEXT, { headers: { "content-type": "text/plain", "cache-control": "no-store", "x-id": "1" } });
    case "stream":
      return async (_request) =>
        new R(
          new ReadableStream({
            start(c) {
              c.enqueue(enc.encode(TEXT));
              c.close();
            },
          }),
        );
    case "post":
      return async (request) => {
        const body = await request.json();
        return R.json({ got: body.items.length });
      };
    case "fast":
      return (_request) => new R(TEXT);
    default:
      throw new Error(`unknown shape ${shape}`);
  }
}

async function honoApp() {
  const { Hono } = await import(pathToFileURL(createRequire(join(ROOT, "package.json")).resolve("hono")).href);
  const app = new Hono();
  app.get("/", (c) => c.text(TEXT));
  app.get("/json", (c) => c.json(OBJ));
  app.post("/", async (c) => c.json({ got: (await c.req.json()).items.length }));
  return app;
}

// ----------------------------------------------------------------------------------- child: serve
async function serveChild(impl, shape) {
  const http = await import("node:http");
  // bench/profile.mjs: exit normally on SIGTERM, so that --cpu-prof writes the profile.
  if (process.env.BENCH_EXIT_ON_SIGTERM) process.once("SIGTERM", () => process.exit(0));
  const ready = (port) => process.stdout.write(JSON.stringify({ event: "ready", port }) + "\n");
  if (impl === "floor-await") {
    // The floor with the same async handler the bridges run: `await` it, then write its head and the
    // string raw. What a bridge costs beyond that is its own; the rest of the gap to "floor" is the
    // handler's promise and the microtask it resolves in, which any server pays for an async
    // handler, and the content-type header the Response carries, which any bridge sends.
    const handler = handlerFor(shape, Response);
    const server = http.createServer(async (req, res) => {
      await handler(req);
      res.setHeader("content-type", shape === "json" ? "application/json" : TEXT_TYPE);
      res.end(shape === "json" ? JSON.stringify(OBJ) : TEXT);
    });
    server.listen(0, HOST, () => ready(server.address().port));
    return;
  }
  if (impl === "floor" || impl === "raw" || impl === "floor-ct" || impl === "raw-ct") {
    let listener;
    if (impl === "raw") {
      listener = (_req, res) => res.end(TEXT);
    } else if (impl === "raw-ct") {
      listener = (_req, res) => {
        res.setHeader("content-type", TEXT_TYPE);
        res.end(TEXT);
      };
    } else if (impl === "floor-ct") {
      listener = (_req, res) => {
        new Response(TEXT);
        res.setHeader("content-type", TEXT_TYPE);
        res.end(TEXT);
      };
    } else if (shape === "json") {
      listener = (_req, res) => {
        Response.json(OBJ);
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(OBJ));
      };
    } else if (shape === "post") {
      listener = (req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          const body = JSON.parse(Buffer.concat(chunks).toString());
          const out = { got: body.items.length };
          Response.json(out);
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify(out));
        });
      };
    } else if (shape === "stream") {
      const enc = new TextEncoder();
      listener = (_req, res) => {
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(enc.encode(TEXT));
              c.close();
            },
          }),
        );
        res.end(TEXT);
      };
    } else if (shape === "hono") {
      const app = await honoApp();
      // The floor for a Hono app: the app itself answering a Request built once, string written raw.
      listener = async (req, res) => {
        await app.fetch(new Request(`http://${HOST}${req.url}`));
        res.end(TEXT);
      };
    } else {
      listener = (_req, res) => {
        new Response(TEXT);
        res.end(TEXT);
      };
    }
    const server = http.createServer(listener);
    server.listen(0, HOST, () => ready(server.address().port));
    return;
  }
  let fetch;
  if (shape === "hono") fetch = (await honoApp()).fetch;
  if (impl === "gs" || impl === "gs-before") {
    const dist = impl === "gs" ? join(ROOT, "dist") : process.env.BEFORE_DIST;
    const mod = await import(pathToFileURL(join(dist, "node.js")).href);
    fetch ??= handlerFor(shape, shape === "fast" ? mod.FastResponse : Response);
    const server = mod.serve({ port: 0, hostname: HOST, fetch, logger: false, signals: false });
    await server.ready();
    ready(server.port);
  } else if (impl === "srvx") {
    const { serve } = await import(
      pathToFileURL(join(ROOT, "node_modules", "srvx", "dist", "adapters", "node.mjs")).href
    );
    fetch ??= handlerFor(shape, Response);
    const server = serve({ port: 0, hostname: HOST, fetch, silent: true, gracefulShutdown: false });
    await server.ready();
    ready(Number(new URL(server.url).port));
  } else if (impl === "hns" || impl === "hns-default") {
    const { serve } = await import(pathToFileURL(hnsPath()).href);
    fetch ??= handlerFor(shape, Response);
    serve(
      { fetch, port: 0, hostname: HOST, overrideGlobalObjects: impl === "hns-default" },
      (info) => ready(info.port),
    );
  } else throw new Error(`unknown impl ${impl}`);
}

// ------------------------------------------------------------------------------------ parent: run
function canPin(noPin) {
  return !noPin && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
}

function startServer(node, impl, shape, pin) {
  const args = [fileURLToPath(import.meta.url), "--serve", impl, shape];
  const [cmd, a] = pin ? ["taskset", ["-c", "0", node, ...args]] : [node, args];
  const child = spawn(cmd, a, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env } });
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${impl}/${shape} did not start`)), 15_000);
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /"port":(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once("exit", (code) => reject(new Error(`${impl}/${shape} exited ${code}`)));
  });
}

let postScript;
function scriptFor(shape) {
  if (shape !== "post") return undefined;
  postScript ??= (() => {
    mkdirSync(join(ROOT, "bench", "results", "tmp"), { recursive: true });
    const p = join(ROOT, "bench", "results", "tmp", "node-bridge-post.lua");
    writeFileSync(
      p,
      `wrk.method = "POST"\nwrk.body = '${POST_BODY}'\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    return p;
  })();
  return postScript;
}

function nodeBinary(major) {
  if (major === "20") return "/usr/bin/node";
  return execText(process.execPath, [join(ROOT, "runtimes", "node24.mjs")]).trim();
}
function execText(cmd, args) {
  return spawnSync(cmd, args, { encoding: "utf8" }).stdout;
}

function implsFor(shape) {
  const all = implsForShape(shape);
  // BENCH_IMPLS=floor,gs,gs-before keeps only those (the first stays the ratio's base).
  const only = process.env.BENCH_IMPLS?.split(",");
  const kept = only ? all.filter((i) => only.includes(i) || i === all[0]) : all;
  // BENCH_BASE=floor-ct,raw-ct: the first of those this shape has becomes the ratios' base.
  const base = process.env.BENCH_BASE?.split(",").find((b) => kept.includes(b));
  return base === undefined ? kept : [base, ...kept.filter((i) => i !== base)];
}
function implsForShape(shape) {
  const hns = hnsPath() !== undefined;
  const before = process.env.BEFORE_DIST ? ["gs-before"] : [];
  const named = process.env.BENCH_IMPLS?.split(",") ?? [];
  // The base (first row) does the work the issue's yardstick names and nothing a bridge could skip:
  // FastResponse is measured against raw node:http sending the same head (raw-ct: the content-type a
  // string-bodied Response carries), an async handler against the floor running that same async
  // handler (floor-await). `raw` and `floor` (a head without that header, a handler not awaited)
  // stay beside them as the lower bounds they are.
  if (shape === "fast") return ["raw-ct", "gs", ...before, "raw"];
  const list = [shape === "async" || shape === "json" ? "floor-await" : "floor", "gs", ...before, "srvx"];
  if (list[0] !== "floor") list.push("floor");
  if ((shape === "sync" || shape === "async") && named.includes("floor-ct")) list.push("floor-ct");
  if (hns) list.push("hns");
  if (hns && shape === "hono") list.push("hns-default");
  return list;
}

async function measureShape(node, shape, { rounds, seconds, pin, mode }) {
  const impls = implsFor(shape);
  const servers = {};
  const load = { connections: 32, cpu: pin ? 1 : undefined, script: scriptFor(shape) };
  try {
    for (const impl of impls) servers[impl] = await startServer(node, impl, shape, pin);
    const targets = impls.map((impl) => ({ port: servers[impl].port, pid: servers[impl].child.pid }));
    await measureTogether(targets, { ...load, seconds: 1 }); // warm-up (JIT)
    const rps = Object.fromEntries(impls.map((i) => [i, []]));
    const cpu = Object.fromEntries(impls.map((i) => [i, []]));
    const absRps = Object.fromEntries(impls.map((i) => [i, []]));
    const absCpu = Object.fromEntries(impls.map((i) => [i, []]));
    const errors = {};
    for (let r = 0; r < rounds; r++) {
      let results;
      if (mode === "together") results = await measureTogether(targets, { ...load, seconds });
      else if (mode === "pair") {
        // The base and one other server at a time, loaded together (same window, only those two on
        // CPU 0), the others in rotated order; the base's numbers are its median over its windows.
        results = [];
        const base = [];
        const others = impls.slice(1).map((_, k) => 1 + ((k + r) % (impls.length - 1)));
        for (const k of others) {
          const [b, o] = await measureTogether([targets[0], targets[k]], { ...load, seconds });
          results[k] = { ...o, rps: o.rps / b.rps, cpuUs: o.cpuUs / b.cpuUs, paired: { rps: o.rps, cpuUs: o.cpuUs } };
          base.push(b);
        }
        results[0] = {
          rps: 1,
          cpuUs: 1,
          errors: base.reduce((n, b) => n + (b.errors ?? 0), 0),
          paired: {
            rps: median(base.map((b) => b.rps)),
            cpuUs: median(base.map((b) => b.cpuUs)),
          },
        };
      } else {
        results = [];
        for (const k of impls.map((_, k) => (k + r) % impls.length)) {
          const sampler = cpuPerRequest(targets[k].pid);
          const res = await wrk(targets[k].port, { ...load, seconds });
          results[k] = { ...res, cpuUs: sampler.end(res.requests) };
        }
      }
      for (const [k, impl] of impls.entries()) {
        // Pair mode: rps/cpuUs are already relative to the base of the same window (ratios below
        // come out the same), the absolute numbers are kept apart for the table.
        if (results[k].paired) {
          absRps[impl].push(results[k].paired.rps);
          absCpu[impl].push(results[k].paired.cpuUs);
        }
        rps[impl].push(results[k].rps);
        cpu[impl].push(results[k].cpuUs);
        if (results[k].errors) errors[impl] = `${results[k].errors} errors`;
      }
    }
    const base = impls[0];
    const paired = mode === "pair";
    const rows = impls.map((impl) => ({
      impl,
      rps: median(paired ? absRps[impl] : rps[impl]),
      ratio: median(rps[impl].map((v, k) => v / rps[base][k])),
      ratios: rps[impl].map((v, k) => v / rps[base][k]),
      cpuUs: median(paired ? absCpu[impl] : cpu[impl]),
      cpuRatio: median(cpu[impl].map((v, k) => cpu[base][k] / v)),
      cpuRatios: cpu[impl].map((v, k) => cpu[base][k] / v),
      errors: errors[impl] ?? "",
    }));
    return { shape, base, rows };
  } finally {
    for (const s of Object.values(servers)) s.child.kill("SIGKILL");
  }
}

const USAGE = "node bench/node-bridge.mjs [--node 20|24|both] [--rounds 3] [--seconds 2] [--shapes a,b] [--no-pin] " +
  "[--mode pair|together|alone] [--out FILE|-] [--label text]";

async function main() {
  const opt = options({
    node: { type: "string", default: "both" },
    rounds: { type: "number", default: 3 },
    seconds: { type: "number", default: 2 },
    shapes: { type: "list", default: ["sync", "async", "json", "headers", "stream", "post", "hono", "fast"] },
    "no-pin": { type: "boolean", default: false },
    mode: { type: "string", default: "pair" },
    out: { type: "string", default: join(ROOT, "bench", "results", "node-bridge.md") },
    label: { type: "string", default: "" },
  }, USAGE);
  const { rounds, seconds, label, out, shapes, mode } = opt;
  if (!["pair", "together", "alone"].includes(mode)) throw new Error(`--mode: pair, together or alone, not ${mode}`);
  installCleanup();
  const pin = canPin(opt["no-pin"]);
  if (!existsSync(join(ROOT, "dist", "node.js"))) throw new Error("build first: npx tsup");
  const majors = opt.node === "both" ? ["20", "24"] : [opt.node];
  const sections = [];
  const range = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
  for (const major of majors) {
    const node = nodeBinary(major);
    const version = execText(node, ["-v"]).trim();
    const lines = [
      `### Node ${version}${label ? ` — ${label}` : ""}`,
      "",
      `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, \`node bench/node-bridge.mjs ${
        process.argv.slice(2).join(" ")
      }\`: ` +
      `mode ${mode}, wrk -t1 -c32 -d${seconds}s per server, ${rounds} rounds after a 1 s warm-up, servers on CPU 0, wrk on CPU 1${
        pin ? "" : " (NOT pinned)"
      }; ratios = median of per-round ratios to the first row (req/s: row ÷ first; CPU: first's µs/req ÷ row's).`,
      "",
      "| shape | impl | req/s (median) | req/s ratio | per round | CPU µs/req | CPU ratio | per round | errors |",
      "| --- | --- | ---: | ---: | --- | ---: | ---: | --- | --- |",
    ];
    for (const shape of shapes) {
      const t0 = Date.now();
      const r = await measureShape(node, shape, { rounds, seconds, pin, mode });
      for (const row of r.rows) {
        lines.push(
          `| ${shape} | ${row.impl} | ${Math.round(row.rps)} | ${row.ratio.toFixed(2)} | ${range(row.ratios)} | ${
            row.cpuUs.toFixed(2)
          } | ${row.cpuRatio.toFixed(2)} | ${range(row.cpuRatios)} | ${row.errors} |`,
        );
      }
      process.stderr.write(`node ${version} ${shape}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
    lines.push("");
    const text = lines.join("\n");
    process.stdout.write(text + "\n");
    sections.push(text);
  }
  if (out !== "-") {
    const previous = existsSync(out)
      ? readFileSync(out, "utf8")
      : "# Node bridge throughput (bench/node-bridge.mjs)\n\n";
    writeFileSync(out, previous + "\n" + sections.join("\n") + "\n");
  }
}

if (argv[0] === "--serve") {
  await serveChild(argv[1], argv[2]);
} else {
  await main();
}
