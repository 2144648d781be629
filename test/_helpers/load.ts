// Load from a separate process, followed through its JSON-lines progress: runtimes/load.mjs (a fresh
// connection per request, on the runtime under test) or test/_helpers/keepalive-load.mjs (keep-alive
// clients, on Node). Both print {"event":"progress","done":N} every 100 and one {"event":"done",...}.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtimeCommand } from "./fixture.ts";
import { readJsonLines } from "./json-lines.ts";
import type { LoadResult as ProxyLoadResult } from "../../runtimes/proxy.ts";

/**
 * The "done" line of a fixed-count run: the part of runtimes/load.mjs's result (runtimes/proxy.ts has the
 * whole shape, for its until-stopped mode) that keepalive-load.mjs prints too.
 */
export type LoadResult = Pick<ProxyLoadResult, "total" | "ok" | "failed" | "failures" | "pids"> & {
  /** keepalive-load.mjs only: requests that went out on a reused connection. */
  reused?: number;
};

export interface Load {
  /** Resolves once at least `n` requests are done. */
  reached(n: number): Promise<void>;
  result: Promise<LoadResult>;
}

/** `total` requests to `path`, `concurrency` at a time, each on a fresh connection (runtimes/load.mjs). */
export function startLoad(port: number, total = 2000, concurrency = 8, path = "/pid"): Load {
  const [cmd, args] = runtimeCommand(fileURLToPath(new URL("../../runtimes/load.mjs", import.meta.url)));
  return followLoad(cmd, [...args, String(port), String(total), String(concurrency), path], "load generator");
}

/** `total` requests to /pid from `concurrency` keep-alive clients (test/_helpers/keepalive-load.mjs on `node`). */
export function startKeepAliveLoad(
  node: string,
  port: number,
  total = 2000,
  concurrency = 8,
): Load & { result: Promise<LoadResult & { reused: number }> } {
  const script = fileURLToPath(new URL("./keepalive-load.mjs", import.meta.url));
  const load = followLoad(node, [script, String(port), String(total), String(concurrency)], "keep-alive load");
  return load as Load & { result: Promise<LoadResult & { reused: number }> };
}

function followLoad(cmd: string, args: string[], what: string): Load {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let done = 0;
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveResult!: (r: LoadResult) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<LoadResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  readJsonLines(child.stdout!, (e) => {
    if (e.event === "progress") done = e.done as number;
    if (e.event === "done") {
      done = e.total as number;
      resolveResult(e as unknown as LoadResult);
    }
  }, () => {
    waiters = waiters.filter((w) => (done >= w.n ? (w.resolve(), false) : true));
  });
  child.once("exit", (code) => {
    if (code !== 0) rejectResult(new Error(`${what} exited ${code}`));
    for (const w of waiters) w.resolve();
  });
  return {
    reached: (n) => new Promise((resolve) => (done >= n ? resolve() : waiters.push({ n, resolve }))),
    result,
  };
}
