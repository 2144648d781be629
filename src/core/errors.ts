/**
 * The one error style graceful-serve throws (issue 14): every message starts with
 * {@link ERROR_PREFIX} (`graceful-serve run` uses `graceful-serve run: `), and every error carries a
 * `code` naming its kind, so callers branch on `error.code` rather than on message text. The class
 * stays the standard one: `TypeError` for a wrongly typed option, `RangeError` for an out-of-range
 * value, `Error` otherwise.
 *
 * | code                    | class                 | when                                                                 |
 * | ----------------------- | --------------------- | -------------------------------------------------------------------- |
 * | `ERR_GRACEFUL_OPTION`   | TypeError, RangeError, Error | a bad option or argument; the message names it (`"deadline"`)  |
 * | `ERR_GRACEFUL_STATE`    | Error                 | a call the current state does not allow (a second transport, `restart()` not enabled) |
 * | `ERR_GRACEFUL_RUNTIME`  | Error                 | not on a runtime graceful-serve supports, or a runtime API it needs is missing |
 * | `ERR_GRACEFUL_RESTART`  | Error                 | the restart handoff cannot go on (the parent died mid-handoff, the first worker never became ready) |
 * | `ERR_GRACEFUL_LISTEN`   | Error                 | `graceful-serve run` cannot bind its port                             |
 * | `ERR_GRACEFUL_HOOK`     | Error                 | in `report.errors`: a shutdown hook failed, timed out or was cut       |
 * @module
 */

/** Every message graceful-serve throws starts with this. */
export const ERROR_PREFIX = "graceful-serve: ";

/**
 * The `code` of an error graceful-serve throws (see the table in core/errors.ts).
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve";
 * try {
 *   serve({ fetch: () => new Response("hi"), deadline: -1 });
 * } catch (error) {
 *   const code = (error as { code?: string }).code; // "ERR_GRACEFUL_OPTION"
 *   if (code !== "ERR_GRACEFUL_OPTION") throw error;
 * }
 * ```
 */
export type GracefulErrorCode =
  | "ERR_GRACEFUL_OPTION"
  | "ERR_GRACEFUL_STATE"
  | "ERR_GRACEFUL_RUNTIME"
  | "ERR_GRACEFUL_RESTART"
  | "ERR_GRACEFUL_LISTEN"
  | "ERR_GRACEFUL_HOOK";

type ErrorClass<E extends Error> = new (message?: string, options?: ErrorOptions) => E;

/**
 * An error of class `Kind` with `code`; `message` is prefixed with {@link ERROR_PREFIX} unless it
 * already starts with "graceful-serve".
 * @internal
 */
export function gracefulError<E extends Error>(
  Kind: ErrorClass<E>,
  code: GracefulErrorCode,
  message: string,
  options?: ErrorOptions,
): E & { code: GracefulErrorCode } {
  const text = message.startsWith("graceful-serve") ? message : ERROR_PREFIX + message;
  return Object.assign(new Kind(text, options), { code });
}

/** A bad option or argument (`ERR_GRACEFUL_OPTION`); the message names it. @internal */
export function optionError<E extends Error>(Kind: ErrorClass<E>, message: string): E & { code: GracefulErrorCode } {
  return gracefulError(Kind, "ERR_GRACEFUL_OPTION", message);
}
