// Real processes for the fault tests: spawn, follow JSON events on stdout and lines on stderr, and
// tell which PIDs are still alive (a zombie counts as gone: it has exited, only unreaped).
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { entry, type Exit, type FixtureEvent, runtime, runtimeCommand } from "./fixture.ts";
import { readJsonLines } from "./json-lines.ts";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const faultWorker = `${root}test/_helpers/fault-worker.mjs`;
/** The supervisor runs on Node: under Deno and Bun the tests start it with the machine's `node`. */
export const nodeBin = runtime === "node" ? process.execPath : "node";

/** Whether `pid` is a live process (not a zombie). Linux /proc. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Resolves `true` once `pid` is gone, `false` if it still lives after `ms`. A process that is not our
 * child has no exit event to wait on: its stdout closes while it is still exiting (fds are released
 * before it turns zombie), so this re-reads /proc until the exit completes.
 */
export async function gone(pid: number, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return !alive(pid);
}

/**
 * Sends `mix` one signal per millisecond (a storm) until the process is gone. A process may be reaped
 * between the exit check and the kill (its exit event not delivered yet, seen once on Deno): ESRCH ends
 * the storm; the caller judges the exit.
 */
export async function signalStorm(p: Pick<Proc, "child" | "signal">, mix: NodeJS.Signals[]): Promise<void> {
  for (const signal of mix) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    try {
      p.signal(signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

export function tempDir(prefix = "gs-faults-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A port that is free right now (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

export interface Proc {
  child: ChildProcess;
  events: FixtureEvent[];
  /** Every PID that printed an event (the process, its successors, its workers). */
  pids(): number[];
  waitFor(name: string, where?: (e: FixtureEvent) => boolean): Promise<FixtureEvent>;
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  stderr(): string;
  exited: Promise<Exit>;
  /** Every process holding the stdout pipe (successors, workers) is gone. */
  allGone: Promise<void>;
  signal(name: NodeJS.Signals): void;
  /** Kills everything that printed an event, and the process itself. */
  cleanup(): void;
}

/** Spawns `cmd args` with stdout as JSON lines and stderr collected. */
export function follow(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  stdin: "ignore" | "pipe" = "ignore",
): Proc {
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, GS_ENTRY: entry, NO_COLOR: "1", ...env },
    stdio: [stdin, "pipe", "pipe"],
  });
  const events: FixtureEvent[] = [];
  let waiters: Array<() => void> = [];
  let stderr = "";
  let gone = false;
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  child.stderr!.on("data", (d) => {
    stderr += d;
    wake();
  });
  readJsonLines(child.stdout!, (e) => events.push(e), wake);
  const allGone = new Promise<void>((resolve) => child.stdout!.once("end", () => resolve()));
  allGone.then(() => {
    gone = true;
    wake();
  });
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const until = <T>(check: () => T | undefined, what: string) =>
    new Promise<T>((resolve, reject) => {
      const run = () => {
        const found = check();
        if (found !== undefined) return resolve(found);
        if (gone) return reject(new Error(`every process ended before ${what}; stderr:\n${stderr}`));
        waiters.push(run);
      };
      run();
    });
  const pids = () => [...new Set(events.map((e) => e.pid as number).filter((p) => typeof p === "number"))];
  return {
    child,
    events,
    pids,
    waitFor: (name, where = () => true) =>
      until(() => events.find((e) => e.event === name && where(e)), `event "${name}"`),
    waitForStderr: (pattern) => until(() => stderr.match(pattern) ?? undefined, `stderr matched ${pattern}`),
    stderr: () => stderr,
    exited,
    allGone,
    signal: (name) => void process.kill(child.pid!, name),
    cleanup() {
      for (const pid of pids()) killQuietly(pid);
      killQuietly(child.pid);
    },
  };
}

/** A serve() process on the runtime under test running test/_helpers/fault-worker.mjs. */
export function faultServer(
  faults: string,
  options: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Proc {
  const [cmd, args] = runtimeCommand(faultWorker);
  return follow(cmd, args, { GS_FAULT: faults, GS_OPTIONS: JSON.stringify(options), ...env });
}

/** `graceful-serve run [flags] -- <runtime> fault-worker.mjs`, the supervisor on Node. */
export function supervisor(
  flags: string[],
  faults = "",
  env: Record<string, string> = {},
  command?: string[],
): Proc {
  const [cmd, args] = runtimeCommand(faultWorker);
  return follow(
    nodeBin,
    [`${root}dist/cli.js`, "run", "--host", "127.0.0.1", ...flags, "--", ...(command ?? [cmd, ...args])],
    { GS_FAULT: faults, GS_OPTIONS: JSON.stringify({ deadline: 10_000 }), ...env },
  );
}

/** The port a supervisor serves, from its first log line. */
export async function supervisorPort(proc: Proc): Promise<number> {
  const match = await proc.waitForStderr(/(?:owns|serves) 127\.0\.0\.1:(\d+)/);
  return Number(match[1]);
}
