#!/usr/bin/env node
// graceful-serve benchmarks (issue 6): throughput overhead, drain latency, SIGTERM exit, deadline
// precision, restart loss (placeholder) and memory, per runtime, beside the bare server and peers.
//
//   node bench/run.mjs [--quick] [--only node20,node24,deno,bun] [--skip bun] [--no-pin] [--out DIR]
//
// Full run: bench/results/latest.{md,json}, throughput.svg, shutdown.svg (≈ 12–15 min).
// --quick: CI smoke (< 2 min), same scenarios with short runs; written to bench/results/tmp/ (ignored
// by git) unless --out is given. Everything targets 127.0.0.1 only; every loop is bounded; every child
// runs in its own process group and is killed on exit, failure or Ctrl+C.
// Exit code: 0 when every measurement ran (missed goals are reported, not failed), 1 otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { closeAll, openMany, openRequest } from "./lib/client.mjs";
import { canPin, installCleanup, killAll, start, stop } from "./lib/proc.mjs";
import { renderMarkdown, renderShutdownSvg, renderThroughputSvg } from "./lib/report.mjs";
import { snapshotAndBuild } from "./lib/snapshot.mjs";
import { waitForQuiet, watchForeign } from "./lib/cpu.mjs";
import { ensureWrk, wrk } from "./lib/wrk.mjs";
import { options } from "./lib/args.mjs";
import { readJsonLines } from "../test/_helpers/json-lines.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const SERVER = join(HERE, "server.mjs");
const BIN = join(ROOT, "node_modules", ".bin");
const ALL = ["node20", "node24", "deno", "bun"];

// ---------------------------------------------------------------- options
const USAGE = "node bench/run.mjs [--quick] [--only node20,node24,deno,bun] [--skip a,b] [--no-pin] [--out DIR]\n" +
  "       node bench/run.mjs --report-only [--quick] [--out DIR]   (re-render the markdown and SVGs from the JSON)\n" +
  "       node bench/run.mjs --restart-only                        (re-measure only the restart loss)";
const opts = (() => {
  const o = options({
    quick: { type: "boolean", default: false },
    only: { type: "list", default: ALL },
    skip: { type: "list", default: [] },
    "no-pin": { type: "boolean", default: false },
    "report-only": { type: "boolean", default: false },
    "restart-only": { type: "boolean", default: false },
    out: { type: "string" },
  }, USAGE);
  for (const r of [...o.only, ...o.skip]) {
    if (!ALL.includes(r)) {
      console.error(`unknown runtime "${r}"\nusage: ${USAGE}`);
      process.exit(2);
    }
  }
  return {
    quick: o.quick, only: o.only, skip: o.skip, pin: !o["no-pin"], out: o.out === undefined ? undefined : resolve(o.out),
    reportOnly: o["report-only"], restartOnly: o["restart-only"],
  };
})();

const S = opts.quick
  ? {
    mode: "quick", rounds: 3, warmup: 0, duration: 1, connections: 50, retryShare: 0, foreignMax: 0.05, quietMs: 1000, quietBudgetS: 10, peers: false,
    memWarm: 5_000, memRequests: 20_000, drainReps: 1, sigtermReps: 1, deadlineReps: 1,
    deadline: 1000, streams: 10, keepAlive: 100, slow: 200,
  }
  : {
    mode: "full", rounds: 8, warmup: 1, duration: 2, connections: 50, retryShare: 0.2, foreignMax: 0.05, quietMs: 5000, quietBudgetS: 60, peers: true,
    memWarm: 50_000, memRequests: 100_000, drainReps: 3, sigtermReps: 5, deadlineReps: 3,
    deadline: 1000, streams: 10, keepAlive: 100, slow: 200,
  };
const OUT = opts.out ?? join(ROOT, "bench", "results", ...(opts.quick ? ["tmp"] : []));
const TMP = join(ROOT, "bench", "results", "tmp");
// Server on CPU 0, load generator on CPU 1: the two cores are shared, so keep them from trading places.
const PIN = opts.pin && os.cpus().length >= 2 && canPin();
const SERVER_CPU = PIN ? 0 : undefined;
const CLIENT_CPU = PIN ? 1 : undefined;

