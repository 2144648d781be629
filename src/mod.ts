/**
 * graceful-serve: the same graceful lifecycle — `serving → draining → closed` — for Node.js, Deno and
 * Bun servers. Ctrl+C or `kill` stops accepting, lets in-flight requests finish (keep-alive clients
 * are told `Connection: close`), force-closes what is left at the deadline, and exits.
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve";
 *
 * const server = serve({
 *   port: 8000,
 *   deadline: 10_000,
 *   fetch: (request) => new Response(`hello from ${new URL(request.url).pathname}\n`),
 * });
 * await server.ready();
 * // SIGINT/SIGTERM now drain; a second signal or SIGUSR2 force-closes.
 * const report = await server.finished; // { reason, graceful, inFlight, forced, durationMs, errors }
 * ```
 * @module
 */

import { serve as serveBun } from "./adapters/bun.ts";
import { serve as serveDeno } from "./adapters/deno.ts";
import { FastResponse as NodeFastResponse, serve as serveNode } from "./adapters/node/serve.ts";
import type { ServeOptions } from "./serve/options.ts";
import { currentRuntime, detectRuntime } from "./core/runtime.ts";
import type { Server } from "./serve/server.ts";

export * from "./core.ts";
export { type ListenAddress, RestartEvent, type Server } from "./serve/server.ts";
export type { RestartOptions, RestartResult } from "./restart/restart.ts";
export {
  attach,
  type AttachableServer,
  type AttachOptions,
  type BunServerLike,
  type DenoHttpServerLike,
} from "./serve/attach.ts";
export { EDGE_DEFAULT_DEADLINE, graceful, type GracefulHandler, type GracefulOptions } from "./serve/graceful.ts";
export { nativeRequest } from "./adapters/node/request.ts";

/**
 * Starts a server with a graceful lifecycle on the current runtime (`node:http`, `Deno.serve` or
 * `Bun.serve`). Options are validated synchronously: a `TypeError` or `RangeError` names the option.
 * @throws {Error} (`code: "ERR_GRACEFUL_RUNTIME"`) on a runtime that is none of these (the module
 * itself loads anywhere).
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve";
 * await using server = serve({ port: 0, fetch: () => new Response("hi") });
 * await server.ready();
 * const body = await (await fetch(server.url!)).text(); // "hi"
 * ```
 */
export function serve(options: ServeOptions): Server {
  // Asked here, not at import: the module loads anywhere (an edge runtime that uses createLifecycle()
  // or the types), and serve() names the problem where it is (ERR_GRACEFUL_RUNTIME).
  const runtime = detectRuntime();
  return runtime === "deno" ? serveDeno(options) : runtime === "bun" ? serveBun(options) : serveNode(options);
}

/**
 * A `Response` the Node adapter writes without building Web streams (srvx-style); on Deno and Bun this
 * is the native `Response`. Use it as `import { FastResponse as Response } from "graceful-serve"`.
 *
 * @example
 * ```ts
 * import { FastResponse as Response, serve } from "graceful-serve";
 * serve({ port: 8000, fetch: () => new Response("hello\n", { status: 200 }) });
 * ```
 */
export const FastResponse: typeof Response = currentRuntime === "node"
  ? (NodeFastResponse as unknown as typeof Response)
  : Response;
