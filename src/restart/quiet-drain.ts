/**
 * The restart drain of a runtime whose only way to stop listening also closes idle keep-alive
 * connections X
 * @module
 */

/** A wait that {@link untilQuiet} returns: `done` settles when quiet, at the bound, or at `end()`. @internal */
export interface QuietWait {
  readonly done: Promise<void>;
  /** Stop waiting now (the deadline cut in). */
  end(): void;
}

/**
 * Resolves once no request has arrived for `quietMs` (`requests()` unchanged between two checks),
 * or after `maxMs` at the latest. One timer at a time.
 *
 * Why (issue 12): after a restart the successor answers on the same port (reusePort), and a proxy's
 * pool (nginx `keepalive`) still holds idle connections to this process. Closing one of them races
 * the proxy reusing it, and nginx never retries a POST it has already sent (docs/runtimes.md X1).
 * So the old server keeps serving — every response says `Connection: close` (draining), so each
 * pooled connection is retired by its next request, and new connections split between the two
 * listeners until the proxy's pool holds the successor's only. Once requests stop arriving here, what is left is idle in the proxy's
 * pool behind every connection it used meanwhile: the runtime's own stop closes it then.
 * @internal
 */
export function untilQuiet(requests: () => number, quietMs: number, maxMs: number): QuietWait {
  let end: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    const started = Date.now();
    let seen = requests();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      const now = requests();
      const left = maxMs - (Date.now() - started);
      if (now === seen || left <= 0) return resolve();
      seen = now;
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
 * How long a restart drain may wait for quiet: half of what the deadline leaves after the drain
 * delay, so requests still arriving then have the other half to finish before the deadline cuts.
 * @internal
 */
export function quietBound(deadline: number, drainDelay: number | undefined): number {
  return Math.max(0, Math.floor((deadline - Math.min(drainDelay ?? 0, deadline)) / 2));
}
