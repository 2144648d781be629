/**
 * Reads the body of a native (undici) `Response` on Node without going through its Web stream, when
 * the body is already complete in memory: a string, bytes, `Response.json()`, `URLSearchParams`.
 * Reading the stream instead (getReader, two reads, their promises) costs about as much as the
 * rest of the bridge together (issue 10), and only a known body can be sent with `Content-Length`
 * (as Deno and Bun do, issue 10.1).
 *
 * This reads runtime internals, so every step checks what it finds and answers "unknown" otherwise;
 * the caller then streams the body as before. Facts NB1–NB3 (docs/runtimes.md,
 * test/node-body-facts.test.ts) pin what is read on Node 20 and 24.
 * @module
 */

/** The body is known: `bytes` (string or bytes) is all of it; `null` for no body at all. */
export type KnownBody = string | Uint8Array | null;

/** Marker: the body is not known without reading the stream. */
export const UNKNOWN: unique symbol = Symbol("unknown body");

/** Marker: the body will be known after one microtask (Node 24 closes string bodies in one, NB3). */
export const AFTER_MICROTASK: unique symbol = Symbol("known after a microtask");

interface UndiciBody {
  stream: ReadableStream;
  source: unknown;
  length: number | null;
}

interface StreamState {
  state: string;
  disturbed: boolean;
  reader: unknown;
  controller: object;
}

interface ControllerState {
  closeRequested: boolean;
  queue: unknown;
  queueTotalSize: number;
}

interface QueueEntry {
  buffer: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
}

function ownSymbol(object: object, description: string): symbol | undefined {
  try {
    return Object.getOwnPropertySymbols(object).find((s) => s.description === description);
  } catch {
    return undefined;
  }
}

// NB1: undici on Node 20 keeps a Response's state under an own `Symbol(state)`, with
// `.body = { stream, source, length }` (source: the string, or a copy of the bytes). Node 24's undici
// keeps it in a private field: no symbol, and this stays undefined.
const RESPONSE_STATE: symbol | undefined = typeof Response === "function"
  ? ownSymbol(new Response(""), "state")
  : undefined;

// NB2: Node's Web streams (Node 20 and 24) keep their state under an own `Symbol(kState)` on the
// stream and on its controller: `{ state, disturbed, reader, controller }` and
// `{ closeRequested, queue, queueTotalSize }`.
const STREAM_STATE: symbol | undefined = typeof ReadableStream === "function"
  ? ownSymbol(new ReadableStream(), "kState")
  : undefined;
const ByteController = (globalThis as { ReadableByteStreamController?: new () => object })
  .ReadableByteStreamController;

/** Not locked, never read: NB2's state read directly (Node 20's `bodyUsed` getter costs ~0.4 µs). */
function untouched(stream: unknown): boolean {
  if (!(stream instanceof ReadableStream)) return false;
  if (STREAM_STATE === undefined) return false; // cannot tell: the caller streams the body
  const s = (stream as unknown as Record<symbol, StreamState | undefined>)[STREAM_STATE];
  return s !== undefined && s !== null && s.disturbed === false && s.reader === undefined;
}

function entryBytes(entry: unknown): Uint8Array | undefined {
  const e = entry as QueueEntry | undefined;
  if (e === undefined || e === null || !(e.buffer instanceof ArrayBuffer)) return undefined;
  if (typeof e.byteOffset !== "number" || typeof e.byteLength !== "number") return undefined;
  return new Uint8Array(e.buffer, e.byteOffset, e.byteLength);
}

/**
 * The whole body of a closed byte stream that nobody has read, taken from its queue without
 * reading it (NB2, NB3), or UNKNOWN / AFTER_MICROTASK.
 */
