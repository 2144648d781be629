// One benchmark server, started by bench/run.mjs as a child process on Node, Deno or Bun.
//
//   BENCH_IMPL   bare | bare-req | gs | gs-response | srvx | terminator | cwg
//   BENCH_MODE   hello | memory | drain | sigterm | deadline
//   BENCH_ROOT   repository root (peers are loaded from its node_modules)
//   BENCH_ENTRY  graceful-serve entry to import (Node: a build of src/; Deno and Bun: src/mod.ts)
//   BENCH_DEADLINE  ms; BENCH_STREAMS  open streams in "deadline" mode; BENCH_SLOW  ms in "drain" mode
//
// It binds 127.0.0.1 only, prints one JSON line per event on stdout ({"event":"ready","port":...}),
// and takes every timestamp with performance.now() inside this process.
import process from "node:process";
import { writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readLines } from "../test/_helpers/json-lines.mjs";

const IMPL = process.env.BENCH_IMPL ?? "gs";
const MODE = process.env.BENCH_MODE ?? "hello";
const ROOT = process.env.BENCH_ROOT ?? process.cwd();
const ENTRY = process.env.BENCH_ENTRY;
const DEADLINE = Number(process.env.BENCH_DEADLINE ?? 1000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 10);
const SLOW = Number(process.env.BENCH_SLOW ?? 200);
const HOST = "127.0.0.1";

const g = globalThis;
const RUNTIME = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const now = () => performance.now();
const emit = (event, data = {}) => writeSync(1, JSON.stringify({ event, ...data }) + "\n");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fail = (message) => {
  emit("error", { message });
  process.exit(2);
};
const requireRoot = createRequire(join(ROOT, "package.json"));
const importFile = (path) => import(pathToFileURL(path).href);

const TICK = new TextEncoder().encode("tick\n");

// ---------------------------------------------------------------- per-mode behaviour
// `trigger` starts the implementation's own graceful shutdown; it is set once the server exists.
let trigger = () => fail("no trigger for this implementation");
let count = 0;
let streamsOpen = 0;
let drainTriggered = false;
let written;

