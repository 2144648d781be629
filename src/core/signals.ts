/**
 * Signal policy, runtime-neutral: the adapter supplies how to listen and how to exit.
 *
 * First SIGINT/SIGTERM drains with the deadline, then exits 0 (graceful) or 1 (forced or errors).
 * A second SIGINT/SIGTERM, or SIGUSR2, hammers: force-close now, exit 1 (endless' "hammer time").
 * @module
 */

import type { Lifecycle, ShutdownReport } from "./lifecycle.ts";

/**
 * The signals graceful-serve listens to. SIGHUP is added by `restart`.
 *
 * @example
 * ```ts
 * import { createLifecycle, type SignalName } from "graceful-serve";
 * const lifecycle = createLifecycle();
 * const drainOn: SignalName[] = ["SIGINT", "SIGTERM"];
 * for (const signal of drainOn) process.once(signal, () => lifecycle.shutdown({ reason: signal }));
 * ```
 */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGUSR2" | "SIGHUP";

/**
 * How an adapter maps signals and exit onto its runtime (`process.on`, `Deno.addSignalListener`).
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { createLifecycle, installSignalHandlers, type SignalPlatform } from "graceful-serve";
 * const lifecycle = createLifecycle();
 * const platform: SignalPlatform = {
 *   on: (signal, listener) => process.on(signal, listener),
 *   off: (signal, listener) => process.off(signal, listener),
 *   exit: (code) => process.exit(code),
 * };
 * installSignalHandlers(lifecycle, platform, { exit: true });
 * ```
 */
export interface SignalPlatform {
  /** Adds a listener; may throw where the platform cannot deliver the signal (Deno on Windows: SIGUSR2). */
  on(signal: SignalName, listener: () => void): void;
  /** Removes a listener added with `on`, restoring default signal death once none is left. */
  off(signal: SignalName, listener: () => void): void;
  /** Ends the process with this code. */
  exit(code: number): void;
}

/** Per platform (per process): the servers a signal is draining, and the worst exit code so far. */
const draining = new WeakMap<SignalPlatform, { servers: Set<Lifecycle>; code: number }>();

/**
 * Exit code for a finished shutdown: 0 only when nothing was cut and nothing failed.
 *
 * @example
 * ```ts
 * import { exitCodeFor, serve } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi") });
 * const report = await server.shutdown({ reason: "SIGTERM" });
 * process.exit(exitCodeFor(report)); // 0 if graceful and no hook failed, else 1
 * ```
 */
export function exitCodeFor(report: ShutdownReport): number {
  return report.graceful && report.errors.length === 0 ? 0 : 1;
}

/**
 * Installs the handlers and returns a function that removes them (also done automatically on close).
 * Extra handlers (e.g. SIGHUP for restart) are installed and removed with the rest.
 *
 * @example
 * ```ts
 * import { createLifecycle, installSignalHandlers, type SignalPlatform } from "graceful-serve";
 * const lifecycle = createLifecycle({ deadline: 10_000 });
 * // platform: a SignalPlatform, e.g. { on: process.on, off: process.off, exit: process.exit } wrapped in arrows
 * declare const platform: SignalPlatform;
 * declare function reload(): void; // your config reload
 * const remove = installSignalHandlers(lifecycle, platform, { exit: true, extra: { SIGHUP: () => reload() } });
 * // SIGINT/SIGTERM now drain, a second one or SIGUSR2 hammers; remove() uninstalls them early.
 * ```
 */
export function installSignalHandlers(
  lifecycle: Lifecycle,
  platform: SignalPlatform,
  options: { exit: boolean; extra?: Partial<Record<SignalName, () => void>> },
): () => void {
  const log = lifecycle.logger;
  const installed: Array<[SignalName, () => void]> = [];
  let exiting = false;
  // The first signal's drain and a later hammer both end here; exit once, and only when every
  // server of this process that the signal reached has closed (two serve() calls, one process).
  const finish = (report: ShutdownReport) => {
    // With exit on, the handlers stay until the process is gone: removing them first would restore
    // default signal death for the moment before exit, and a signal storm lands in it (issue 13,
    // defect 4: killed by SIGTERM instead of exiting 0/1). Later signals join this exit.
    if (!options.exit) remove();
    if (!options.exit || exiting) return;
    exiting = true;
    const pending = draining.get(platform);
    pending?.servers.delete(lifecycle);
    const code = Math.max(exitCodeFor(report), pending?.code ?? 0);
    if (pending && pending.servers.size > 0) pending.code = code;
    else platform.exit(code);
  };
  let exitPending = false;
  const enlist = () => {
    if (!options.exit) return;
    exitPending = true;
    let pending = draining.get(platform);
    if (!pending) draining.set(platform, pending = { servers: new Set(), code: 0 });
    pending.servers.add(lifecycle);
  };
  let signalled = false;
  const drain = (signal: SignalName) => () => {
    if (exiting) return; // a storm's late signals: the exit is under way
    enlist();
    if (!signalled) {
      signalled = true;
      // A drain already running (manual, or after a restart) is joined, not cut short.
      (lifecycle.state === "serving" ? lifecycle.shutdown({ reason: signal }) : lifecycle.finished).then(finish);
    } else {
      log.warn(`${signal} again while ${lifecycle.state}: hammering`);
      lifecycle.hammer(signal).then(finish);
    }
  };
  const hammer = () => {
    if (exiting) return;
    enlist();
    log.warn("SIGUSR2: hammering");
    lifecycle.hammer("SIGUSR2").then(finish);
  };
  const handlers: Partial<Record<SignalName, () => void>> = {
    SIGINT: drain("SIGINT"),
    SIGTERM: drain("SIGTERM"),
    SIGUSR2: hammer,
    ...options.extra,
  };
  for (const [signal, listener] of Object.entries(handlers) as Array<[SignalName, () => void]>) {
    try {
      platform.on(signal, listener);
      installed.push([signal, listener]);
    } catch {
      // e.g. Deno on Windows refuses SIGUSR2 (docs/runtimes.md, Windows); the rest still work.
      log.warn(`${signal} is not supported on this platform; not handled`);
    }
  }
  let removed = false;
  function remove() {
    if (removed) return;
    removed = true;
    for (const [signal, listener] of installed) platform.off(signal, listener);
  }
  // However the shutdown started, once closed the default signal death is back — unless this process
  // is about to exit because of that shutdown (a signal's drain, or a restart's), see finish().
  lifecycle.finished.then(() => {
    if (exitPending || (options.exit && lifecycle.reason === "restart")) return;
    remove();
  });
  return remove;
}
