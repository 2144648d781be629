// Runs runtimes/load.mjs as a separate process on the current runtime and follows its progress.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runtimeCommand } from "./fixture.ts";

export interface LoadResult {
  total: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  pids: Record<string, number>;
}

export interface Load {
  /** Resolves once at least `n` requests are done. */
  reached(n: number): Promise<void>;
  result: Promise<LoadResult>;
}

export function startLoad(port: number, total = 2000, concurrency = 8, path = "/pid"): Load {
  const [cmd, args] = runtimeCommand(fileURLToPath(new URL("../../runtimes/load.mjs", import.meta.url)));
  const child = spawn(cmd, [...args, String(port), String(total), String(concurrency), path], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let done = 0;
  let rest = "";
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveResult!: (r: LoadResult) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<LoadResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  child.stdout!.on("data", (d) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line);
      if (e.event === "progress") done = e.done;
      if (e.event === "done") {
        done = e.total;
        resolveResult(e);
      }
    }
    waiters = waiters.filter((w) => (done >= w.n ? (w.resolve(), false) : true));
  });
  child.once("exit", (code) => {
    if (code !== 0) rejectResult(new Error(`load generator exited ${code}`));
    for (const w of waiters) w.resolve();
  });
  return {
    reached: (n) => new Promise((resolve) => (done >= n ? resolve() : waiters.push({ n, resolve }))),
    result,
  };
}
