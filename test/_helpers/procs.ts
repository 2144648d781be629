// Real processes for the tests: the one spawner (follow: JSON events on stdout, lines on stderr, waiters
// for both, commands on stdin), and which PIDs are still alive (a zombie counts as gone: it has exited,
// only unreaped). fixture.ts's startFixture and runtime-facts' fact fixtures are built on follow().
import { type ChildProcess, spawn, type StdioOptions } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { readJsonLines, readLines } from "./json-lines.ts";
import { entry, type Exit, type FixtureEvent, nodeBin, root, runtimeCommand } from "./runtime.ts";

export { nodeBin, root };
export const faultWorker = `${root}test/_helpers/fault-worker.mjs`;

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
  /** Resolves with the first event (past or future) named `name` that matches `where`. */
  waitFor(name: string, where?: (e: FixtureEvent) => boolean): Promise<FixtureEvent>;
  /** Resolves once stderr (so far or later) matches `pattern`. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves once stdout's complete lines (so far or later) match `pattern`. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with `check()`'s first defined result, re-checked on every stdout or stderr chunk. */
  waitUntil<T>(check: () => T | undefined, what: string): Promise<T>;
  stderr(): string;
  /** stdout's complete lines so far (JSON or not), each with its "\n". */
  stdout(): string;
  exited: Promise<Exit>;
  /** Every process holding the stdout pipe (successors, workers) is gone. */
  allGone: Promise<void>;
  /** process.kill, not child.kill: under Deno 2.9 child.kill() makes the exit event report the signal
   * even when the child handled it and exited with a code. */
  signal(name: NodeJS.Signals): void;
  /** Writes `command` as one JSON line to stdin (spawned with stdin "pipe"). */
  send(command: Record<string, unknown>): void;
  /** Kills everything that printed an event, and the process itself. */
  cleanup(): void;
}

export interface FollowOptions {
  /** "pipe" to send() commands. Default "ignore". */
  stdin?: "ignore" | "pipe";
  /** File descriptors from 3 on (e.g. a listening socket for socket activation). */
  extraFds?: Exclude<StdioOptions, string>;
  /** Default: the repository root. */
  cwd?: string;
}

/**
 * Spawns `cmd args` with stdout read as JSON lines and stderr collected; `env` is added to this
 * process's environment (with GS_ENTRY and NO_COLOR=1). A waiter rejects, with stderr in its message,
 * once every process holding stdout is gone without what it waits for.
 */
export function follow(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  options: "ignore" | "pipe" | FollowOptions = {},
): Proc {
  const { stdin = "ignore", extraFds = [], cwd = root } = typeof options === "string" ? { stdin: options } : options;
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, GS_ENTRY: entry, NO_COLOR: "1", ...env },
    stdio: [stdin, "pipe", "pipe", ...extraFds],
  });
  const events: FixtureEvent[] = [];
  let waiters: Array<() => void> = [];
  let stderr = "";
  let stdout = "";
  let gone = false;
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  readLines(child.stdout!, (line) => (stdout += line + "\n")); // before readJsonLines: its onChunk wakes
  child.stdin?.on("error", () => {}); // EPIPE once the child is gone
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
  const waitUntil = <T>(check: () => T | undefined, what: string) =>
    new Promise<T>((resolve, reject) => {
      const run = () => {
        const found = check();
        if (found !== undefined) return resolve(found);
        if (gone) return reject(new Error(`${args.at(-1)}: every process ended before ${what}; stderr:\n${stderr}`));
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
      waitUntil(() => events.find((e) => e.event === name && where(e)), `event "${name}"`),
    waitForStderr: (pattern) => waitUntil(() => stderr.match(pattern) ?? undefined, `stderr matched ${pattern}`),
    waitForStdout: (pattern) => waitUntil(() => stdout.match(pattern) ?? undefined, `stdout matched ${pattern}`),
    waitUntil,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    allGone,
    signal: (name) => void process.kill(child.pid!, name),
    send: (command) => void child.stdin!.write(JSON.stringify(command) + "\n"),
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

/** The arguments, after `node`, of `graceful-serve run --host 127.0.0.1 [flags] -- <command>` (the built CLI). */
export function cliRun(flags: string[], command: string[]): string[] {
  return [`${root}dist/cli.js`, "run", "--host", "127.0.0.1", ...flags, "--", ...command];
}

/** `graceful-serve run [flags] -- <runtime> fault-worker.mjs`, the supervisor on Node. */
export function supervisor(
  flags: string[],
  faults = "",
  env: Record<string, string> = {},
  command?: string[],
): Proc {
  const [cmd, args] = runtimeCommand(faultWorker);
  return follow(nodeBin, cliRun(flags, command ?? [cmd, ...args]), {
    GS_FAULT: faults,
    GS_OPTIONS: JSON.stringify({ deadline: 10_000 }),
    ...env,
  });
}

/** The port a supervisor serves, from its first log line. */
export async function supervisorPort(proc: Proc): Promise<number> {
  const match = await proc.waitForStderr(/(?:owns|serves) 127\.0\.0\.1:(\d+)/);
  return Number(match[1]);
}
