/*
 * Deno adapter: `serve()` on `Deno.serve`, signals through `Deno.addSignalListener`.
 *
 * `HttpServer.shutdown()` does the drain (stops accepting, closes idle connections, waits for
 * in-flight). What it cannot do is end work at a deadline: it waits forever for an open streaming
 * body, and aborting its `signal` after `shutdown()` throws an uncaught `BadResource` from inside Deno
 * (swallowing it with a global `error` listener leaves the stream open; Deno 2.9, docs/runtimes.md D3).
 * So the deadline answers unanswered requests with 503 and errors open streaming bodies itself.
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
import { quietBound, type QuietWait, untilQuiet } from "../restart/quiet-drain.ts";

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

/** The handler's `info`: a class, because an object literal with a getter costs Deno's hot path. */
class DenoInfo implements ServeInfo {
  readonly #info: DenoServeInfo;
  readonly #server: Server;
  constructor(info: DenoServeInfo, server: Server) {
    this.#info = info;
    this.#server = server;
  }
  get remoteAddr(): ServeInfo["remoteAddr"] {
    return this.#info.remoteAddr;
  }
  waitUntil(promise: Promise<unknown>): void {
    this.#server.waitUntil(promise);
  }
}

/** Starts `Deno.serve` for `serve()`. @internal */
function startDenoServer(options: ResolvedServeOptions, server: Server): Transport {
  // Requests handed to `fetch`: a restart drain waits until this stops moving (restart/quiet-drain.ts).
  let requests = 0;
  const wrapped = wrapFetch<[DenoServeInfo]>(options, server, {
    info: (_request, info): ServeInfo => (requests++, new DenoInfo(info, server)),
    trackForDeadline: { isStream: streamDetector() },
    isResponse: responseBrand(isRealResponse),
  });
  let httpServer: DenoHttpServer | undefined;
  let listening: Promise<{ hostname: string; port: number }>;
  const inherited = options.inherited;
  if (inherited?.mode === "fd") {
    server.logger.warn("Deno.serve cannot listen on an inherited socket (systemd socket activation); binding instead");
  }
  const port = inherited?.mode === "reuseport" ? inherited.port : options.port;
  try {
    httpServer = deno().serve(
      // reusePort lets a successor bind beside us during a restart.
      {
        port,
        hostname: options.hostname,
        onListen: () => {},
        ...(options.restart || inherited ? { reusePort: true } : {}),
      },
      wrapped.handler,
    );
    listening = Promise.resolve({ hostname: options.hostname, port: httpServer.addr.port });
  } catch (error) {
    listening = Promise.reject(error);
  }
  let drained: Promise<void> | undefined;
  let shutDown = false;
  let quiet: QuietWait | undefined;
  return {
    native: httpServer,
    listening,
    handoff: () => ({ handoff: { mode: "reuseport", port: httpServer!.addr.port, hostname: options.hostname } }),
    // While `shutdown()` has not resolved, Deno still holds a request, even one our count no longer
    // sees: a response already sent while the client is still uploading its body (issue 11.2,
    // docs/runtimes.md D-h11-2). Cut at the deadline, it counts: the report says forced, exit code 1.
    inFlight: () => {
      const n = wrapped.inFlight();
      return drained && !shutDown && n === 0 ? 1 : n;
    },
    drain(reason) {
      if (!drained && httpServer && reason === "restart") {
        // shutdown() closes idle keep-alive connections at once, under a proxy about to reuse them
        // (issue 12, docs/runtimes.md K1, D7): keep serving, with Connection: close, until quiet.
        quiet = untilQuiet(() => requests, options.connectionGrace, quietBound(server.deadline, options.drainDelay));
        drained = quiet.done.then(() => httpServer!.shutdown()).finally(() => void (shutDown = true));
      }
      drained ??= httpServer ? httpServer.shutdown().finally(() => void (shutDown = true)) : Promise.resolve();
      return drained;
    },
    // Not `drained`: Deno's shutdown() never settles while a client holds a request open (a stalled
    // upload, a response it never reads), and the deadline must win whatever clients do (issue 11.1).
    forceClose() {
      quiet?.end();
      wrapped.cut();
    },
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
    throw new Error(
      'graceful-serve: serve({ restart }) on Deno needs the --unstable-net flag (or "unstable": ["net"] in deno.json) ' +
        "for reusePort; without it Deno exits with code 70",
    );
  }
}
