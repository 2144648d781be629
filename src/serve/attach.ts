/**
 * `attach()`: the graceful lifecycle for a server the user already has — an Express/Koa/Fastify
 * `node:http` server, a Node HTTP/2 server, a `Deno.serve` server or a `Bun.serve` server.
 * @module
 */

import type http from "node:http";
import type { Http2Server, Http2Session } from "node:http2";
import { type Drainable, Lifecycle, type LifecycleOptions } from "../core/lifecycle.ts";
import { checkBoolean, checkMilliseconds, checkOptionsObject } from "../core/validate.ts";
import { optionError } from "../core/errors.ts";
import { nodeDrainable } from "../adapters/node/drain.ts";
import { DEFAULT_CONNECTION_GRACE } from "./options.ts";
import { processSignals } from "../core/process-signals.ts";
import { denoSignals } from "../core/deno-runtime.ts";
import { currentRuntime } from "../core/runtime.ts";
import { installSignalHandlers } from "../core/signals.ts";
import { bunDrainable } from "../adapters/bun.ts";
import { denoDrainable } from "../adapters/deno.ts";

/**
 * Options for {@link attach}.
 *
 * @example
 * ```ts
 * import http from "node:http";
 * import { attach, type AttachOptions } from "graceful-serve";
 * const options: AttachOptions = { deadline: 10_000, connectionGrace: 500, exit: true };
 * const lifecycle = attach(http.createServer((req, res) => res.end("hi")).listen(3000), options);
 * ```
 */
export interface AttachOptions extends LifecycleOptions {
  /** Install SIGINT/SIGTERM (drain; a second one hammers) and SIGUSR2 (hammer) handlers. Default `true`. */
  signals?: boolean;
  /** After a signal-driven shutdown, exit: 0 if graceful, 1 if work was cut. Default `true`. */
  exit?: boolean;
  /**
   * `node:http`/`https`: the quiet period, in ms, before the drain closes a connection with no request
   * on it — an idle keep-alive one or one accepted but silent — since its next request may be on the
   * wire. Default 1000.
   */
  connectionGrace?: number;
}

/**
 * The `Deno.serve` server surface used by attach.
 *
 * @example
 * ```ts
 * import { attach } from "graceful-serve";
 * const server = Deno.serve({ port: 8000 }, () => new Response("hi")); // Deno.HttpServer fits DenoHttpServerLike
 * const lifecycle = attach(server, { deadline: 10_000 });
 * ```
 */
export interface DenoHttpServerLike {
  /** Stops accepting, closes idle connections and resolves once in-flight requests are done. */
  shutdown(): Promise<void>;
  /** Settles once the server has closed. */
  finished: Promise<void>;
}

/**
 * The `Bun.serve` server surface used by attach.
 *
 * @example
 * ```ts
 * import { attach, type BunServerLike } from "graceful-serve";
 * // The part of Bun's global used here (@types/bun declares all of it; this local one shadows it).
 * declare const Bun: { serve(options: { port: number; fetch(request: Request): Response }): BunServerLike };
 * const server = Bun.serve({ port: 8000, fetch: () => new Response("hi") }); // Bun's Server fits BunServerLike
 * const lifecycle = attach(server, { deadline: 10_000 });
 * ```
 */
export interface BunServerLike {
  /** Stops accepting and resolves once in-flight requests are done; `true` also closes active connections. */
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Requests in flight right now. */
  readonly pendingRequests: number;
}

/**
 * Any server {@link attach} understands.
 *
 * @example
 * ```ts
 * import http2 from "node:http2";
 * import { attach, type AttachableServer } from "graceful-serve";
 * const server: AttachableServer = http2.createServer((req, res) => res.end("hi")).listen(8080);
 * const lifecycle = attach(server); // sessions get GOAWAY when draining begins
 * ```
 */
export type AttachableServer = http.Server | Http2Server | DenoHttpServerLike | BunServerLike;

function isNodeHttp(server: object): server is http.Server {
  return typeof (server as http.Server).closeAllConnections === "function" &&
    typeof (server as http.Server).listen === "function";
}