const log = (...a) => console.error(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

// ---------------------------------------------------------------- runtimes
function version(bin, args = ["--version"]) {
  try {
    return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0].trim();
  } catch {
    return "";
  }
}
function findNode20() {
  const candidates = [process.env.GS_NODE20, process.execPath];
  for (const d of (process.env.PATH ?? "").split(delimiter)) if (d) candidates.push(join(d, "node"));
  for (const c of candidates) if (c && existsSync(c) && version(c, ["-v"]).startsWith("v20.")) return c;
  throw new Error("no Node 20 binary found; set GS_NODE20=/path/to/node20");
}

/** Each runtime: its binary, how to run server.mjs, and which graceful-serve entry it imports. */
async function prepareRuntime(name, snapshot) {
  if (name === "node20" || name === "node24") {
    const bin = name === "node20" ? findNode20() : (await import(join(ROOT, "runtimes", "node24.mjs"))).ensureNode24();
    return {
      name, kind: "node", bin, version: `Node ${version(bin, ["-v"])}`, entry: snapshot.nodeEntry,
      args: (mode) => [...(mode === "memory" ? ["--expose-gc"] : []), SERVER],
    };
  }
  if (name === "deno") {
    const bin = join(BIN, "deno");
    if (!existsSync(bin)) throw new Error(`${bin} not found (npm install)`);
    return {
      name, kind: "deno", bin, version: version(bin).replace(/ \(.*/, ""), entry: snapshot.sourceEntry,
      args: (mode) => ["run", "-A", "--no-config", ...(mode === "memory" ? ["--v8-flags=--expose-gc"] : []), SERVER],
    };
  }
  const bin = join(BIN, "bun");
  if (!existsSync(bin)) throw new Error(`${bin} not found (npm install)`);
  return { name, kind: "bun", bin, version: `Bun ${version(bin)}`, entry: snapshot.sourceEntry, args: () => [SERVER] };
}

/**
 * Which implementations take part in which scenario on a runtime kind. The quick (smoke) run keeps
 * srvx in the throughput runs but leaves the peers out of the slower scenarios.
 */
function implsFor(kind, scenario) {
  const all = implsForFull(kind, scenario);
  if (S.peers) return all;
  const keep = {
    throughput: ["bare", "bare-req", "gs", "gs-response", "srvx"],
    memory: ["bare", "bare-req", "gs"],
    sigterm: ["bare", "gs"],
  }[scenario] ?? ["gs"];
  return all.filter((impl) => keep.includes(impl));
}
function implsForFull(kind, scenario) {
  const node = kind === "node";
  switch (scenario) {
    // Deno.serve has a fast path for zero-argument handlers, so it also runs with `(request) =>`.
    case "throughput":
    case "memory":
      return node ? ["bare", "gs", "gs-response", "srvx"] : kind === "deno" ? ["bare", "bare-req", "gs", "srvx"] : ["bare", "gs", "srvx"];
    case "drain":
    case "sigterm":
      return node ? ["bare", "gs", "srvx", "terminator", "cwg"] : ["bare", "gs", "srvx"];
    case "deadline":
      return node ? ["gs", "srvx", "terminator", "cwg"] : ["gs", "srvx"];
  }
  return [];
}

// ---------------------------------------------------------------- one server child
/**
 * Starts bench/server.mjs on `rt` as `impl` in `mode`; resolves once it listens. `waitFor` finds the
 * next event of a name (after the ones already seen when `after` is given), bounded by a timeout.
 */
async function launch(rt, impl, mode, env = {}, { stdin = false } = {}) {
  const child = start(rt.bin, rt.args(mode), {
    cwd: ROOT,
    cpu: SERVER_CPU,
    stdin,
    env: {
      ...process.env,
      NO_COLOR: "1",
      BENCH_IMPL: impl,
      BENCH_MODE: mode,
      BENCH_ROOT: ROOT,
      BENCH_ENTRY: rt.entry,
      BENCH_DEADLINE: String(S.deadline),
      BENCH_STREAMS: String(S.streams),
      BENCH_SLOW: String(S.slow),
      ...env,
    },
  });
  const events = [];
  let waiters = [];
  let stderr = "";
  let ended = false;
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  readJsonLines(child.stdout, (event) => events.push(event), wake);
  child.stdout.once("end", () => {
    ended = true;
    wake();
  });
  const waitFor = (name, timeoutMs, after = 0) =>
    new Promise((resolvePromise, reject) => {
      const deadline = performance.now() + timeoutMs;
      const check = () => {
        const found = events.slice(after).find((e) => e.event === name);
        if (found) return resolvePromise(found);
        const error = events.slice(after).find((e) => e.event === "error");
        if (error) return reject(new Error(`${impl}: ${error.message}`));
        if (ended) return reject(new Error(`${impl} exited before "${name}"${stderr ? `: ${stderr.trim().slice(-500)}` : ""}`));
        const left = deadline - performance.now();
        if (left <= 0) return reject(new Error(`${impl}: no "${name}" within ${timeoutMs} ms`));
        const timer = setTimeout(() => {
          waiters = waiters.filter((f) => f !== onWake);
          check();
        }, left);
        const onWake = () => {
          clearTimeout(timer);
          check();
        };
        waiters.push(onWake);
      };
      check();
    });
  try {
    const ready = await waitFor("ready", 20_000);
    return { child, port: ready.port, events, waitFor, stderr: () => stderr };
  } catch (error) {
    await stop(child);
    throw error;
  }
}

// ---------------------------------------------------------------- 1. throughput
const rotate = (list, n) => list.map((_, i) => list[(i + n) % list.length]);

let retriesLeft = 0;
let quietLeftMs = S.quietBudgetS * 1000;
/** Waits for a quiet machine, at most `maxMs` and within the run's total budget for such waits. */
async function quiet(maxMs) {
  if (quietLeftMs <= 0) return;
  const t0 = performance.now();
  await waitForQuiet({ threshold: S.foreignMax, maxMs: Math.min(maxMs, quietLeftMs) });
  quietLeftMs -= performance.now() - t0;
}

async function measureThroughput(rt, out) {
  const impls = implsFor(rt.kind, "throughput");
  const samples = Object.fromEntries(impls.map((i) => [i, []]));
  out.throughput = { impls, samples, rounds: S.rounds };
  for (let round = 0; round < S.rounds; round++) {
    // A B C D, then B C D A, ...: each server takes each position in turn.
    for (const impl of rotate(impls, round)) {
      // Another process busy on the server's CPU during a run is re-measured (bounded by a budget of
      // retries for the whole run); the least disturbed attempt is kept.
      let best;
      for (let attempt = 0; attempt < 3; attempt++) {
        let server;
        try {
          await quiet(S.quietMs);
          server = await launch(rt, impl, "hello");
          if (S.warmup > 0) await wrk(server.port, { seconds: S.warmup, connections: S.connections, cpu: CLIENT_CPU });
          const watch = watchForeign([server.child.pid]);
          const m = await wrk(server.port, { seconds: S.duration, connections: S.connections, cpu: CLIENT_CPU });
          const { foreign, pidMs } = watch.end();
          m.foreign = foreign;
          // Server CPU time per request: what a request costs, whatever else ran on the machine.
          m.cpuUs = pidMs === undefined || !(m.requests > 0) ? undefined : (pidMs * 1000) / m.requests;
          m.attempts = attempt + 1;
          log(`  [${rt.name}] throughput r${round + 1} ${impl.padEnd(11)} ${Math.round(m.rps).toString().padStart(6)} req/s  p99 ${m.p99.toFixed(2)} ms` +
            `${m.cpuUs === undefined ? "" : `  ${m.cpuUs.toFixed(1)} µs CPU/req`}` +
            `${m.foreign === undefined ? "" : `  other load ${(m.foreign * 100).toFixed(0)}%`}${m.errors ? `  errors ${m.errors}` : ""}`);
          if (!best || (m.foreign ?? 0) < (best.foreign ?? 0)) best = m;
        } catch (error) {
          fault(out, "throughput", impl, error);
          break;
        } finally {
          await stop(server?.child);
        }
        if ((best.foreign ?? 0) <= S.foreignMax || retriesLeft <= 0) break;
        retriesLeft--;
        log(`  [${rt.name}] throughput r${round + 1} ${impl}: disturbed by other processes, measuring again (${retriesLeft} retries left)`);
      }
      if (best) samples[impl].push({ round, ...best });
    }
  }
}

// ---------------------------------------------------------------- 2a. drain latency
async function measureDrain(rt, out) {
  const impls = implsFor(rt.kind, "drain");
  out.drain = Object.fromEntries(impls.map((i) => [i, { samples: [], how: undefined }]));
  for (let rep = 0; rep < S.drainReps; rep++) {
    for (const impl of rotate(impls, rep)) {
      let server;
      let handle;
      try {
        await quiet(S.quietMs / 2);
        server = await launch(rt, impl, "drain");
        // One slow request on a keep-alive connection; the server starts its drain 20 ms into it.
        const answered = openRequest(server.port, "/slow", "slow done", S.slow + 6000);
        const event = await server.waitFor("drain", S.slow + 12_000);
        handle = await answered.catch(() => undefined);
        out.drain[impl].samples.push(event.latency);
        out.drain[impl].total ??= [];
        out.drain[impl].total.push(event.sinceTrigger);
        out.drain[impl].how = event.how;
        log(`  [${rt.name}] drain r${rep + 1} ${impl.padEnd(11)} ${event.latency?.toFixed(2)} ms after the response (${event.how})`);
      } catch (error) {
        out.drain[impl].samples.push(null);
        fault(out, "drain", impl, error);
      } finally {
        closeAll(handle ? [handle] : []);
        await stop(server?.child);
      }
    }
  }
}

// ---------------------------------------------------------------- 2b. SIGTERM → exit
async function measureSigterm(rt, out) {
  const impls = implsFor(rt.kind, "sigterm");
  out.sigterm = Object.fromEntries(impls.map((i) => [i, { samples: [], exits: [] }]));
  const limit = 8000;
  for (let rep = 0; rep < S.sigtermReps; rep++) {
    for (const impl of rotate(impls, rep)) {
      let server;
      let handles;
      try {
        await quiet(S.quietMs / 2);
        server = await launch(rt, impl, "sigterm");
        handles = await openMany(S.keepAlive, server.port, "/", "hello", 10_000);
        await sleep(100); // all idle now
        const t0 = performance.now();
        server.child.kill("SIGTERM");
        let timer;
        const exit = await Promise.race([
          server.child.exited,
          new Promise((r) => (timer = setTimeout(() => r(undefined), limit))),
        ]);
        clearTimeout(timer);
        if (!exit) throw new Error(`did not exit within ${limit} ms of SIGTERM`);
        const ms = exit.at - t0;
        out.sigterm[impl].samples.push(ms);
        out.sigterm[impl].exits.push(exit.signal ?? `exit ${exit.code}`);
        log(`  [${rt.name}] sigterm r${rep + 1} ${impl.padEnd(11)} ${ms.toFixed(1)} ms (${exit.signal ?? `exit ${exit.code}`})`);
      } catch (error) {
        out.sigterm[impl].samples.push(null);
        fault(out, "sigterm", impl, error);
      } finally {
        closeAll(handles);
        await stop(server?.child);
      }
    }
  }
}

// ---------------------------------------------------------------- 3. deadline precision
async function measureDeadline(rt, out) {
  const impls = implsFor(rt.kind, "deadline");
  out.deadline = Object.fromEntries(impls.map((i) => [i, { samples: [], how: undefined }]));
  for (let rep = 0; rep < S.deadlineReps; rep++) {
    for (const impl of rotate(impls, rep)) {
      let server;
      let handles;
      try {
        await quiet(S.quietMs / 2);
        server = await launch(rt, impl, "deadline");
        // Endless streams; the server starts its shutdown 100 ms after the last one opened.
        handles = await openMany(S.streams, server.port, "/stream", "tick", 10_000);
        const event = await server.waitFor("deadline", S.deadline + 5000);
        out.deadline[impl].samples.push(event.overshoot);
        out.deadline[impl].how = event.how;
        log(`  [${rt.name}] deadline r${rep + 1} ${impl.padEnd(11)} overshoot ${event.overshoot.toFixed(1)} ms (${event.how})`);
      } catch (error) {
        out.deadline[impl].samples.push(null);
        fault(out, "deadline", impl, error);
      } finally {
        closeAll(handles);
        await stop(server?.child);
      }
    }
  }
}

// ---------------------------------------------------------------- 4. restart loss (placeholder)
/**
 * Failed requests during a SIGHUP restart under load (issue 6, item 4): ≥ 10 000 requests over ≥ 8
 * concurrent fresh connections (wrk with a Lua script sending `Connection: close`), SIGHUP in the middle,
 * per runtime and handoff mechanism; goal 0. Restart is being built (issue 3): until it lands this
 * returns the placeholder, and the report prints it instead of a number.
 * To fill in: start bench/server.mjs in a "restart" mode, drive load, send SIGHUP, and return
 * `{ status: "measured", mechanisms: { [name]: { requests, failed: number[] } } }`.
 */
async function measureRestartLoss(rt, out) {
  // runtimes/demo.mjs is the restart story itself: examples/server.mjs (serve({ restart })), load from a
  // second process (8 loops, a fresh connection per request), SIGHUP at 30 %, then SIGTERM. It runs on
  // the repo's build (dist/) for Node and on src/ for Deno and Bun. Node: the socket is passed as fd 3;
  // Deno and Bun: reusePort.
  const requests = S.mode === "quick" ? 3_000 : 10_000;
  const runs = S.mode === "quick" ? 1 : 3;
  const mechanism = rt.kind === "node" ? "fd 3 (the listening socket)" : "reusePort";
  const failed = [];
  for (let i = 0; i < runs; i++) {
    const node = rt.kind === "node" ? rt.bin : process.execPath;
    const res = spawnSync(node, [join(ROOT, "runtimes", "demo.mjs"), "--runtime", rt.kind, "--requests", String(requests)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    const m = /^\s+failed\s+(\d+)/m.exec(res.stdout ?? "");
    if (!m) {
      out.errors.push({ section: "restart", impl: "gs", message: `demo gave no summary: ${(res.stderr ?? "").slice(-300)}` });
      continue;
    }
    failed.push(Number(m[1]));
  }
  out.restart = { status: "measured", mechanisms: { [mechanism]: { requests, failed } } };
}

// ---------------------------------------------------------------- 5. memory
async function command(server, line, event, timeoutMs = 10_000) {
  const after = server.events.length;
  server.child.stdin.write(`${line}\n`);
  return server.waitFor(event, timeoutMs, after);
}

/** Sends load until the server has answered `target` requests in total (bounded: ≤ 8 wrk runs). */
async function driveTo(server, target) {
  for (let attempt = 0; attempt < 8; attempt++) {
    const { count } = await command(server, "count", "count");
    if (count >= target) return count;
    // wrk stops after exactly `need` responses (Lua); its -d is only the upper bound.
    const need = target - count;
    const abort = new AbortController();
    const load = wrk(server.port, { seconds: 60, connections: S.connections, cpu: CLIENT_CPU, limit: need, tmpDir: TMP, signal: abort.signal });
    let done = false;
    load.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 600 && !done; i++) {
      await sleep(100);
      const now = await command(server, "count", "count");
      if (now.count >= target) break;
    }
    abort.abort();
    await load.catch(() => {});
  }
  const { count } = await command(server, "count", "count");
  if (count < target) throw new Error(`only ${count} of ${target} requests answered`);
  return count;
}

async function measureMemory(rt, out) {
  const impls = implsFor(rt.kind, "memory");
  out.memory = { requests: S.memRequests, warm: S.memWarm, byImpl: {} };
  for (const impl of impls) {
    let server;
    try {
      server = await launch(rt, impl, "memory", {}, { stdin: true });
      await driveTo(server, S.memWarm);
      const before = await command(server, "mem", "mem");
      const count = await driveTo(server, S.memWarm + S.memRequests);
      const after = await command(server, "mem", "mem");
      out.memory.byImpl[impl] = { before, after, requests: count - before.count };
      const mb = (b) => (b / 2 ** 20).toFixed(1);
      log(`  [${rt.name}] memory ${impl.padEnd(11)} rss ${mb(before.rss)} → ${mb(after.rss)} MiB, heapUsed ${mb(before.heapUsed)} → ${mb(after.heapUsed)} MiB over ${count - before.count} requests`);
    } catch (error) {
      fault(out, "memory", impl, error);
    } finally {
      await stop(server?.child);
    }
  }
}

// ---------------------------------------------------------------- main
/** Records a measurement that failed or timed out. A peer's is a result; ours or a bare server's fails the run. */
function fault(out, section, impl, error) {
  const message = error instanceof Error ? error.message : String(error);
  const peer = !["bare", "bare-req", "gs", "gs-response"].includes(impl);
  out.errors.push({ section, impl, message, peer });
  log(`  [${out.name}] ${section} ${impl}: ${peer ? "no result" : "FAILED"}: ${message}`);
}

function peerVersions() {
  const v = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  const wrkVersion = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  const wrk = /^wrk (\S+)/m.exec(`${wrkVersion.stdout ?? ""}${wrkVersion.stderr ?? ""}`)?.[1] ?? "?";
  return { srvx: v("srvx"), "http-terminator": v("http-terminator"), "close-with-grace": v("close-with-grace"), wrk };
}

function gitDescribe() {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return `${head}${dirty ? " + uncommitted src/ changes" : ""}`;
  } catch {
    return "?";
  }
}

const BASE = opts.quick ? "quick" : "latest";

/** Writes <base>.md, <base>.json and the two SVGs into OUT, and prints the markdown on stdout. */
function writeReport(results) {
  const md = renderMarkdown(results, { throughputSvg: "throughput.svg", shutdownSvg: "shutdown.svg" });
  writeFileSync(join(OUT, `${BASE}.md`), md);
  writeFileSync(join(OUT, `${BASE}.json`), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(join(OUT, "throughput.svg"), renderThroughputSvg(results));
  writeFileSync(join(OUT, "shutdown.svg"), renderShutdownSvg(results));
  process.stdout.write(md);
  log(`bench: wrote ${relative(ROOT, OUT) || "."}/${BASE}.md, ${BASE}.json, throughput.svg, shutdown.svg`);
}

async function main() {
  if (opts.reportOnly) {
    writeReport(JSON.parse(readFileSync(join(OUT, `${BASE}.json`), "utf8")));
    return 0;
  }
  if (opts.restartOnly) {
    // Measure only the restart loss into the existing results, then re-render.
    const results = JSON.parse(readFileSync(join(OUT, `${BASE}.json`), "utf8"));
    for (const name of ALL.filter((r) => opts.only.includes(r) && !opts.skip.includes(r))) {
      const out = results.runtimes[name];
      if (!out) continue;
      const rt = name.startsWith("node")
        ? { kind: "node", bin: name === "node20" ? findNode20() : (await import(join(ROOT, "runtimes", "node24.mjs"))).ensureNode24() }
        : { kind: name };
      log(`bench: [${name}] restart loss`);
      out.errors = (out.errors ?? []).filter((e) => e.section !== "restart");
      await measureRestartLoss(rt, out);
    }
    writeReport(results);
    return 0;
  }
  installCleanup();
  ensureWrk(log);
  mkdirSync(OUT, { recursive: true });
  const selected = ALL.filter((r) => opts.only.includes(r) && !opts.skip.includes(r));
  log(`bench: ${S.mode} run of ${selected.join(", ")}; server on CPU ${SERVER_CPU ?? "any"}, wrk on CPU ${CLIENT_CPU ?? "any"}`);
  const snapshot = await snapshotAndBuild(ROOT, TMP);
  log(`bench: measuring a snapshot of src/ (${snapshot.srcHash}) built into ${relative(ROOT, snapshot.dir)}`);

  const results = {
    meta: {
      date: new Date().toISOString(),
      mode: S.mode,
      settings: S,
      git: gitDescribe(),
      srcHash: snapshot.srcHash,
      host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", pinned: PIN, kernel: os.release() },
      peers: peerVersions(),
      runtimes: {},
    },
    runtimes: {},
  };

  retriesLeft = Math.ceil(S.retryShare * S.rounds * selected.length * 4);
  for (const name of selected) {
    const out = { name, errors: [] };
    results.runtimes[name] = out;
    let rt;
    try {
      rt = await prepareRuntime(name, snapshot);
      out.version = rt.version;
      out.kind = rt.kind;
      results.meta.runtimes[name] = rt.version;
    } catch (error) {
      out.skipped = error instanceof Error ? error.message : String(error);
      log(`bench: [${name}] skipped: ${out.skipped}`);
      continue;
    }
    log(`bench: [${name}] ${rt.version} (${elapsed()})`);
    await measureThroughput(rt, out);
    log(`bench: [${name}] memory (${elapsed()})`);
    await measureMemory(rt, out);
    log(`bench: [${name}] drain / SIGTERM / deadline (${elapsed()})`);
    await measureDrain(rt, out);
    await measureSigterm(rt, out);
    await measureDeadline(rt, out);
    await measureRestartLoss(rt, out);
  }
  results.meta.durationS = Math.round((performance.now() - started) / 1000);

  writeReport(results);
  log(`\nbench: done in ${results.meta.durationS}s`);
  const failures = Object.values(results.runtimes).reduce((n, r) => n + r.errors.filter((e) => !e.peer).length + (r.skipped ? 1 : 0), 0);
  if (failures) log(`bench: ${failures} measurement(s) of graceful-serve or a bare server failed, or a runtime was skipped; see the report`);
  return failures ? 1 : 0;
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (error) => {
    killAll();
    log(`bench: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
