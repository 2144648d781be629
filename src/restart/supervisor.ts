/**
 * `graceful-serve run`: a process that keeps one PID for systemd, Docker and Kubernetes while the
 * workers behind it are replaced. It owns the listening socket — bound, never accepted on — and hands
 * it to each worker as fd 3; the workers are ordinary `serve()` programs. On SIGHUP it starts a new
 * worker, waits for its readiness line, then tells the old one to drain as a restart (the address is
 * still served, so idle keep-alive connections are not cut: issue 12, defect 6). The socket never
 * closes, so a restart loses nothing, and the PID supervisors watch never changes (the seed's
 * complaint about endless).
 *
 * Runs on Node.js (it binds with `net._createServerHandle`, the call Node's own cluster module uses,
 * which Deno and Bun do not provide).
 * @module
 */

import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { gracefulError, type GracefulErrorCode } from "../core/errors.ts";
import { MAX_TIMER_MS } from "../core/validate.ts";
import { DRAIN_LINE, type Handoff, readFirstLine } from "./handoff.ts";
import { checkPidFile, removePidFile, writePidFile } from "./pidfile.ts";
import { type Exit, type Readiness, Successor } from "./successor.ts";

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
   * `auto` (default): `reuseport` when the worker program is deno or bun, else `fd` — and switched to
   * `reuseport` when the first worker reports it bound a port itself (a Deno/Bun worker behind a wrapper).
   */
  handoff: "auto" | "fd" | "reuseport";
  command: string[];
}

/** `graceful-serve run --help`. Keep in step with the README's "graceful-serve run" section. */
export const RUN_USAGE = `usage: graceful-serve run [options] -- <command...>

Keeps one PID in front of a serve() worker and replaces the worker on SIGHUP without refusing a connection.

options:
  --port N            port to serve (0 picks a free one)                    default 8000
  --host ADDR         interface to bind                                     default 0.0.0.0
  --timeout MS        ms a new worker has to become ready (≤ ${MAX_TIMER_MS})  default 30000
  --pid-file PATH     write the supervisor's PID here (0644, atomic); removed on exit
  --handoff MODE      auto | fd | reuseport                                 default auto
                      fd: workers take this process's socket as fd 3 (Node workers)
                      reuseport: workers bind the port with SO_REUSEPORT (Deno, Bun workers)
                      auto: reuseport for a deno/bun command, else fd; switches to reuseport
                      when the first worker reports it bound a port itself
  -h, --help          this text

signals:
  SIGHUP              start a new worker; once it is ready the old one drains as a restart.
                      A worker that fails to start is killed; the old one keeps serving.
  SIGTERM, SIGINT     the workers drain (a worker still starting is told too, not waited for);
                      during a respawn backoff nothing more is started
  second SIGTERM/INT  hammer: workers force-close now (SIGUSR2)
  SIGUSR2             forwarded to the serving worker (hammer)

A worker that dies is respawned after 0.5 s, doubling to 30 s while it keeps dying; the delay
returns to 0.5 s once a worker has stayed up for 10 s.

exit code: 0 when the serving worker drained gracefully after SIGTERM/SIGINT; 1 when it was cut
or failed, when no worker was serving (respawn backoff), or when the first worker never became
ready; 2 for bad arguments.`;

/** The backoff returns to its start once a worker has been ready this long. */
const HEALTHY_MS = 10_000;
const BACKOFF_START = 500;
const BACKOFF_MAX = 30_000;

/** The supervisor's errors: core/errors.ts's style, with the command's own prefix. */
function runError(code: GracefulErrorCode, message: string, Kind: typeof Error = Error): Error {
  return gracefulError(Kind, code, `graceful-serve run: ${message}`);
}

function fail(message: string, Kind: typeof TypeError | typeof RangeError = TypeError): never {
  throw runError("ERR_GRACEFUL_OPTION", `${message}\n(see graceful-serve run --help)`, Kind);
}

