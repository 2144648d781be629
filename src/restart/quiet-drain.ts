/**
 * The drain of a Web runtime's server (Deno's `HttpServer`, Bun's `Server`), whose only way to stop
 * listening — `shutdown()`, `stop()` — also closes idle keep-alive connections at once
 * (docs/runtimes.md K1, B3). `src/adapters/deno.ts` and `src/adapters/bun.ts` each build their one
 * drainable on it, shared by `serve()`, `attach()` and `graceful()`.
 * @module
 */

import type { Drainable } from "../core/lifecycle.ts";

/** A wait that {@link untilQuiet} returns: `done` settles when quiet, at the bound, or at `end()`. @internal */
export interface QuietWait {
  readonly done: Promise<void>;
  /** Stop waiting now (the deadline cut in). */
  end(): void;
}

/**
 * Resolves once no request has arrived and none has been in flight for `quietMs` (`requests()`
 * unchanged and `busy()` false at two checks `quietMs` apart), or after `maxMs` at the latest. One
 * timer at a time.
 *
 * Why (issue 12): the runtime's stop closes every idle keep-alive connection at once, racing a client
 * (a proxy's pool: nginx `keepalive`) that is reusing it — and nginx never retries a POST it has
 * already sent (docs/runtimes.md X1). So the server keeps serving while draining: every response says
 * `Connection: close`, so each connection in use is retired by its next request, the same rule as
 * Node's drain (a connection closes only after `connectionGrace` with no request on it). After a
 * restart new connections go to the successor too (reusePort); after a SIGTERM the proxy's passive
 * checks move away once the listener refuses. Only once requests stop arriving, and the last response
 * has been out for `quietMs`, does the stop close what is left idle. `busy` counts a response still
 * being written (a stream), whose connection a client may reuse right after it.
 * @internal
 */
export function untilQuiet(requests: () => number, busy: () => boolean, quietMs: number, maxMs: number): QuietWait {
  let end: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const started = Date.now();
    let seen = requests();
    let wasBusy = busy();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      const now = requests();
      const isBusy = busy();
      const left = maxMs - (Date.now() - started);
      if ((now === seen && !isBusy && !wasBusy) || left <= 0) return resolve();
      seen = now;
      wasBusy = isBusy;
      timer = setTimeout(check, Math.min(quietMs, left));
    };
    timer = setTimeout(check, Math.min(quietMs, maxMs));
    end = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, end: () => end() };
}

/**
 * How long a drain may wait for quiet: half of what the deadline leaves after the drain delay, so
 * requests still arriving then have the other half to finish before the deadline cuts.
 * @internal
 */
export function quietBound(deadline: number, drainDelay: number | undefined): number {
  return Math.max(0, Math.floor((deadline - Math.min(drainDelay ?? 0, deadline)) / 2));
}

/** A drain's quiet wait for `serve()`: `connectionGrace` of quiet, within {@link quietBound}. @internal */
export function serveQuiet(
  options: { connectionGrace: number; drainDelay?: number },
  lifecycle: { readonly deadline: number },
  requests: () => number,
): NonNullable<StopDrainSpec["quiet"]> {
  return {
    requests,
    quietMs: options.connectionGrace,
    maxMs: () => quietBound(lifecycle.deadline, options.drainDelay),
  };
}

/** What a Web runtime's drainable is made of. @internal */
export interface StopDrainSpec {
  /**
   * The runtime's graceful stop: stops accepting, closes idle connections, resolves once in-flight
   * requests are done. Absent (or returning `undefined`) where the platform owns the server.
   */
  stop?: () => Promise<void> | undefined;
  /** At the deadline: end what is still open (may resolve once it is). */
  cut(): void | Promise<void>;
  /** In flight now, as the runtime or our handler wrapper counts it. */
  count(): number;
  /** Resolves once the work our handler wrapper tracks is done (when no `stop` waits for it). */
  idle?: () => Promise<void>;
  /** With a request count (our handler's): keep serving until quiet before `stop` (issue 12). */
  quiet?: { requests: () => number; quietMs: number; maxMs: () => number };
  /**
   * Work that only {@link StopDrainSpec.abort} can end, so `stop` waits for it to settle first (Deno:
   * handlers begun while serving, WrappedFetch.servingSettled). The deadline ends the wait.
   */
  beforeStop?: () => Promise<void>;
  /**
   * The runtime's forced close — every connection, whatever is in flight — usable only until `stop`
   * has been called (Deno: aborting the serve signal, D-h11-7; after `shutdown()` it is a fatal
   * BadResource, D2). Taken at the deadline when `stop` has not been called yet; resolves once closed.
   */
  abort?: () => Promise<void>;
}

/**
 * One drainable for a server stopped by its runtime's own call (see {@link StopDrainSpec}).
 *
 * While the stop has not resolved, the runtime still holds something even when the count says 0 — a
 * response sent while the client is still uploading (Deno, issue 11.2, docs/runtimes.md D-h11-2), a
 * request whose head is still arriving (Bun, issue 11.5, B-h11-3): cut at the deadline, it counts, so
 * the report says forced and the exit code is 1.
 * @internal
 */
export function stopDrainable(spec: StopDrainSpec): Drainable {
  let stopping = false;
  let stopCalled = false;
  let aborted: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let quiet: QuietWait | undefined;
  let endWait: (() => void) | undefined;
  return {
    inFlight() {
      const n = spec.count();
      return stopping && n === 0 ? 1 : n;
    },
    drain() {
      const stop = () => {
        if (aborted) return aborted;
        stopCalled = true;
        const p = spec.stop?.();
        return p ? p.finally(() => void (stopping = false)) : (stopping = false, undefined);
      };
      // Before `stop`, what only `abort` could end must have settled (or the deadline come).
      const settled = spec.beforeStop && (() =>
        aborted ? undefined : new Promise<void>((resolve) => {
          endWait = resolve;
          spec.beforeStop!().then(resolve);
        }));
      const q = spec.quiet;
      if (spec.stop) stopping = true;
      // connectionGrace 0: no quiet wait — the runtime's stop at once (it still waits for in-flight).
      if (q && spec.stop && q.quietMs > 0) {
        quiet = untilQuiet(q.requests, () => spec.count() > 0, q.quietMs, q.maxMs());
        stopped = (settled ? quiet.done.then(settled) : quiet.done).then(stop);
      } else {
        stopped = settled ? Promise.resolve(settled()).then(stop) : Promise.resolve(stop());
      }
      return Promise.all([stopped, spec.idle?.()]).then(() => {});
    },
    // Not the drain's promise: a stop that waits for a client (a stalled upload, a response never
    // read) must not hold the deadline (issue 11.1); only the runtime's own stop is waited for.
    forceClose() {
      quiet?.end();
      // Ends the wait before `stop`; what it runs next (`stop`, which sees `aborted`) is a later job.
      endWait?.();
      if (spec.abort && !stopCalled) {
        // `stop` not called yet: the runtime can still close everything itself.
        spec.cut();
        aborted = spec.abort().finally(() => void (stopping = false));
        return aborted;
      }
      const cut = spec.cut();
      return cut ? cut.then(() => stopped) : undefined;
    },
  };
}