/** A never-ending Web stream body: a chunk every 50 ms until the runtime cancels it. */
function endlessStream() {
  let timer;
  return new ReadableStream({
    start(controller) {
      timer = setInterval(() => {
        try {
          controller.enqueue(TICK);
        } catch {
          clearInterval(timer);
        }
      }, 50);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

function onStreamOpened() {
  if (++streamsOpen === STREAMS) setTimeout(() => trigger(), 100);
}

function onDrainRequest() {
  if (drainTriggered) return;
  drainTriggered = true;
  // The request is in flight when the shutdown starts; it answers SLOW ms after it arrived.
  setTimeout(() => trigger(), 20);
}

/**
 * Web-style handler (graceful-serve, srvx, Deno.serve, Bun.serve). `takesRequest`: declare the request
 * parameter even in hello world, as any real handler does — Deno.serve skips building the Request for a
 * handler whose `length` is 0 ("bare" vs "bare-req").
 */
function webHandler(R, nodeResOf, takesRequest = false) {
  switch (MODE) {
    case "hello":
    case "sigterm":
      // deno-lint-ignore no-unused-vars
      return takesRequest ? (request) => new R("hello") : () => new R("hello");
    case "memory":
      return takesRequest
        ? (request) => {
          count++;
          return new R("hello");
        }
        : () => {
          count++;
          return new R("hello");
        };
    case "drain":
      return async (request) => {
        onDrainRequest();
        await sleep(SLOW);
        const res = nodeResOf?.(request);
        // Node: the moment node:http hands the last byte to the kernel. Deno and Bun expose no such hook:
        // there it is the moment the response is handed to the runtime (an upper bound on drain latency).
        if (res) res.once("finish", () => (written = now()));
        else queueMicrotask(() => (written = now()));
        return new R("slow done");
      };
    case "deadline":
      return () => {
        onStreamOpened();
        return new R(endlessStream(), { headers: { "content-type": "text/plain" } });
      };
  }
  fail(`unknown mode ${MODE}`);
}

/** node:http handler (bare Node, http-terminator, close-with-grace). */
function nodeHandler() {
  switch (MODE) {
    case "hello":
    case "sigterm":
      return (_req, res) => res.end("hello");
    case "memory":
      return (_req, res) => {
        count++;
        res.end("hello");
      };
    case "drain":
      return (_req, res) => {
        onDrainRequest();
        setTimeout(() => {
          res.once("finish", () => (written = now()));
          res.end("slow done");
        }, SLOW);
      };
    case "deadline":
      return (_req, res) => {
        onStreamOpened();
        res.writeHead(200, { "content-type": "text/plain" });
        const timer = setInterval(() => res.write(TICK), 50);
        res.once("close", () => clearInterval(timer));
      };
  }
  fail(`unknown mode ${MODE}`);
}

// ---------------------------------------------------------------- reporting of a shutdown
let triggeredAt;
const markTrigger = () => (triggeredAt = now());
/** Called when the implementation says its shutdown is complete (promise resolved or process exiting). */
function resolved(how, extra = {}) {
  const at = now();
  if (MODE === "drain") {
    emit("drain", { how, latency: written === undefined ? null : at - written, sinceTrigger: at - triggeredAt, ...extra });
  } else if (MODE === "deadline") {
    emit("deadline", { how, elapsed: at - triggeredAt, overshoot: at - triggeredAt - DEADLINE, ...extra });
  }
}

// ---------------------------------------------------------------- implementations
const nodeListen = (server) =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => resolve(server.address().port));
  });

async function startGs(useFast) {
  if (!ENTRY) fail("BENCH_ENTRY not set");
  const { serve, FastResponse } = await importFile(ENTRY);
  const R = useFast ? FastResponse : Response;
  const server = serve({
    fetch: webHandler(R, RUNTIME === "node" ? (request) => request.node?.res : undefined),
    port: 0,
    hostname: HOST,
    logger: false,
    deadline: MODE === "deadline" ? DEADLINE : 10_000,
  });
  await server.ready();
  trigger = () => {
    markTrigger();
    server.shutdown({ deadline: MODE === "deadline" ? DEADLINE : 10_000 }).then((report) =>
      resolved("shutdown() resolved", { graceful: report.graceful, forced: report.forced })
    );
  };
  return server.port;
}

async function startSrvx() {
  const file = join(ROOT, "node_modules", "srvx", "dist", "adapters", `${RUNTIME}.mjs`);
  const { serve, FastResponse } = await importFile(file);
  // gracefulShutdown is given explicitly: srvx turns it off by default when CI or TEST is set.
  // gracefulTimeout is in whole seconds.
  const gracefulTimeout = MODE === "deadline" ? Math.max(1, Math.round(DEADLINE / 1000)) : 10;
  const server = serve({
    fetch: webHandler(FastResponse, RUNTIME === "node" ? (request) => request.runtime?.node?.res : undefined),
    port: 0,
    hostname: HOST,
    silent: true,
    gracefulShutdown: { gracefulTimeout },
  });
  await server.ready();
  // srvx's graceful shutdown is its signal plugin: close(), polled each second up to gracefulTimeout,
  // then close(true). Observe both calls without changing them.
  const close = server.close.bind(server);
  server.close = (closeAll) =>
    close(closeAll).then((value) => {
      if (MODE === "deadline" && closeAll) resolved("close(true) resolved (after gracefulTimeout)");
      return value;
    });
  trigger = MODE === "deadline"
    ? () => {
      markTrigger();
      // The only deadline srvx has is its signal plugin's gracefulTimeout.
      process.kill(process.pid, "SIGTERM");
    }
    : () => {
      markTrigger();
      close().then(() => resolved("close() resolved"));
    };
  return Number(new URL(server.url).port);
}

async function startBare(takesRequest = false) {
  if (RUNTIME === "node") {
    const http = await import("node:http");
    const server = http.createServer(nodeHandler());
    const port = await nodeListen(server);
    trigger = () => {
      markTrigger();
      server.close(() => resolved("server.close() callback"));
    };
    return port;
  }
  if (RUNTIME === "deno") {
    const server = g.Deno.serve({ port: 0, hostname: HOST, onListen() {} }, webHandler(Response, undefined, takesRequest));
    trigger = () => {
      markTrigger();
      server.shutdown().then(() => resolved("Deno server.shutdown() resolved"));
    };
    return server.addr.port;
  }
  const server = g.Bun.serve({ port: 0, hostname: HOST, fetch: webHandler(Response, undefined, takesRequest) });
  trigger = () => {
    markTrigger();
    server.stop().then(() => resolved("Bun server.stop() resolved"));
  };
  return server.port;
}

async function startTerminator() {
  if (RUNTIME !== "node") fail("http-terminator is Node-only");
  const http = await import("node:http");
  const mod = requireRoot("http-terminator");
  const server = http.createServer(nodeHandler());
  const port = await nodeListen(server);
  const terminator = mod.createHttpTerminator({ server, gracefulTerminationTimeout: MODE === "deadline" ? DEADLINE : 10_000 });
  // The documented wiring: the app owns the signal and exits after terminate().
  process.on("SIGTERM", () => terminator.terminate().then(() => process.exit(0)));
  trigger = () => {
    markTrigger();
    terminator.terminate().then(() => resolved("terminate() resolved"));
  };
  return port;
}

async function startCwg() {
  if (RUNTIME !== "node") fail("close-with-grace is Node-only");
  const http = await import("node:http");
  const closeWithGrace = requireRoot("close-with-grace");
  const server = http.createServer(nodeHandler());
  const port = await nodeListen(server);
  // close-with-grace ends in process.exit(): completion is observable only as the 'exit' event.
  process.on("exit", (code) => {
    if (triggeredAt !== undefined) resolved(`process.exit(${code})`);
  });
  const handle = closeWithGrace(
    { delay: MODE === "deadline" ? DEADLINE : 10_000, logger: false },
    () => new Promise((resolve) => server.close(() => resolve())),
  );
  trigger = () => {
    markTrigger();
    handle.close();
  };
  return port;
}

const starters = {
  bare: () => startBare(false),
  "bare-req": () => startBare(true),
  gs: () => startGs(true),
  "gs-response": () => startGs(false),
  srvx: startSrvx,
  terminator: startTerminator,
  cwg: startCwg,
};
if (!starters[IMPL]) fail(`unknown implementation ${IMPL}`);

// ---------------------------------------------------------------- memory sampling
function collectGarbage() {
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}
async function memory() {
  for (let i = 0; i < 3; i++) {
    collectGarbage();
    await sleep(20);
  }
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    count,
    gc: g.Bun !== undefined || typeof g.gc === "function",
  };
}

try {
  const port = await starters[IMPL]();
  emit("ready", { port, pid: process.pid, runtime: RUNTIME, impl: IMPL, mode: MODE });
} catch (error) {
  fail(error instanceof Error ? error.stack ?? error.message : String(error));
}

if (MODE === "memory") {
  // Commands on stdin, one per line: "mem" (after GC) and "count". Only this mode reads stdin.
  readLines(process.stdin, async (line) => {
    if (line.trim() === "mem") emit("mem", await memory());
    else if (line.trim() === "count") emit("count", { count });
  });
}
