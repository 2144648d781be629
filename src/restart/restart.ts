/**
 * Zero-downtime restart: start a successor with the listening socket, wait until it says it is
 * ready, and only then drain. A successor that dies or never becomes ready is killed and the old
 * process keeps serving (the tableflip handshake, not endless' fire-and-forget fork).
 *
 * Handoff per runtime (docs/runtimes.md has the measurements):
 * - Node: the listening socket itself is passed as fd 3; the successor listens on it. The socket
 *   never closes, so no connection is refused or reset.
 * - Deno and Bun: their servers cannot listen on an inherited fd, so both processes bind the port
 *   with `reusePort` and the old one closes once the successor is ready. Linux resets connections
 *   still queued on the closed listener; `net.ipv4.tcp_migrate_req=1` moves them instead.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import nodePath from "node:path";
import process from "node:process";
import { checkMilliseconds } from "../core/lifecycle.ts";
import type { Logger } from "../core/logger.ts";

/**
 * Options for `serve({ restart })`.
 *
 * @example
 * ```ts
 * import { type RestartOptions, serve } from "graceful-serve";
 * const restart: RestartOptions = { timeout: 30_000, pidFile: "/run/app.pid" };
 * serve({ fetch: () => new Response("hi"), port: 8000, restart }); // then: kill -HUP $(cat /run/app.pid)
 * ```
 */
export interface RestartOptions {
  /** Milliseconds the successor has to become ready before it is killed. Default 30000. */
  timeout?: number;
  /** The successor's command line; default: this process's own (runtime flags included). */
  command?: readonly string[];
  /** Kept naming the serving process's PID (written atomically); removed on final exit. */
  pidFile?: string;
}

/** Restart options after validation. @internal */
export interface ResolvedRestart {
  timeout: number;
  command: readonly string[] | undefined;
  pidFile: string | undefined;
}

/**
 * What `server.restart()` resolves with.
 *
 * @example
 * ```ts
 * import type { RestartResult } from "graceful-serve";
 * const result: RestartResult = await server.restart(); // needs serve({ restart: true })
 * if (result.ok) console.log(`successor ${result.pid} is serving; draining`);
 * else console.error(`restart failed: ${result.error}; still serving`);
 * ```
 */
export interface RestartResult {
  /** `true` when a successor is serving and this process is draining. */
  readonly ok: boolean;
  /** The successor's PID (when it was started). */
  readonly pid?: number;
  /** Why the restart failed. */
  readonly error?: string;
}

/** Default time a successor gets to become ready. */
export const DEFAULT_RESTART_TIMEOUT = 30_000;

/**
 * Validates the `restart` option.
 * @throws {TypeError} for a wrongly typed value. @throws {RangeError} for a non-positive timeout or empty command.
 */
export function resolveRestart(option: boolean | RestartOptions | undefined): ResolvedRestart | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return { timeout: DEFAULT_RESTART_TIMEOUT, command: undefined, pidFile: undefined };
  if (typeof option !== "object" || option === null) {
    throw new TypeError('graceful-serve: option "restart" must be a boolean or { timeout, command, pidFile }');
  }
  const timeout = option.timeout === undefined
    ? DEFAULT_RESTART_TIMEOUT
    : checkMilliseconds("restart.timeout", option.timeout);
  if (timeout === 0) throw new RangeError('graceful-serve: option "restart.timeout" must be more than 0 ms');
  const command = option.command;
  if (command !== undefined) {
    if (!Array.isArray(command) || command.some((part) => typeof part !== "string")) {
      throw new TypeError(
        'graceful-serve: option "restart.command" must be an array of strings, e.g. ["node", "server.js"]',
      );
    }
    if (command.length === 0 || command[0] === "") {
      throw new RangeError('graceful-serve: option "restart.command" must name a program to run');
    }
  }
  if (option.pidFile !== undefined && (typeof option.pidFile !== "string" || option.pidFile === "")) {
    throw new TypeError('graceful-serve: option "restart.pidFile" must be a non-empty path');
  }
  if (option.pidFile !== undefined) checkPidFile(option.pidFile, 'option "restart.pidFile"');
  return { timeout, command, pidFile: option.pidFile };
}

