// Child processes of the benchmark: each in its own process group, tracked, and killed (group and
// all) when it is stopped, when the benchmark ends, and when it fails or is interrupted.
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";

const live = new Set();

function killGroup(child, signal = "SIGKILL") {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Kills every child (and its group) still running. Safe to call more than once. */
export function killAll() {
  for (const child of live) killGroup(child);
  live.clear();
}

let installed = false;
/** Installs the cleanup handlers: normal exit, Ctrl+C/kill, and crashes all reap the children. */
export function installCleanup() {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      killAll();
      process.stderr.write(`\nbench: got ${signal}, children killed, aborting\n`);
      process.exit(130);
    });
  }
  const crash = (error) => {
    killAll();
    process.stderr.write(`\nbench: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
}

let tasksetOk;
/** Whether `taskset` can pin processes to a CPU here. */
export function canPin() {
  if (tasksetOk === undefined) {
    tasksetOk = spawnSync("taskset", ["-c", "0", "true"], { stdio: "ignore" }).status === 0;
  }
  return tasksetOk;
}

/**
 * Spawns `cmd args` in its own process group (optionally pinned to `cpu` with taskset, which execs,
 * so the pid is the program's own). Returns the ChildProcess plus `exited`, which resolves with
 * `{ code, signal, at }` (`at`: performance.now() when the exit event arrived).
 */
export function start(cmd, args, { env, cwd, cpu, stdin = false } = {}) {
  const [file, argv] = cpu !== undefined && cpu !== null && canPin()
    ? ["taskset", ["-c", String(cpu), cmd, ...args]]
    : [cmd, args];
  const child = spawn(file, argv, {
    cwd,
    env,
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true,
  });
  live.add(child);
  child.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      const at = performance.now();
      live.delete(child);
      // Reap anything left in its group.
      killGroup(child);
      resolve({ code, signal, at });
    });
    child.once("error", (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, at: performance.now(), error });
    });
  });
  return child;
}

/** SIGKILLs the child's whole group and waits (bounded) for its exit. */
export async function stop(child, waitMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exited;
  killGroup(child);
  let timer;
  await Promise.race([child.exited, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  return child.exited;
}

/** Runs a command to completion (bounded by `timeoutMs`; `signal` kills it), collecting stdout and stderr. */
export function runToEnd(cmd, args, { env, cwd, cpu, timeoutMs = 60_000, signal } = {}) {
  const child = start(cmd, args, { env, cwd, cpu });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  signal?.addEventListener("abort", () => killGroup(child), { once: true });
  // 'close' comes after 'exit' once stdout and stderr are fully read; bounded in case a grandchild
  // kept a pipe open (its group is killed on exit anyway).
  const closed = new Promise((resolve) => child.once("close", resolve));
  return child.exited.then(async ({ code, signal, error }) => {
    clearTimeout(timer);
    let t;
    await Promise.race([closed, new Promise((resolve) => (t = setTimeout(resolve, 2000)))]);
    clearTimeout(t);
    return { code, signal, error, stdout, stderr, timedOut };
  });
}
