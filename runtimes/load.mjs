// Load generator for restart and deploy tests: `total` GET requests to 127.0.0.1:`port``path`,
// `concurrency` loops, each request on a fresh connection (Connection: close). Bounded in count and
// in time per request. Prints {"event":"progress","done":N} every 100 and a final {"event":"done",...}
// with failures by cause and responses per PID (the body of /pid).
// Usage: <runtime> runtimes/load.mjs <port> [total=2000] [concurrency=8] [path=/pid] [keepAlivePercent=0]
import net from "node:net";
import process from "node:process";

const [port, total = 2000, concurrency = 8, path = "/pid"] = process.argv.slice(2).map((
  a,
  i,
) => (i === 3 ? a : Number(a)));
const TIMEOUT = 10_000;
let started = 0;
let done = 0;
let ok = 0;
const failures = {};
const pids = {};
const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));

function once() {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    let finished = false;
    const finish = (cause) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (cause) failures[cause] = (failures[cause] ?? 0) + 1;
      else {
        const status = Number(data.slice(9, 12));
        const body = data.slice(data.indexOf("\r\n\r\n") + 4);
        if (status === 200) {
          ok++;
          pids[body] = (pids[body] ?? 0) + 1;
        } else failures[`status ${status}`] = (failures[`status ${status}`] ?? 0) + 1;
      }
      resolve();
    };
    const timer = setTimeout(() => finish("timeout"), TIMEOUT);
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    socket.on("data", (d) => (data += d));
    socket.on("error", (e) => finish(e.code ?? e.message));
    socket.on("close", () => finish(data.includes("\r\n\r\n") ? undefined : "closed without response"));
  });
}

async function loop() {
  while (started < total) {
    started++;
    await once();
    done++;
    if (done % 100 === 0) emit("progress", { done });
  }
}

const t0 = Date.now();
await Promise.all(Array.from({ length: concurrency }, loop));
emit("done", { total, ok, failed: total - ok, failures, pids, ms: Date.now() - t0 });
