// `npm run demo`: the whole story in one command. Starts examples/server.mjs, drives load at it from a
// second process, sends SIGHUP (zero-downtime restart) with a slow request in flight, then SIGTERM
// (drain and exit), and prints a line per event and a summary.
// Options: --runtime node|deno|bun (default node), --requests N (default 3000).
import { spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { readJsonLines, readLines } from "../test/_helpers/json-lines.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const runtime = opt("runtime", "node");
const total = Number(opt("requests", 3000));
const commands = {
  node: [process.execPath],
  deno: [`${root}node_modules/.bin/deno`, "run", "-A", "--unstable-net"],
  bun: [`${root}node_modules/.bin/bun`],
};
if (!commands[runtime]) throw new Error(`--runtime must be one of ${Object.keys(commands).join(", ")}`);

const t0 = Date.now();
const stamp = () => `${String(Date.now() - t0).padStart(5)} ms`;
const say = (who, line) => console.log(`${stamp()}  ${who.padEnd(14)} ${line}`);

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

// 1. The example server. Its log lines (stderr, one per transition) are the story.
const [cmd, ...cmdArgs] = commands[runtime];
say("demo", `starting examples/server.mjs on ${runtime}, port ${port}`);
const server = spawn(cmd, [...cmdArgs, `${root}examples/server.mjs`], {
  cwd: root,
  env: { ...process.env, PORT: String(port), NO_COLOR: "1" },
  stdio: ["ignore", "inherit", "pipe"],
});
const firstPid = server.pid;
let successorPid;
let sigtermAt;
let readyResolve;
const ready = new Promise((r) => (readyResolve = r));
let successorReady;
const successorUp = new Promise((r) => (successorReady = r));
readLines(server.stderr, (line) => {
  const m = /\[graceful-serve\] (.*)/.exec(line);
  if (!m) return console.log(line);
  const pid = /pid (\d+)/.exec(m[1])?.[1];
  say("server", m[1]);
  if (m[1].startsWith("listening") && Number(pid) === firstPid) readyResolve();
  else if (m[1].startsWith("listening")) {
    successorPid = Number(pid);
    successorReady();
  }
});
const allGone = new Promise((resolve) => server.stderr.once("end", resolve));
const firstExit = new Promise((resolve) => server.once("exit", (code, signal) => resolve({ code, signal })));
await ready;

// 2. A slow request that will still be running when the restart begins.
const slow = fetch(`http://127.0.0.1:${port}/slow?ms=1500`).then((r) => r.text());

// 3. Load from a second process: fresh connections, 8 at a time.
say("load", `${total} requests, 8 concurrent, a new connection each`);
const load = spawn(process.execPath, [`${root}runtimes/load.mjs`, String(port), String(total), "8", "/"], {
  stdio: ["ignore", "pipe", "inherit"],
});
let result;
let hupSent = false;
const loadDone = new Promise((resolve) => {
  readJsonLines(load.stdout, (e) => {
    if (e.event === "progress" && e.done % 500 === 0) say("load", `${e.done} done`);
    if (e.event === "progress" && !hupSent && e.done >= total * 0.3) {
      hupSent = true;
      say("demo", `kill -HUP ${firstPid}  (restart: a successor takes the port; the old process drains)`);
      process.kill(firstPid, "SIGHUP");
    }
    if (e.event === "done") resolve(result = e);
  });
});

slow.then(
  (text) => say("client", `slow request finished: ${text.trim()}`),
  (e) => say("client", `slow request FAILED: ${e.message}`),
);
const first = await firstExit;
say("demo", `old process ${firstPid} exited with code ${first.code}`);
await loadDone;
await successorUp;
say("load", `finished: ${result.ok} ok, ${result.failed} failed`);

// 4. SIGTERM the successor while a request is in flight: it drains, then exits.
const lastSlow = fetch(`http://127.0.0.1:${port}/slow?ms=500`).then((r) => r.text());
await new Promise((r) => setTimeout(r, 100)); // the request reaches the handler
sigtermAt = Date.now();
say("demo", `kill -TERM ${successorPid}  (drain: finish in-flight work, refuse new connections, exit)`);
process.kill(successorPid, "SIGTERM");
say("client", `in-flight request finished: ${(await lastSlow).trim()}`);
await allGone;
const drainMs = Date.now() - sigtermAt;
say("demo", `successor ${successorPid} exited; the port is free`);

const pids = {};
for (const [body, n] of Object.entries(result.pids)) {
  const pid = /pid (\d+)/.exec(body)?.[1] ?? body;
  pids[pid] = (pids[pid] ?? 0) + n;
}
console.log(`
Summary (${runtime})
  requests        ${result.total}
  failed          ${result.failed}${result.failed ? `  ${JSON.stringify(result.failures)}` : ""}
  served by PIDs  ${Object.entries(pids).map(([p, n]) => `${p}: ${n}`).join(", ")}
  restart         old ${firstPid} → new ${successorPid}, old exited ${first.code}
  SIGTERM → exit  ${drainMs} ms (one 500 ms request in flight)`);
process.exitCode = result.failed === 0 || runtime !== "node" ? 0 : 1;
