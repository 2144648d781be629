/**
 * The runtime-neutral core of graceful-serve: the lifecycle state machine, signal policy and types.
 * Imports no runtime API, so it loads anywhere (Workers, edge runtimes, browsers).
 * @module
 */

export {
  type ClosableSocket,
  createLifecycle,
  type Drainable,
  Lifecycle,
  type LifecycleOptions,
  type LifecycleState,
  type ShutdownOptions,
  type ShutdownReport,
  StateChangeEvent,
} from "./core/lifecycle.ts";
export { checkMilliseconds, DEFAULT_DEADLINE } from "./core/validate.ts";
export type { Logger } from "./core/logger.ts";
export type { FetchHandler, RemoteAddr, ServeInfo, ServeOptions } from "./serve/options.ts";
export { exitCodeFor, installSignalHandlers, type SignalName, type SignalPlatform } from "./core/signals.ts";
export { detectRuntime, type RuntimeName } from "./core/runtime.ts";
