// Load generator for test/nginx.test.ts: GET /pid and POST /text (a body of 1–2000 bytes), half and
// half at random, from <concurrency> keep-alive loops to 127.0.0.1:<port> until told to stop.
//
//   <runtime> runtimes/nginx/load.mjs <port> [minTotal=10000] [concurrency=8] [maxSeconds=60]
//
// - Each loop keeps one HTTP/1.1 connection for 1–100 requests, one after another, then closes it
//   and opens another. A response that says `Connection: close` ends the connection early (not a
//   failure); a connection that closes or resets while a request is waiting is a failure.
// - Runs until a line "stop" arrives on stdin (or stdin ends) AND at least minTotal requests are
//   done; gives up after maxSeconds (the final event then has "timedOut": true).
// - A request fails on: a status other than 200 (nginx answers 502 when a backend closed or reset the
//   connection under it), a connection error, a close without a complete response, no response
//   within 10 s, or a POST answer that does not echo the body's length.
// - Prints {"event":"progress","done":N} every 500 requests, {"event":"failure","cause","ms","method"}
//   for each of the first 50 failures, and at the end
//   {"event":"done",total,ok,failed,failures:{cause:n},get:{ok,failed},post:{ok,failed},pids,connections,ms,timedOut}.
import net from "node:net";
import process from "node:process";

const args = process.argv.slice(2);
const port = Number(args[0]);
const minTotal = Number(args[1] ?? 10_000);
const concurrency = Number(args[2] ?? 8);
const maxSeconds = Number(args[3] ?? 60);
const TIMEOUT = 10_000;
const MAX_PER_CONNECTION = 100;

const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));
const t0 = Date.now();
let stopRequested = false;
let timedOut = false;
let done = 0;
let ok = 0;
let connections = 0;
let failureEvents = 0;
const failures = {};
const pids = {};
const byMethod = { GET: { ok: 0, failed: 0 }, POST: { ok: 0, failed: 0 } };

let stdinBuffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  stdinBuffer += d;
  if (/^stop$/m.test(stdinBuffer)) stopRequested = true;
});
process.stdin.on("end", () => (stopRequested = true));
const hardStop = setTimeout(() => (timedOut = true), maxSeconds * 1000);

const finished = () => timedOut || (stopRequested && done >= minTotal);

function count(method, cause, body) {
  done++;
  if (cause === undefined) {
    ok++;
    byMethod[method].ok++;
    if (method === "GET") pids[body] = (pids[body] ?? 0) + 1;
  } else {
    byMethod[method].failed++;
    failures[cause] = (failures[cause] ?? 0) + 1;
    if (failureEvents++ < 50) emit("failure", { cause, ms: Date.now() - t0, method });
  }
  if (done % 500 === 0) emit("progress", { done });
}

/**
 * Parses one HTTP/1.1 response at the start of `buf` (a latin1 string). Returns undefined while
 * incomplete, else { status, body, close, rest }. Handles Content-Length and chunked bodies.
 */
function parse(buf) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = buf.slice(0, end).split("\r\n");
  const status = Number(head[0].slice(9, 12));
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const close = /close/i.test(headers.connection ?? "");
  let pos = end + 4;
  let body = "";
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", pos);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.slice(pos, lineEnd), 16);
      if (size === 0) {
        const trailerEnd = buf.indexOf("\r\n", lineEnd + 2);
        if (trailerEnd < 0) return undefined;
        return { status, body, close, rest: buf.slice(trailerEnd + 2) };
      }
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      body += buf.slice(lineEnd + 2, lineEnd + 2 + size);
      pos = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(headers["content-length"] ?? 0);
  if (buf.length < pos + length) return undefined;
  return { status, body: buf.slice(pos, pos + length), close, rest: buf.slice(pos + length) };
}

/** One keep-alive connection carrying up to `n` requests; every request sent is counted exactly once. */
function connection(n) {
  return new Promise((resolve) => {
    connections++;
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let buf = "";
    let sent = 0;
    let waiting; // the request that is out: { method, size }
    let over = false;
    let timer;
    const finish = (cause) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      if (waiting) count(waiting.method, cause ?? "closed without response");
      waiting = undefined;
      socket.destroy();
      resolve();
    };
    const send = () => {
      if (sent >= n || finished()) return finish();
      sent++;
      const close = sent === n ? "Connection: close\r\n" : "";
      if (Math.random() < 0.5) {
        waiting = { method: "GET" };
        socket.write(`GET /pid HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`);
      } else {
        const size = 1 + Math.floor(Math.random() * 2000);
        waiting = { method: "POST", size };
        socket.write(
          `POST /text HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${size}\r\n${close}\r\n` +
            "x".repeat(size),
        );
      }
      clearTimeout(timer);
      timer = setTimeout(() => finish("timeout"), TIMEOUT);
    };
    socket.on("connect", send);
    socket.setEncoding("latin1");
    socket.on("data", (d) => {
      buf += d;
      for (;;) {
        if (!waiting) return; // bytes nobody asked for: ignore, the connection closes below
        const r = parse(buf);
        if (!r) return;
        buf = r.rest;
        const { method, size } = waiting;
        waiting = undefined;
        let cause = r.status === 200 ? undefined : `status ${r.status}`;
        if (!cause && method === "POST" && r.body !== `POST ${size}`) cause = "wrong POST answer";
        count(method, cause, r.body);
        if (r.close || sent >= n) return finish();
        send();
      }
    });
    socket.on("error", (e) => finish(e.code ?? e.message));
    socket.on("close", () => finish());
  });
}

async function loop() {
  while (!finished()) await connection(1 + Math.floor(Math.random() * MAX_PER_CONNECTION));
}

await Promise.all(Array.from({ length: concurrency }, () => loop()));
clearTimeout(hardStop);
process.stdin.destroy();
emit("done", {
  total: done,
  ok,
  failed: done - ok,
  failures,
  get: byMethod.GET,
  post: byMethod.POST,
  pids,
  connections,
  ms: Date.now() - t0,
  timedOut,
});
process.exit(0);
