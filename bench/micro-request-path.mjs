// Microbenchmark (issue 11): what the one Web request path (src/serve/request-path.ts) adds per request
// on Deno and Bun, in process and without sockets, so the machine's speed swings cancel: the same
// handler driven with `--concurrency` requests in flight (a server under wrk -c50 has ~50: what is
// allocated per request then survives scavenges, and stores into long-lived objects pay the write
// barrier — costs a one-at-a-time loop hides), for the bare handler and for graceful-serve's wrapper
// around it, variants interleaved, best-of-rounds ns per request reported (the least disturbed round).
//   deno run -A --no-config bench/micro-request-path.mjs [--rounds 7] [--concurrency 50] [--variants label=DIR,...]
//   bun bench/micro-request-path.mjs [...]
// --variants label=DIR|FILE.diff: graceful-serve's src/ from DIR, or HEAD's with a bench/variants/ diff
// applied (bench/lib-web-variants.mjs), for A/B of designs.
// Run through /work/bin/gs-bench (~20 s).
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { prepareVariants } from "./lib-web-variants.mjs";
import { options } from "./lib/args.mjs";

const g = globalThis;
const RUNTIME = g.Deno ? "deno" : g.Bun ? "bun" : "node";
const values = options(
  {
    rounds: { type: "number", default: 7 },
    concurrency: { type: "number", default: 1 },
    variants: { type: "list", default: [] },
    shapes: { type: "list", default: ["async", "sync"] },
  },
  "bench/micro-request-path.mjs [--rounds 7] [--concurrency 50] [--variants label=DIR|FILE.diff,...] [--shapes async,sync]",
  g.Deno ? g.Deno.args : undefined,
);
const ROUNDS = values.rounds;
const C = values.concurrency;
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

const here = new URL("..", import.meta.url);
const sources = [["gs", new URL("src/", here).href]];
for (const [label, dir] of prepareVariants(values.variants, fileURLToPath(here))) {
  sources.push([label, pathToFileURL(resolve(dir, "src") + "/").href]);
}
const paths = [];
for (const [label, src] of sources) {
  const { wrapFetch, isRealResponse } = await import(src + "serve/request-path.ts");
  const { Lifecycle } = await import(src + "core/lifecycle.ts");
  const lifecycle = new Lifecycle({ logger: false });
  // What the adapters' serve() passes (src/adapters/deno.ts, src/adapters/bun.ts). The info classes
  // are made per server since 9207e15 (denoInfo/bunInfo; DenoInfo/BunInfo before).
  let extra;
  let makeInfo;
  if (RUNTIME === "deno") {
    const { responseBrand, streamDetector } = await import(src + "core/deno-runtime.ts");
    extra = {
      trackForDeadline: { isStream: streamDetector(), hopWhileServing: true },
      isResponse: responseBrand(isRealResponse),
    };
    const { DenoInfo, denoInfo } = await import(src + "adapters/deno.ts");
    const Info = denoInfo?.(lifecycle);
    makeInfo = Info ? (_request, i) => new Info(i) : (_request, i) => new DenoInfo(i, lifecycle);
  } else {
    extra = { upgraded: () => false, isResponse: isRealResponse, rejections: true };
    const { BunInfo, bunInfo } = await import(src + "adapters/bun.ts");
    const Info = bunInfo?.(lifecycle, () => undefined);
    makeInfo = Info ? (request) => new Info(request) : (request) => new BunInfo(request, undefined, lifecycle);
  }
  paths.push([label, wrapFetch, lifecycle, { info: makeInfo, ...extra }]);
}
const info = { remoteAddr: undefined, waitUntil() {} };

let captured;
const capture = (resolve) => (captured = resolve);
function variants(handler) {
  const options = { fetch: handler, onError: undefined, healthPath: undefined };
  const out = {
    bare: handler,
    "bare+then": (request, i) => {
      const r = handler(request, i);
      return r instanceof Promise ? r.then((x) => x) : r;
    },
    "bare+promise": (request, i) => {
      const r = handler(request, i);
      if (!(r instanceof Promise)) return r;
      const promise = new Promise(capture);
      const resolve = captured;
      r.then((x) => resolve(x));
      return promise;
    },
  };
  for (const [label, wrapFetch, lifecycle, wrap] of paths) {
    out[label] = wrapFetch(options, lifecycle, wrap).handler;
  }
  return out;
}

const request = new Request("http://127.0.0.1:8000/");
// What Deno.serve does with the handler's result (a then on it), C requests in flight.
async function time(fn) {
  const t0 = performance.now();
  let left = N;
  const lane = async () => {
    while (left-- > 0) await fn(request, info);
  };
  const lanes = [];
  for (let i = 0; i < C; i++) lanes.push(lane());
  await Promise.all(lanes);
  return ((performance.now() - t0) * 1e6) / N;
}

for (const shape of values.shapes) {
  const v = variants(shapes[shape]);
  const best = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(v)) {
      const ns = await time(fn);
      if (round > 0) best[name] = Math.min(best[name] ?? Infinity, ns); // round 0 warms up the JIT
    }
  }
  const line = Object.entries(best).map(([name, ns]) =>
    `${name} ${ns.toFixed(0)} ns (+${(ns - best.bare).toFixed(0)})`
  );
  console.log(`${RUNTIME} ${shape} c=${C}: ${line.join(", ")}`);
}
