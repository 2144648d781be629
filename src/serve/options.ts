/**
 * The options `serve()` takes on every runtime, and their validation.
 * @module
 */

import { optionError } from "../core/errors.ts";
import type { Lifecycle, LifecycleOptions } from "../core/lifecycle.ts";
import type { Logger } from "../core/logger.ts";
import { checkBoolean, checkMilliseconds, markChecked, resolveLifecycleOptions } from "../core/validate.ts";
import type { Handoff } from "../restart/handoff.ts";
import { type ResolvedRestart, resolveRestart, type RestartOptions } from "../restart/restart.ts";

/**
 * Where a request came from, when the runtime knows.
 *
 * @example
 * ```ts
 * import { type RemoteAddr, serve } from "graceful-serve";
 * serve({
 *   fetch: (_request, info) => {
 *     const addr: RemoteAddr | undefined = info.remoteAddr;
 *     return new Response(addr ? `hello ${addr.hostname}:${addr.port}\n` : "hello\n");
 *   },
 * });
 * ```
 */
export interface RemoteAddr {
  /** IP address of the client. */
  readonly hostname: string;
  /** Port of the client. */
  readonly port: number;
}

/**
 * Second argument of the fetch handler. On Bun it also has `server` (Bun's `Server`) and on Node
 * `incoming` (node:http's request), where Hono's runtime helpers look for them when it is a Hono
 * app's `c.env` (hono/bun's `getConnInfo` and `upgradeWebSocket`, @hono/node-server's `getConnInfo`).
 *
 * @example
 * ```ts
 * import { serve, type ServeInfo } from "graceful-serve";
 * declare const audit: { record(url: string): Promise<void> }; // your audit log client
 * serve({
 *   fetch: (request: Request, info: ServeInfo) => {
 *     info.waitUntil(audit.record(request.url)); // the drain waits for it, up to the deadline
 *     return new Response(`hi ${info.remoteAddr?.hostname ?? "there"}`);
 *   },
 * });
 * ```
 */
