/**
 * The server object `serve()` returns on every runtime: a {@link Lifecycle} that also listens,
 * and restarts when asked.
 * @module
 */

import { type Drainable, Lifecycle } from "../core/lifecycle.ts";
import {
  type ResolvedServeOptions,
  resolveServeOptions,
  type ServeOptions,
  serverUrl,
  warnIgnoredWebSocket,
} from "./options.ts";
import type { Handoff, Served } from "../restart/handoff.ts";
import { notifyReady, takeInheritedSocket } from "../restart/inherit.ts";
import { removePidFile, writePidFile } from "../restart/pidfile.ts";
import { type RestartResult, startSuccessor } from "../restart/restart.ts";
import { ownCommand } from "../restart/successor.ts";
import { exitCodeFor, installSignalHandlers, type SignalPlatform } from "../core/signals.ts";
import { gracefulError } from "../core/errors.ts";
import { currentRuntime } from "../core/runtime.ts";

/**
 * Where the server ended up listening.
 *
 * @example
 * ```ts
 * import { type ListenAddress, serve } from "graceful-serve";
 * const server = await serve({ port: 0, fetch: () => new Response("hi") }).ready();
 * const address: ListenAddress = { hostname: server.hostname!, port: server.port! }; // port: the one picked
 * ```
 */
export interface ListenAddress {
  /** The bound interface as given (or as the runtime reports it). */
  readonly hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
}

/** What an adapter returns when it has started its runtime's server. */
export interface Transport extends Drainable {
  /** Resolves once listening; rejects when binding failed. */
  readonly listening: Promise<ListenAddress>;
  /** What a successor needs to take the socket over: the socket to pass as fd 3, or a reusePort bind. */
  handoff(): { socket?: unknown; handoff: Handoff };
  /** The runtime's own server object. */
  readonly native: unknown;
}

/** Starts a runtime's server for `serve()`. */
export type StartServer = (options: ResolvedServeOptions, server: Server) => Transport;

const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ??
  (Symbol.for("nodejs.asyncDispose") as typeof Symbol.asyncDispose);

/**
 * Dispatched on the server when a restart finishes, either way.
 *
 * @example
 * ```ts
 * import { RestartEvent, serve } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi"), restart: true });
 * server.addEventListener("restart", (event) => {
 *   if (event instanceof RestartEvent && !event.result.ok) console.error(event.result.error);
 * });
 * ```
 */
export class RestartEvent extends Event {
  /** The outcome. */
  readonly result: RestartResult;
  /** Creates the event. */
  constructor(result: RestartResult) {
    super("restart");
    this.result = result;
  }
}

function currentPid(): number {
  const g = globalThis as { process?: { pid?: number }; Deno?: { pid?: number } };
  return g.Deno?.pid ?? g.process?.pid ?? 0;
}

/**
 * A listening server with a graceful lifecycle. Dispatches `statechange`, `forced` and `restart` events.
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve";
 * const server = serve({ fetch: () => new Response("hi"), port: 0 });
 * await server.ready();
 * console.log(server.url);            // http://127.0.0.1:34567/
 * const report = await server.shutdown();
 * ```
 */
export class Server extends Lifecycle implements AsyncDisposable {
  #address: ListenAddress | undefined;
  #ready: Promise<this> | undefined;
  #transport: Transport | undefined;
  readonly #options: ResolvedServeOptions;
  readonly #platform: SignalPlatform;
  #restarting: Promise<RestartResult> | undefined;

  /** @internal Use `serve()`. */
  constructor(options: ResolvedServeOptions, platform: SignalPlatform) {
    super(options);
    this.#options = options;
    this.#platform = platform;
  }

