/**
 * Wraps a user's `fetch` for runtimes whose server already speaks Web `Request`/`Response` (Deno, Bun).
 *
 * Serving costs one state check per response. What a drain needs is added only where the runtime
 * cannot do it itself: `Connection: close` on responses made while draining, and — for runtimes that
 * cannot cut them at the deadline — a handle on streaming bodies and unanswered requests.
 * @module
 */

import {
  type FetchHandler,
  handlerFailure,
  healthAnswer,
  isHealthTarget,
  isReady,
  type ResolvedServeOptions,
  type ServeInfo,
} from "./options.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** A fetch wrapper plus what it tracks for the deadline. @internal */
export interface WrappedFetch<Args extends unknown[]> {
  /** The handler to give the runtime. */
  handler: (request: Request, ...rest: Args) => Response | Promise<Response>;
  /** Requests whose response is not complete yet (only counted when `cut` is enabled). */
  inFlight(): number;
  /** Answers unanswered requests with 503 and errors open streaming bodies, so the runtime can close. */
  cut(): void;
}

/** @internal */
export interface WrapOptions<Args extends unknown[]> {
  /** Builds the `info` argument from the runtime's extra handler arguments. */
  info: (request: Request, ...rest: Args) => ServeInfo;
  /**
   * Track unanswered requests and streaming bodies so {@link WrappedFetch.cut} can end them
   * (Deno: its `shutdown()` waits for them forever and its abort signal cannot cut them).
   * `isStream` says whether a response body is a stream, as cheaply as the runtime allows.
   */
  trackForDeadline?: { isStream: (response: Response) => boolean };
  /** Called when tracked work (unanswered requests and open streams) drops to none. */
  onIdle?: () => void;
  /** Bun: `undefined` from the handler means "upgraded to a WebSocket", not an error. */
  upgradeReturnsNothing?: boolean;
}

function closeHeader(response: Response): Response {
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (a Response from fetch()): copy.
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy;
  }
}

const failure = (error: unknown, server: Lifecycle): Response => handlerFailure(error, server);

/** @internal */
export function wrapFetch<Args extends unknown[]>(
  options: ResolvedServeOptions,
  server: Lifecycle,
  wrap: WrapOptions<Args>,
): WrappedFetch<Args> {
  const fetch: FetchHandler = options.fetch;
  const onError = options.onError;
  const tracking = wrap.trackForDeadline;
  const upgradeReturnsNothing = wrap.upgradeReturnsNothing === true;
  let pending = 0;
  const streams = new Set<() => void>();
  let cutNow: ((value: undefined) => void) | undefined;
  let cutting = false;
  // Settles only when the deadline cuts: unanswered requests are then answered with 503.
  const deadlineCut = tracking ? new Promise<undefined>((resolve) => (cutNow = resolve)) : undefined;

  const idle = () => wrap.onIdle?.();
  const untrack = (cut: () => void) => {
    if (streams.delete(cut) && pending === 0 && streams.size === 0) idle();
  };

  const track = (response: Response): Response => {
    if (!tracking!.isStream(response)) return response;
    const reader = response.body!.getReader();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const cut = () => {
      untrack(cut);
      reader.cancel().catch(() => {});
      controller.error(new Error("graceful-serve: deadline reached"));
    };
    streams.add(cut);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => void (controller = c),
      pull: (c) =>
        reader.read().then(
          ({ done, value }) => {
            if (done) {
              untrack(cut);
              c.close();
            } else c.enqueue(value);
          },
          (error) => {
            untrack(cut);
            c.error(error);
          },
        ),
      cancel: (reason) => {
        untrack(cut);
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
    return new Response(body, response);
  };

  const finish = (response: Response | undefined): Response => {
    // Bun: a handler that called server.upgrade() returns nothing, and Bun takes it from there.
    if (response === undefined && !cutting && upgradeReturnsNothing) return response as unknown as Response;
    if (!(response instanceof Response)) {
      response = response === undefined && cutting
        ? new Response("Service Unavailable", { status: 503 })
        : failure(new TypeError(`fetch handler returned ${typeof response}, not a Response`), server);
    }
    if (tracking) response = track(response);
    return server.state === "serving" ? response : closeHeader(response);
  };

  const recover = (error: unknown, request: Request): Response | Promise<Response> => {
    if (!onError) return finish(failure(error, server));
    return Promise.resolve()
      .then(() => onError(error, request))
      .then(finish, (e) => finish(failure(e, server)));
  };

  const healthPath = options.healthPath;
  /**
   * The request target (path + query) of a request URL, without parsing it. Bun 1.4 hands over a
   * relative URL ("/healthz") for an HTTP/1.0 request without Host, as HAProxy's default check sends.
   */
  const target = (url: string) => (url.charCodeAt(0) === 47 ? url : url.slice(url.indexOf("/", url.indexOf("//") + 2)));
  const health = () => {
    const serving = isReady(server);
    const { status, body } = healthAnswer(serving);
    const headers: Record<string, string> = { "content-type": "text/plain;charset=UTF-8", "cache-control": "no-store" };
    if (!serving) headers.connection = "close";
    return new Response(body, { status, headers });
  };

  const handler = (request: Request, ...rest: Args): Response | Promise<Response> => {
    if (healthPath !== undefined && isHealthTarget(target(request.url), healthPath)) return health();
    let result: Response | Promise<Response>;
    try {
      result = fetch(request, wrap.info(request, ...rest));
    } catch (error) {
      return recover(error, request);
    }
    if (!(result instanceof Promise)) return finish(result);
    if (!deadlineCut) return result.then(finish, (error) => recover(error, request));
    pending++;
    return Promise.race([result, deadlineCut]).then(
      (response) => {
        pending--;
        if (pending === 0 && streams.size === 0) idle();
        return finish(response);
      },
      (error) => {
        pending--;
        if (pending === 0 && streams.size === 0) idle();
        return recover(error, request);
      },
    );
  };

  return {
    handler,
    inFlight: () => pending + streams.size,
    cut() {
      cutting = true;
      cutNow?.(undefined);
      for (const cut of [...streams]) cut();
    },
  };
}
