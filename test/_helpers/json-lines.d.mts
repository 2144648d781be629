// Types for json-lines.mjs (plain JavaScript so that .mjs scripts on Node 20 can import it).
import type { Readable } from "node:stream";

/** One JSON object a child printed on a line of its stdout. */
export interface LineEvent {
  event: string;
  [key: string]: unknown;
}

/** Calls `onLine` for each complete line of `stream` (a line split across chunks is joined), then `onChunk`. */
export declare function readLines(stream: Readable, onLine: (line: string) => void, onChunk?: () => void): void;

/** Calls `onEvent` for each line of `stream` (parsed as JSON, or `{ event: "stdout", line }`), then `onChunk`. */
export declare function readJsonLines(
  stream: Readable,
  onEvent: (event: LineEvent) => void,
  onChunk?: () => void,
): void;
