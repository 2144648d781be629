/**
 * The server object `serve()` returns on every runtime: a {@link Lifecycle} that also listens.
 * @module
 */

import { Lifecycle, type Drainable } from "./lifecycle.ts";
import { resolveServeOptions, type ResolvedServeOptions, type ServeOptions, serverUrl } from "./options.ts";
import { installSignalHandlers, type SignalPlatform } from "./signals.ts";

/** Where the server ended up listening. */
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
}

/** Starts a runtime's server for `serve()`. */
export type StartServer = (options: ResolvedServeOptions, server: Server) => Transport;

const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ??
  (Symbol.for("nodejs.asyncDispose") as typeof Symbol.asyncDispose);

/**
 * A listening server with a graceful lifecycle. Dispatches `statechange` and `forced` events.
 *
 * @example
 * ```ts
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

  /** @internal Use `serve()`. */
  constructor(options: ResolvedServeOptions) {
    super(options);
  }

  /** @internal Connects the adapter's transport; called by `serve()`. */
  bind(transport: Transport): void {
    this.attach(transport);
    this.#transport = transport;
    this.#ready = transport.listening.then(
      (address) => {
        this.#address = address;
        this.logger.info(`listening on ${this.url} (pid ${pid()})`);
        return this;
      },
      (error) => {
        this.logger.error(`could not listen: ${error instanceof Error ? error.message : String(error)}`);
        this.reportError(error);
        this.shutdown({ reason: "error", deadline: 0 });
        throw error;
      },
    );
    // Nobody may be awaiting ready(); the failure is logged and closes the server either way.
    this.#ready.catch(() => {});
  }

  /** Resolves with this server once it is listening; rejects when it could not bind. */
  ready(): Promise<this> {
    if (!this.#ready) throw new Error("graceful-serve: server has no transport");
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

  /** Requests in flight right now. */
  get inFlight(): number {
    return this.#transport?.inFlight() ?? 0;
  }

  /** `await using server = serve(...)` drains on scope exit. */
  [asyncDispose](): Promise<void> {
    return this.shutdown().then(() => {});
  }
}

function pid(): number | string {
  const g = globalThis as { process?: { pid?: number }; Deno?: { pid?: number } };
  return g.Deno?.pid ?? g.process?.pid ?? "?";
}

/**
 * The runtime-independent body of every adapter's `serve()`: validate, start, wire signals.
 * @internal
 */
export function createServer(options: ServeOptions, start: StartServer, signals: SignalPlatform): Server {
  const resolved = resolveServeOptions(options);
  const server = new Server(resolved);
  server.bind(start(resolved, server));
  if (resolved.signals) installSignalHandlers(server, signals, { exit: resolved.exit });
  return server;
}
