// Benchmark server for bench/memory.mjs and bench/web-throughput.mjs (issue 11), on Node, Deno or Bun.
//
//   BENCH_IMPL   bare (Deno.serve / Bun.serve / node:http + a minimal Web bridge, no graceful-serve)
//                | serve | attach | graceful     (the three graceful-serve entries)
//   BENCH_SHAPE  sync | async | stream | hono    (the handler a user writes)
//   BENCH_ENTRY  graceful-serve entry (Node: dist/index.js; Deno, Bun: src/mod.ts)
//   BENCH_ROOT   repository root (hono is loaded from its node_modules)
//
// Binds 127.0.0.1:0, prints {"event":"ready","port":...}; on stdin, "mem" answers
// {"event":"mem","heapUsed":...,"rss":...,"count":...} after forced GCs.
import process from "node:process";
import { writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const IMPL = process.env.BENCH_IMPL ?? "serve";
const SHAPE = process.env.BENCH_SHAPE ?? "async";
const ROOT = process.env.BENCH_ROOT ?? process.cwd();
const g = globalThis;
const RUNTIME = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const emit = (event, data = {}) => writeSync(1, JSON.stringify({ event, ...data }) + "\n");
const HELLO = new TextEncoder().encode("hello");
let count = 0;

async function handlerFor(shape) {
  switch (shape) {
    case "sync":
      // deno-lint-ignore no-unused-vars
      return (request) => {
        count++;
        return new Response("hello");
      };
    case "async":
      // deno-lint-ignore no-unused-vars
      return async (request) => {
        count++;
        await null;
        return new Response("hello");
      };
    case "stream":
      // deno-lint-ignore no-unused-vars
      return async (request) => {
        count++;
        await null;
        return new Response(new ReadableStream({ start: (c) => (c.enqueue(HELLO), c.close()) }));
      };
    case "hono": {
      // The ESM build (require.resolve would pick the CommonJS one, which Deno cannot import).
      const { Hono } = await import(pathToFileURL(join(ROOT, "node_modules", "hono", "dist", "index.js")).href);
      const app = new Hono();
      app.get("/", async (c) => {
        count++;
        await null;
        return c.text("hello");
      });
      return (request) => app.fetch(request);
    }
  }
  throw new Error(`unknown shape ${shape}`);
}

/** node:http → Web Request → handler → node:http: the least a Node user writes to call a fetch handler. */
async function nodeBridge(fetch) {
  const http = await import("node:http");
  return http.createServer(async (req, res) => {
    const response = await fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method }));
    const headers = {};
    response.headers.forEach((v, k) => (headers[k] = v));
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}
const listenNode = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));

async function start() {
  const handler = await handlerFor(SHAPE);
  // "bare", "hop" and "promise" run no graceful-serve code.
  const gs = process.env.BENCH_ENTRY ? await import(process.env.BENCH_ENTRY) : undefined;
  if (IMPL === "serve") {
    const server = gs.serve({ port: 0, hostname: "127.0.0.1", fetch: handler, signals: false, logger: false });
    await server.ready();
    return server.port;
  }
  // graceful(): the platform's own server calls the wrapped handler. "hop" and "promise": what one extra
  // promise hop costs the runtime (the least any wrapper that looks at the response adds).
  let captured;
  const capture = (resolve) => (captured = resolve);
  // "loaded": the bare server with graceful-serve imported but unused (what loading the module costs).
  const fetch = IMPL === "graceful"
    ? gs.graceful({ fetch: handler, signals: false, logger: false }).fetch
    : IMPL === "hop"
    ? (request, info) => handler(request, info).then((response) => response)
    : IMPL === "promise"
    ? (request, info) => {
      const promise = new Promise(capture);
      const resolve = captured;
      handler(request, info).then((response) => resolve(response));
      return promise;
    }
    : handler;
  let native;
  let port;
  if (RUNTIME === "deno") {
    native = g.Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, fetch);
    port = native.addr.port;
  } else if (RUNTIME === "bun") {
    native = g.Bun.serve({ port: 0, hostname: "127.0.0.1", fetch });
    port = native.port;
  } else {
    native = await nodeBridge(fetch);
    port = await listenNode(native);
  }
  if (IMPL === "attach") gs.attach(native, { signals: false, logger: false });
  return port;
}

function collectGarbage() {
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function memory() {
  for (let i = 0; i < 4; i++) {
    collectGarbage();
    await sleep(25);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, count, gc: g.Bun !== undefined || typeof g.gc === "function" };
}

try {
  emit("ready", { port: await start(), pid: process.pid, runtime: RUNTIME, impl: IMPL, shape: SHAPE });
} catch (error) {
  emit("error", { message: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exit(2);
}
let buffered = "";
process.stdin.setEncoding?.("utf8");
process.stdin.on("data", async (chunk) => {
  buffered += chunk;
  const lines = buffered.split("\n");
  buffered = lines.pop();
  for (const line of lines) if (line.trim() === "mem") emit("mem", await memory());
});
