#!/usr/bin/env node
// What one FastResponse request costs graceful-serve's Node bridge beyond raw node:http, without
// sockets, wrk or a parser: each listener answers detached IncomingMessage/ServerResponse pairs (Node
// builds the head and buffers it, nothing is written), so the only difference between rows is the
// listener's own work. Noise is far below bench/node-bridge.mjs's ±0.04, but it leaves out the
// socket write and everything per-connection: read it as "where the difference is", not as a ratio.
//
//   node bench/micro-node-head.mjs [--n 100000] [--rounds 5]      (build dist/ first: npx tsup)
//
// Rows:
//   raw       res.end("hello"): no Content-Type (bench/node-bridge.mjs's `raw`)
//   raw-ct    res.setHeader("content-type", …) then res.end("hello") (its `raw-ct`: the same head as gs)
//   raw-head  the head as graceful-serve builds it (NF1 length, the header as a writeHead argument),
//             by hand: the difference to gs is graceful-serve's own JavaScript
//   gs        graceful-serve serve()'s request listener, handler `() => new FastResponse("hello")`
// Run through /work/bin/gs-bench.

import http from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median, options } from "./lib/args.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { n: N, rounds: ROUNDS } = options(
  { n: { type: "number", default: 100_000 }, rounds: { type: "number", default: 5 } },
  "node bench/micro-node-head.mjs [--n 100000] [--rounds 5]",
);
const TEXT = "hello";
const TEXT_TYPE = "text/plain;charset=UTF-8";

const { serve, FastResponse } = await import(pathToFileURL(join(ROOT, "dist", "node.js")).href);
const server = serve({
  port: 0,
  hostname: "127.0.0.1",
  signals: false,
  logger: false,
  fetch: () => new FastResponse(TEXT),
});
await server.ready();

const rows = {
  raw: (_req, res) => res.end(TEXT),
  "raw-ct": (_req, res) => {
    res.setHeader("content-type", TEXT_TYPE);
    res.end(TEXT);
  },
  "raw-head": (_req, res) => {
    res._contentLength = TEXT.length;
    res.writeHead(200, ["content-type", TEXT_TYPE]);
    res.end(TEXT);
  },
  gs: server.native.listeners("request")[0],
};

function pair() {
  const req = new http.IncomingMessage(null);
  req.method = "GET";
  req.url = "/";
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  return [req, new http.ServerResponse(req)];
}

const ns = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, listener] of Object.entries(rows)) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const [req, res] = pair();
      listener(req, res);
    }
    ns[name].push(Number(process.hrtime.bigint() - start) / N);
  }
}
await server.shutdown();

const base = median(ns.raw);
console.log(
  `Node ${process.version}, ${N} requests × ${ROUNDS} rounds, median ns per request (incl. making the pair):`,
);
for (const [name, xs] of Object.entries(ns)) {
  const m = median(xs);
  console.log(
    `${name.padEnd(9)} ${m.toFixed(0).padStart(6)} ns   ${m - base >= 0 ? "+" : ""}${(m - base).toFixed(0)} vs raw`,
  );
}
