/**
 * Deno adapter: `serve()` on `Deno.serve`, signals through `Deno.addSignalListener`.
 *
 * `HttpServer.shutdown()` does the drain (stops accepting, closes idle connections, waits for
 * in-flight). What it cannot do is end work at a deadline: it waits forever for an open streaming
 * body, and aborting its `signal` after `shutdown()` throws an uncaught `BadResource` from inside Deno
 * (swallowing it with a global `error` listener leaves the stream open; Deno 2.9, docs/runtimes.md D3).
 * So the deadline answers unanswered requests with 503 and errors open streaming bodies itself.
 * @module
 */

export * from "./core.ts";
export { type ListenAddress, RestartEvent, type Server } from "./serve/server.ts";
export type { RestartOptions, RestartResult } from "./restart/restart.ts";
export { FastResponse, serve } from "./adapters/deno.ts";
