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
import fs from "node:fs";
import net from "node:net";
import process from "node:process";
import { checkMilliseconds } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";

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
  return { timeout, command, pidFile: option.pidFile };
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
  /** The PID of the process that handed the socket over (for logs). */
  ppid?: number;
}

/** Environment variable carrying the {@link Handoff} to a successor. @internal */
export const HANDOFF_ENV = "GRACEFUL_SERVE_HANDOFF";
const LISTEN_FD = 3;
const READY_FD = 4;

/**
 * Reads (and removes, so it is not passed on) an inherited socket: a restart handoff from our
 * parent, or systemd socket activation (`LISTEN_FDS`/`LISTEN_PID` naming this process).
 * @internal
 */
export function takeInheritedSocket(hostname: string, port: number): Handoff | undefined {
  const env = process.env;
  const raw = env[HANDOFF_ENV];
  if (raw !== undefined) {
    delete env[HANDOFF_ENV];
    try {
      // Not checked against our parent's PID: a worker started through a wrapper (`sh -c`, `npm start`)
      // still inherits fd 3. The variable is removed here, so our own children never see it.
      return JSON.parse(raw) as Handoff;
    } catch {
      // Not ours to read; bind normally.
    }
  }
  if (env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === process.pid && Number(env.LISTEN_FDS) >= 1) {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    delete env.LISTEN_FDNAMES;
    return { mode: "fd", fd: LISTEN_FD, port, hostname };
  }
  return undefined;
}

/** Tells the parent this successor is listening and ready. @internal */
export function notifyReady(handoff: Handoff | undefined): void {
  if (handoff?.readyPath !== undefined) {
    const socket = net.connect(handoff.readyPath, () => socket.end(`ready ${process.pid}\n`));
    socket.on("error", () => {}); // the supervisor gave up on us and will kill us
    return;
  }
  if (handoff?.readyFd === undefined) return;
  try {
    fs.writeSync(handoff.readyFd, `ready ${process.pid}\n`);
    fs.closeSync(handoff.readyFd);
  } catch {
    // The parent gave up on us (timeout) and closed its end; it has killed or will kill us.
  }
}

/** This process's own command line, runtime flags included. */
export function ownCommand(): string[] {
  try {
    // Linux: the exact argv, including flags like --unstable-net or --max-old-space-size.
    const argv = fs.readFileSync("/proc/self/cmdline", "utf8").split("\0").filter((_, i, all) => i < all.length - 1);
    if (argv.length > 0) return [process.execPath, ...argv.slice(1)];
  } catch {
    // Not Linux.
  }
  return [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
}

/** Writes `pid` to `path` atomically (temp file + rename), so readers never see half a file. */
export function writePidFile(path: string, pid: number): void {
  const temp = `${path}.${pid}.tmp`;
  fs.writeFileSync(temp, `${pid}\n`);
  fs.renameSync(temp, path);
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
  return new Promise<RestartResult>((resolve) => {
    let settled = false;
    let output = "";
    const ready = child.stdio[READY_FD] as NodeJS.ReadableStream | null;
    const settle = (result: RestartResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
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
        child.kill("SIGKILL");
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
        const ok = output.startsWith("ready ");
        settle(
          ok
            ? { ok: true, pid: child.pid }
            : { ok: false, pid: child.pid, error: `unexpected handshake ${JSON.stringify(output)}` },
        );
      }
    });
    const timer = setTimeout(
      () => settle({ ok: false, pid: child.pid, error: `successor not ready within ${options.timeout} ms` }),
      options.timeout,
    );
  });
}
