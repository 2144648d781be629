// The line reader lives in json-lines.mjs (plain JavaScript, so runtimes/*.mjs on Node 20 can import it);
// TypeScript callers import it from here or from there, alike.
export { type LineEvent, readJsonLines, readLines } from "./json-lines.mjs";
