/**
 * `graceful()`: the lifecycle for servers the platform owns — `deno serve`, Deno Deploy-style edges,
 * Bun's `export default { fetch }`. There is no listener to close; what is tracked is the work:
 * requests not yet answered and response streams still open. On SIGINT/SIGTERM the state becomes
 * `draining` (readiness answers 503, responses say `Connection: close`), the process waits for that
 * work, runs the hooks, and exits — inside the deadline, which defaults to 4 s because Deno Deploy
 * sends SIGKILL 5 s after SIGINT.
 * @module
 */

import { type Drainable, Lifecycle } from "../core/lifecycle.ts";
import {
  bunDrainable,
  bunInfo,
  type BunRequestIP,
  type BunUpgrade,
  type BunWebSocketHandlers,
  trackedWebSockets,
  watchUpgrades,
} from "../adapters/bun.ts";
import { denoDrainable, denoInfo, type DenoInfoLike } from "../adapters/deno.ts";
import type { BunServerLike } from "./attach.ts";
import { processSignals } from "../core/process-signals.ts";
import { denoSignals, responseBrand, streamDetector } from "../core/deno-runtime.ts";
import { resolveServeOptions, type ServeInfo, type ServeOptions, warnIgnoredWebSocket } from "./options.ts";
import { detectRuntime } from "../core/runtime.ts";
import { installSignalHandlers } from "../core/signals.ts";
import { isRealResponse, wrapFetch } from "./request-path.ts";

/**
 * Options for {@link graceful}: `serve()`'s, minus what the platform decides (port, hostname, restart).
 *
 * @example
 * ```ts
 * import { graceful, type GracefulOptions } from "graceful-serve";
 * const options: GracefulOptions = { fetch: () => new Response("hi"), healthPath: "/healthz", deadline: 3_000 };
 * const app = graceful(options);
 * export { app as default }; // what `deno serve` and Bun run
 * ```
 */
export type GracefulOptions = Omit<ServeOptions, "port" | "hostname" | "restart" | "connectionGrace">;

/**
 * Default deadline for platform-owned servers: inside Deno Deploy's 5 s between SIGINT and SIGKILL.
 *
 * @example
 * ```ts
 * import { EDGE_DEFAULT_DEADLINE, graceful } from "graceful-serve";
 * const app = graceful({ fetch: () => new Response("hi") });
 * console.log(app.lifecycle.deadline === EDGE_DEFAULT_DEADLINE); // true: 4000 ms
 * export { app as default };
 * ```
 */
export const EDGE_DEFAULT_DEADLINE = 4_000;

/**
 * What {@link graceful} returns: a default export for `deno serve` / Bun, plus its lifecycle.
 *
 * @example
 * ```ts
 * import { graceful, type GracefulHandler } from "graceful-serve";
 * const app: GracefulHandler = graceful({ fetch: () => new Response("hi") });
 * app.lifecycle.onShutdown(() => console.log("bye"), { name: "log" });
 * export { app as default }; // `deno serve` and Bun call app.fetch
 * ```
 */
export interface GracefulHandler {
  /** The wrapped handler the platform calls. */
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
  /**
   * Bun, with the `websocket` option: those handlers, wrapped so every socket is tracked (closed with
   * 1001 "going away" at the deadline). Part of the default export, where Bun looks for it.
   */
  readonly websocket?: object;
  /** State, signal, `shutdown()`, hooks and events, as on `serve()`'s server. */
  readonly lifecycle: Lifecycle;
}

/**
 * Wraps a fetch handler for a server the platform starts.
 *
 * @example
 * ```ts
 * // deno serve main.ts   |   bun main.ts
 * import { graceful } from "graceful-serve";
 * declare function flushMetrics(): Promise<void>; // your metrics client's flush
 * const app = graceful({ fetch: () => new Response("hi"), healthPath: "/healthz" });
 * app.lifecycle.onShutdown(() => flushMetrics());
 * export { app as default };
 * ```
 */
