// Microbenchmark: the cost of request.url on Node (issue 10.4) — the old glued string, the new
// requestUrl() fast path (ordinary targets) and its new URL() path (targets that need normalising),
// against `new URL()` for every request. Bundles src/adapters/node/url.ts with esbuild (a devDependency via tsup).
//   node bench/micro-request-url.mjs     (run through /work/bin/gs-bench; ~20 s)
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = await build({
  entryPoints: [`${root}src/adapters/node/url.ts`],
  bundle: true,
  format: "esm",
  platform: "node",
  write: false,
});
const { requestUrl } = await import(`data:text/javascript,${encodeURIComponent(out.outputFiles[0].text)}`);

const socket = { encrypted: false, localAddress: "127.0.0.1", localPort: 3000 };
const fake = (url, host) => ({ url, headers: { host }, socket });
// One Host, as a server mostly sees (every request of a client carries the same one).
const ordinary = [
  fake("/", "127.0.0.1:3000"),
  fake("/api/users/123?include=posts&limit=10", "127.0.0.1:3000"),
  fake("/static/app.min.js", "127.0.0.1:3000"),
  fake("/v1/items/abc-def_ghi~jkl", "127.0.0.1:3000"),
];
// A different Host on every request: the Host check runs each time.
const hosts = [
  fake("/", "127.0.0.1:3000"),
  fake("/api/users/123?include=posts&limit=10", "localhost:3000"),
  fake("/static/app.min.js", "example.com"),
  fake("/v1/items/abc-def_ghi~jkl", "api.example.com"),
];
const odd = [
  fake("/static/../secret.txt", "127.0.0.1:3000"),
  fake("/a/%2e%2e/b", "localhost"),
  fake("/x", "LOCALHOST:80"),
  fake("http://example.com/p", "other"),
];

function bench(name, reqs, fn) {
  const N = 2_000_000;
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(reqs[i & 3]).length;
  const best = [];
  for (let round = 0; round < 5; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sink += fn(reqs[i & 3]).length;
    best.push(Number(process.hrtime.bigint() - t) / N);
  }
  best.sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} ${best[0].toFixed(1).padStart(7)} ns/request (best of 5, sink ${sink % 10})`);
}

const glued = (req) => `http://${req.headers.host}${req.url}`;
console.log(`node ${process.version}`);
bench("old: glued string", ordinary, glued);
bench("new: requestUrl(), ordinary targets", ordinary, requestUrl);
bench("new: requestUrl(), Host changing every time", hosts, requestUrl);
bench("new URL(glued).href, ordinary targets", ordinary, (req) => new URL(glued(req)).href);
bench("new: requestUrl(), targets to normalise", odd, requestUrl);