export interface ServeInfo {
  /** The client's address (`undefined` where the runtime does not expose it). */
  readonly remoteAddr: RemoteAddr | undefined;
  /** Keeps the shutdown waiting for `promise` (cut at the deadline), like a service worker's `waitUntil`. */
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A Web-standard request handler, the same on Node, Deno and Bun.
 *
 * @example
 * ```ts
 * import { type FetchHandler, serve } from "graceful-serve";
 * const handler: FetchHandler = (request) => Response.json({ path: new URL(request.url).pathname });
 * serve({ port: 8000, fetch: handler });
 * ```
 */
export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

/**
 * Options for `serve()`.
 *
 * @example
 * ```ts
 * import { serve, type ServeOptions } from "graceful-serve";
 * const options: ServeOptions = {
 *   fetch: () => new Response("hi"),
 *   port: 8000,
 *   healthPath: "/healthz",
 *   drainDelay: 5_000,
 *   deadline: 20_000,
 * };
 * serve(options);
 * ```
 */
export interface ServeOptions extends LifecycleOptions {
  /** The request handler. Required. */
  fetch: FetchHandler;
  /** TCP port; 0 picks a free one (read it from `server.port` after `ready()`). Default 8000. */
  port?: number;
  /** Interface to bind. Default `"0.0.0.0"`. */
  hostname?: string;
  /** Install SIGINT/SIGTERM (drain; a second one hammers) and SIGUSR2 (hammer) handlers. Default `true`. */
  signals?: boolean;
  /** After a signal-driven shutdown, exit: 0 if graceful, 1 if work was cut. Default `true`. */
  exit?: boolean;
  /**
   * While draining, a connection that was accepted but has not sent a request yet may still send one
   * for this many ms (it is then served with `Connection: close`); after that it is closed. Reaping
   * such connections at once resets clients that were mid-send. Default 1000.
   */
  connectionGrace?: number;
  /** Turns an error thrown by `fetch` into a response. Default: log it and answer 500. */
  onError?: (error: unknown, request: Request) => Response | Promise<Response>;
  /**
   * Zero-downtime restart on SIGHUP or `server.restart()`: a successor (this same command line)
   * takes over the port, and this process drains once it is ready. Off by default, because a closing
   * terminal sends SIGHUP too. On Deno it needs `--unstable-net` (for `reusePort`).
   */
  restart?: boolean | RestartOptions;
  /**
   * Path of a readiness endpoint answered before `fetch` sees the request: 200 `ok` while serving,
   * 503 `draining` (with `Connection: close`) from the moment draining begins. HEAD works too.
   */
  healthPath?: string;
  /**
   * Bun only: `Bun.serve`'s `websocket` handlers (upgrade with `server.native.upgrade(request)`).
   * Every socket opened is tracked: closed with 1001 "going away" at the deadline.
   */
  websocket?: object;
}

/** Options after validation, with defaults filled in. */
export interface ResolvedServeOptions extends ServeOptions {
  deadline: number;
  drainDelay: number;
  logger: Logger;
  port: number;
  hostname: string;
  signals: boolean;
  exit: boolean;
  connectionGrace: number;
  restart: ResolvedRestart | undefined;
  /** A socket inherited from a restarting parent or systemd, instead of binding. */
  inherited: Handoff | undefined;
}

/** Default port, as Deno.serve. */
export const DEFAULT_PORT = 8000;
/** Default interface: every IPv4 address, as Deno.serve and Bun.serve. */
export const DEFAULT_HOSTNAME = "0.0.0.0";
/** Default grace for accepted connections that have not sent a request yet. */
export const DEFAULT_CONNECTION_GRACE = 1_000;

/**
 * Validates `serve()` options synchronously, before anything listens.
 * @throws {TypeError} for a missing or wrongly typed option. @throws {RangeError} for an out-of-range
 * value. Both name the option and carry `code: "ERR_GRACEFUL_OPTION"` (core/errors.ts).
 */
export function resolveServeOptions(options: ServeOptions): ResolvedServeOptions {
  if (typeof options !== "object" || options === null) {
    throw optionError(TypeError, 'serve() needs an options object with a "fetch" handler');
  }
  if (typeof options.fetch !== "function") {
    throw optionError(
      TypeError,
      `option "fetch" must be a function (request, info) => Response, got ${typeof options.fetch}`,
    );
  }
  const port = options.port ?? DEFAULT_PORT;
  if (typeof port !== "number") throw optionError(TypeError, `option "port" must be a number, got ${typeof port}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw optionError(RangeError, `option "port" must be an integer from 0 to 65535, got ${port}`);
  }
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  if (typeof hostname !== "string" || hostname === "") {
    throw optionError(TypeError, 'option "hostname" must be a non-empty string');
  }
  const connectionGrace = options.connectionGrace === undefined
    ? DEFAULT_CONNECTION_GRACE
    : checkMilliseconds("connectionGrace", options.connectionGrace);
  if (
    options.healthPath !== undefined && (typeof options.healthPath !== "string" || !options.healthPath.startsWith("/"))
  ) {
    throw optionError(TypeError, 'option "healthPath" must be a path starting with "/", e.g. "/healthz"');
  }
  if (options.websocket !== undefined && (typeof options.websocket !== "object" || options.websocket === null)) {
    throw optionError(TypeError, 'option "websocket" must be an object of Bun websocket handlers');
  }
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw optionError(TypeError, 'option "onError" must be a function');
  }
  // deadline, drainDelay and logger are the lifecycle's: checked there, once (the Server's
  // Lifecycle takes the marked result without checking again).
  const lifecycle = resolveLifecycleOptions(options);
  return markChecked({
    ...options,
    ...lifecycle,
    port,
    hostname,
    connectionGrace,
    restart: resolveRestart(options.restart),
    inherited: undefined,
    signals: checkBoolean("signals", options.signals, true),
    exit: checkBoolean("exit", options.exit, true),
  });
}

/**
 * Warns when the `websocket` option (Bun.serve's handlers) is given on another runtime: ignoring it
 * silently would leave every upgrade unanswered (issue 13, defect 13). `owner` is what the user's
 * code holds to track sockets: `server` for serve(), `lifecycle` for graceful(). @internal
 */
export function warnIgnoredWebSocket(
  resolved: ResolvedServeOptions,
  runtime: string | undefined,
  owner: "server" | "app.lifecycle",
): void {
  if (resolved.websocket === undefined || runtime === "bun" || runtime === undefined) return;
  resolved.logger.warn(
    `option "websocket" is ignored on ${runtime}: it is Bun.serve's websocket handlers; ${
      runtime === "node"
        ? `on Node handle the "upgrade" event of ${owner === "server" ? "server.native" : "your node:http server"}`
        : "on Deno upgrade in fetch with Deno.upgradeWebSocket"
    } and pass the socket to ${owner}.trackWebSocket()`,
  );
}

/** A URL a client on this machine can use: wildcard binds become loopback. */
export function serverUrl(hostname: string, port: number): string {
  let host = hostname;
  if (host === "0.0.0.0") host = "127.0.0.1";
  else if (host === "::" || host === "[::]") host = "[::1]";
  else if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
  return `http://${host}:${port}/`;
}

/** Whether `path` (a request target like `/healthz?x=1`) names `healthPath`. @internal */
export function isHealthTarget(target: string, healthPath: string): boolean {
  return target === healthPath ||
    (target.startsWith(healthPath) && target.charCodeAt(healthPath.length) === 63 /* ? */);
}

/**
 * Whether readiness says "send me traffic": while serving, and also while draining after a restart —
 * the successor already answers on the same port, so the address stays ready. @internal
 */
export function isReady(lifecycle: Lifecycle): boolean {
  return lifecycle.state === "serving" || (lifecycle.state === "draining" && lifecycle.reason === "restart");
}

/** The readiness answer: 200 while serving, 503 once draining. @internal */
export function healthAnswer(serving: boolean): { status: number; body: string } {
  return serving ? { status: 200, body: "ok\n" } : { status: 503, body: "draining\n" };
}

/**
 * A result that is not a Promise but has a `then` method (a `PromiseLike` from a polyfill or another
 * library): Deno.serve adopts one (docs/runtimes.md D-h11-5), Bun answers it 200 "Welcome to Bun!"
 * (B-h11-4). Adopted on every runtime, by the Web request path and the Node bridge alike. Checked only
 * on results that are not a Promise; for a Response the `then` load is a miss on its prototype chain.
 * @internal
 */
export function isThenable(value: unknown): value is PromiseLike<Response> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/**
 * The error for a Response whose body stream is locked — read already (`await response.text()`, then
 * `return response`) or held by a reader — which no runtime can send: Node's bridge and the Web
 * request path answer it 500 like Deno and Bun do for a read body (RS-D1, RS-B2). @internal
 */
export function lockedBody(): TypeError {
  return new TypeError("the fetch handler returned a Response whose body was already read or is locked");
}

/** What a log line says of a thrown value: an Error's stack (its message if it has none), else the value. @internal */
export function errorDetail(error: unknown): string {
  return error instanceof Error ? error.stack ?? error.message : String(error);
}

/** Logs a failed handler and builds the 500 that replaces its response. @internal */
export function handlerFailure(
  error: unknown,
  lifecycle: Lifecycle,
  ResponseClass: new (body: string, init: ResponseInit) => object = Response,
): Response {
  lifecycle.logger.error(
    `fetch handler failed: ${errorDetail(error)}`,
  );
  return new ResponseClass("Internal Server Error", { status: 500 }) as Response;
}
