/**
 * The parts of the Deno namespace graceful-serve uses, typed locally so the package needs no Deno types.
 * @module
 */

import type { SignalName, SignalPlatform } from "./signals.ts";
import { gracefulError } from "./errors.ts";

/** The part of `Deno.ServeHandlerInfo` used here. */
export interface DenoServeInfo {
  remoteAddr: { hostname: string; port: number };
}

/** The part of `Deno.HttpServer` used here. */
export interface DenoHttpServer {
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

/** The part of the `Deno` namespace used here. */
interface DenoNamespace {
  serve(
    options: {
      port: number;
      hostname: string;
      onListen?: () => void;
      onError?: (error: unknown) => Response;
      reusePort?: boolean;
      signal?: AbortSignal;
    },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
  addSignalListener(signal: string, listener: () => void): void;
  /** Present only with --unstable-net, which `reusePort` needs as well. */
  listenDatagram?: unknown;
  removeSignalListener(signal: string, listener: () => void): void;
  exit(code: number): never;
}

/** The `Deno` namespace, or a clear error outside Deno. */
export function deno(): DenoNamespace {
  const d = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (!d) {
    throw gracefulError(
      Error,
      "ERR_GRACEFUL_RUNTIME",
      "graceful-serve/deno: the Deno namespace is not available in this runtime",
    );
  }
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
export function streamDetector(): (response: Response) => boolean {
  const key = innerKey();
  const inner = key && (new Response("") as unknown as Record<symbol, { body?: unknown }>)[key];
  if (!key || !inner || !("body" in inner)) return (response) => response.body !== null;
  // Deno's globals are accessors, a getter call per read (D-h11-6): read once.
  const Stream = ReadableStream;
  return (response) => {
    const body = (response as unknown as Record<symbol, { body: { streamOrStatic?: unknown } | null } | undefined>)[key]
      ?.body;
    if (body === undefined) return response.body !== null;
    return body !== null && body.streamOrStatic instanceof Stream;
  };
}

/** Deno keeps a Response's inner state under `Symbol("response")`. */
function innerKey(): symbol | undefined {
  return Object.getOwnPropertySymbols(new Response("")).find((s) => s.description === "response");
}

/**
 * A brand check for what passed `instanceof Response`: every real Deno Response has its inner state,
 * so one property load tells `Object.create(Response.prototype)` apart (Deno 2.9 leaves a request
 * answered with such an object hanging forever; issue 11.4, docs/runtimes.md D-h11-4), and refuses
 * `Response.error()`, which Deno also never answers (issue 10.11's twin on Deno). Falls back to
 * the `status` getter's own brand check when a future Deno moves the inner state.
 */
export function responseBrand(
  fallback: (response: unknown) => response is Response,
): (response: unknown) => response is Response {
  const key = innerKey();
  if (!key) return fallback;
  // `Response.error()` (inner type "error") is real but cannot be sent: Deno 2.9 never answers it.
  return (response): response is Response => {
    if (typeof response !== "object" || response === null) return false;
    const inner = (response as Record<symbol, { type?: string } | undefined>)[key];
    return inner !== undefined && inner.type !== "error";
  };
}