export function graceful(options: GracefulOptions): GracefulHandler {
  // Checked once: the resolved options carry the lifecycle's too (core/validate.ts markChecked).
  const resolved = resolveServeOptions({
    ...options,
    deadline: options.deadline ?? EDGE_DEFAULT_DEADLINE,
    port: 0,
    hostname: "0.0.0.0",
  });
  const lifecycle = new Lifecycle(resolved);
  const runtime = detectRuntime();
  // What graceful() uses of the Server Bun passes: stop (the drain), requestIP, upgrade (watched).
  type BunServer = BunServerLike & BunRequestIP & BunUpgrade;
  let bunServer: BunServer | undefined;
  let onIdle: (() => void) | undefined;
  // Only Bun takes websocket handlers from the default export: elsewhere the option is ignored, said so.
  warnIgnoredWebSocket(resolved, runtime, "app.lifecycle");
  // Bun: the requests `server.upgrade()` took answer `undefined` (request-path.ts `upgraded`).
  const websocket = runtime === "bun" ? resolved.websocket as BunWebSocketHandlers | undefined : undefined;
  let upgraded: (request: Request) => boolean = () => false;
  const DenoInfoClass = denoInfo(lifecycle);
  const BunInfoClass = bunInfo(lifecycle, () => bunServer);
  const wrapped = wrapFetch<unknown[]>(resolved, lifecycle, {
    info: runtime === "deno"
      ? (_request, ...rest): ServeInfo => new DenoInfoClass(rest[0] as DenoInfoLike | undefined)
      : (request, ...rest): ServeInfo => {
        // Bun passes its Server as the second argument: what the drain stops, and what remoteAddr asks.
        if (runtime === "bun" && !bunServer && typeof (rest[0] as BunServerLike | undefined)?.stop === "function") {
          bunServer = rest[0] as BunServer;
          // Before the handler runs (this builds its argument), so its first upgrade is seen too.
          if (websocket) upgraded = watchUpgrades(bunServer);
        }
        return new BunInfoClass(request);
      },
    trackForDeadline: { isStream: runtime === "deno" ? streamDetector() : (response) => response.body !== null },
    onIdle: () => runtime !== "deno" && onIdle?.(),
    // Deno leaves a request answered with a fake Response hanging, Bun answers it "Welcome to Bun!".
    ...(runtime === "deno"
      ? { isResponse: responseBrand(isRealResponse) }
      : runtime === "bun"
      ? { isResponse: isRealResponse, upgraded: (request: Request) => upgraded(request) }
      : {}),
  });
  // Deno writes a response after the handler returns; `info.completed` says when it is really sent,
  // so on Deno that is what counts (exiting on the handler's return lost the response in a test).
  let sending = 0;
  const sent = () => {
    if (--sending === 0) onIdle?.();
  };
  const fetch: GracefulHandler["fetch"] = runtime === "deno"
    ? (request, ...rest) => {
      const completed = (rest[0] as { completed?: Promise<void> } | undefined)?.completed;
      if (completed) {
        sending++;
        completed.then(sent, sent);
      }
      return wrapped.handler(request, ...rest);
    }
    : wrapped.handler;
  const inFlight = runtime === "deno" ? () => sending : wrapped.inFlight;
  const idle = () =>
    new Promise<void>((resolve) => {
      if (inFlight() === 0) return resolve();
      onIdle = resolve;
    });
  const work = { inFlight, cut: wrapped.cut };
  // `deno serve` drains its own listener: the drain waits for our work only. Bun's platform server
  // is stopped like serve()'s (without the quiet wait: graceful() has no connectionGrace).
  const drainable: Drainable = runtime === "deno"
    ? denoDrainable(undefined, { work, idle })
    : bunDrainable(() => bunServer, { work, idle });
  lifecycle.drive(drainable);
  if (resolved.signals) {
    // `deno serve` drains its own listener on SIGTERM/SIGINT and exits 0 once its requests are sent;
    // exiting ourselves first could drop a response still being written. So on Deno only a failed
    // shutdown (work cut at the deadline, a failing hook) exits here, with 1.
    const platform = runtime === "deno"
      ? { ...denoSignals, exit: (code: number) => code !== 0 && denoSignals.exit(code) }
      : processSignals;
    installSignalHandlers(lifecycle, platform, { exit: resolved.exit });
  }
  return websocket ? { fetch, lifecycle, websocket: trackedWebSockets(websocket, lifecycle) } : { fetch, lifecycle };
}
