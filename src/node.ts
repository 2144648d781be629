/**
 * Node.js adapter: `serve()` on `node:http`, with the Web `Request`/`Response` bridged lazily.
 *
 * The drain uses the connection list Node already keeps (the one behind `closeIdleConnections()`),
 * so serving a request costs no extra bookkeeping.
 * @module
 */

export * from "./core.ts";
export { type ListenAddress, RestartEvent, type Server } from "./serve/server.ts";
export type { RestartOptions, RestartResult } from "./restart/restart.ts";
export { FastResponse, serve } from "./adapters/node/serve.ts";
export { nativeRequest } from "./adapters/node/request.ts";