/**
 * Parses `run` arguments (everything after `run`) with `node:util` `parseArgs`; returns
 * `{ help: true }` for `--help`.
 * @throws {TypeError} on unknown flags, a missing value or a missing command, naming the flag.
 * @throws {RangeError} on an out-of-range value, naming the flag. Both with `code: "ERR_GRACEFUL_OPTION"`.
 */
export function parseRunArgs(argv: readonly string[]): SupervisorOptions | { help: true } {
  const split = argv.indexOf("--");
  const flags = split === -1 ? [...argv] : argv.slice(0, split);
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: flags,
      strict: true,
      allowPositionals: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        timeout: { type: "string" },
        "pid-file": { type: "string" },
        handoff: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    // parseArgs names the flag: "Unknown option '--prot'", "Option '--port <value>' argument missing".
    fail((error as Error).message);
  }
  if (values.help) return { help: true };
  if (positionals.length > 0) fail(`unexpected ${JSON.stringify(positionals[0])}; put the worker command after --`);
  const command = split === -1 ? [] : argv.slice(split + 1);
  if (command.length === 0 || command[0] === "") fail("no worker command after --");

  const port = values.port === undefined ? "8000" : String(values.port);
  if (!/^\d+$/.test(port) || Number(port) > 65535) {
    fail(`--port must be an integer from 0 to 65535, got ${JSON.stringify(port)}`, RangeError);
  }
  const hostname = values.host === undefined ? "0.0.0.0" : String(values.host);
  if (hostname === "") fail("--host must not be empty", RangeError);
  const timeoutText = values.timeout === undefined ? "30000" : String(values.timeout);
  const timeout = Number(timeoutText);
  if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeout > 0) || timeout > MAX_TIMER_MS) {
    fail(
      `--timeout must be a number of ms above 0 and at most ${MAX_TIMER_MS} (a longer timer fires at once), got ${
        JSON.stringify(timeoutText)
      }`,
      RangeError,
    );
  }
  const handoff = values.handoff === undefined ? "auto" : String(values.handoff);
  if (handoff !== "auto" && handoff !== "fd" && handoff !== "reuseport") {
    fail(`--handoff must be auto, fd or reuseport, got ${JSON.stringify(handoff)}`, RangeError);
  }
  let pidFile: string | undefined;
  if (values["pid-file"] !== undefined) {
    pidFile = String(values["pid-file"]);
    if (pidFile === "") fail("--pid-file must not be empty", RangeError);
  }
  return { port: Number(port), hostname, timeout, pidFile, handoff, command };
}

/** A worker is a successor started with its own process group (see successor.ts). */
type Worker = Successor;

/** A worker's exit as a process exit code: its own, 128 + the signal's number, or 127 when it never started. */
function exitCode(exit: Exit): number {
  if ("error" in exit) return 127;
  return exit.code ?? (exit.signal ? 128 + (os.constants.signals[exit.signal] ?? 0) : 1);
}

/**
 * Runs the supervisor until its workers have exited after SIGTERM/SIGINT; resolves with the exit code.
 * Signal handlers stay installed: the caller exits the process with the code (cli.ts).
 */
