/**
 * `graceful-serve run`: a process that keeps one PID for systemd, Docker and Kubernetes while the
 * workers behind it are replaced. It owns the listening socket — bound, never accepted on — and hands
 * it to each worker as fd 3; the workers are ordinary `serve()` programs. On SIGHUP it starts a new
 * worker, waits for its readiness line, then sends the old one SIGTERM to drain. The socket never
 * closes, so a restart loses nothing, and the PID supervisors watch never changes (the seed's
 * complaint about endless).
 *
 * Runs on Node.js (it binds with `net._createServerHandle`, the call Node's own cluster module uses,
 * which Deno and Bun do not provide).
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { type Handoff, HANDOFF_ENV, removePidFile, writePidFile } from "./restart.ts";

/** Parsed `graceful-serve run` arguments. */
export interface SupervisorOptions {
  port: number;
  hostname: string;
  /** ms a new worker has to become ready. */
  timeout: number;
  pidFile: string | undefined;
  /**
   * `fd`: the supervisor binds the port and hands the socket to each worker (Node workers; 0 lost).
   * `reuseport`: each worker binds the port with reusePort (Deno and Bun workers, whose servers cannot
   * take an fd; a restart can reset a few queued connections, see docs/runtimes.md).
   * `auto` (default): `reuseport` when the worker program is deno or bun, else `fd`.
   */
  handoff: "auto" | "fd" | "reuseport";
  command: string[];
}

const USAGE =
  "usage: graceful-serve run [--port 8000] [--host 0.0.0.0] [--timeout 30000] [--pid-file PATH] [--handoff auto|fd|reuseport] -- <command...>";

/**
 * Parses `run` arguments (everything after `run`).
 * @throws {TypeError} on unknown flags or a missing command. @throws {RangeError} on a bad port or timeout.
 */
export function parseRunArgs(argv: readonly string[]): SupervisorOptions {
  const options: SupervisorOptions = {
    port: 8000,
    hostname: "0.0.0.0",
    timeout: 30_000,
    pidFile: undefined,
    handoff: "auto",
    command: [],
  };
  let i = 0;
  for (; i < argv.length && argv[i] !== "--"; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new TypeError(`graceful-serve run: ${flag} needs a value\n${USAGE}`);
    i++;
    if (flag === "--port") options.port = Number(value);
    else if (flag === "--host") options.hostname = value;
    else if (flag === "--timeout") options.timeout = Number(value);
    else if (flag === "--pid-file") options.pidFile = value;
    else if (flag === "--handoff") {
      if (value !== "auto" && value !== "fd" && value !== "reuseport") {
        throw new RangeError(`graceful-serve run: --handoff must be auto, fd or reuseport`);
      }
      options.handoff = value;
    } else throw new TypeError(`graceful-serve run: unknown option ${flag}\n${USAGE}`);
  }
  options.command = argv.slice(i + 1);
  if (options.command.length === 0) throw new TypeError(`graceful-serve run: no worker command after --\n${USAGE}`);
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`graceful-serve run: --port must be an integer from 0 to 65535`);
  }
  if (!Number.isFinite(options.timeout) || options.timeout <= 0) {
    throw new RangeError(`graceful-serve run: --timeout must be a positive number of ms`);
  }
  return options;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  exited: Promise<number>;
}

