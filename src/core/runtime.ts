/**
 * Which runtime is this? The one place graceful-serve asks.
 * @module
 */

import { gracefulError } from "./errors.ts";

/**
 * A JavaScript runtime graceful-serve has an adapter for.
 *
 * @example
 * ```ts
 * import { detectRuntime, type RuntimeName } from "graceful-serve";
 * const runtime: RuntimeName = detectRuntime(); // "node" | "deno" | "bun"
 * ```
 */
export type RuntimeName = "node" | "deno" | "bun";

/**
 * The runtime this process runs on, asked once when graceful-serve loads (issue 14: mod.ts,
 * server.ts, attach.ts and graceful.ts each asked again); `undefined` where none is recognised
 * (an edge runtime, a browser). Bun and Deno both define `process.versions.node`, so they are
 * checked first. A runtime does not change under a running process.
 * @internal
 */
export const currentRuntime: RuntimeName | undefined = (() => {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  if (typeof g.process?.versions?.node === "string") return "node";
  return undefined;
})();

/**
 * The current runtime (see {@link currentRuntime}).
 * @throws {Error} (`code: "ERR_GRACEFUL_RUNTIME"`) when none of Node.js, Deno or Bun is recognised.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "graceful-serve";
 * if (detectRuntime() === "deno") console.log("serve({ restart }) needs --unstable-net here");
 * ```
 */
export function detectRuntime(): RuntimeName {
  if (currentRuntime !== undefined) return currentRuntime;
  throw gracefulError(
    Error,
    "ERR_GRACEFUL_RUNTIME",
    "unsupported runtime (expected Node.js, Deno or Bun); use createLifecycle() directly",
  );
}
