// Keep-alive load for restart tests: `total` GET requests to 127.0.0.1:`port``path` from
// `concurrency` loops, each loop one client with a keep-alive agent (maxSockets 1), so every request
// after the first goes out on a reused connection when the server left it open. Same output as
// runtimes/load.mjs: {"event":"progress","done":N} every 100, then {"event":"done",...} with
// failures by cause, responses per PID (the body of /pid) and how many went out on a reused socket.
// Usage: node test/_helpers/keepalive-load.mjs <port> [total=2000] [concurrency=8] [path=/pid]
import http from "node:http";
import process from "node:process";

const [port, total = 2000, concurrency = 8] = process.argv.slice(2, 5).map(Number);
const path = process.argv[5] ?? "/pid";
let started = 0;
let done = 0;
let ok = 0;
let reused = 0;
const failures = {};
const pids = {};
const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));

function once(agent) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        if (res.statusCode === 200) {
          ok++;
          pids[body] = (pids[body] ?? 0) + 1;
        } else failures[`status ${res.statusCode}`] = (failures[`status ${res.statusCode}`] ?? 0) + 1;
        resolve();
      });
      res.on("error", (e) => {
        failures[e.code ?? e.message] = (failures[e.code ?? e.message] ?? 0) + 1;
        resolve();
      });
    });
    req.on("socket", (socket) => {
      if (socket.__used) reused++;
      socket.__used = true;
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => {
      const cause = `${e.code ?? e.message}${req.reusedSocket ? " (reused connection)" : ""}`;
      failures[cause] = (failures[cause] ?? 0) + 1;
      resolve();
    });
  });
}

async function loop() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  while (started < total) {
    started++;
    await once(agent);
    done++;
    if (done % 100 === 0) emit("progress", { done });
  }
  agent.destroy();
}

await Promise.all(Array.from({ length: concurrency }, loop));
emit("done", { total, ok, failed: total - ok, failures, pids, reused });
