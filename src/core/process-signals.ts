/**
 * Signals and exit through `process`, shared by the Node and Bun adapters (Deno has its own).
 * @module
 */

import process from "node:process";
import type { SignalPlatform } from "./signals.ts";

/** `process.on`/`off`/`exit` as a {@link SignalPlatform}. */
export const processSignals: SignalPlatform = {
  on: (signal, listener) => void process.on(signal, listener),
  off: (signal, listener) => void process.off(signal, listener),
  exit: (code) => process.exit(code),
};
