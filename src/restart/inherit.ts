/**
 * The successor's side of the handoff (tableflip's parent.go): take the socket a parent or systemd
 * handed over, tell the parent it is ready, and hear the supervisor say "drain".
 * @module
 */

import fs from "node:fs";
import net from "node:net";
import process from "node:process";
import { gracefulError } from "../core/errors.ts";
import {
  decodeHandoff,
  descendsFrom,
  DRAIN_LINE,
  type Handoff,
  HANDOFF_ENV,
  LISTEN_FD,
  READY_FD,
  readyLine,
  type Served,
} from "./handoff.ts";

/**
 * Reads (and removes, so it is not passed on) an inherited socket: a restart handoff from our
 * parent (or an ancestor, for a worker behind a wrapper), or systemd socket activation
 * (`LISTEN_FDS`/`LISTEN_PID` naming this process). A handoff that is not provably for this process
 * — its `ppid` is not an ancestor, or (Node) fd 3 is not a socket — is ignored with a warning, and
 * the server binds its configured port (issue 13, defect 12).
 * @throws {Error} (`code: "ERR_GRACEFUL_RESTART"`, `abandonedBy`: the parent's pid) when the parent died
 * before the handoff completed.
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
    const handoff = decodeHandoff(raw);
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
  if (handoff.ppid === undefined || !descendsFrom(process.ppid, handoff.ppid)) {
    // A real handoff (its readiness pipe or socket is here) whose parent died before we started:
    // serving now would make a process nobody manages (issue 13, fault "old process SIGKILLed").
    const channel = handoff.readyFd === READY_FD
      ? /^(pipe|socket):/.test(fdKind(READY_FD) ?? "")
      : typeof handoff.readyPath === "string" && fs.existsSync(handoff.readyPath);
    if (channel) {
      throw Object.assign(
        gracefulError(
          Error,
          "ERR_GRACEFUL_RESTART",
          `started as the successor of pid ${handoff.ppid}, which is gone before the handoff completed; not serving (nobody would manage this process)`,
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
 * (`readyPath`) the connection stays open: {@link DRAIN_LINE} on it means this worker was replaced.
 * @internal
 */
export function notifyReady(handoff: Handoff | undefined, served: Served, callbacks: ReadyCallbacks): void {
  const line = readyLine(process.pid, served);
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
      if (input.includes(DRAIN_LINE)) {
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
