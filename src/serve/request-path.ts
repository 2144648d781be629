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
  isThenable,
  lockedBody,
  type ResolvedServeOptions,
  type ServeInfo,
} from "./options.ts";
import type { Lifecycle } from "../core/lifecycle.ts";

/** A fetch wrapper plus what it tracks for the deadline. @internal */
export interface WrappedFetch<Args extends unknown[]> {
  /** The handler to give the runtime. */
  handler: (request: Request, ...rest: Args) => Response | Promise<Response>;
  /** Requests whose response is not complete yet (only counted when `cut` is enabled). */
  inFlight(): number;
  /** Answers unanswered requests with 503 and errors open streaming bodies, so the runtime can close. */
  cut(): void;
  /**
   * Resolves once no handler that began while serving is still pending (with `hopWhileServing`; at
   * once otherwise). Those are the requests {@link WrappedFetch.cut} cannot answer.
   */
  servingSettled(): Promise<void>;
  /**
   * Handles a rejection the runtime routes back to us (Bun's `error` option, with `rejections`; Deno's
   * `onError`, for what fails once the handler returned): logged, answered 500 (or through `onError`…
   * which needs the request, so then it is not routed). A body stream the deadline cut is not logged:
   * the lifecycle reports the cut.
   */
  rejected(error: unknown): Response;
}

