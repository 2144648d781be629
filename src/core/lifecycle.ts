/**
 * The runtime-neutral lifecycle: `serving → draining → closed`, the shutdown deadline and the report.
 *
 * It knows nothing about sockets. An adapter hands it a {@link Drainable} — "stop accepting and tell me
 * when you are empty" plus "cut everything now" — and the lifecycle decides when each is called.
 * @module
 */

import { gracefulError, optionError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { checkMilliseconds, checkOptionsObject, resolveLifecycleOptions } from "./validate.ts";

// Re-exported from here, where they were first published (src/core.ts, attach.ts import them).
export { checkMilliseconds, DEFAULT_DEADLINE, MAX_TIMER_MS } from "./validate.ts";

/**
 * Where a server is in its life. It only ever moves forward.
 *
 * @example
 * ```ts
 * import { type LifecycleState, serve } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi") });
 * const state: LifecycleState = server.state; // "serving", later "draining", then "closed"
 * ```
 */
export type LifecycleState = "serving" | "draining" | "closed";

/**
 * What a shutdown did, resolved by `shutdown()` and `finished`.
 *
 * @example
 * ```ts
 * import { serve, type ShutdownReport } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi") });
 * const report: ShutdownReport = await server.shutdown({ reason: "deploy" });
 * if (!report.graceful) console.warn(`cut ${report.forced} of ${report.inFlight} after ${report.durationMs} ms`);
 * ```
 */
export interface ShutdownReport {
  /** Why the shutdown started: a signal name (`"SIGTERM"`), `"manual"`, `"restart"`, `"error"`, ... */
  readonly reason: string;
  /** `true` when everything finished on its own; `false` when the deadline or a hammer cut work. */
  readonly graceful: boolean;
  /** Requests (and `waitUntil` tasks) in flight when draining began. */
  readonly inFlight: number;
  /** Requests (and tasks) still open when they were force-closed; 0 when graceful. */
  readonly forced: number;
  /** Milliseconds from the start of draining to closed. */
  readonly durationMs: number;
  /** Errors raised while closing (a failing shutdown hook, a transport error). Empty when clean. */
  readonly errors: readonly unknown[];
}

/**
 * The adapter's side of a drain. Implementations map it onto the runtime's own server, so the
 * lifecycle never keeps a second copy of bookkeeping the runtime already has.
 *
 * @example
 * ```ts
 * import http from "node:http";
 * import { createLifecycle, type Drainable } from "graceful-serve";
 * const httpServer = http.createServer((req, res) => res.end("hi")).listen(3000);
 * const transport: Drainable = {
 *   drain: () => new Promise((resolve) => httpServer.close(() => resolve())),
 *   forceClose: () => httpServer.closeAllConnections(),
 *   inFlight: () => 0, // best effort: not known here
 * };
 * createLifecycle({ deadline: 5_000 }).drive(transport);
 * ```
 */
export interface Drainable {
  /**
   * Stop accepting and close idle connections; resolve once nothing is left open. Called once, with
   * the shutdown's reason: after a `"restart"` the successor serves the same port, so idle keep-alive
   * connections may be left to end on their own (next response says `Connection: close`) instead of
   * being closed under a client that is about to reuse them.
   */
  drain(reason?: string): Promise<void>;
  /** Cut whatever is still open now; `drain()` must settle soon after. May be called once, after `drain()`. */
  forceClose(): void | Promise<void>;
  /** Requests in flight right now (best effort where a runtime does not expose it). */
  inFlight(): number;
}

/**
 * A long-lived connection graceful-serve can close at the deadline: a WebSocket or similar.
 *
 * @example
 * ```ts
 * import { type ClosableSocket, serve } from "graceful-serve";
 * const server = serve({
 *   fetch(request) {
 *     // On Deno: its WebSocket has close(code, reason) and addEventListener("close").
 *     const { socket, response } = Deno.upgradeWebSocket(request);
 *     const closable: ClosableSocket = socket;
 *     server.trackWebSocket(closable); // closed with 1001 "going away" at the deadline
 *     return response;
 *   },
 * });
 * ```
 */
export interface ClosableSocket {
  /** Closes with a WebSocket close code; graceful-serve sends 1001 "going away". */
  close(code?: number, reason?: string): void;
  /** DOM-style close notification (Deno, browsers' WebSocket). */
  addEventListener?(type: "close", listener: () => void, options?: { once?: boolean }): void;
  /** Node-style close notification (the `ws` package). */
  once?(event: "close", listener: () => void): unknown;
}

/**
 * Options for {@link createLifecycle}.
 *
 * @example
 * ```ts
 * import { createLifecycle, type LifecycleOptions } from "graceful-serve";
 * const options: LifecycleOptions = { deadline: 20_000, drainDelay: 5_000, logger: console };
 * const lifecycle = createLifecycle(options);
 * ```
 */
export interface LifecycleOptions {
  /** Milliseconds from the start of draining until open work is force-closed. Default 5000. */
  deadline?: number;
  /** Where transition lines go: any object with `info`/`warn`/`error`, or `false` for silence. */
  logger?: Logger | false;
  /**
   * Milliseconds to keep accepting and serving after draining begins (readiness already answers 503),
   * so load balancers deregister the instance before it stops accepting. Counts against the deadline.
   * Default 0.
   */
  drainDelay?: number;
}

/**
 * Options for a single {@link Lifecycle.shutdown} call.
 *
 * @example
 * ```ts
 * import { serve, type ShutdownOptions } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi") });
 * const options: ShutdownOptions = { reason: "deploy", deadline: 2_000 };
 * const report = await server.shutdown(options); // report.reason === "deploy"
 * ```
 */
export interface ShutdownOptions {
  /** Overrides the configured deadline for this shutdown (ms). */
  deadline?: number;
  /** Recorded in the report and the log line. Default `"manual"`. */
  reason?: string;
  /** Overrides the configured drain delay for this shutdown (ms); a restart uses 0. */
  drainDelay?: number;
}

/** Default time a shutdown hook may take. */
export const DEFAULT_HOOK_TIMEOUT = 5_000;

/**
 * Event dispatched by {@link Lifecycle} on every state transition.
 *
 * @example
 * ```ts
 * import { serve, StateChangeEvent } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi") });
 * server.addEventListener("statechange", (event) => {
 *   if (event instanceof StateChangeEvent) console.log(`now ${event.state}`); // "draining", then "closed"
 * });
 * ```
 */
export class StateChangeEvent extends Event {
  /** The state just entered. */
  readonly state: LifecycleState;
  /** Creates the event for `state`. */
  constructor(state: LifecycleState) {
    super("statechange");
    this.state = state;
  }
}

/**
 * The lifecycle state machine. Drive it from your own server code, or let `serve()` do it.
 *
 * @example
 * ```ts
 * import { createLifecycle } from "graceful-serve";
 * // myServer: your own server, with a graceful close, a hard close and a count of open requests
 * declare const myServer: { closeGracefully(): Promise<void>; destroy(): void; active: number };
 * const lifecycle = createLifecycle({ deadline: 3000 });
 * lifecycle.drive({ drain: () => myServer.closeGracefully(), forceClose: () => myServer.destroy(), inFlight: () => myServer.active });
 * const report = await lifecycle.shutdown({ reason: "SIGTERM" });
 * ```
 */
export class Lifecycle extends EventTarget {
  #state: LifecycleState = "serving";
  #reason: string | undefined;
  readonly #abort = new AbortController();
  readonly #deadline: number;
  readonly #log: Logger;
  #drainable: Drainable | undefined;
  #run: Promise<ShutdownReport> | undefined;
  #resolveFinished!: (report: ShutdownReport) => void;
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #errors: unknown[] = [];
  readonly #drainDelay: number;
  readonly #shutdownHooks: Array<{ fn: (reason: string) => unknown; name: string; timeout: number }> = [];
  readonly #drainHooks: Array<(reason: string) => unknown> = [];
  readonly #sockets = new Map<ClosableSocket, () => void>();

  /** Settles with the report once the lifecycle is `closed`, however the shutdown started. */
  readonly finished: Promise<ShutdownReport>;

  /**
   * Creates a lifecycle in state `serving`.
   * @throws {TypeError} or {RangeError} (`code: "ERR_GRACEFUL_OPTION"`) naming a bad `deadline`, `drainDelay` or `logger`.
   */
  constructor(options: LifecycleOptions = {}) {
    super();
    const resolved = resolveLifecycleOptions(options);
    this.#deadline = resolved.deadline;
    this.#drainDelay = resolved.drainDelay;
    this.#log = resolved.logger;
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  /** Why the shutdown started (`"SIGTERM"`, `"manual"`, `"restart"`, ...); `undefined` while serving. */
  get reason(): string | undefined {
    return this.#reason;
  }

  /** `"serving"`, `"draining"` or `"closed"`. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** Aborted the moment draining begins; pass it to long-lived work (SSE, WebSockets, loops). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** The configured deadline in milliseconds. */
  get deadline(): number {
    return this.#deadline;
  }

  /** The logger transition lines go to (a silent one when `logger: false`). */
  get logger(): Logger {
    return this.#log;
  }

  /**
   * Connects the transport whose drain this lifecycle drives (named so it is not confused with the
   * exported `attach(server)`, which wraps a whole server: issue 14). Call once, before `shutdown()`.
   * @throws {Error} when a transport is already connected.
   *
   * @example
   * ```ts
   * import { createLifecycle } from "graceful-serve";
   * // queue: a p-queue instance whose jobs should finish before the process exits
   * declare const queue: { onIdle(): Promise<void>; clear(): void; pending: number };
   * const lifecycle = createLifecycle({ deadline: 5_000 });
   * lifecycle.drive({ drain: () => queue.onIdle(), forceClose: () => queue.clear(), inFlight: () => queue.pending });
   * ```
   */
  drive(drainable: Drainable): void {
    if (this.#drainable) {
      throw gracefulError(Error, "ERR_GRACEFUL_STATE", "a transport is already attached to this lifecycle");
    }
    this.#drainable = drainable;
  }

  /**
   * The former name of {@link Lifecycle.drive}.
   * @deprecated Use `drive(drainable)`; `attach` reads like the exported `attach(server)`.
   */
  attach(drainable: Drainable): void {
    this.drive(drainable);
  }

  /**
   * Keeps the process from closing until `promise` settles (it counts as in-flight work); at the
   * deadline it is no longer waited for. Rejections are recorded in `report.errors`.
   */
  waitUntil(promise: Promise<unknown>): void {
    const task: Promise<unknown> = Promise.resolve(promise).then(
      () => this.#tasks.delete(task),
      (error) => {
        this.#tasks.delete(task);
        this.#errors.push(error);
      },
    );
    this.#tasks.add(task);
  }

  /**
   * Tracks a long-lived connection — a WebSocket (Deno's, Bun's `ServerWebSocket`, the `ws` package's)
   * or anything with `close(code, reason)`. It learns that draining began through `signal` (close it
   * then for a clean shutdown); the drain waits for it, and at the deadline it is closed with 1001
   * "going away". Untracked automatically on its `close` event when it has one; otherwise call the
   * returned function when it closes.
   *
   * @example
   * ```ts
   * import { serve } from "graceful-serve";
   * const server = serve({
   *   fetch(request) {
   *     // On Deno:
   *     const { socket, response } = Deno.upgradeWebSocket(request);
   *     server.trackWebSocket(socket);
   *     server.signal.addEventListener("abort", () => socket.close(1001, "going away"));
   *     return response;
   *   },
   * });
   * ```
   */
  trackWebSocket(socket: ClosableSocket): () => void {
    if (typeof socket?.close !== "function") {
      throw optionError(TypeError, "trackWebSocket() needs an object with close()");
    }
    const untrack = () => {
      if (!this.#sockets.delete(socket)) return;
      if (this.#sockets.size === 0) { for (const wake of this.#socketWaiters.splice(0)) wake(); }
    };
    this.#sockets.set(socket, untrack);
    if (typeof socket.addEventListener === "function") socket.addEventListener("close", untrack, { once: true });
    else if (typeof socket.once === "function") socket.once("close", untrack);
    return untrack;
  }

  readonly #socketWaiters: Array<() => void> = [];

  #socketsClosed(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#socketWaiters.push(resolve));
  }

  #closeSocket(socket: ClosableSocket): void {
    try {
      socket.close(1001, "going away");
    } catch {
      // Already closing.
    }
    // Closed from our side: it no longer holds the shutdown, whether or not its close event follows.
    this.#sockets.get(socket)?.();
  }

  /** Records an error that should make the shutdown report (and a signal exit code) fail. */
  reportError(error: unknown): void {
    this.#errors.push(error);
  }

  /**
   * Starts draining (synchronously: `state` is `"draining"` and `signal` aborted when this returns),
   * and resolves with the report once closed. Calling it again returns the same promise.
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
    if (this.#run) return this.#run;
    const deadline = options.deadline === undefined ? this.#deadline : checkMilliseconds("deadline", options.deadline);
    const reason = options.reason ?? "manual";
    const drainDelay = options.drainDelay === undefined
      ? this.#drainDelay
      : checkMilliseconds("drainDelay", options.drainDelay);
    this.#reason = reason;
    this.#run = this.#shutdown(reason, deadline, Math.min(drainDelay, deadline));
    return this.#run;
  }

  /**
   * Force-closes now (a "hammer": a second SIGTERM, SIGUSR2): starts a shutdown if none is running
   * and cuts all open work at once. Resolves with the (non-graceful, unless nothing was open) report.
   */
  hammer(reason = "hammer"): Promise<ShutdownReport> {
    if (this.#state === "closed") return this.finished;
    const run = this.shutdown({ reason });
    this.#forceCloseNow?.(reason);
    // Past the drain, a shutdown hook may be what is hanging: a force-close does not wait out its timeout.
    this.#forceCloseHooks?.(reason);
    return run;
  }

  // The shutdown, phase by phase: delay → drain → (force-close at the deadline or a hammer) → hooks → report.
  // Go's Server.Shutdown is the model: stop accepting, wait for the work, or give up at the deadline.

  /** Set from the start of draining until the drain phase is over: force-closes (the deadline, a hammer). */
  #forceCloseNow: ((why: string) => void) | undefined;
  /** Ends the drain delay early (a force-close while it runs). */
  #endDelay: (() => void) | undefined;
  /** The drain phase, started once: after the delay, or at a force-close. */
  #drained: Promise<void> | undefined;
  /** Work open when force-closed: `report.forced`. */
  #forced = 0;

  async #shutdown(reason: string, deadline: number, delay: number): Promise<ShutdownReport> {
    const started = Date.now();
    const inFlight = this.#beginDraining(reason, deadline, delay);
    const forceClosed = new Promise<void>((resolve) => {
      this.#forceCloseNow = (why) => {
        this.#forceCloseNow = undefined;
        resolve(this.#forceClose(why, reason, started));
      };
    });
    // One timer per shutdown (two with a drain delay), never per request.
    const timer = setTimeout(() => this.#forceCloseNow?.("deadline"), deadline);
    // With no delay the drain starts synchronously: the listener closes before shutdown() returns.
    const drained = delay > 0 ? this.#delay(delay).then(() => this.#drain(reason)) : this.#drain(reason);
    await Promise.race([drained, forceClosed]);
    clearTimeout(timer);
    // After a force-close the transport must settle; hanging work past that is not waited for.
    if (this.#forceCloseNow === undefined) await Promise.race([drained, Promise.resolve()]);
    this.#forceCloseNow = undefined;
    await this.#runShutdownHooks(reason);
    return this.#close(reason, inFlight, started);
  }

  /** Work open right now: the transport's requests, `waitUntil` tasks and tracked sockets. */
  #open(): number {
    return (this.#drainable?.inFlight() ?? 0) + this.#tasks.size + this.#sockets.size;
  }

  /** Enters `draining`: the abort signal fires, `onDrain` hooks start; returns what is in flight. */
  #beginDraining(reason: string, deadline: number, delay: number): number {
    this.#setState("draining");
    this.#abort.abort(new DOMException(`graceful-serve: draining (${reason})`, "AbortError"));
    for (const hook of this.#drainHooks) this.waitUntil(Promise.resolve().then(() => hook(reason)));
    const inFlight = this.#open();
    this.#log.info(
      `draining (${reason}): ${inFlight} in flight, deadline ${deadline} ms` +
        (delay ? `, accepting for ${delay} ms more` : ""),
    );
    return inFlight;
  }

  /**
   * Phase "delay": keep accepting and serving (readiness already answers 503), so load balancers
   * deregister the instance before it stops accepting. A force-close ends it early.
   */
  #delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#endDelay = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Phase "drain": the transport stops accepting and empties; then `waitUntil` tasks and tracked
   * sockets (either may add the other). Started once; a failing drain is recorded, not thrown.
   */
  #drain(reason: string): Promise<void> {
    this.#endDelay?.();
    this.#drained ??= (async () => {
      if (this.#drainable) await this.#drainable.drain(reason);
      while (this.#tasks.size > 0 || this.#sockets.size > 0) {
        await Promise.all([...this.#tasks, this.#socketsClosed()]);
      }
    })().catch((error) => {
      this.#errors.push(error);
    });
    return this.#drained;
  }

  /**
   * Phase "force-close" (the deadline, or a hammer): counts what is still open, says "going away"
   * (1001) to long-lived connections rather than resetting them, starts the drain if the delay was
   * still running, then cuts the transport.
   */
  async #forceClose(why: string, reason: string, started: number): Promise<void> {
    this.#forced = this.#open();
    for (const socket of [...this.#sockets.keys()]) this.#closeSocket(socket);
    this.#log.warn(`${why}: force-closing ${this.#forced} open after ${Date.now() - started} ms`);
    this.dispatchEvent(new CustomEvent("forced", { detail: { reason: why, forced: this.#forced } }));
    void this.#drain(reason);
    // Drainable contract: forceClose() comes after drain(), and its failure is recorded, not thrown.
    await Promise.resolve()
      .then(() => this.#drainable?.forceClose())
      .catch((error) => this.#errors.push(error));
  }

  /** Set while shutdown hooks run: abandons the running hook and skips the rest (a force-close). */
  #forceCloseHooks: ((why: string) => void) | undefined;

  /** Phase "hooks": shutdown hooks, last registered first, each bounded by its own timeout; failures are recorded. */
  async #runShutdownHooks(reason: string): Promise<void> {
    let forcedBy: string | undefined;
    let forceClose: (why: string) => void = () => {};
    const forceClosed = new Promise<never>((_, reject) => {
      forceClose = (why) => {
        forcedBy = why;
        reject(new Error(`shutdown hook cut by a hammer (${why})`));
      };
    });
    forceClosed.catch(() => {});
    this.#forceCloseHooks = (why) => forceClose(why);
    for (const { fn, name, timeout } of [...this.#shutdownHooks].reverse()) {
      if (forcedBy !== undefined) {
        this.#hookError(new Error(`shutdown hook "${name}" skipped: hammered (${forcedBy})`));
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`shutdown hook "${name}" timed out after ${timeout} ms`)), timeout);
      });
      try {
        await Promise.race([Promise.resolve().then(() => fn(reason)), timedOut, forceClosed]);
      } catch (error) {
        this.#hookError(
          forcedBy !== undefined && error instanceof Error && error.message.startsWith("shutdown hook cut")
            ? new Error(`shutdown hook "${name}" cut by a hammer (${forcedBy})`)
            : error instanceof Error && error.message.startsWith("shutdown hook")
            ? error
            : new Error(
              `shutdown hook "${name}" failed: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            ),
        );
      } finally {
        clearTimeout(timer);
      }
    }
    this.#forceCloseHooks = undefined;
  }

  #hookError(error: Error): void {
    if (!("code" in error)) Object.assign(error, { code: "ERR_GRACEFUL_HOOK" });
    this.#errors.push(error);
    this.#log.error(error.message);
  }

  /** Phase "report": enters `closed`, logs the outcome and settles `finished`. */
  #close(reason: string, inFlight: number, started: number): ShutdownReport {
    const forced = this.#forced;
    const report: ShutdownReport = {
      reason,
      graceful: forced === 0,
      inFlight,
      forced,
      durationMs: Date.now() - started,
      errors: this.#errors,
    };
    this.#setState("closed");
    this.#log.info(
      `closed (${reason}) in ${report.durationMs} ms: ${report.graceful ? "graceful" : `forced ${forced}`}` +
        (report.errors.length ? `, ${report.errors.length} error(s)` : ""),
    );
    this.#resolveFinished(report);
    return report;
  }

  /**
   * Registers cleanup to run after the drain (listener closed, in-flight work done or cut), in reverse
   * order of registration — close what was opened last first, like `defer`. A hook that throws or
   * outlives its `timeout` (default 5000 ms) is recorded in `report.errors` (exit code 1) and the
   * others still run. Returns a function that unregisters it.
   *
   * @example
   * ```ts
   * import { serve } from "graceful-serve";
   * declare const db: { end(): Promise<void> }; // a pg Pool, say
   * const server = serve({ fetch: () => new Response("hi") });
   * server.onShutdown(() => db.end(), { name: "postgres", timeout: 2000 });
   * ```
   */
  onShutdown(fn: (reason: string) => unknown, options: { name?: string; timeout?: number } = {}): () => void {
    if (typeof fn !== "function") throw optionError(TypeError, "onShutdown() needs a function");
    checkOptionsObject("onShutdown()", options, "{ name, timeout }");
    if (options.name !== undefined && typeof options.name !== "string") {
      throw optionError(TypeError, `onShutdown() option "name" must be a string, got ${typeof options.name}`);
    }
    const timeout = options.timeout === undefined
      ? DEFAULT_HOOK_TIMEOUT
      : checkMilliseconds("timeout", options.timeout);
    const hook = { fn, name: options.name ?? (fn.name || `hook ${this.#shutdownHooks.length + 1}`), timeout };
    this.#shutdownHooks.push(hook);
    return () => removeItem(this.#shutdownHooks, hook);
  }

  /**
   * Registers work to start the moment draining begins (deregistering from service discovery, telling
   * workers to stop). It counts as in-flight work: the shutdown waits for it, up to the deadline.
   */
  onDrain(fn: (reason: string) => unknown): () => void {
    if (typeof fn !== "function") throw optionError(TypeError, "onDrain() needs a function");
    this.#drainHooks.push(fn);
    return () => removeItem(this.#drainHooks, fn);
  }

  #setState(state: LifecycleState): void {
    this.#state = state;
    this.dispatchEvent(new StateChangeEvent(state));
  }
}

/**
 * Creates a {@link Lifecycle}: the state machine without any server, for code that owns its own.
 *
 * @example
 * ```ts
 * import { createLifecycle } from "graceful-serve";
 * // queue: a p-queue instance whose jobs should finish before the process exits
 * declare const queue: { onIdle(): Promise<void>; clear(): void; pending: number };
 * const lifecycle = createLifecycle({ deadline: 10_000 });
 * lifecycle.drive({ drain: () => queue.onIdle(), forceClose: () => queue.clear(), inFlight: () => queue.pending });
 * const report = await lifecycle.shutdown({ reason: "SIGTERM" }); // { reason: "SIGTERM", graceful: true, ... }
 * ```
 */
export function createLifecycle(options?: LifecycleOptions): Lifecycle {
  return new Lifecycle(options);
}

/** Removes `item` from `list` if it is there (an unregister function called twice removes nothing). */
function removeItem<T>(list: T[], item: T): void {
  const index = list.indexOf(item);
  if (index !== -1) list.splice(index, 1);
}