/**
 * Checks, before anything listens, that a PID file can be written at `path`: its directory exists,
 * is a directory and is writable, and `path` is not a directory. A PID file that fails only once the
 * server is up would leave it serving without one, and a restart successor never ready (issue 13,
 * defect 10). `what` names the option in the error.
 * @throws {Error} naming the option and the reason.
 * @internal
 */
export function checkPidFile(path: string, what: string): void {
  const dir = nodePath.dirname(nodePath.resolve(path));
  let reason: string | undefined;
  try {
    if (!fs.statSync(dir).isDirectory()) reason = `${dir} is not a directory`;
    else if (fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) reason = `${path} is a directory`;
    else fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    reason = `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") reason = `directory ${dir} does not exist`;
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") reason = `${dir} is not a directory`;
  }
  if (reason !== undefined) throw new Error(`graceful-serve: ${what} cannot be written: ${reason}`);
}

/** How a successor finds its socket; passed in {@link HANDOFF_ENV}. @internal */
export interface Handoff {
  /** `fd`: listen on the inherited fd; `reuseport`: bind `port` with reusePort beside the parent. */
  mode: "fd" | "reuseport";
  fd?: number;
  port: number;
  hostname: string;
  /** Where to write the readiness line; absent for socket activation. */
  readyFd?: number;
  /**
   * Or: a unix socket (in a directory only this user can enter) to send the readiness line to. The
   * supervisor uses it because a Deno child of a Node parent cannot write to an inherited pipe fd.
   */
  readyPath?: string;
  /**
   * The PID of the process that handed the socket over. A handoff is only taken when this process
   * is its child or descendant (a worker started through `sh -c` or `npm start`), so a stale or
   * crafted variable in the environment is ignored (issue 13, defect 12).
   */
  ppid?: number;
}

/** What a successor tells its parent it serves: the inherited socket itself, or a port it bound. @internal */
export type Served = { mode: "fd"; port: number } | { mode: "port"; port: number };

/** Parses a readiness line: `ready <pid>` (older), `ready <pid> fd <port>` or `ready <pid> port <port>`. @internal */
export function parseReady(line: string): { pid: number; served?: Served } | undefined {
  const match = /^ready (\d+)(?: (fd|port) (\d+))?$/.exec(line);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return match[2] ? { pid, served: { mode: match[2] as "fd" | "port", port: Number(match[3]) } } : { pid };
}

/** Environment variable carrying the {@link Handoff} to a successor. @internal */
export const HANDOFF_ENV = "GRACEFUL_SERVE_HANDOFF";
const LISTEN_FD = 3;
const READY_FD = 4;

/** Whether `pid` is this process's parent or an ancestor (Linux: /proc; elsewhere the parent only). */
function isAncestor(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  let current = process.ppid;
  // A wrapper chain (`npm start` → `sh -c` → node) is a few levels deep; 16 is plenty.
  for (let depth = 0; depth < 16 && current > 1; depth++) {
    if (current === pid) return true;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${current}/stat`, "utf8");
    } catch {
      return false;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
    current = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  return false;
}

/**
 * Reads (and removes, so it is not passed on) an inherited socket: a restart handoff from our
 * parent (or an ancestor, for a worker behind a wrapper), or systemd socket activation
 * (`LISTEN_FDS`/`LISTEN_PID` naming this process). A handoff that is not provably for this process
 * — its `ppid` is not an ancestor, or (Node) fd 3 is not a socket — is ignored with a warning, and
 * the server binds its configured port (issue 13, defect 12).
 * @internal
 */
