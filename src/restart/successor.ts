/**
 * The parent's handle on a successor (tableflip's child.go): what to run, starting it with the
 * handoff, waiting for its readiness line, stopping it. `serve({ restart })` (restart.ts) and
 * `graceful-serve run` (supervisor.ts) both start their successors through here, so the handshake
 * is spoken one way.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import type net from "node:net";
import nodePath from "node:path";
import process from "node:process";
import { gracefulError } from "../core/errors.ts";
import { currentRuntime } from "../core/runtime.ts";
import {
  descendsFrom,
  encodeHandoff,
  type Handoff,
  HANDOFF_ENV,
  LISTEN_FD,
  parseReady,
  readFirstLine,
  type Ready,
  READY_FD,
  servedMismatch,
} from "./handoff.ts";

/** How a successor ended: its exit code or signal, or the error that kept it from starting. @internal */
export type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: Error };

/**
 * The outcome of waiting for readiness. `why` is a phrase about the successor ("not ready within
 * 1000 ms"); `boundPort` is the port a successor bound itself instead of serving the handed socket.
 * @internal
 */
export type Readiness = { ok: true } | { ok: false; why: string; boundPort?: number };

/** What to start and hand over. @internal */
export interface SuccessorOptions {
  command: readonly string[];
  /** What the successor is told; `ppid`, `fd` and (without `readyPath`) `readyFd` are filled in here. */
  handoff: Handoff;
  /** The listening socket, passed as fd 3 (mode `fd`). */
  socket?: unknown;
  /**
   * Its own process group, so a stop before readiness reaches a server behind a wrapper that forwards
   * nothing (`sh -c`). The supervisor uses it; a restart's successor stays in ours.
   */
  detached?: boolean;
}

/**
 * A started successor. Its readiness arrives on the fd 4 pipe (a restart), or is offered by the
 * supervisor, which reads it from its unix socket ({@link Successor.offer}).
 * @internal
 */
export class Successor {
  readonly child: ChildProcess;
  /** The serving process once ready: the child itself, or its descendant behind a wrapper. */
  serverPid: number | undefined;
  /** The supervisor's kept-open readiness connection; "drain" on it tells the worker it was replaced. */
  channel: net.Socket | undefined;
  /** Settles once the child has exited, or could not start. */
  readonly exit: Promise<Exit>;
  /**
   * Settles once the child has exited and, if it said ready over a channel, that channel closed: a
   * wrapper may exit before the server behind it has finished draining.
   */
  readonly gone: Promise<Exit>;
  readonly #handoff: Handoff;
  readonly #detached: boolean;
  #offer: ((socket: net.Socket, line: string) => boolean) | undefined;

  /** Spawns the successor. @throws what `spawn()` throws synchronously (e.g. an invalid argument). */
  constructor(options: SuccessorOptions) {
    const [program, ...args] = options.command;
    const handoff: Handoff = { ...options.handoff, ppid: process.pid };
    if (handoff.mode === "fd") handoff.fd = LISTEN_FD;
    const pipe = handoff.readyPath === undefined;
    if (pipe) handoff.readyFd = READY_FD;
    this.#handoff = handoff;
    this.#detached = options.detached ?? false;
    const socket = (options.socket ?? "ignore") as "ignore";
    this.child = spawn(program!, args, {
      stdio: pipe ? ["inherit", "inherit", "inherit", socket, "pipe"] : ["inherit", "inherit", "inherit", socket],
      env: { ...process.env, [HANDOFF_ENV]: encodeHandoff(handoff) },
      detached: this.#detached,
    });
    this.exit = new Promise<Exit>((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
      this.child.once("error", (error) => resolve({ error }));
    });
    this.gone = this.exit.then((exit) =>
      this.channel === undefined || this.channel.destroyed
        ? exit
        : new Promise<Exit>((resolve) => this.channel!.once("close", () => resolve(exit)))
    );
  }