export function runSupervisor(options: SupervisorOptions): Promise<number> {
  const log = (message: string) => console.error(`[graceful-serve run] ${message}`);
  const createHandle = (net as unknown as {
    _createServerHandle?: (address: string, port: number, addressType: number) => unknown;
  })._createServerHandle;
  if (typeof createHandle !== "function") {
    throw runError(
      "ERR_GRACEFUL_RUNTIME",
      "needs Node.js (net._createServerHandle); run the supervisor with node",
    );
  }
  if (options.pidFile) checkPidFile(options.pidFile, "--pid-file");
  const program = path.basename(options.command[0]!);
  let mode: "fd" | "reuseport" = options.handoff === "auto"
    ? (/^(deno|bun)(\.exe)?$/.test(program) ? "reuseport" : "fd")
    : options.handoff;
  // fd: bound but not listening here. The first worker's listen() makes it listen, and this process
  // never accepts, so every connection goes to a worker and the socket outlives every worker.
  const handle = createHandle(options.hostname, options.port, net.isIPv6(options.hostname) ? 6 : 4) as
    | number
    | { close(): void; getsockname(out: object): void };
  if (typeof handle === "number") {
    throw runError(
      "ERR_GRACEFUL_LISTEN",
      `cannot bind ${options.hostname}:${options.port} (${handle === -98 ? "EADDRINUSE" : `errno ${handle}`})`,
    );
  }
  const address: { port?: number } = {};
  handle.getsockname(address);
  const port = address.port!;
  let handleOpen = true;
  const closeHandle = () => {
    if (handleOpen) handle.close();
    handleOpen = false;
  };
  // reuseport: the workers bind themselves; the port was only reserved to resolve 0 to a number.
  if (mode === "reuseport") closeHandle();
  if (options.pidFile) writePidFile(options.pidFile, process.pid);
  log(
    `pid ${process.pid} ${mode === "fd" ? "owns" : "serves"} ${options.hostname}:${port} (handoff: ${mode}); worker: ${
      options.command.join(" ")
    }`,
  );

  // Readiness: workers send "ready <pid> <fd|port> <port>" to a unix socket in a directory only this
  // user can enter, and keep the connection open as the channel that tells them to drain.
  const readyDir = fs.mkdtempSync(path.join(os.tmpdir(), "graceful-serve-"));
  const readyPath = path.join(readyDir, "ready.sock");
  const readyServer = net.createServer((socket) => {
    socket.on("error", () => {});
    // Only the worker being started may speak; any other line closes its connection.
    readFirstLine(socket, (line) => {
      if (!starting?.offer(socket, line)) socket.destroy();
    });
  });
  readyServer.listen(readyPath);
  readyServer.unref();

  let current: Worker | undefined;
  let starting: Worker | undefined;
  const live = new Set<Worker>();
  let stopping = false;
  let signals = 0;
  let backoff = BACKOFF_START;
  let respawnTimer: ReturnType<typeof setTimeout> | undefined;
  let healthyTimer: ReturnType<typeof setTimeout> | undefined;

  const start = (): Worker => {
    const handoff: Handoff = { mode, port, hostname: options.hostname, readyPath };
    const worker = new Successor({
      command: options.command,
      handoff,
      socket: mode === "fd" ? handle : undefined,
      detached: true,
    });
    worker.exit.then((exit) => {
      if ("error" in exit) log(`could not start ${options.command[0]}: ${exit.error.message}`);
    });
    live.add(worker);
    worker.gone.then(() => live.delete(worker));
    return worker;
  };

  const scheduleRespawn = (why: string) => {
    if (stopping) return;
    log(`${why}; starting another in ${backoff} ms`);
    respawnTimer = setTimeout(() => {
      respawnTimer = undefined;
      void replace("respawn");
    }, backoff);
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
  };

  /** Starts a worker and makes it current once ready; the previous one is told to drain. */
  const replace = async (why: string): Promise<boolean> => {
    if (stopping) return false;
    if (starting) {
      log(`${why}: worker ${starting.child.pid} is already starting; ignored`);
      return false;
    }
    const worker = start();
    starting = worker;
    log(`${why}: started worker ${worker.child.pid}`);
    const readiness: Readiness = await worker.ready(options.timeout);
    starting = undefined;
    if (stopping) {
      // Told to stop while it started (stop() signalled it); finish() waits for it.
      return false;
    }
    if (!readiness.ok) {
      log(
        `worker ${worker.child.pid} ${readiness.why}; ${
          current ? `still serving with ${current.child.pid}` : "no worker serving"
        }`,
      );
      worker.signal("SIGKILL");
      await worker.gone;
      if (stopping) return false;
      if (readiness.boundPort !== undefined && options.handoff === "auto" && mode === "fd" && !current) {
        // A Deno or Bun server behind a wrapper: it cannot take the socket, so workers bind the port.
        mode = "reuseport";
        closeHandle();
        log(`the worker cannot take a socket (Deno or Bun behind a wrapper?): handoff switched to reuseport`);
        return replace(why);
      }
      if (!current && why !== "start") scheduleRespawn(`worker ${worker.child.pid} failed to start`);
      return false;
    }
    const previous = current;
    current = worker;
    worker.gone.then((exit) => {
      if (current !== worker || stopping) return;
      const code = exitCode(exit);
      current = undefined;
      clearTimeout(healthyTimer);
      scheduleRespawn(`worker ${worker.child.pid} exited unexpectedly (code ${code})`);
    });
    clearTimeout(healthyTimer);
    healthyTimer = setTimeout(() => {
      if (current !== worker || backoff === BACKOFF_START) return;
      backoff = BACKOFF_START;
      log(`worker ${worker.child.pid} up for ${HEALTHY_MS} ms; respawn backoff reset to ${BACKOFF_START} ms`);
    }, HEALTHY_MS);
    healthyTimer.unref();
    const behind = worker.serverPid !== worker.child.pid ? ` (server pid ${worker.serverPid} behind a wrapper)` : "";
    log(`worker ${worker.child.pid} ready${behind}${previous ? `; draining ${previous.child.pid}` : ""}`);
    if (previous) drainReplaced(previous);
    return true;
  };

  /** The old worker drains as a restart (its address is still served); SIGTERM for an older worker. */
  const drainReplaced = (worker: Worker) => {
    if (worker.channel && !worker.channel.destroyed) worker.channel.write(DRAIN_LINE);
    else worker.signal("SIGTERM");
  };

  return new Promise<number>((resolve, reject) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      clearTimeout(respawnTimer);
      clearTimeout(healthyTimer);
      closeHandle();
      readyServer.close();
      fs.rmSync(readyDir, { recursive: true, force: true });
      if (options.pidFile) removePidFile(options.pidFile, process.pid);
      log(`exiting with code ${code}`);
      resolve(code);
    };
    const stop = (name: NodeJS.Signals) => () => {
      signals++;
      if (finished) return;
      const first = !stopping;
      stopping = true;
      // Nothing more is started: a pending respawn is dropped (issue 13, defect 8).
      clearTimeout(respawnTimer);
      respawnTimer = undefined;
      const targets = [...live];
      log(
        `${name}: ${first ? "draining" : "hammering"} worker ${targets.map((w) => w.child.pid).join(", ") || "(none)"}`,
      );
      // The serving and the starting worker drain; one replaced earlier is draining already. A second
      // signal hammers them all; a worker still starting is not waited for.
      for (const worker of targets) {
        if (!first) worker.signal("SIGUSR2");
        else if (worker === current || worker === starting) worker.signal("SIGTERM");
      }
      if (!first) return;
      const serving = current ?? starting;
      Promise.all(targets.map((w) => w.gone)).then(async () => {
        const code = serving ? exitCode(await serving.gone) : 1;
        finish(code === 0 ? 0 : 1);
      });
    };
    const handlers: Array<[NodeJS.Signals, () => void]> = [
      ["SIGTERM", stop("SIGTERM")],
      ["SIGINT", stop("SIGINT")],
      ["SIGHUP", () => void replace("SIGHUP")],
      ["SIGUSR2", () => current?.signal("SIGUSR2")],
    ];
    // Never removed: until the process exits, a signal storm must meet a handler, not default death.
    for (const [name, handler] of handlers) process.on(name, handler);
    replace("start").then((ok) => {
      if (!ok && !current && !stopping) {
        finish(1);
        reject(runError("ERR_GRACEFUL_RESTART", "the first worker never became ready"));
      }
    });
  });
}
