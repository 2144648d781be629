/**
 * The restart handoff protocol, both ends' shared vocabulary (cloudflare/tableflip splits its
 * protocol the same way: fds.go, child.go, parent.go). A parent hands a successor its socket:
 *
 * 1. The parent starts the successor with {@link HANDOFF_ENV} = a JSON {@link Handoff}, the
 *    listening socket as fd {@link LISTEN_FD} (mode `fd`) or the port to bind with reusePort
 *    (mode `reuseport`), and a readiness channel: a pipe as fd {@link READY_FD} (`serve({ restart })`)
 *    or a unix socket path (`graceful-serve run`).
 * 2. The successor takes the handoff (inherit.ts), listens, and writes one {@link readyLine}.
 * 3. The parent parses it ({@link parseReady}), checks it proves the successor serves its address
 *    ({@link servedMismatch}), and drains (successor.ts, restart.ts, supervisor.ts).
 * 4. With a supervisor the channel stays open: {@link DRAIN_LINE} on it means "you were replaced".
 *
 * This file holds the one writer and the one parser of each message; no I/O.
 * @module
 */

import fs from "node:fs";

/** Environment variable carrying the {@link Handoff} to a successor. @internal */
export const HANDOFF_ENV = "GRACEFUL_SERVE_HANDOFF";
/** The inherited listening socket's fd (also systemd socket activation's first fd, `SD_LISTEN_FDS_START`). @internal */
export const LISTEN_FD = 3;
/** The readiness pipe's fd, for a successor started by `serve({ restart })`. @internal */
export const READY_FD = 4;
/** What a supervisor writes on the kept-open readiness channel when the worker was replaced. @internal */
export const DRAIN_LINE = "drain\n";

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

/**
 * The port a server that cannot listen on an inherited fd binds (`Deno.serve`, `Bun.serve`): the
 * parent's, with reusePort, in a restart; with an fd handoff (systemd socket activation) it warns and
 * binds `port` instead (docs/runtimes.md). @internal
 */
export function portToBind(
  inherited: Handoff | undefined,
  port: number,
  warn: (message: string) => void,
  runtimeServer: string,
): number {
  if (inherited?.mode === "fd") {
    warn(`${runtimeServer} cannot listen on an inherited socket (systemd socket activation); binding instead`);
  }
  return inherited?.mode === "reuseport" ? inherited.port : port;
}

/** What a successor tells its parent it serves: the inherited socket itself, or a port it bound. @internal */
export type Served = { mode: "fd"; port: number } | { mode: "port"; port: number };

/** A parsed readiness line. @internal */
export interface Ready {
  /** The process that is serving: the successor itself, or its descendant behind a wrapper. */
  pid: number;
  /** Absent in an older successor's bare `ready <pid>`. */
  served?: Served;
}

/** The handoff as the successor's environment value. @internal */
export function encodeHandoff(handoff: Handoff): string {
  return JSON.stringify(handoff);
}

/** The handoff from {@link HANDOFF_ENV}, or `undefined` when it is not one. @internal */
export function decodeHandoff(raw: string): Handoff | undefined {
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

/** The readiness line a successor writes: `ready <pid> fd <port>` or `ready <pid> port <port>`. @internal */
export function readyLine(pid: number, served: Served): string {
  return `ready ${pid} ${served.mode} ${served.port}\n`;
}

/** Parses a readiness line: `ready <pid>` (older), `ready <pid> fd <port>` or `ready <pid> port <port>`. @internal */
export function parseReady(line: string): Ready | undefined {
  const match = /^ready (\d+)(?: (fd|port) (\d+))?$/.exec(line);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return match[2] ? { pid, served: { mode: match[2] as "fd" | "port", port: Number(match[3]) } } : { pid };
}

/**
 * Calls `onLine` once with the first line read from `stream` (a readiness pipe or connection), a
 * line split across chunks included; returns a function that stops reading.
 * @internal
 */
export function readFirstLine(
  stream: {
    on(event: "data", fn: (chunk: unknown) => void): unknown;
    off(event: "data", fn: (chunk: unknown) => void): unknown;
  },
  onLine: (line: string) => void,
): () => void {
  let input = "";
  const onData = (chunk: unknown) => {
    input += String(chunk);
    const end = input.indexOf("\n");
    if (end === -1) return;
    stream.off("data", onData);
    onLine(input.slice(0, end));
  };
  stream.on("data", onData);
  return () => void stream.off("data", onData);
}

/**
 * Why a readiness line does not prove the successor serves the parent's address, or `undefined` when
 * it does (issue 13, defect 9). In mode `fd` it must serve the socket itself: one that bound a port of
 * its own (a Deno or Bun server, which cannot listen on an fd) left the handed socket unserved. In
 * mode `reuseport` it must serve the same port. A bare `ready <pid>` (an older successor) is taken on
 * trust.
 * @internal
 */
export function servedMismatch(
  handoff: Pick<Handoff, "mode" | "port">,
  served: Served | undefined,
): string | undefined {
  if (served === undefined) return undefined;
  if (handoff.mode === "fd" && served.mode !== "fd") {
    return `bound port ${served.port} itself instead of taking fd ${LISTEN_FD}`;
  }
  if (handoff.mode === "reuseport" && served.port !== handoff.port) {
    return `serves port ${served.port}, not ${handoff.port}`;
  }
  return undefined;
}

/**
 * Whether `ancestor` is `pid` or one of its ancestors (Linux: /proc; elsewhere only equality). A
 * handoff is for a process that descends from its parent; a wrapper chain (`npm start` → `sh -c` →
 * node) is a few levels deep, 16 is plenty.
 * @internal
 */
export function descendsFrom(pid: number, ancestor: number): boolean {
  if (!Number.isInteger(ancestor) || ancestor <= 1) return false;
  let current = pid;
  for (let depth = 0; depth < 16 && current > 1; depth++) {
    if (current === ancestor) return true;
    try {
      const stat = fs.readFileSync(`/proc/${current}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
      current = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return false;
    }
  }
  return false;
}
