/**
 * Option checks, each written once (issue 14): every entry point — `serve()`, `attach()`,
 * `graceful()`, `createLifecycle()`, `graceful-serve run` — validates through these, synchronously
 * and before anything listens. Errors follow core/errors.ts: `TypeError` for a wrong type,
 * `RangeError` for a wrong value, the option named in quotes, `code: "ERR_GRACEFUL_OPTION"`.
 * @module
 */

import { optionError } from "./errors.ts";
import type { LifecycleOptions } from "./lifecycle.ts";
import { type Logger, resolveLogger } from "./logger.ts";

/**
 * Default shutdown deadline: short enough to fit inside Docker's 10 s and Deno Deploy's 5 s grace.
 *
 * @example
 * ```ts
 * import { createLifecycle, DEFAULT_DEADLINE } from "graceful-serve";
 * const lifecycle = createLifecycle();
 * console.log(lifecycle.deadline === DEFAULT_DEADLINE); // true: 5000 ms
 * ```
 */
export const DEFAULT_DEADLINE = 5_000;

/**
 * The longest delay a timer can take: `setTimeout` on Node, Deno and Bun stores it as a signed 32-bit
 * integer and fires a longer one after ~1 ms (issue 13, defect 7), so longer options are refused.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Checks a deadline-like option: a finite number of milliseconds, 0 to {@link MAX_TIMER_MS} (~24.8 days).
 * Every timer option goes through here (deadline, drainDelay, connectionGrace, restart.timeout, hook
 * timeouts, `graceful-serve run --timeout`).
 * @throws {TypeError} when it is not a number. @throws {RangeError} when negative, NaN, infinite or
 * longer than a timer can wait. Both with `code: "ERR_GRACEFUL_OPTION"`.
 *
 * @example
 * ```ts
 * import { checkMilliseconds } from "graceful-serve";
 * const grace = checkMilliseconds("grace", 2_500); // 2500
 * checkMilliseconds("grace", -1); // throws RangeError: option "grace" must be a finite number ≥ 0 (ms)
 * checkMilliseconds("grace", "5s"); // throws TypeError
 * ```
 */
export function checkMilliseconds(name: string, value: unknown): number {
  if (typeof value !== "number") {
    throw optionError(TypeError, `option "${name}" must be a number of milliseconds, got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value < 0) {
    throw optionError(RangeError, `option "${name}" must be a finite number ≥ 0 (ms), got ${value}`);
  }
  if (value > MAX_TIMER_MS) {
    throw optionError(
      RangeError,
      `option "${name}" must be at most ${MAX_TIMER_MS} ms (2^31-1, ~24.8 days; a longer timer fires at once), got ${value}`,
    );
  }
  return value;
}

/**
 * A boolean option, or `fallback` when absent.
 * @throws {TypeError} naming the option when it is not a boolean.
 * @internal
 */
export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw optionError(TypeError, `option "${name}" must be a boolean, got ${typeof value}`);
  }
  return value;
}

/**
 * An options argument that must be an object: a TypeError naming the call otherwise (`null`, a string).
 * @throws {TypeError} `<call> option "options" must be an object like <like>, got <type>`.
 * @internal
 */
export function checkOptionsObject(call: string, value: unknown, like: string): void {
  if (typeof value !== "object" || value === null) {
    throw optionError(
      TypeError,
      `${call} option "options" must be an object like ${like}, got ${value === null ? "null" : typeof value}`,
    );
  }
}

/** {@link LifecycleOptions} after validation, defaults filled in. @internal */
export interface ResolvedLifecycleOptions {
  deadline: number;
  drainDelay: number;
  logger: Logger;
}

/** Objects {@link resolveLifecycleOptions} already checked (a `serve()` Server passes its resolved options on). */
const checked = new WeakSet<object>();

/**
 * Validates the lifecycle's own options (`deadline`, `drainDelay`, `logger`) once: an object it
 * returned (or {@link markChecked} marked) is not checked again.
 * @throws {TypeError} for a wrongly typed option. @throws {RangeError} for an out-of-range one, or a
 * drain delay longer than the deadline.
 * @internal
 */
export function resolveLifecycleOptions(options: LifecycleOptions): ResolvedLifecycleOptions {
  if (checked.has(options)) return options as ResolvedLifecycleOptions;
  checkOptionsObject("the lifecycle's", options, "{ deadline, drainDelay, logger }");
  const deadline = options.deadline === undefined ? DEFAULT_DEADLINE : checkMilliseconds("deadline", options.deadline);
  const drainDelay = options.drainDelay === undefined ? 0 : checkMilliseconds("drainDelay", options.drainDelay);
  if (drainDelay > deadline) {
    throw optionError(
      RangeError,
      `option "drainDelay" (${drainDelay} ms) must not exceed "deadline" (${deadline} ms): the deadline counts from the signal and covers the delay`,
    );
  }
  return markChecked({ deadline, drainDelay, logger: resolveLogger(options.logger) });
}

/** Marks `options`, whose lifecycle options are resolved, as checked. @internal */
export function markChecked<T extends ResolvedLifecycleOptions>(options: T): T {
  checked.add(options);
  return options;
}
