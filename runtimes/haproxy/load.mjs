// Load generator for the HAProxy rolling-deploy test: GET requests to 127.0.0.1:<port><path> from
// <concurrency> loops until told to stop, fresh and keep-alive connections mixed.
//
//   <runtime> runtimes/haproxy/load.mjs <port> [minTotal=10000] [concurrency=8] [path=/pid] [maxSeconds=60]
//
// - Loops 0, 2, 4, ... send every request on a fresh connection (`Connection: close`); loops 1, 3,
//   5, ... keep a connection open for 1–50 requests (HTTP/1.1 keep-alive), then close it and open
//   another. A response that says `Connection: close` ends the keep-alive connection early (not a
//   failure); a connection that closes or resets while a request is waiting is a failure.
// - Runs until a line "stop" arrives on stdin (or stdin ends) AND at least minTotal requests are
//   done; gives up after maxSeconds (the final event then has "timedOut": true).
// - A request fails on: a status other than 200 (HAProxy answers 502/503/504 when a backend fails
//   it), a connection error (by code: ECONNRESET, ECONNREFUSED, ...), a close without a complete
//   response, or no response within 10 s.
// - Prints {"event":"progress","done":N} every 500 requests, {"event":"failure","cause","ms","keepAlive"}
//   for each of the first 50 failures (ms since start, to line up with the roll), and at the end
//   {"event":"done",total,ok,failed,failures:{cause:n},pids:{body:n},fresh,keepAlive,connections,ms,timedOut}.
import net from "node:net";
import process from "node:process";

const args = process.argv.slice(2);
const port = Number(args[0]);
const minTotal = Number(args[1] ?? 10_000);
const concurrency = Number(args[2] ?? 8);
const path = args[3] ?? "/pid";
const maxSeconds = Number(args[4] ?? 60);
const TIMEOUT = 10_000;
const MAX_PER_CONNECTION = 50;

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
const byMode = { fresh: { ok: 0, failed: 0 }, keepAlive: { ok: 0, failed: 0 } };

let stdinBuffer = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  stdinBuffer += d;
  if (/^stop$/m.test(stdinBuffer)) stopRequested = true;
});
process.stdin.on("end", () => (stopRequested = true));
const hardStop = setTimeout(() => (timedOut = true), maxSeconds * 1000);

const finished = () => timedOut || (stopRequested && done >= minTotal);

function count(keepAlive, cause, body) {
  done++;
  const mode = keepAlive ? byMode.keepAlive : byMode.fresh;
  if (cause === undefined) {
    ok++;
    mode.ok++;
    pids[body] = (pids[body] ?? 0) + 1;
  } else {
    mode.failed++;
    failures[cause] = (failures[cause] ?? 0) + 1;
    if (failureEvents++ < 50) emit("failure", { cause, ms: Date.now() - t0, keepAlive });
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
  if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    if (buf.length < pos + length) return undefined;
    return { status, body: buf.slice(pos, pos + length), close, rest: buf.slice(pos + length) };
  }
  // No framing: the body runs to the close (HTTP/1.0 style); only complete once the socket ends.
  return { status, body: buf.slice(pos), close: true, rest: "", untilClose: true };
}

/**
 * One connection carrying up to `n` requests one after another. Resolves when the connection is
 * done with (closed by us or by the peer); every request sent is counted exactly once.
 */
function connection(n, keepAlive) {
  return new Promise((resolve) => {
    connections++;
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let buf = "";
    let sent = 0;
    let waiting = false; // a request is out and its response not complete yet
    let over = false;
    let timer;
    const finish = (cause) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      if (waiting) count(keepAlive, cause ?? "closed without response");
      waiting = false;
      socket.destroy();
      resolve();
    };
    const send = () => {
      if (sent >= n || finished()) return finish();
      sent++;
      waiting = true;
      const last = !keepAlive || sent === n;
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${last ? "Connection: close\r\n" : ""}\r\n`);
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
        if (!r || r.untilClose) return;
        buf = r.rest;
        waiting = false;
        count(keepAlive, r.status === 200 ? undefined : `status ${r.status}`, r.body);
        if (r.close || !keepAlive || sent >= n) return finish();
        send();
      }
    });
    socket.on("error", (e) => finish(e.code ?? e.message));
    socket.on("close", () => {
      if (waiting) {
        const r = parse(buf);
        if (r?.untilClose) {
          waiting = false;
          count(keepAlive, r.status === 200 ? undefined : `status ${r.status}`, r.body);
        }
      }
      finish();
    });
  });
}

async function loop(i) {
  const keepAlive = i % 2 === 1;
  while (!finished()) {
    await connection(keepAlive ? 1 + Math.floor(Math.random() * MAX_PER_CONNECTION) : 1, keepAlive);
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
clearTimeout(hardStop);
process.stdin.destroy();
emit("done", {
  total: done,
  ok,
  failed: done - ok,
  failures,
  pids,
  fresh: byMode.fresh,
  keepAlive: byMode.keepAlive,
  connections,
  ms: Date.now() - t0,
  timedOut,
});
process.exit(0);
