/**
 * The one-line-per-transition log. Anything with `info`/`warn`/`error` works (console, pino, a test spy).
 * @module
 */

import { optionError } from "./errors.ts";

/**
 * A logger: any object with these three methods, such as `console` or a pino instance.
 *
 * @example
 * ```ts
 * import { type Logger, serve } from "graceful-serve";
 * const logger: Logger = { info: (m) => console.log(m), warn: (m) => console.warn(m), error: (m) => console.error(m) };
 * serve({ fetch: () => new Response("hi"), logger }); // `logger: console` works too; `false` silences
 * ```
 */
export interface Logger {
  /** Normal transitions: listening, draining, closed. */
  info(message: string): void;
  /** Work that was cut, a restart that failed. */
  warn(message: string): void;
  /** Errors the server could not recover from. */
  error(message: string): void;
}

const PREFIX = "[graceful-serve]";

/** Writes to stderr (via `console.error`) so stdout stays the application's. */
const stderrLogger: Logger = {
  info: (message) => console.error(`${PREFIX} ${message}`),
  warn: (message) => console.error(`${PREFIX} ${message}`),
  error: (message) => console.error(`${PREFIX} ${message}`),
};

const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * Turns the `logger` option into a logger.
 * @throws {TypeError} (`code: "ERR_GRACEFUL_OPTION"`) when it is neither `false`, `undefined` nor an object with info/warn/error.
 */
export function resolveLogger(option: Logger | false | undefined): Logger {
  if (option === undefined || option === true as unknown) return stderrLogger;
  if (option === false) return silentLogger;
  if (
    typeof option !== "object" || option === null || typeof option.info !== "function" ||
    typeof option.warn !== "function" || typeof option.error !== "function"
  ) {
    throw optionError(TypeError, 'option "logger" must be false or an object with info, warn and error methods');
  }
  return option;
}