/** Runs the supervisor until its worker has exited after SIGTERM/SIGINT; resolves with the exit code. */
export function runSupervisor(options: SupervisorOptions): Promise<number> {
  const log = (message: string) => console.error(`[graceful-serve run] ${message}`);
  const createHandle = (net as unknown as {
    _createServerHandle?: (address: string, port: number, addressType: number) => unknown;
  })._createServerHandle;
  if (typeof createHandle !== "function") {
    throw new Error("graceful-serve run needs Node.js (net._createServerHandle); run the supervisor with node");
  }
  const program = path.basename(options.command[0]!);
  const mode = options.handoff === "auto"
    ? (/^(deno|bun)(\.exe)?$/.test(program) ? "reuseport" : "fd")
    : options.handoff;
  // fd: bound but not listening here. The first worker's listen() makes it listen, and this process
  // never accepts, so every connection goes to a worker and the socket outlives every worker.
  const handle = createHandle(options.hostname, options.port, net.isIPv6(options.hostname) ? 6 : 4);
  if (typeof handle === "number") {
    throw new Error(
      `graceful-serve run: cannot bind ${options.hostname}:${options.port} (${
        handle === -98 ? "EADDRINUSE" : `errno ${handle}`
      })`,
    );
  }
  const address: { port?: number } = {};
  (handle as { getsockname(out: object): void }).getsockname(address);
  const port = address.port!;
  // reuseport: the workers bind themselves; the port was only reserved to resolve 0 to a number.
  if (mode === "reuseport") (handle as { close(): void }).close();
  if (options.pidFile) writePidFile(options.pidFile, process.pid);
  log(
    `pid ${process.pid} ${mode === "fd" ? "owns" : "serves"} ${options.hostname}:${port} (handoff: ${mode}); worker: ${
      options.command.join(" ")
    }`,
  );

  // Readiness: workers send "ready <pid>" to a unix socket in a directory only this user can enter.
  const readyDir = fs.mkdtempSync(path.join(os.tmpdir(), "graceful-serve-"));
  const readyPath = path.join(readyDir, "ready.sock");
  const readyWaiters = new Map<number, () => void>();
  const readyServer = net.createServer((socket) => {
    let line = "";
    socket.on("data", (chunk) => {
      line += String(chunk);
      const pid = Number(/^ready (\d+)\n/.exec(line)?.[1]);
      if (pid) readyWaiters.get(pid)?.();
    });
    socket.on("error", () => {});
  });
  readyServer.listen(readyPath);
  readyServer.unref();

  let current: Worker | undefined;
  let starting: Promise<boolean> | undefined;
  let stopping = false;
  let signals = 0;

  const start = (): Worker => {
    const handoff: Handoff = mode === "fd"
      ? { mode, fd: 3, port, hostname: options.hostname, readyPath, ppid: process.pid }
      : { mode, port, hostname: options.hostname, readyPath, ppid: process.pid };
    const [command, ...args] = options.command;
    const child = spawn(command!, args, {
      stdio: ["inherit", "inherit", "inherit", mode === "fd" ? (handle as "ignore") : "ignore"],
      env: { ...process.env, [HANDOFF_ENV]: JSON.stringify(handoff) },
    });
    const exited = new Promise<number>((resolve) => {
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 + (osSignals[signal] ?? 0) : 1)));
      child.once("error", () => resolve(127));
    });
    return { child, ready: false, exited };
  };

  const waitReady = (worker: Worker): Promise<string | undefined> => {
    const pid = worker.child.pid!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<string | undefined>((resolve) => {
      timer = setTimeout(() => resolve(`not ready within ${options.timeout} ms`), options.timeout);
      worker.exited.then((code) => resolve(`exited with code ${code} before it was ready`));
      readyWaiters.set(pid, () => resolve(undefined));
    }).finally(() => {
      clearTimeout(timer);
      readyWaiters.delete(pid);
    });
  };

  /** Starts a worker and makes it current once ready; the previous one is told to drain. */
  const replace = (why: string): Promise<boolean> => {
    if (starting) {
      log(`${why}: a worker is already starting; ignored`);
      return starting;
    }
    starting = (async () => {
      const worker = start();
      log(`${why}: started worker ${worker.child.pid}`);
      const failure = await waitReady(worker);
      if (failure !== undefined) {
        log(
          `worker ${worker.child.pid} ${failure}; ${
            current ? `still serving with ${current.child.pid}` : "no worker serving"
          }`,
        );
        worker.child.kill("SIGKILL");
        await worker.exited;
        return false;
      }
      worker.ready = true;
      const previous = current;
      current = worker;
      watch(worker);
      log(`worker ${worker.child.pid} ready${previous ? `; draining ${previous.child.pid}` : ""}`);
      previous?.child.kill("SIGTERM");
      if (stopping) worker.child.kill("SIGTERM");
      return true;
    })().finally(() => (starting = undefined));
    return starting;
  };

  let backoff = 500;
  const watch = (worker: Worker) => {
    worker.exited.then((code) => {
      if (current !== worker || stopping) return;
      current = undefined;
      log(`worker ${worker.child.pid} exited unexpectedly (code ${code}); starting another in ${backoff} ms`);
      setTimeout(() => void replace("respawn"), backoff);
      backoff = Math.min(backoff * 2, 30_000);
    });
  };

  return new Promise<number>((resolve, reject) => {
    const stop = (signal: NodeJS.Signals) => () => {
      signals++;
      stopping = true;
      const targets = [current?.child].filter((c): c is ChildProcess => c !== undefined);
      log(
        `${signal}: ${signals > 1 ? "hammering" : "draining"} worker ${
          targets.map((c) => c.pid).join(", ") || "(none)"
        }`,
      );
      for (const child of targets) child.kill(signals > 1 ? "SIGUSR2" : "SIGTERM");
      // A worker that becomes ready while stopping is told to drain too (see replace()).
      Promise.resolve(starting).then(() => current?.exited ?? 0).then(finish);
    };
    const hup = () => void replace("SIGHUP");
    const usr2 = () => current?.child.kill("SIGUSR2");
    const handlers: Array<[NodeJS.Signals, () => void]> = [
      ["SIGTERM", stop("SIGTERM")],
      ["SIGINT", stop("SIGINT")],
      ["SIGHUP", hup],
      ["SIGUSR2", usr2],
    ];
    for (const [signal, handler] of handlers) process.on(signal, handler);
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      for (const [signal, handler] of handlers) process.off(signal, handler);
      if (mode === "fd") (handle as { close(): void }).close();
      readyServer.close();
      fs.rmSync(readyDir, { recursive: true, force: true });
      if (options.pidFile) removePidFile(options.pidFile, process.pid);
      log(`exiting with code ${code}`);
      resolve(code);
    };
    replace("start").then((ok) => {
      if (!ok && !current) {
        finish(1);
        reject(new Error("graceful-serve run: the first worker never became ready"));
      }
    });
  });
}

const osSignals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGUSR2: 12, SIGTERM: 15 };
