/**
 * Bun adapter: `serve()` on `Bun.serve`, signals through `process.on`.
 *
 * `server.stop()` drains (stops accepting, closes idle connections, resolves when in-flight requests
 * are done) and `stop(true)` cuts everything, streams included; `pendingRequests` is Bun's own count.
 * @module
 */

export * from "./core.ts";
export { type ListenAddress, RestartEvent, type Server } from "./serve/server.ts";
export type { RestartOptions, RestartResult } from "./restart/restart.ts";
export { FastResponse, serve } from "./adapters/bun.ts";