function isHttp2(server: object): server is Http2Server {
  return typeof (server as Http2Server).listen === "function" && typeof (server as Http2Server).on === "function" &&
    !("closeAllConnections" in server);
}

function isDeno(server: object): server is DenoHttpServerLike {
  return typeof (server as DenoHttpServerLike).shutdown === "function" && "finished" in server;
}

function isBun(server: object): server is BunServerLike {
  return typeof (server as BunServerLike).stop === "function" && "pendingRequests" in server;
}

/** HTTP/2: every session gets GOAWAY at the drain (finishing its open streams), and is destroyed at the deadline. */
function http2Drainable(server: Http2Server): Drainable {
  const sessions = new Set<Http2Session>();
  server.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  let closed: Promise<void> | undefined;
  return {
    inFlight: () => sessions.size,
    drain() {
      closed ??= new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const session of sessions) session.close();
      });
      return closed;
    },
    forceClose() {
      for (const session of sessions) session.destroy();
      return closed;
    },
  };
}

/**
 * Gives a server you already created the same lifecycle `serve()` has: `state`, `signal`,
 * `shutdown()`, hooks, the deadline and signal handling. Call it right after creating the server.
 *
 * What each runtime allows:
 * - `node:http`/`https` (Express `app.listen()`, Koa, Fastify's `fastify.server`) — on Node, and on the
 *   `node:http` of Deno and Bun: no connection is closed under a request. Requests arriving while
 *   draining are served with `Connection: close` (one pipelined behind the closing response is not
 *   run), idle keep-alive connections close after `connectionGrace`, the deadline closes what is left.
 *   Runtime limits (docs/runtimes.md NH1–NH5): Deno closes a connection after its response once the
 *   listener is closed; a request still arriving is in flight only on Node.
 * - Node HTTP/2: sessions get GOAWAY and finish their streams; destroyed at the deadline. Sessions
 *   opened before `attach()` are not seen.
 * - `Deno.serve`: `shutdown()` drains; the deadline cannot cut a Deno server you did not wrap (an open
 *   stream holds it; see docs/runtimes.md), and `inFlight` is not known: 0 before the drain, 1 while
 *   `shutdown()` is pending (so a cut still reports `graceful: false`).
 * - `Bun.serve`: `stop()` drains, `stop(true)` at the deadline, `pendingRequests` is the count.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { attach } from "graceful-serve";
 * declare const pool: { end(): Promise<void> }; // a pg Pool, say
 * const app = express();
 * const lifecycle = attach(app.listen(3000), { deadline: 10_000 });
 * lifecycle.onShutdown(() => pool.end(), { name: "db" });
 * ```
 * @throws {TypeError} when `server` is none of the above, or an option is wrongly typed.
 */
export function attach(server: AttachableServer, options: AttachOptions = {}): Lifecycle {
  if (typeof server !== "object" || server === null) {
    throw optionError(TypeError, "attach() needs a server (node:http, node:http2, Deno.serve or Bun.serve)");
  }
  checkOptionsObject("attach()", options, "{ deadline, signals }");
  const signals = checkBoolean("signals", options.signals, true);
  const exit = checkBoolean("exit", options.exit, true);
  const connectionGrace = options.connectionGrace === undefined
    ? DEFAULT_CONNECTION_GRACE
    : checkMilliseconds("connectionGrace", options.connectionGrace);
  const lifecycle = new Lifecycle(options);
  let drainable: Drainable;
  if (isNodeHttp(server)) {
    drainable = nodeDrainable(server, lifecycle, { connectionGrace });
  } else if (isBun(server)) {
    drainable = bunDrainable(() => server);
  } else if (isDeno(server)) {
    drainable = denoDrainable(server, {
      uncuttable: () => lifecycle.logger.warn("Deno.serve servers cannot be cut by attach(); use serve() for that"),
    });
  } else if (isHttp2(server)) {
    drainable = http2Drainable(server);
  } else {
    throw optionError(TypeError, "attach() needs a server (node:http, node:http2, Deno.serve or Bun.serve)");
  }
  lifecycle.drive(drainable);
  if (signals) {
    installSignalHandlers(lifecycle, currentRuntime === "deno" ? denoSignals : processSignals, {
      exit,
    });
  }
  return lifecycle;
}
