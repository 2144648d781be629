// Children in these tests report events as one JSON object per stdout line.
import type { Readable } from "node:stream";

/** Calls `onEvent` for each line of `stream` (parsed as JSON, or `{ event: "stdout", line }`), then `onChunk`. */
export function readJsonLines(
  stream: Readable,
  onEvent: (event: { event: string; [key: string]: unknown }) => void,
  onChunk: () => void = () => {},
): void {
  let rest = "";
  stream.on("data", (d) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        onEvent(JSON.parse(line));
      } catch {
        onEvent({ event: "stdout", line });
      }
    }
    onChunk();
  });
}