function queuedBody(stream: ReadableStream, maySettle: boolean): KnownBody | typeof UNKNOWN | typeof AFTER_MICROTASK {
  if (STREAM_STATE === undefined || ByteController === undefined) return UNKNOWN;
  const s = (stream as unknown as Record<symbol, StreamState | undefined>)[STREAM_STATE];
  if (s === undefined || s === null || s.disturbed !== false || s.reader !== undefined) return UNKNOWN;
  if (s.state === "closed") return null;
  if (s.state !== "readable" || !(s.controller instanceof ByteController)) return UNKNOWN;
  const c = (s.controller as Record<symbol, ControllerState | undefined>)[STREAM_STATE];
  if (c === undefined || c === null) return UNKNOWN;
  const queue = c.queue as { length?: unknown; peek?: () => unknown } | unknown[];
  if (!c.closeRequested) {
    // Node 24 enqueues a string body in the constructor (nothing for "") and closes it one microtask
    // later (NB3). Waiting that microtask costs a stream that stays open nothing visible.
    const queued = (queue as { length?: unknown }).length;
    return maySettle && (queued === 0 || queued === 1) ? AFTER_MICROTASK : UNKNOWN;
  }
  if (Array.isArray(queue)) {
    // Node 20: a plain array of entries.
    if (queue.length === 1) return entryBytes(queue[0]) ?? UNKNOWN;
    const parts: Uint8Array[] = [];
    for (const entry of queue) {
      const bytes = entryBytes(entry);
      if (bytes === undefined) return UNKNOWN;
      parts.push(bytes);
    }
    return concat(parts, c.queueTotalSize);
  }
  // Node 24: a ring buffer with peek(); only a single entry is taken without touching its layout.
  if (queue !== null && typeof queue === "object" && typeof queue.peek === "function" && queue.length === 1) {
    const bytes = entryBytes(queue.peek());
    return bytes === undefined || bytes.byteLength !== c.queueTotalSize ? UNKNOWN : bytes;
  }
  return UNKNOWN;
}

function concat(parts: Uint8Array[], total: number): Uint8Array | typeof UNKNOWN {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    if (at + p.byteLength > total) return UNKNOWN;
    out.set(p, at);
    at += p.byteLength;
  }
  return at === total ? out : UNKNOWN;
}

/**
 * The complete body of a native `Response` when it is in memory already, else UNKNOWN (stream it)
 * or AFTER_MICROTASK (ask again after one microtask). `maySettle`: the caller can wait a microtask.
 * Never reads or locks the stream, so UNKNOWN leaves the Response untouched.
 */
export function knownBody(
  response: Response,
  maySettle: boolean,
): KnownBody | typeof UNKNOWN | typeof AFTER_MICROTASK {
  if (RESPONSE_STATE !== undefined) {
    const state = (response as unknown as Record<symbol, { body?: UndiciBody | null } | undefined>)[RESPONSE_STATE];
    if (state !== undefined && state !== null && typeof state === "object") {
      const body = state.body;
      if (body === null) return null;
      if (body !== undefined && typeof body === "object") {
        const source = body.source;
        if (typeof source === "string" || source instanceof Uint8Array) {
          const stream = body.stream;
          // Unread and unlocked: the source is still what the stream would give. Bytes must still be
          // all there: reading a clone (hono/etag does) pulls the source into a byte stream, which
          // transfers, i.e. detaches, its buffer (byteLength 0) while the tee branch holds the data.
          if (untouched(stream) && (typeof source === "string" || source.byteLength === body.length)) return source;
          return UNKNOWN;
        }
        return body.stream instanceof ReadableStream ? queuedBody(body.stream, false) : UNKNOWN;
      }
    }
  }
  const stream = response.body;
  if (stream === null) return null;
  return queuedBody(stream, maySettle);
}

/**
 * The body's length when undici knows it but the body is still a stream (a `Blob` on Node 20, NB1),
 * so it can be sent with `Content-Length` instead of chunked. `undefined` when not known — also once
 * the stream was read or cancelled: what is left of it is not that length (a cancelled body was sent
 * with its source's Content-Length and no bytes, and the client waited for them).
 */
export function knownLength(response: Response): number | undefined {
  if (RESPONSE_STATE === undefined) return undefined;
  const state = (response as unknown as Record<symbol, { body?: UndiciBody | null } | undefined>)[RESPONSE_STATE];
  if (!untouched(state?.body?.stream)) return undefined;
  const length = state?.body?.length;
  return typeof length === "number" && Number.isInteger(length) && length >= 0 ? length : undefined;
}