export function takeInheritedSocket(
  hostname: string,
  port: number,
  warn: (message: string) => void = () => {},
  canListenOnFd = true,
): Handoff | undefined {
  const env = process.env;
  const raw = env[HANDOFF_ENV];
  if (raw !== undefined) {
    delete env[HANDOFF_ENV];
    const handoff = parseHandoff(raw);
    const why = handoff === undefined ? "it is not a handoff" : untrusted(handoff, canListenOnFd);
    if (why === undefined) return handoff;
    warn(`ignoring ${HANDOFF_ENV} (${why}); binding ${hostname}:${port}`);
  }
  if (env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === process.pid && Number(env.LISTEN_FDS) >= 1) {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    delete env.LISTEN_FDNAMES;
    return { mode: "fd", fd: LISTEN_FD, port, hostname };
  }
  return undefined;
}

function parseHandoff(raw: string): Handoff | undefined {
  try {
    const h = JSON.parse(raw) as Partial<Handoff> | null;
    if (
      typeof h !== "object" || h === null || (h.mode !== "fd" && h.mode !== "reuseport") ||
      !Number.isInteger(h.port) || typeof h.hostname !== "string"
    ) return undefined;
    return h as Handoff;
  } catch {
    return undefined;
  }
}

/** What an inherited fd is (`socket:[…]`, `pipe:[…]`), from /proc; `undefined` if closed or not Linux. */
function fdKind(fd: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** Why a handoff cannot be for this process, or `undefined` when it is. */
function untrusted(handoff: Handoff, canListenOnFd: boolean): string | undefined {
  if (handoff.ppid === undefined || !isAncestor(handoff.ppid)) {
    // A real handoff (its readiness pipe or socket is here) whose parent died before we started:
    // serving now would make a process nobody manages (issue 13, fault "old process SIGKILLed").
    const channel = handoff.readyFd === READY_FD
      ? /^(pipe|socket):/.test(fdKind(READY_FD) ?? "")
      : typeof handoff.readyPath === "string" && fs.existsSync(handoff.readyPath);
    if (channel) {
      throw Object.assign(
        new Error(
          `graceful-serve: started as the successor of pid ${handoff.ppid}, which is gone before the handoff completed; not serving (nobody would manage this process)`,
        ),
        { abandonedBy: handoff.ppid },
      );
    }
    return `it names pid ${handoff.ppid}, which is not this process's parent or ancestor: stale or not ours`;
  }
  if (handoff.readyFd !== undefined && handoff.readyFd !== READY_FD) {
    return `readyFd ${handoff.readyFd} is not ${READY_FD}`;
  }
  if (handoff.readyPath !== undefined && typeof handoff.readyPath !== "string") return "readyPath is not a path";
  if (handoff.mode === "fd") {
    if (handoff.fd !== LISTEN_FD) return `fd ${handoff.fd} is not ${LISTEN_FD}`;
    if (canListenOnFd) {
      try {
        if (!fs.fstatSync(LISTEN_FD).isSocket()) return `fd ${LISTEN_FD} is not a socket`;
      } catch {
        return `fd ${LISTEN_FD} is not open`;
      }
    }
  }
  return undefined;
}

/** What the server does when its parent or supervisor speaks after readiness. @internal */
export interface ReadyCallbacks {
  /** The supervisor replaced this worker: drain as a restart (the address is still served). */
  replaced(): void;
  /** The parent is gone before it heard we are ready: nobody manages this process. */
  orphaned(why: string): void;
}

/**
 * Tells the parent this successor is listening and ready, and what it serves. With a supervisor
 * (`readyPath`) the connection stays open: "drain" on it means this worker was replaced.
 * @internal
 */
export function notifyReady(handoff: Handoff | undefined, served: Served, callbacks: ReadyCallbacks): void {
  const line = `ready ${process.pid} ${served.mode} ${served.port}\n`;
  if (handoff?.readyPath !== undefined) {
    let told = false;
    let replaced = false;
    let input = "";
    const socket = net.connect(handoff.readyPath, () => {
      told = true;
      socket.write(line);
      // The channel must not keep this process alive once the server is closed.
      (socket as { unref?: () => void }).unref?.();
    });
    socket.on("data", (chunk) => {
      input += String(chunk);
      if (input.includes("drain\n")) {
        input = "";
        replaced = true;
        callbacks.replaced();
      }
    });
    // The supervisor died (SIGKILL): nobody would ever stop or replace this worker.
    socket.on("close", () => {
      if (told && !replaced) callbacks.orphaned("supervisor gone (its channel closed)");
    });
    socket.on("error", (error) => {
      // Could not even say we are ready: the supervisor is gone (or gave up and will kill us).
      if (!told) callbacks.orphaned(`supervisor unreachable (${(error as NodeJS.ErrnoException).code ?? error})`);
    });
    return;
  }
  if (handoff?.readyFd === undefined) return;
  try {
    fs.writeSync(handoff.readyFd, line);
    fs.closeSync(handoff.readyFd);
  } catch (error) {
    // EPIPE: the parent died (or gave up on us and will kill us) before it heard we are ready.
    callbacks.orphaned(`parent gone before the handoff completed (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

/**
 * This process's command line at load time, read before application code could set `process.title`
 * (which overwrites /proc/self/cmdline on Node and Deno: issue 13, defect 6). Deno exposes no other
 * way to learn its own flags (`--unstable-net`, permissions).
 */
const cmdlineAtLoad: string[] | undefined = (() => {
  try {
    const argv = fs.readFileSync("/proc/self/cmdline", "utf8").split("\0");
    argv.pop(); // the trailing NUL
    return argv;
  } catch {
    return undefined; // not Linux
  }
})();

/**
 * This process's own command line, runtime flags included.
 * @throws {Error} on Deno when it cannot be known (process.title set before graceful-serve loaded).
 */
export function ownCommand(): string[] {
  const deno = (globalThis as { Deno?: { execPath(): string; args: string[]; mainModule: string } }).Deno;
  if (deno === undefined) {
    // Node and Bun report their flags exactly; /proc/self/cmdline is whatever process.title made it.
    return [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  }
  // Deno: execArgv is empty, so the flags come from the command line as it was at load, checked
  // against what Deno does report (its arguments) in case process.title had already rewritten it.
  // A title overwrites it as "title\0\0…": the real one names the main module before the arguments.
  const args = deno.args;
  const argv = cmdlineAtLoad;
  const script = argv?.[argv.length - args.length - 1];
  if (
    argv !== undefined && argv.length >= 2 + args.length && script &&
    (deno.mainModule === script || deno.mainModule.endsWith(`/${nodePath.basename(script)}`)) &&
    args.every((arg, i) => argv[argv.length - args.length + i] === arg)
  ) return [deno.execPath(), ...argv.slice(1)];
  throw new Error(
    "graceful-serve: cannot tell this Deno process's command line (/proc/self/cmdline was rewritten, e.g. by process.title, before graceful-serve loaded); pass restart.command",
  );
}

/**
 * Writes `pid` to `path` atomically: a temp file with an unpredictable name, created exclusively and
 * never through a symlink (`O_EXCL|O_NOFOLLOW`), mode 0644 whatever the umask, then renamed over
 * `path` — so readers never see half a file, and in a shared directory nobody can plant a symlink
 * that makes this process overwrite another file (issue 13, defect 11).
 */
export function writePidFile(path: string, pid: number): void {
  const temp = nodePath.join(
    nodePath.dirname(path),
    `.${nodePath.basename(path)}.${randomBytes(12).toString("hex")}.tmp`,
  );
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0), 0o644);
  try {
    fs.fchmodSync(fd, 0o644); // the umask may have taken bits away (or a umask 000 added none)
    fs.writeSync(fd, `${pid}\n`);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(temp, path);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** Removes the PID file if it still names `pid` (a successor may have taken it over). */
export function removePidFile(path: string, pid: number): void {
  try {
    if (fs.readFileSync(path, "utf8").trim() === String(pid)) fs.unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/**
 * Starts a successor and waits for its readiness line. Resolves `{ ok: false }` (after killing it)
 * when it exits first or is not ready within `timeout`.
 * @internal
 */
export function startSuccessor(options: {
  command: readonly string[];
  socket: unknown;
  handoff: Handoff;
  timeout: number;
  logger: Logger;
  /**
   * Aborted when this server shuts down for another reason mid-restart: the successor gets SIGTERM
   * (it drains what it may have accepted) and the result is a failure once it has exited, so no
   * half-started successor outlives the stop (issue 13, defect 2).
   */
  signal?: AbortSignal;
  /** Called with the successor's process once spawned (to SIGKILL it at a hammer). */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<RestartResult> {
  const [program, ...args] = options.command;
  const handoff: Handoff = { ...options.handoff, readyFd: READY_FD, ppid: process.pid };
  if (handoff.mode === "fd") handoff.fd = LISTEN_FD;
  let child: ChildProcess;
  try {
    child = spawn(program!, args, {
      stdio: ["inherit", "inherit", "inherit", (options.socket ?? "ignore") as "ignore", "pipe"],
      env: { ...process.env, [HANDOFF_ENV]: JSON.stringify(handoff) },
    });
  } catch (error) {
    return Promise.resolve({ ok: false, error: `could not start successor: ${(error as Error).message}` });
  }
  options.onSpawn?.(child);
  const signal = options.signal;
  return new Promise<RestartResult>((resolve) => {
    let settled = false;
    let output = "";
    const ready = child.stdio[READY_FD] as NodeJS.ReadableStream | null;
    const onAbort = () => {
      settle({ ok: false, pid: child.pid, error: "restart aborted: this server is shutting down" });
    };
    const settle = (result: RestartResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (result.ok && signal?.aborted) {
        result = { ok: false, pid: child.pid, error: "restart aborted: this server is shutting down" };
      }
      child.off("exit", onExit);
      ready?.removeAllListeners("data");
      if (result.ok) {
        // The successor outlives us; nothing of it may keep this process alive.
        child.unref();
        (ready as unknown as { destroy?: () => void })?.destroy?.();
        resolve(result);
      } else if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        // Report the failure once the successor is really gone, so a retry never meets it.
        child.once("exit", () => resolve(result));
        // Aborted: SIGTERM lets it drain what it may already have accepted on the shared socket.
        child.kill(signal?.aborted ? "SIGTERM" : "SIGKILL");
      } else {
        resolve(result);
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      settle({
        ok: false,
        pid: child.pid,
        error: `successor exited (${signal ?? `code ${code}`}) before it was ready`,
      });
    child.once("exit", onExit);
    child.once("error", (error) => settle({ ok: false, error: `could not start successor: ${error.message}` }));
    ready?.on("data", (chunk) => {
      output += String(chunk);
      if (output.includes("\n")) {
        const line = output.slice(0, output.indexOf("\n"));
        const parsed = parseReady(line);
        const served = parsed?.served;
        // Readiness must prove the successor serves our address: the socket itself, or our port
        // (a bare "ready <pid>" is an older successor's: taken on trust).
        const wrong = parsed === undefined
          ? `unexpected handshake ${JSON.stringify(output)}`
          : served === undefined
          ? undefined
          : handoff.mode === "fd" && served.mode !== "fd" && served.port !== handoff.port
          ? `successor bound port ${served.port} instead of taking the socket`
          : handoff.mode === "reuseport" && served.port !== handoff.port
          ? `successor serves port ${served.port}, not ${handoff.port}`
          : undefined;
        settle(wrong === undefined ? { ok: true, pid: child.pid } : { ok: false, pid: child.pid, error: wrong });
      }
    });
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () => settle({ ok: false, pid: child.pid, error: `successor not ready within ${options.timeout} ms` }),
      options.timeout,
    );
  });
}
