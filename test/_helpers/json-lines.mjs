// @ts-self-types="./json-lines.d.mts"
// The one reader of line-oriented child output for the tests, runtimes/demo.mjs and the bench: a child
// reports events as one JSON object per stdout line (and logs one line per event on stderr). A pipe
// delivers chunks, not lines: a line (or a multi-byte character) may be split across two chunks, so
// text is decoded with a StringDecoder and only complete lines are handed on; an unterminated last
// line is handed on at the end of the stream. Plain JavaScript, so .mjs scripts run by Node 20 can use it.
import { StringDecoder } from "node:string_decoder";

/**
 * Calls `onLine` for each complete line of `stream` (without its "\n"), then `onChunk` once per chunk
 * (after the chunk's lines: the moment to wake whoever waits on them).
 */
export function readLines(stream, onLine, onChunk = () => {}) {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const take = (text) => {
    const lines = (rest + text).split("\n");
    rest = lines.pop();
    for (const line of lines) onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  };
  stream.on("data", (chunk) => {
    take(typeof chunk === "string" ? chunk : decoder.write(chunk));
    onChunk();
  });
  stream.once("end", () => {
    take(decoder.end());
    if (rest) {
      const last = rest;
      rest = "";
      onLine(last);
      onChunk();
    }
  });
}

/**
 * Calls `onEvent` for each non-blank line of `stream` parsed as JSON (a line that is not JSON arrives as
 * `{ event: "stdout", line }`), then `onChunk` once per chunk.
 */
export function readJsonLines(stream, onEvent, onChunk = () => {}) {
  readLines(stream, (line) => {
    if (!line.trim()) return;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      event = { event: "stdout", line };
    }
    // Outside the try: an exception thrown by onEvent is the caller's, not a parse failure.
    onEvent(event);
  }, onChunk);
}