  /** @internal Connects the adapter's transport; called by `serve()`. */
  bind(transport: Transport): void {
    this.drive(transport);
    this.#transport = transport;
    const pidFile = this.#options.restart?.pidFile;
    const fail = (what: string, error: unknown): never => {
      this.logger.error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      this.reportError(error);
      void this.shutdown({ reason: "error", deadline: 0 });
      throw error;
    };
    this.#ready = transport.listening.then(
      (address) => {
        this.#address = address;
        const inherited = this.#options.inherited;
        this.logger.info(
          `listening on ${this.url} (pid ${currentPid()}${
            inherited ? `, ${inherited.mode === "fd" ? "inherited socket" : "reusePort handoff"}` : ""
          })`,
        );
        // The successor takes the PID file before it tells its parent, so it always names a server.
        // Should it fail anyway (the directory was checked at serve()), the server does not go on
        // serving without it.
        if (pidFile) {
          try {
            writePidFile(pidFile, currentPid());
          } catch (error) {
            fail(`could not write the PID file (restart.pidFile) ${pidFile}`, error);
          }
        }
        if (inherited) {
          const served: Served = inherited.mode === "fd" && currentRuntime === "node"
            ? { mode: "fd", port: address.port }
            : { mode: "port", port: address.port };
          notifyReady(inherited, served, {
            replaced: () => this.#replaced(served.mode === "fd"),
            orphaned: (why) => this.#orphaned(why),
          });
        }
        return this;
      },
      // No catch here: when nobody awaits ready(), a server that never listened must not let the
      // process end as a success — the rejection goes unhandled and the runtime exits 1, as a bare
      // server's unhandled "error" does (issue 13, defect 5).
      (error) => fail("could not listen", error),
    );
    if (pidFile) this.finished.then(() => removePidFile(pidFile, currentPid()));
  }

  /** The supervisor replaced this worker: drain as serve()'s own restart does (issue 12, defect 6). */
  #replaced(sameSocket: boolean): void {
    if (this.state !== "serving") return;
    this.logger.info("replaced by a new worker; draining");
    // Same socket (fd): the new worker already accepts from it, no delay needed. reusePort: keep
    // serving for the drain delay first, as restart() does.
    void this.shutdown({ reason: "restart", ...(sameSocket ? { drainDelay: 0 } : {}) }).then((report) => {
      if (this.#options.exit) this.#platform.exit(exitCodeFor(report));
    });
  }

  /** The parent died before it heard we were ready: nobody would ever stop this process. */
  #orphaned(why: string): void {
    if (this.state !== "serving") return;
    this.logger.error(`${why}; draining and exiting`);
    void this.shutdown({ reason: "orphaned" }).then(() => {
      if (this.#options.exit) this.#platform.exit(1);
    });
  }

  /** Resolves with this server once it is listening; rejects when it could not bind. */
  ready(): Promise<this> {
    if (!this.#ready) throw gracefulError(Error, "ERR_GRACEFUL_STATE", "server has no transport");
    return this.#ready;
  }

  /** The bound port, once `ready()` resolved. */
  get port(): number | undefined {
    return this.#address?.port;
  }

  /** The bound interface, once `ready()` resolved. */
  get hostname(): string | undefined {
    return this.#address?.hostname;
  }

  /** A URL for this server, e.g. `http://127.0.0.1:8000/`, once `ready()` resolved. */
  get url(): string | undefined {
    return this.#address && serverUrl(this.#address.hostname, this.#address.port);
  }

  /**
   * The runtime's own server: Node's `http.Server` (add an `upgrade` listener for WebSockets),
   * Deno's `HttpServer`, Bun's `Server` (for `upgrade()`, `publish()`). `undefined` if binding failed.
   */
  get native(): unknown {
    return this.#transport?.native;
  }

  /** Requests in flight right now. */
  get inFlight(): number {
    return this.#transport?.inFlight() ?? 0;
  }

  /**
   * Starts a successor on the same port and, once it is ready, drains this server (then exits, when
   * `exit` is on). A successor that fails leaves this server serving. One restart at a time: a call
   * during a restart returns the restart already running. Needs `serve({ restart })`.
   */
  restart(): Promise<RestartResult> {
    const options = this.#options.restart;
    if (!options) {
      return Promise.reject(
        gracefulError(Error, "ERR_GRACEFUL_STATE", "restart is not enabled; pass serve({ restart: true })"),
      );
    }
    if (this.#restarting) {
      this.logger.warn("restart already in progress; ignored");
      return this.#restarting;
    }
    if (this.state !== "serving" || !this.#address || !this.#transport) {
      return Promise.resolve({
        ok: false,
        error: `cannot restart while ${this.#address ? this.state : "not listening"}`,
      });
    }
    const { socket, handoff } = this.#transport.handoff();
    let command: readonly string[];
    try {
      command = options.command ?? ownCommand();
    } catch (error) {
      const result: RestartResult = { ok: false, error: (error as Error).message };
      this.logger.warn(`restart failed: ${result.error}; still serving`);
      this.dispatchEvent(new RestartEvent(result));
      return Promise.resolve(result);
    }
    this.logger.info(`restart: starting successor (${handoff.mode === "fd" ? "socket passed as fd 3" : "reusePort"})`);
    const run = startSuccessor(this, {
      command,
      socket,
      handoff,
      timeout: options.timeout,
      pidFile: options.pidFile,
    }).then(
      (result) => {
        this.#restarting = undefined;
        this.dispatchEvent(new RestartEvent(result));
        if (!result.ok) {
          this.logger.warn(`restart failed: ${result.error}${this.state === "serving" ? "; still serving" : ""}`);
          return result;
        }
        this.logger.info(`restart: successor pid ${result.pid} is ready; draining`);
        // fd handoff (Node): the successor already accepts from the same socket, so no delay; idle
        // keep-alive connections are left to end after their next response (see nodeDrainable).
        // reusePort (Deno, Bun): their shutdown closes idle connections at once, so keep serving for
        // the drain delay first: pooled connections get a response with Connection: close meanwhile.
        this.shutdown({ reason: "restart", ...(handoff.mode === "fd" ? { drainDelay: 0 } : {}) }).then((report) => {
          if (this.#options.exit) this.#platform.exit(exitCodeFor(report));
        });
        return result;
      },
    );
    this.#restarting = run;
    return run;
  }

  /** `await using server = serve(...)` drains on scope exit. */
  [asyncDispose](): Promise<void> {
    return this.shutdown().then(() => {});
  }
}

/**
 * The runtime-independent body of every adapter's `serve()`: validate, start, wire signals.
 * @internal
 */
export function createServer(
  options: ServeOptions,
  start: StartServer,
  signals: SignalPlatform,
  check?: (options: ResolvedServeOptions) => void,
): Server {
  const resolved = resolveServeOptions(options);
  check?.(resolved);
  const runtime = currentRuntime;
  const log = resolved.logger;
  warnIgnoredWebSocket(resolved, runtime, "server");
  try {
    resolved.inherited = takeInheritedSocket(resolved.hostname, resolved.port, (m) => log.warn(m), runtime === "node");
  } catch (error) {
    // Our parent died mid-restart (SIGKILL): it may still be named in the PID file it can no longer remove.
    const abandonedBy = (error as { abandonedBy?: number }).abandonedBy;
    const pidFile = resolved.restart?.pidFile;
    if (pidFile && abandonedBy !== undefined) removePidFile(pidFile, abandonedBy);
    log.error((error as Error).message);
    throw error;
  }
  const server = new Server(resolved, signals);
  server.bind(start(resolved, server));
  if (resolved.signals) {
    const extra = resolved.restart ? { SIGHUP: () => void server.restart() } : undefined;
    installSignalHandlers(server, signals, { exit: resolved.exit, extra });
  }
  return server;
}
