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

import type { ResolvedServeOptions, ServeInfo, ServeOptions } from "./options.ts";
import { createServer, type Server, type Transport } from "./server.ts";
import type { SignalName, SignalPlatform } from "./signals.ts";
import { wrapFetch } from "./web-handler.ts";

/** The part of `Deno.ServeHandlerInfo` used here. */
interface DenoServeInfo {
  remoteAddr: { hostname: string; port: number };
}

/** The part of `Deno.HttpServer` used here. */
interface DenoHttpServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** The part of the `Deno` namespace used here. */
interface DenoNamespace {
  serve(
    options: { port: number; hostname: string; onListen?: () => void; reusePort?: boolean },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
  addSignalListener(signal: string, listener: () => void): void;
  /** Present only with --unstable-net, which `reusePort` needs as well. */
  listenDatagram?: unknown;
  removeSignalListener(signal: string, listener: () => void): void;
  exit(code: number): never;
}

function deno(): DenoNamespace {
  const d = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (!d) throw new Error("graceful-serve/deno: the Deno namespace is not available in this runtime");
  return d;
}

/** `Deno.addSignalListener` as a {@link SignalPlatform}. */
export const denoSignals: SignalPlatform = {
  on: (signal: SignalName, listener) => deno().addSignalListener(signal, listener),
  off: (signal: SignalName, listener) => deno().removeSignalListener(signal, listener),
  exit: (code) => deno().exit(code),
};

/**
 * Whether a Deno Response's body is a stream, without touching `response.body` — reading that getter
 * turns a static body into a stream and costs Deno's fast path ~10% of its req/s. Deno keeps the inner
 * response under a `Symbol("response")`; when a future Deno moves it, fall back to the getter.
 */
/** @internal */
export function streamDetector(): (response: Response) => boolean {
  const probe = new Response("");
  const key = Object.getOwnPropertySymbols(probe).find((s) => s.description === "response");
  const inner = key && (probe as unknown as Record<symbol, { body?: unknown }>)[key];
  if (!key || !inner || !("body" in inner)) return (response) => response.body !== null;
  return (response) => {
    const body = (response as unknown as Record<symbol, { body: { streamOrStatic?: unknown } | null } | undefined>)[key]
      ?.body;
    if (body === undefined) return response.body !== null;
    return body !== null && body.streamOrStatic instanceof ReadableStream;
  };
}

/** Starts `Deno.serve` for `serve()`. @internal */
function startDenoServer(options: ResolvedServeOptions, server: Server): Transport {
  const wrapped = wrapFetch<[DenoServeInfo]>(options, server, {
    info: (_request, info): ServeInfo => ({
      get remoteAddr() {
        return info.remoteAddr;
      },
      waitUntil: (promise) => server.waitUntil(promise),
    }),
    trackForDeadline: { isStream: streamDetector() },
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
      { port, hostname: options.hostname, onListen: () => {}, ...(options.restart || inherited ? { reusePort: true } : {}) },
      wrapped.handler,
    );
    listening = Promise.resolve({ hostname: options.hostname, port: httpServer.addr.port });
  } catch (error) {
    listening = Promise.reject(error);
  }
  let drained: Promise<void> | undefined;
  return {
    native: httpServer,
    listening,
    handoff: () => ({ handoff: { mode: "reuseport", port: httpServer!.addr.port, hostname: options.hostname } }),
    inFlight: wrapped.inFlight,
    drain() {
      drained ??= httpServer ? httpServer.shutdown() : Promise.resolve();
      return drained;
    },
    forceClose() {
      wrapped.cut();
      return drained;
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