  /** Whether the child is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /**
   * Waits for the readiness line; resolves `{ ok: false }` when the successor exits first, is not
   * ready within `timeout`, `signal` aborts, or its line does not prove it serves our address. The
   * caller stops a successor that failed.
   */
  ready(timeout: number, signal?: AbortSignal): Promise<Readiness> {
    return new Promise<Readiness>((resolve) => {
      let settled = false;
      let stopReading = () => {};
      const onAbort = () => settle({ ok: false, why: "aborted" });
      const settle = (readiness: Readiness) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopReading();
        this.#offer = undefined;
        signal?.removeEventListener("abort", onAbort);
        resolve(readiness);
      };
      const accept = (ready: Ready) => {
        this.serverPid = ready.pid;
        const why = servedMismatch(this.#handoff, ready.served);
        settle(why === undefined ? { ok: true } : { ok: false, why, boundPort: ready.served!.port });
      };
      const timer = setTimeout(() => settle({ ok: false, why: `not ready within ${timeout} ms` }), timeout);
      this.exit.then((exit) =>
        settle({
          ok: false,
          why: "error" in exit
            ? `could not start: ${exit.error.message}`
            : `exited (${exit.signal ?? `code ${exit.code}`}) before it was ready`,
        })
      );
      if (signal?.aborted) queueMicrotask(onAbort);
      else signal?.addEventListener("abort", onAbort, { once: true });
      const pipe = this.child.stdio[READY_FD] as net.Socket | null | undefined;
      if (pipe) {
        // Our own pipe: whatever comes first on it is the answer.
        stopReading = readFirstLine(pipe, (line) => {
          const ready = parseReady(line);
          if (ready === undefined) settle({ ok: false, why: `sent an unexpected handshake ${JSON.stringify(line)}` });
          else accept(ready);
        });
      }
      // The supervisor's socket is shared: a line from a process that is not this child or its
      // descendant is refused, and the wait goes on.
      this.#offer = (socket, line) => {
        const ready = parseReady(line);
        const pid = this.child.pid;
        if (!ready || pid === undefined || !(ready.pid === pid || descendsFrom(ready.pid, pid))) return false;
        this.channel = socket;
        socket.on("close", () => {});
        accept(ready);
        return true;
      };
    });
  }

  /**
   * A readiness line read from the supervisor's unix socket while this successor is waited for.
   * Returns `false` when it is not this successor's (the caller closes that connection).
   */
  offer(socket: net.Socket, line: string): boolean {
    return this.#offer?.(socket, line) ?? false;
  }

  /**
   * Signals the server itself once it said ready (a wrapper then exits with its code); before that,
   * or for SIGKILL, the child — with `detached`, its whole process group, which reaches a server
   * behind a wrapper that forwards nothing (`sh -c`).
   */
  signal(name: NodeJS.Signals): void {
    try {
      if (this.serverPid !== undefined && name !== "SIGKILL") process.kill(this.serverPid, name);
      else if (this.#detached) process.kill(-this.child.pid!, name);
      else this.child.kill(name);
    } catch {
      try {
        this.child.kill(name);
      } catch {
        // already gone
      }
    }
  }

  /** Signals the successor (if it still runs) and resolves once it has exited. */
  stop(name: NodeJS.Signals): Promise<Exit> {
    if (this.running) this.signal(name);
    return this.exit;
  }

  /** The successor outlives us: nothing of it may keep this process alive. */
  release(): void {
    this.child.unref();
    (this.child.stdio[READY_FD] as net.Socket | null | undefined)?.destroy();
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
 * This process's own command line, runtime flags included: what a restart starts by default.
 * @throws {Error} (`code: "ERR_GRACEFUL_RESTART"`) on Deno when it cannot be known (process.title set before graceful-serve loaded).
 * @internal
 */
export function ownCommand(): string[] {
  if (currentRuntime !== "deno") {
    // Node and Bun report their flags exactly; /proc/self/cmdline is whatever process.title made it.
    return [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  }
  // Deno: execArgv is empty, so the flags come from the command line as it was at load, checked
  // against what Deno does report (its arguments) in case process.title had already rewritten it.
  // A title overwrites it as "title\0\0…": the real one names the main module before the arguments.
  const deno = (globalThis as unknown as { Deno: { execPath(): string; args: string[]; mainModule: string } }).Deno;
  const args = deno.args;
  const argv = cmdlineAtLoad;
  const script = argv?.[argv.length - args.length - 1];
  if (
    argv !== undefined && argv.length >= 2 + args.length && script &&
    (deno.mainModule === script || deno.mainModule.endsWith(`/${nodePath.basename(script)}`)) &&
    args.every((arg, i) => argv[argv.length - args.length + i] === arg)
  ) return [deno.execPath(), ...argv.slice(1)];
  throw gracefulError(
    Error,
    "ERR_GRACEFUL_RESTART",
    "cannot tell this Deno process's command line (/proc/self/cmdline was rewritten, e.g. by process.title, before graceful-serve loaded); pass restart.command",
  );
}
