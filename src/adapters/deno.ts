/*
 * Deno adapter: `serve()` on `Deno.serve`, signals through `Deno.addSignalListener`, and the one Deno
 * drainable (`denoDrainable`) and handler `info` (`denoInfo`) that `serve()`, `attach()` and
 * `graceful()` share.
 */

import type { ResolvedServeOptions, ServeInfo, ServeOptions } from "../serve/options.ts";
import {
  deno,
  type DenoHttpServer,
  type DenoServeInfo,
  denoSignals,
  responseBrand,
  streamDetector,
} from "../core/deno-runtime.ts";
import { createServer, type Server, type Transport } from "../serve/server.ts";
import { isRealResponse, wrapFetch } from "../serve/request-path.ts";
import { serveQuiet, stopDrainable } from "../restart/quiet-drain.ts";
import type { Drainable, Lifecycle } from "../core/lifecycle.ts";
import { gracefulError } from "../core/errors.ts";
import { portToBind } from "../restart/handoff.ts";
import type { DenoHttpServerLike } from "../serve/attach.ts";

/**
 * On Deno the native `Response` is already the fast one.
 *
 * @example
 * ```ts
 * import { FastResponse as Response, serve } from "graceful-serve/deno";
 * serve({ port: 8000, fetch: () => new Response("hello", { headers: { "content-type": "text/plain" } }) });
 * ```
 */
export const FastResponse: typeof Response = Response;

/**
 * The handler's `info` on Deno, for `serve()` and `graceful()`: a class (an object literal with a
 * getter costs Deno's hot path) made per server, so an instance holds only Deno's own info (one
 * field to fill per request; the lifecycle is the class's). @internal
 */
export function denoInfo(lifecycle: Lifecycle): new (info: DenoInfoLike | undefined) => ServeInfo {
  return class DenoInfo implements ServeInfo {
    readonly #info: DenoInfoLike | undefined;
    constructor(info: DenoInfoLike | undefined) {
      this.#info = info;
    }
    get remoteAddr(): ServeInfo["remoteAddr"] {
      return this.#info?.remoteAddr;
    }
    waitUntil(promise: Promise<unknown>): void {
      lifecycle.waitUntil(promise);
    }
  };
}

/** The part of Deno's handler info `info.remoteAddr` reads. @internal */
export interface DenoInfoLike {
  remoteAddr?: ServeInfo["remoteAddr"];
}

/** What {@link denoDrainable} drives besides the server. @internal */
export interface DenoDrainOptions {
  /** Work our handler wrapper tracks (`serve()`, `graceful()`): counted, and cut at the deadline. */
  work?: { inFlight(): number; cut(): void };
  /** Resolves once that work is done: `graceful()`, where `deno serve` owns the server. */
  idle?: () => Promise<void>;
  /** Our handler's request count: the drain keeps serving until quiet before `shutdown()` (issue 12). */
  quiet?: { requests: () => number; quietMs: number; maxMs: () => number };
  /** At the deadline when there is no work of ours to cut (`attach()` of a user's `Deno.serve`). */
  uncuttable?: () => void;
  /**
   * `serve()`: the serve signal's controller and the handlers only its abort can end (begun while
   * serving, WrappedFetch.servingSettled). `shutdown()` waits for those to settle; the deadline,
   * if it comes first, aborts instead: every connection closes (D-h11-7), nothing waits for a client.
   */
  force?: { controller: AbortController; finished: Promise<void>; settled: () => Promise<void> };
}

/**
 * The one drainable for a Deno server — `serve()`'s, a user's `Deno.serve` given to `attach()`, or
 * none (`graceful()` under `deno serve`, which drains its own listener).
 *
 * `shutdown()` stops accepting, closes fresh and idle connections (D7, K1) and waits for in-flight
 * requests; it cannot end work at a deadline: it waits forever for an open streaming body, and
 * aborting its `signal` after `shutdown()` throws an uncaught `BadResource` from inside Deno (D2, D3).
 * Before `shutdown()`, the abort closes every connection (D-h11-7): `serve()` (`force`) calls
 * `shutdown()` only once its handlers begun while serving have settled, and aborts at a deadline
 * that comes first. After it, the deadline answers unanswered requests with 503 and errors open
 * streaming bodies itself (D4); a server whose handler is not ours cannot be cut. Deno does not count
 * requests: without our work, the count is 0, and 1 while `shutdown()` is pending.
 * @internal
 */
