// The one load generator of the restart, deploy and proxy tests: HTTP/1.1 over raw sockets to
// 127.0.0.1:<port>, from <concurrency> loops, bounded in count and in time per request (10 s).
//
// Two ways to run it:
//   <runtime> runtimes/load.mjs <port> [total=2000] [concurrency=8] [path=/pid]
//     exactly `total` GET requests, each on a fresh connection (`Connection: close`)
//     (test/_helpers/load.ts, runtimes/demo.mjs);
//   <runtime> runtimes/load.mjs --until-stopped <port> '<json options>'
//     until "stop" arrives on stdin (or stdin ends) and at least `minTotal` requests are done, or
//     `maxSeconds` have passed (runtimes/proxy.ts: test/haproxy.test.ts, test/nginx.test.ts).
//     Options: { minTotal, concurrency, path = "/pid", postPercent = 0, freshPercent = 0,
//     maxPerConnection = 50, maxSeconds = 60 }. `freshPercent` of the loops send every request on a
//     fresh connection; the others keep a connection for 1–maxPerConnection requests, then close it
//     and open another. `postPercent` of the requests are POST /text with a 1–2000 byte body.
// A response that says `Connection: close` ends its connection early (not a failure). A request
// fails on: a status other than 200 (a proxy's 502/503/504), a connection error (by code:
// ECONNRESET, ECONNREFUSED, ...), a close without a complete response, no response within 10 s, or
// a POST answer that does not echo the body's length. Every request sent is counted exactly once.
// Prints {"event":"progress","done":N} every 100 requests, {"event":"failure","cause","ms","method",
// "keepAlive"} for each of the first 50 failures (ms since start), and at the end
// {"event":"done",total,ok,failed,failures:{cause:n},pids:{GET body:n},get,post,fresh,keepAlive
// ({ok,failed} each),connections,ms,timedOut}.
import net from "node:net";
import process from "node:process";

const argv = process.argv.slice(2);
const untilStopped = argv[0] === "--until-stopped";
const port = Number(untilStopped ? argv[1] : argv[0]);
const options = untilStopped ? JSON.parse(argv[2] ?? "{}") : {
  minTotal: Number(argv[1] ?? 2000),
  concurrency: Number(argv[2] ?? 8),
  path: argv[3] ?? "/pid",
  freshPercent: 100,
};
const {
  minTotal = 10_000,
  concurrency = 8,
  path = "/pid",
  postPercent = 0,
  freshPercent = 0,
  maxPerConnection = 50,
  maxSeconds = 60,
} = options;
const TIMEOUT = 10_000;

const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));
const t0 = Date.now();
let stopRequested = false;
let timedOut = false;
let started = 0;
let done = 0;
let ok = 0;
let connections = 0;
let failureEvents = 0;
const failures = {};
const pids = {};
const tally = () => ({ ok: 0, failed: 0 });
const by = { GET: tally(), POST: tally(), fresh: tally(), keepAlive: tally() };

let hardStop;
if (untilStopped) {
  let stdinBuffer = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (d) => {
    stdinBuffer += d;
    if (/^stop$/m.test(stdinBuffer)) stopRequested = true;
  });
  process.stdin.on("end", () => (stopRequested = true));
  hardStop = setTimeout(() => (timedOut = true), maxSeconds * 1000);
}

/** Whether to send no more requests. Fixed count: once `minTotal` are started. */
const finished = () => untilStopped ? timedOut || (stopRequested && done >= minTotal) : started >= minTotal;

function count(method, keepAlive, cause, body) {
  done++;
  const outcome = cause === undefined ? "ok" : "failed";
  by[method][outcome]++;
  by[keepAlive ? "keepAlive" : "fresh"][outcome]++;
  if (cause === undefined) {
    ok++;
    if (method === "GET") pids[body] = (pids[body] ?? 0) + 1;
  } else {
    failures[cause] = (failures[cause] ?? 0) + 1;
    if (failureEvents++ < 50) emit("failure", { cause, ms: Date.now() - t0, method, keepAlive });
  }
  if (done % 100 === 0) emit("progress", { done });
}

/**
 * Parses one HTTP/1.1 response at the start of `buf` (a latin1 string). Returns undefined while
 * incomplete, else { status, body, close, rest }. Handles Content-Length, chunked, and (HTTP/1.0
 * style) a body that runs to the close, complete only once the socket ends (`untilClose`).
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
    let waiting; // the request that is out, its response not complete yet: { method, size }
    let over = false;
    let timer;
    const answered = (r) => {
      const { method, size } = waiting;
      waiting = undefined;
      let cause = r.status === 200 ? undefined : `status ${r.status}`;
      if (!cause && method === "POST" && r.body !== `POST ${size}`) cause = "wrong POST answer";
      count(method, keepAlive, cause, r.body);
    };
    const finish = (cause) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      if (waiting) count(waiting.method, keepAlive, cause ?? "closed without response");
      waiting = undefined;
      socket.destroy();
      resolve();
    };
    const send = () => {
      if (sent >= n || finished()) return finish();
      sent++;
      started++;
      const close = !keepAlive || sent === n ? "Connection: close\r\n" : "";
      if (Math.random() * 100 >= postPercent) {
        waiting = { method: "GET" };
        socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`);
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
        if (!r || r.untilClose) return;
        buf = r.rest;
        answered(r);
        if (r.close || !keepAlive || sent >= n) return finish();
        send();
      }
    });
    socket.on("error", (e) => finish(e.code ?? e.message));
    socket.on("close", () => {
      const r = waiting && parse(buf);
      if (r?.untilClose) answered(r);
      finish();
    });
  });
}

async function loop(i) {
  // Spread the fresh loops evenly: with 50 %, loops 0, 2, 4, ... are fresh.
  const keepAlive = Math.ceil(((i + 1) * freshPercent) / 100) === Math.ceil((i * freshPercent) / 100);
  while (!finished()) {
    await connection(keepAlive ? 1 + Math.floor(Math.random() * maxPerConnection) : 1, keepAlive);
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
clearTimeout(hardStop);
if (untilStopped) process.stdin.destroy();
emit("done", {
  total: done,
  ok,
  failed: done - ok,
  failures,
  pids,
  get: by.GET,
  post: by.POST,
  fresh: by.fresh,
  keepAlive: by.keepAlive,
  connections,
  ms: Date.now() - t0,
  timedOut,
});
process.exit(0);
