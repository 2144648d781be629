/**
 * Zero-downtime restart, the orchestration of `serve({ restart })`: its options, and one restart —
 * start a successor with the listening socket (successor.ts), wait until it says it is ready
 * (handoff.ts), and only then drain. A successor that dies or never becomes ready is killed and the old
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

import { optionError } from "../core/errors.ts";
import type { Lifecycle } from "../core/lifecycle.ts";
import { checkMilliseconds } from "../core/validate.ts";
import type { Handoff } from "./handoff.ts";
import { checkPidFile, removePidFile } from "./pidfile.ts";
import { Successor } from "./successor.ts";

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
 * import { type RestartResult, serve } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi"), restart: true });
 * const result: RestartResult = await server.restart();
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
 * @throws {Error} when the PID file's directory is missing or not writable. All with `code: "ERR_GRACEFUL_OPTION"`.
 */
export function resolveRestart(option: boolean | RestartOptions | undefined): ResolvedRestart | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return { timeout: DEFAULT_RESTART_TIMEOUT, command: undefined, pidFile: undefined };
  if (typeof option !== "object" || option === null) {
    throw optionError(TypeError, 'option "restart" must be a boolean or { timeout, command, pidFile }');
  }
  const timeout = option.timeout === undefined
    ? DEFAULT_RESTART_TIMEOUT
    : checkMilliseconds("restart.timeout", option.timeout);
  if (timeout === 0) throw optionError(RangeError, 'option "restart.timeout" must be more than 0 ms');
  const command = option.command;
  if (command !== undefined) {
    if (!Array.isArray(command) || command.some((part) => typeof part !== "string")) {
      throw optionError(TypeError, 'option "restart.command" must be an array of strings, e.g. ["node", "server.js"]');
    }
    if (command.length === 0 || command[0] === "") {
      throw optionError(RangeError, 'option "restart.command" must name a program to run');
    }
  }
  if (option.pidFile !== undefined && (typeof option.pidFile !== "string" || option.pidFile === "")) {
    throw optionError(TypeError, 'option "restart.pidFile" must be a non-empty path');
  }
  if (option.pidFile !== undefined) checkPidFile(option.pidFile, 'option "restart.pidFile"');
  return { timeout, command, pidFile: option.pidFile };
}

/**
 * One restart of `server`: starts a successor with the handoff and waits for its readiness line.
 * Resolves `{ ok: true }` once it serves our address (the caller then drains), or `{ ok: false }`
 * once it is gone: it exited first, was not ready within `timeout`, or does not serve our address.
 *
 * A shutdown for any other reason (SIGTERM) while the successor starts must not leave it behind
 * (issue 13, defect 2): it gets SIGTERM (it drains what it may already have accepted on the shared
 * socket), the shutdown waits for it to be gone, and a force-close (deadline, hammer) kills it.
 * @internal
 */
export async function startSuccessor(server: Lifecycle, options: {
  command: readonly string[];
  socket: unknown;
  handoff: Handoff;
  timeout: number;
  pidFile: string | undefined;
}): Promise<RestartResult> {
  let successor: Successor;
  try {
    successor = new Successor({ command: options.command, handoff: options.handoff, socket: options.socket });
  } catch (error) {
    return { ok: false, error: `could not start successor: ${(error as Error).message}` };
  }
  const pid = successor.child.pid;
  const aborted = new AbortController();
  const onState = () => {
    if (server.state !== "draining" || server.reason === "restart") return;
    server.removeEventListener("statechange", onState);
    server.logger.warn(`${server.reason} during a restart: stopping successor ${pid}`);
    // Killed before it could clean up, it may still be named in the PID file.
    server.waitUntil(successor.exit.then(() => {
      if (options.pidFile && pid !== undefined) removePidFile(options.pidFile, pid);
    }));
    server.addEventListener("forced", () => successor.child.kill("SIGKILL"), { once: true });
    aborted.abort();
  };
  server.addEventListener("statechange", onState);
  try {
    const readiness = await successor.ready(options.timeout, aborted.signal);
    if (readiness.ok && !aborted.signal.aborted) {
      successor.release();
      return { ok: true, pid };
    }
    const error = aborted.signal.aborted
      ? "restart aborted: this server is shutting down"
      : `successor ${(readiness as { why: string }).why}`;
    // Report the failure once the successor is really gone, so a retry never meets it.
    await successor.stop(aborted.signal.aborted ? "SIGTERM" : "SIGKILL");
    return { ok: false, pid, error };
  } finally {
    server.removeEventListener("statechange", onState);
  }
}