/** @internal */
export interface WrapOptions<Args extends unknown[]> {
  /** Builds the `info` argument from the runtime's extra handler arguments. */
  info: (request: Request, ...rest: Args) => ServeInfo;
  /**
   * Track unanswered requests and streaming bodies so {@link WrappedFetch.cut} can end them
   * (Deno: its `shutdown()` waits for them forever and, once it was called, its abort signal
   * cannot cut them, D2).
   * `isStream` says whether a response body is a stream, as cheaply as the runtime allows.
   */
  trackForDeadline?: {
    isStream: (response: Response) => boolean;
    /**
     * While serving, a request costs one `.then` on the handler's promise instead of a promise of our
     * own: it cannot be answered 503 at the deadline, so the runtime must be able to cut it otherwise
     * and must not stop accepting before it settles ({@link WrappedFetch.servingSettled}). Deno's
     * `serve()`: aborting the serve signal before `shutdown()` closes every connection (D-h11-7).
     * Requests that arrive while draining get the promise, so `shutdown()` may start with them in flight.
     */
    hopWhileServing?: boolean;
  };
  /** Called when tracked work (unanswered requests and open streams) drops to none. */
  onIdle?: () => void;
  /**
   * Bun: whether the handler upgraded `request` to a WebSocket, in which case its `undefined` is the
   * answer (Bun takes the connection). Any other `undefined` is a handler error: answered 500, where
   * Bun 1.4 itself would answer 200 "Welcome to Bun!" (issue 11.4, docs/runtimes.md B-h11-1).
   */
  upgraded?: (request: Request) => boolean;
  /**
   * A brand check that replaces `instanceof Response` (an `Object.create(Response.prototype)` passes
   * that, and Bun 1.4 answers it with 200 "Welcome to Bun!", Deno never): false for anything that is
   * not a Response the runtime can send, `undefined` and other non-objects included.
   */
  isResponse?: (response: unknown) => response is Response;
  /**
   * The runtime hands a rejected handler promise to {@link WrappedFetch.rejected} itself (Bun's
   * `error` option), so the plain path's `.then` needs no rejection callback of its own.
   */
  rejections?: boolean;
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

const statusGetter = Object.getOwnPropertyDescriptor(Response.prototype, "status")?.get;
/**
 * Brand check: the `status` getter throws on anything that is not a real Response, such as
 * `Object.create(Response.prototype)`, which passes `instanceof` (issue 11.4; Bun 1.4 answers it
 * with 200 "Welcome to Bun!", docs/runtimes.md B-h11-1), and on `undefined` or any non-object, so
 * no `instanceof` is needed before it. @internal
 */
export function isRealResponse(response: unknown): response is Response {
  if (!statusGetter) return response instanceof Response;
  try {
    // Status 0 is `Response.error()`: Bun 1.4 logs "Cannot send a Response with status 0" and holds
    // the request until its idle timeout; Deno never answers it. Answered 500 instead (issue 10.11).
    return statusGetter.call(response) !== 0;
  } catch {
    return false;
  }
}

/**
 * The requests whose handler promise is pending, as an intrusive doubly linked list: O(1) to add and
 * remove, no hashing, nothing left behind once a request settles (issue 11).
 */
class PendingList {
  first: PendingRequest | undefined = undefined;
  size = 0;
}

/** One pending request: how to answer it when the deadline comes first. */
class PendingRequest {
  prev: PendingRequest | undefined = undefined;
  next: PendingRequest | undefined;
  resolve: Resolve;
  #list: PendingList | undefined;
  constructor(list: PendingList, resolve: Resolve) {
    this.resolve = resolve;
    this.#list = list;
    this.next = list.first;
    if (list.first) list.first.prev = this;
    list.first = this;
    list.size++;
  }
  /** Unlinks; `false` when already removed (settled or cut). */
  remove(): boolean {
    const list = this.#list;
    if (!list) return false;
    this.#list = undefined;
    if (this.prev) this.prev.next = this.next;
    else list.first = this.next;
    if (this.next) this.next.prev = this.prev;
    this.prev = this.next = undefined;
    list.size--;
    return true;
  }
}

type Resolve = (response: Response | Promise<Response>) => void;
// One executor for every pending request's promise (no closure per request): it hands the resolver
// over synchronously, through `captured`. (Promise.withResolvers measured ~60 ns slower per request
// in bench/micro-request-path.mjs on Deno 2.9.)
let captured: Resolve | undefined;
const capture = (resolve: Resolve) => void (captured = resolve);

/** What a tracked body stream errors with when the deadline cuts it (one value, to know it again). */
const DEADLINE_REACHED = new Error("graceful-serve: deadline reached");

/** Why a Response that passed `instanceof` cannot be sent (for the 500's log line). */
function describeUnsendable(response: Response): string {
  try {
    if (response.type === "error") return "Response.error(), which cannot be sent as an HTTP response";
  } catch {
    // Not a real Response: its getters throw.
  }
  return "an object that is not a real Response";
}

/** @internal */
export function wrapFetch<Args extends unknown[]>(
  options: ResolvedServeOptions,
  server: Lifecycle,
  wrap: WrapOptions<Args>,
): WrappedFetch<Args> {
  const fetch: FetchHandler = options.fetch;
  const onError = options.onError;
  const rejections = wrap.rejections === true;
  const tracking = wrap.trackForDeadline;
  const upgraded = wrap.upgraded;
  const isResponse = wrap.isResponse;
  const hopWhileServing = tracking?.hopWhileServing === true;
  const isStream = tracking?.isStream;
  // With a brand check, no `instanceof` first: on Deno the global `Response` is an accessor, a getter
  // call per read (D-h11-6), and the brand check already refuses everything `instanceof` would.
  const sendable: (value: unknown) => boolean = isResponse ?? ((value) => value instanceof Response);
  // Read once per response: a flag the state-change event keeps, not the Lifecycle's `state`
  // getter (an accessor on an EventTarget subclass: ~2 % of Bun's req/s in
  // `bench/web-throughput.mjs --mode pair`). The event is dispatched synchronously on every change.
  let serving = server.state === "serving";
  server.addEventListener("statechange", () => void (serving = server.state === "serving"));
  // The runtimes call the handler with one argument after the request (Deno's info, Bun's server):
  // passed on as one, not as a rest array spread into another call (an array and a spread call per
  // request, FastNewStrictArguments and CallWithSpread in Deno's --prof).
  const info = wrap.info as unknown as (request: Request, arg: unknown) => ServeInfo;
  // In flight = handlers running synchronously right now + handlers whose promise is pending + open
  // streaming bodies. Counting starts when the handler is called (issue 11.3: inside an async handler,
  // before its first await, the request is in flight).
  let calling = 0;
  // Handlers begun while serving and pending now (hopWhileServing); one promise for whoever waits for
  // them to be none (the drain, once), settled by the last.
  let hops = 0;
  let hopsSettled: Promise<void> | undefined;
  let settleHops: (() => void) | undefined;
  // One cut function per pending request. Each request settles its own promise; nothing per request
  // is attached to a long-lived promise (issue 11: `Promise.race` against one shared "deadline" promise
  // left a reaction on it per request until the deadline: ~300 B per request, heap without bound).
  const pending = new PendingList();
  const streams = new Set<() => void>();
  let cutting = false;
  const idle = () => wrap.onIdle?.();
  const isIdle = () => calling === 0 && pending.size === 0 && hops === 0 && streams.size === 0;
  const untrack = (cut: () => void) => {
    if (streams.delete(cut) && isIdle()) idle();
  };

  const track = (response: Response): Response => {
    if (!isStream!(response)) return response;
    // Locked (read already, or held by a reader): getReader() would throw, out of finish() and past
    // the request's pending entry. Deno would even send it (RS-D1); every runtime answers it 500.
    if (response.body!.locked) return failure(lockedBody(), server);
    const reader = response.body!.getReader();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const cut = () => {
      untrack(cut);
      reader.cancel().catch(() => {});
      controller.error(DEADLINE_REACHED);
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

  const finish = (value: Response | undefined, request?: Request): Response => {
    let response: Response;
    if (sendable(value)) response = value as Response;
    else {
      // Bun: a handler that called server.upgrade() returns nothing, and Bun takes it from there.
      if (value === undefined && !cutting && request !== undefined && upgraded?.(request)) {
        return value as unknown as Response;
      }
      response = value === undefined && cutting ? new Response("Service Unavailable", { status: 503 }) : failure(
        new TypeError(
          `fetch handler returned ${
            !(value instanceof Response) ? typeof value : describeUnsendable(value)
          }, not a Response`,
        ),
        server,
      );
    }
    if (isStream !== undefined) response = track(response);
    return serving ? response : closeHeader(response);
  };

  const recover = (error: unknown, request: Request): Response | Promise<Response> => {
    if (!onError) return finish(failure(error, server));
    return Promise.resolve()
      .then(() => onError(error, request))
      .then(finish, (e) => finish(failure(e, server)));
  };

  // Only a server with `websocket` handlers can upgrade (Bun requires them for server.upgrade()), so
  // only there can `undefined` be an answer that needs the request to check.
  const mayUpgrade = upgraded !== undefined && options.websocket !== undefined;
  // The promise callbacks. The common answer — a sendable Response while serving, not a stream to
  // track — returns at once, without the rest of finish(). One parameter each: JavaScriptCore fixes up
  // the arity of a call with fewer arguments than parameters (so `finish`, which has two, gets both).
  const finished = (response: Response | undefined): Response =>
    serving && sendable(response) && (isStream === undefined || !isStream(response!))
      ? response!
      : finish(response, undefined);
  const failed = (error: unknown): Response => finish(failure(error, server));

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

  /** No deadline tracking (Bun's serve(): `stop(true)` cuts everything itself). */
  const plain = (request: Request, arg: unknown): Response | Promise<Response> => {
    if (healthPath !== undefined && isHealthTarget(target(request.url), healthPath)) return health();
    let result: Response | Promise<Response>;
    try {
      result = fetch(request, info(request, arg));
    } catch (error) {
      return recover(error, request);
    }
    if (!(result instanceof Promise)) {
      if (!isThenable(result)) return finish(result, request);
      result = Promise.resolve(result);
    }
    // Shared callbacks where the request is not needed: no closure per request (web-throughput
    // --mode together: Bun's async handler at 0.92 of Bun.serve with two closures per request).
    const fulfilled = mayUpgrade ? (response: Response) => finish(response, request) : finished;
    if (onError) return result.then(fulfilled, (error) => recover(error, request));
    return rejections ? result.then(fulfilled) : result.then(fulfilled, failed);
  };

  const hopEnd = () => {
    if (--hops === 0 && settleHops) {
      settleHops();
      settleHops = hopsSettled = undefined;
    }
    if (isIdle()) idle();
  };
  // The plain path's callbacks, then the hop's end.
  const hopFulfilled = (response: Response | undefined): Response => {
    try {
      return finished(response);
    } finally {
      hopEnd();
    }
  };
  const hopFailed = (error: unknown): Response => {
    try {
      return failed(error);
    } finally {
      hopEnd();
    }
  };

  /** Deadline tracking: every request can be answered (503) or cut by {@link WrappedFetch.cut}. */
  const tracked = (request: Request, arg: unknown): Response | Promise<Response> => {
    if (healthPath !== undefined && isHealthTarget(target(request.url), healthPath)) return health();
    let result: Response | Promise<Response>;
    calling++;
    try {
      result = fetch(request, info(request, arg));
    } catch (error) {
      result = Promise.reject(error);
    }
    calling--;
    if (!(result instanceof Promise)) {
      if (!isThenable(result)) {
        // With the request: on Bun its `undefined` may be an upgrade (graceful() with websocket handlers).
        const response = finish(result, request);
        // A drain begun inside this handler counted it; it may be the last.
        if (isIdle()) idle();
        return response;
      }
      result = Promise.resolve(result);
    }
    if (hopWhileServing && serving) {
      hops++;
      if (!onError) return result.then(hopFulfilled, hopFailed);
      // With onError the answer is a promise (recover): the request is in flight until it settles.
      return result.then(hopFulfilled, (error) => Promise.resolve(recover(error, request)).finally(hopEnd));
    }
    // Settles once: with the handler's outcome, or with a 503 when the deadline cuts first.
    const promise = new Promise<Response>(capture);
    const entry = new PendingRequest(pending, captured!);
    result.then(
      (response) => {
        if (entry.remove()) {
          entry.resolve(finish(response, request));
          if (isIdle()) idle();
        }
      },
      (error) => {
        if (entry.remove()) {
          entry.resolve(recover(error, request));
          if (isIdle()) idle();
        }
      },
    );
    return promise;
  };

  return {
    handler: (tracking ? tracked : plain) as unknown as WrappedFetch<Args>["handler"],
    inFlight: () => calling + pending.size + hops + streams.size,
    cut() {
      cutting = true;
      for (let entry = pending.first; entry; entry = pending.first) {
        entry.remove();
        entry.resolve(finish(undefined));
      }
      for (const cut of [...streams]) cut();
    },
    servingSettled: () =>
      hops === 0 ? Promise.resolve() : (hopsSettled ??= new Promise<void>((resolve) => void (settleHops = resolve))),
    rejected: (error) => error === DEADLINE_REACHED ? new Response(null, { status: 503 }) : failed(error),
  };
}
