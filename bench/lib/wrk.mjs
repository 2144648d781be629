// wrk: installed from Debian when missing, run against 127.0.0.1 only, output parsed.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runToEnd } from "./proc.mjs";

function hasWrk() {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

/** Makes sure `wrk` is on PATH: `apt-get install -y wrk` (after `apt-get update` if needed). */
export function ensureWrk(log = console.error) {
  if (hasWrk()) return;
  log("bench: wrk not found, installing the Debian package (apt-get install -y wrk)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "wrk"], { stdio: "inherit", env });
  if (install().status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit", env });
    install();
  }
  if (!hasWrk()) {
    throw new Error("bench: could not install wrk (needs root and Debian's apt); install it with `apt-get install -y wrk`");
  }
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

/** Parses wrk's report (run with --latency). */
export function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? "");
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50, p99, requests, errors: socketErrors + non2xx };
}

let stopScript;
/** A wrk Lua script that stops its thread after $BENCH_LIMIT responses (wrk itself still runs -d). */
function limitScript(tmpDir) {
  if (stopScript) return stopScript;
  mkdirSync(tmpDir, { recursive: true });
  stopScript = join(tmpDir, "stop-after.lua");
  writeFileSync(
    stopScript,
    [
      "local n = 0",
      'local limit = tonumber(os.getenv("BENCH_LIMIT"))',
      "response = function(status, headers, body)",
      "  n = n + 1",
      "  if n >= limit then wrk.thread:stop() end",
      "end",
      "",
    ].join("\n"),
  );
  return stopScript;
}

/**
 * Runs `wrk -t1 -c<connections> -d<seconds>s --latency http://127.0.0.1:<port>/` (with `script`, that
 * Lua file too, e.g. for a POST; not together with `limit`).
 * With `limit`, wrk stops sending after that many responses (for "after N requests" runs); it still
 * runs to -d, so such a caller aborts `signal` when done (the result is then `undefined`).
 */
export async function wrk(port, { seconds, connections = 50, cpu, limit, tmpDir, signal, script } = {}) {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency"];
  const env = { ...process.env };
  if (script !== undefined) args.push("-s", script);
  else if (limit !== undefined) {
    args.push("-s", limitScript(tmpDir));
    env.BENCH_LIMIT = String(limit);
  }
  args.push(`http://127.0.0.1:${port}/`);
  const r = await runToEnd("wrk", args, { cpu, env, signal, timeoutMs: (seconds + 15) * 1000 });
  if (signal?.aborted) return undefined;
  if (r.timedOut || r.code !== 0) {
    throw new Error(`wrk failed (code ${r.code}${r.timedOut ? ", timed out" : ""}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  const parsed = parseWrk(r.stdout);
  if (!Number.isFinite(parsed.rps)) throw new Error(`could not parse wrk output:\n${r.stdout}`);
  return parsed;
}
