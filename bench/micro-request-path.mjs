// Microbenchmark (issue 11): what the one Web request path (src/serve/request-path.ts) adds per request
// on Deno and Bun, in process and without sockets, so the machine's speed swings cancel: the same
// `await handler(request, info)` loop for the bare handler and for graceful-serve's wrapper around it,
// variants interleaved, best-of-rounds ns per request reported (the least disturbed round).
//   deno run -A --no-config bench/micro-request-path.mjs [rounds]     bun bench/micro-request-path.mjs
// Run through /work/bin/gs-bench (~20 s).
import { wrapFetch } from "../src/serve/request-path.ts";
import { isRealResponse } from "../src/serve/request-path.ts";

const g = globalThis;
const RUNTIME = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const ROUNDS = Number((g.Deno ? g.Deno.args : process.argv.slice(2))[0] ?? 7);
const N = 200_000;

const shapes = {
  // deno-lint-ignore no-unused-vars
  async: async (request) => {
    await null;
    return new Response("hello");
  },
  // deno-lint-ignore no-unused-vars
  sync: (request) => new Response("hello"),
};

let extra = {};
if (RUNTIME === "deno") {
  const { responseBrand, streamDetector } = await import("../src/core/deno-runtime.ts");
  extra = { trackForDeadline: { isStream: streamDetector() }, isResponse: responseBrand(isRealResponse) };
} else {
  extra = { upgraded: () => false, isResponse: isRealResponse };
}
const lifecycle = { state: "serving", logger: { error() {} } };
const info = { remoteAddr: undefined, waitUntil() {} };

function variants(handler) {
  const options = { fetch: handler, onError: undefined, healthPath: undefined };
  return {
    bare: handler,
    "bare+then": (request, i) => {
      const r = handler(request, i);
      return r instanceof Promise ? r.then((x) => x) : r;
    },
    gs: wrapFetch(options, lifecycle, { info: () => info, ...extra }).handler,
  };
}

const request = new Request("http://127.0.0.1:8000/");
async function time(fn) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(request, info);
  return ((performance.now() - t0) * 1e6) / N;
}

for (const [shape, handler] of Object.entries(shapes)) {
  const v = variants(handler);
  const best = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(v)) {
      const ns = await time(fn);
      if (round > 0) best[name] = Math.min(best[name] ?? Infinity, ns); // round 0 warms up the JIT
    }
  }
  const line = Object.entries(best).map(([name, ns]) => `${name} ${ns.toFixed(0)} ns (+${(ns - best.bare).toFixed(0)})`);
  console.log(`${RUNTIME} ${shape}: ${line.join(", ")}`);
}
