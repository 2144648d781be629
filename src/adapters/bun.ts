/*
 * Bun adapter: `serve()` on `Bun.serve`, signals through `process.on`, and the one Bun drainable
 * (`bunDrainable`) and handler `info` (`bunInfo`) that `serve()`, `attach()` and `graceful()` share.
 */

import type { ResolvedServeOptions, ServeInfo, ServeOptions } from "../serve/options.ts";
import { processSignals } from "../core/process-signals.ts";
import { createServer, type Server, type Transport } from "../serve/server.ts";
import { isRealResponse, wrapFetch } from "../serve/request-path.ts";
import { serveQuiet, stopDrainable } from "../restart/quiet-drain.ts";
import type { Drainable, Lifecycle } from "../core/lifecycle.ts";
import { gracefulError } from "../core/errors.ts";
import { portToBind } from "../restart/handoff.ts";
import type { BunServerLike } from "../serve/attach.ts";

/**
 * On Bun the native `Response` is already the fast one.
 *
 * @example
 * ```ts
 * import { FastResponse as Response, serve } from "graceful-serve/bun";
 * serve({ port: 8000, fetch: () => new Response("hello", { headers: { "content-type": "text/plain" } }) });
 * ```
 */
export const FastResponse: typeof Response = Response;

/** The part of Bun's `Server` used here. */
interface BunServer extends BunRequestIP, BunUpgrade {
  readonly port: number;
  readonly hostname: string;
  readonly pendingRequests: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** The part of the `Bun` namespace used here. */
interface BunNamespace {
  serve(options: {
    port: number;
    hostname: string;
    reusePort?: boolean;
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    /** Answers a request whose `fetch` threw or whose promise rejected. */
    error?: (error: unknown) => Response | Promise<Response>;
    websocket?: object;
  }): BunServer;
}

function bun(): BunNamespace {
  const b = (globalThis as { Bun?: BunNamespace }).Bun;
  if (!b) {
    throw gracefulError(
      Error,
      "ERR_GRACEFUL_RUNTIME",
      "graceful-serve/bun: the Bun namespace is not available in this runtime",
    );
  }
  return b;
}

/** The parts of Bun's `websocket` handlers wrapped here. @internal */
export interface BunWebSocketHandlers {
  open?(ws: { close(code?: number, reason?: string): void }): unknown;
  close?(ws: { close(code?: number, reason?: string): void }, code: number, reason: string): unknown;
  [handler: string]: unknown;
}

/**
 * Bun's ServerWebSocket has no close event of its own: track it from the open/close handlers
 * (`serve()`'s server or `graceful()`'s lifecycle). @internal
 */
export function trackedWebSockets(
  handlers: BunWebSocketHandlers,
  server: Pick<Lifecycle, "trackWebSocket">,
): BunWebSocketHandlers {
  const untrack = new WeakMap<object, () => void>();
  return {
    ...handlers,
    open(ws) {
      untrack.set(ws, server.trackWebSocket(ws));
      return handlers.open?.(ws);
    },
    close(ws, code, reason) {
      untrack.get(ws)?.();
      return handlers.close?.(ws, code, reason);
    },
  };
}

/**
 * The handler's `info` on Bun, for `serve()` and `graceful()`: a class made per server, so an
 * instance holds only its request (one field to fill per request; the lifecycle and Bun's server are
 * the class's). `remoteAddr` asks Bun's server only when read. @internal
 */
export function bunInfo(
  lifecycle: Lifecycle,
  bun: () => (BunRequestIP & object) | undefined,
): new (request: Request) => ServeInfo & { readonly server: unknown } {
  return class BunInfo implements ServeInfo {
    readonly #request: Request;
    constructor(request: Request) {
      this.#request = request;
    }
    get remoteAddr(): ServeInfo["remoteAddr"] {
      const ip = bun()?.requestIP(this.#request);
      return ip ? { hostname: ip.address, port: ip.port } : undefined;
    }
    /**
     * Bun's own `Server` (`undefined` until `graceful()`'s first request): what Hono's `hono/bun`
     * helpers (`getConnInfo`, `upgradeWebSocket`) read from the handler's second argument, whose
     * `server` they take when it has one.
     */
    get server(): unknown {
      return bun();
    }
    waitUntil(promise: Promise<unknown>): void {
      lifecycle.waitUntil(promise);
    }
  };
}

/** The part of Bun's `Server` that `info.remoteAddr` reads. @internal */
export interface BunRequestIP {
  requestIP(request: Request): { address: string; port: number } | null;
}

/** The part of Bun's `Server` that {@link watchUpgrades} wraps. @internal */
export interface BunUpgrade {
  upgrade?(request: Request, options?: unknown): boolean;
}

/** What {@link bunDrainable} drives besides the server. @internal */
export interface BunDrainOptions {
  /** Work our handler wrapper tracks (`graceful()`): counted instead of `pendingRequests`, cut at the deadline. */
  work?: { inFlight(): number; cut(): void };
  /** Resolves once that work is done. */
  idle?: () => Promise<void>;
  /** Our handler's request count: the drain keeps serving until quiet before `stop()` (issue 12). */
  quiet?: { requests: () => number; quietMs: number; maxMs: () => number };
}

/**
 * The one drainable for a Bun server — `serve()`'s, a user's `Bun.serve` given to `attach()`, or the
 * one Bun starts for `export default graceful(...)` (known from the handler's second argument, hence
 * a getter). `stop()` stops accepting, closes idle connections (B3) and resolves once in-flight
 * requests are done (B1); `stop(true)` at the deadline cuts everything, streams included (B4);
 * `pendingRequests` is Bun's own count.
 * @internal
 */
export function bunDrainable(server: () => BunServerLike | undefined, options: BunDrainOptions = {}): Drainable {
  const work = options.work;
  return stopDrainable({
    stop: () => server()?.stop(),
    count: work ? () => work.inFlight() : () => server()?.pendingRequests ?? 0,
    cut: () => {
      work?.cut();
      return server()?.stop(true);
    },
    idle: options.idle,
    quiet: options.quiet,
  });
}

/**
 * Records which requests `server.upgrade()` took, so that only their `undefined` goes to Bun as is
 * (Bun 1.4 answers any other `undefined` with 200 "Welcome to Bun!"; issue 11.4). @internal
 */
export function watchUpgrades(
  bunServer: BunUpgrade,
): (request: Request) => boolean {
  const upgraded = new WeakSet<Request>();
  const upgrade = bunServer.upgrade;
  if (typeof upgrade !== "function") return () => false;
  try {
    bunServer.upgrade = function (request: Request, upgradeOptions?: unknown): boolean {
      const ok = upgrade.call(this, request, upgradeOptions);
      if (ok) upgraded.add(request);
      return ok;
    };
  } catch {
    // A future Bun with a frozen server object: trust `undefined`, as before.
    return () => true;
  }
  return (request) => upgraded.has(request);
}

/** Starts `Bun.serve` for `serve()`. @internal */
function startBunServer(options: ResolvedServeOptions, server: Server): Transport {
  let upgraded: (request: Request) => boolean = () => false;
  // Requests handed to `fetch`: the drain waits until this stops moving (restart/quiet-drain.ts).
  let requests = 0;
  let bunServer: BunServer | undefined;
  const Info = bunInfo(server, () => bunServer);
  const wrapped = wrapFetch<[BunServer]>(options, server, {
    info: (request): ServeInfo => (requests++, new Info(request)),
    upgraded: (request) => upgraded(request),
    isResponse: isRealResponse,
    // A rejected handler promise reaches Bun's `error` option below: one callback fewer on every
    // request's `.then` (~1.5 % of Bun's req/s, `bench/web-throughput.mjs --mode pair`).
    rejections: true,
  });
  let listening: Promise<{ hostname: string; port: number }>;
  const port = portToBind(options.inherited, options.port, (m) => server.logger.warn(m), "Bun.serve");
  try {
    bunServer = bun().serve({
      port,
      hostname: options.hostname,
      // reusePort lets a successor bind beside us during a restart.
      ...(options.restart || options.inherited ? { reusePort: true } : {}),
      fetch: wrapped.handler,
      error: (error: unknown) => wrapped.rejected(error),
      ...(options.websocket ? { websocket: trackedWebSockets(options.websocket as BunWebSocketHandlers, server) } : {}),
    });
    upgraded = watchUpgrades(bunServer);
    listening = Promise.resolve({ hostname: options.hostname, port: bunServer.port });
  } catch (error) {
    listening = Promise.reject(error);
  }
  // stop() closes idle keep-alive connections at once, under a client (a proxy's pool) about to reuse
  // them (issue 12, docs/runtimes.md B3): whatever the reason — a restart or a SIGTERM — keep
  // serving, with Connection: close (which makes Bun close each connection after it, K2), until quiet.
  const drainable = bunDrainable(() => bunServer, {
    quiet: serveQuiet(options, server, () => requests),
  });
  return {
    native: bunServer,
    listening,
    handoff: () => ({ handoff: { mode: "reuseport", port: bunServer!.port, hostname: options.hostname } }),
    ...drainable,
  };
}

/**
 * Starts a graceful `Bun.serve` server.
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve/bun";
 * const server = serve({ port: 8000, fetch: () => new Response("hello") });
 * await server.ready();
 * ```
 */
export function serve(options: ServeOptions): Server {
  return createServer(options, startBunServer, processSignals);
}
