// Microbenchmark for issue 10.9: what a *real* undici Request per request would cost on Node, against
// the lazy NodeRequest serve() hands a handler today. On Node 24 only an object built by undici's own
// constructor can be passed to `new Request(request)` (fact RQ-N1), so "a real fix by default" means
// one of the constructions below on every request. Bundles src/adapters/node/request.ts with esbuild.
//   node bench/micro-request-native.mjs     (run through /work/bin/gs-bench, once per Node; ~30 s each)
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { EventEmitter } from "node:events";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = await build({
  entryPoints: [`${root}src/adapters/node/request.ts`],
  bundle: true,
  format: "esm",
  platform: "node",
  write: false,
});
const { NodeRequest, nativeRequest } = await import(`data:text/javascript,${encodeURIComponent(out.outputFiles[0].text)}`);

// What wrk / a browser-ish client sends: 6 headers.
const rawHeaders = [
  "Host", "127.0.0.1:3000", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) bench", "Accept", "*/*",
  "Accept-Encoding", "gzip, deflate, br", "Connection", "keep-alive", "Cookie", "session=abcdef0123456789",
];
const socket = { encrypted: false, localAddress: "127.0.0.1", localPort: 3000 };
const fakeReq = (method) => {
  const req = new EventEmitter();
  Object.assign(req, {
    method,
    url: "/api/users/123?include=posts",
    rawHeaders,
    headers: { host: "127.0.0.1:3000" },
    socket,
    complete: false,
    destroyed: false,
  });
  req.pause = req.resume = req.read = () => null;
  return req;
};
const res = new EventEmitter();
const url = "http://127.0.0.1:3000/api/users/123?include=posts";

function headersFromRaw() {
  const h = new Headers();
  for (let i = 0; i < rawHeaders.length; i += 2) h.append(rawHeaders[i], rawHeaders[i + 1]);
  return h;
}
function pairs() {
  const p = [];
  for (let i = 0; i < rawHeaders.length; i += 2) p.push([rawHeaders[i], rawHeaders[i + 1]]);
  return p;
}
class Sub {}
Object.setPrototypeOf(Sub.prototype, Request.prototype);

const cases = {
  "lazy NodeRequest + url + method (today)": () => {
    const r = new NodeRequest(fakeReq("GET"), res);
    return r.url.length + r.method.length;
  },
  "lazy NodeRequest + url + headers.get (today)": () => {
    const r = new NodeRequest(fakeReq("GET"), res);
    return r.url.length + (r.headers.get("accept") ?? "").length;
  },
  "new Request(url) (no headers)": () => new Request(url).url.length,
  "new Request(url, { method, headers: Headers }) GET": () =>
    new Request(url, { method: "GET", headers: headersFromRaw() }).url.length,
  "new Request(url, { method, headers: pairs }) GET": () =>
    new Request(url, { method: "GET", headers: pairs() }).url.length,
  "Reflect.construct(Request, [url, init], Sub) GET": () =>
    Reflect.construct(Request, [url, { method: "GET", headers: pairs() }], Sub).url.length,
  "+ signal (an AbortController followed)": () => {
    const ac = new AbortController();
    return new Request(url, { method: "GET", headers: pairs(), signal: ac.signal }).url.length;
  },
  "POST + body stream + duplex": () => {
    const body = new ReadableStream({ pull() {} });
    return new Request(url, { method: "POST", headers: pairs(), body, duplex: "half" }).url.length;
  },
  "new Request(lazy) (Node 20; throws on Node 24, RQ-N1)": () => {
    const r = new NodeRequest(fakeReq("GET"), new EventEmitter());
    return new Request(r).url.length;
  },
  "the opt-in: new Request(nativeRequest(lazy)), GET": () => {
    const r = new NodeRequest(fakeReq("GET"), new EventEmitter());
    return new Request(nativeRequest(r)).url.length;
  },
  'context: new Response("hello")': () => new Response("hello").status,
};

async function bench(name, fn) {
  // undici registers each followed signal with a FinalizationRegistry: give GC a turn between rounds,
  // and fewer iterations, or the signal case runs out of heap in a tight loop.
  const N = name.includes("signal") ? 20_000 : 200_000;
  let sink = 0;
  try {
    fn();
  } catch (e) {
    console.log(`${name.padEnd(56)} throws: ${e.message}`);
    return;
  }
  for (let i = 0; i < N / 4; i++) sink += fn();
  const runs = [];
  for (let round = 0; round < 7; round++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sink += fn();
    runs.push(Number(process.hrtime.bigint() - t) / N / 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(56)} ${runs[0].toFixed(2).padStart(6)} µs (median ${runs[3].toFixed(2)}; sink ${sink % 10})`);
}

console.log(`node ${process.version}, µs per request, best of 7 rounds`);
for (const [name, fn] of Object.entries(cases)) await bench(name, fn);