export function denoDrainable(server: DenoHttpServerLike | undefined, options: DenoDrainOptions = {}): Drainable {
  const work = options.work;
  return stopDrainable({
    stop: server && (() => server.shutdown()),
    count: work ? () => work.inFlight() : () => 0,
    cut: () => (work ? work.cut() : options.uncuttable?.()),
    idle: options.idle,
    quiet: options.quiet,
    ...(options.force
      ? {
        beforeStop: options.force.settled,
        abort: () => (options.force!.controller.abort(), options.force!.finished),
      }
      : {}),
  });
}

/** Starts `Deno.serve` for `serve()`. @internal */
function startDenoServer(options: ResolvedServeOptions, server: Server): Transport {
  // Requests handed to `fetch`: the drain waits until this stops moving (restart/quiet-drain.ts).
  let requests = 0;
  const Info = denoInfo(server);
  const wrapped = wrapFetch<[DenoServeInfo]>(options, server, {
    info: (_request, info): ServeInfo => (requests++, new Info(info)),
    // While serving, one `.then` per request instead of a promise of our own (issue 11: the promise
    // cost 3–5 % of Deno.serve's req/s); the deadline aborts the serve signal to end those (D-h11-7).
    trackForDeadline: { isStream: streamDetector(), hopWhileServing: true },
    isResponse: responseBrand(isRealResponse),
  });
  const controller = new AbortController();
  let httpServer: DenoHttpServer | undefined;
  let listening: Promise<{ hostname: string; port: number }>;
  const port = portToBind(options.inherited, options.port, (m) => server.logger.warn(m), "Deno.serve");
  try {
    httpServer = deno().serve(
      // reusePort lets a successor bind beside us during a restart.
      {
        port,
        hostname: options.hostname,
        onListen: () => {},
        // What fails inside Deno once the handler has returned (a Response whose body was already read,
        // RS-D1) is logged through our logger and answered 500, as on Node and Bun.
        onError: wrapped.rejected,
        signal: controller.signal,
        ...(options.restart || options.inherited ? { reusePort: true } : {}),
      },
      wrapped.handler,
    );
    listening = Promise.resolve({ hostname: options.hostname, port: httpServer.addr.port });
  } catch (error) {
    listening = Promise.reject(error);
  }
  // shutdown() closes idle keep-alive connections at once, under a client (a proxy's pool) about to
  // reuse them (issue 12, docs/runtimes.md K1, D7): whatever the reason — a restart or a SIGTERM —
  // keep serving, with Connection: close, until quiet. Deno keeps a connection after that header
  // (D6); the client closes it, or shutdown() does once quiet.
  const drainable = denoDrainable(httpServer, {
    work: wrapped,
    quiet: serveQuiet(options, server, () => requests),
    force: httpServer && { controller, finished: httpServer.finished, settled: wrapped.servingSettled },
  });
  return {
    native: httpServer,
    listening,
    handoff: () => ({ handoff: { mode: "reuseport", port: httpServer!.addr.port, hostname: options.hostname } }),
    ...drainable,
  };
}

/**
 * Starts a graceful `Deno.serve` server.
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve/deno";
 * const server = serve({ port: 8000, fetch: () => new Response("hello") });
 * await server.ready();
 * ```
 */
export function serve(options: ServeOptions): Server {
  return createServer(options, startDenoServer, denoSignals, checkDenoOptions);
}

/** Deno exits with code 70, uncatchably, when `reusePort` is used without --unstable-net: say so first. */
function checkDenoOptions(options: ResolvedServeOptions): void {
  if (options.restart && typeof deno().listenDatagram !== "function") {
    throw gracefulError(
      Error,
      "ERR_GRACEFUL_RUNTIME",
      'serve({ restart }) on Deno needs the --unstable-net flag (or "unstable": ["net"] in deno.json) ' +
        "for reusePort; without it Deno exits with code 70",
    );
  }
}
