/*
 * Node.js adapter: `serve()` on `node:http`, with the Web `Request`/`Response` bridged lazily.
 *
 * The drain uses the connection list Node already keeps (the one behind `closeIdleConnections()`),
 * so serving a request costs no extra bookkeeping.
 */

import http from "node:http";
import net from "node:net";
import * as nodeBuffer from "node:buffer";
import { FastResponse, takeRecorded, toResponse } from "./fast-response.ts";
import { AFTER_MICROTASK, knownBody, knownLength, UNKNOWN } from "./body.ts";
import { NodeRequest } from "./request.ts";
import {
  errorDetail,
  type FetchHandler,
  handlerFailure,
  healthAnswer,
  isHealthTarget,
  isReady,
  isThenable,
  lockedBody,
  type ResolvedServeOptions,
  type ServeInfo,
  type ServeOptions,
} from "../../serve/options.ts";
import { nodeDrainable } from "./drain.ts";
import { processSignals } from "../../core/process-signals.ts";
import { createServer, type Server, type Transport } from "../../serve/server.ts";

export { FastResponse };

const TEXT_PLAIN = "text/plain;charset=UTF-8";
const INTERNAL_ERROR = "Internal Server Error";
/** Byte bodies up to this size are written together with the head (see sendKnown). */
const SMALL_BODY = 16 * 1024;

const { Buffer } = nodeBuffer;
/** `buffer.isAscii` (Node ≥ 18.15, 19.6): native, so cheaper than a loop. Read off the namespace so
 * that a runtime without it only loses the fast path. */
const isAscii = (nodeBuffer as { isAscii?: (input: Uint8Array) => boolean }).isAscii;
/** The bytes as a one-byte string without a Buffer view or the encoding lookup of `toString()`
 * (both Node 20 and 24 accept a plain Uint8Array as receiver; fact NF2, test/node-fast-path.test.ts). */
const latin1Slice = (Buffer.prototype as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string })
  .latin1Slice;

/** The fields of Node's `OutgoingMessage` that {@link sendKnown} reads or sets (lib/_http_outgoing.js). */
interface OutgoingInternals {
  _contentLength: number | null;
  _hasBody: boolean;
  useChunkedEncodingByDefault: boolean;
  _header: string | null;
}

/**
 * Fact NF1 (docs/runtimes.md, test/node-fast-path.test.ts): when the head is built without a
 * Content-Length and `_contentLength` holds a number, Node writes `Content-Length: <n>` itself — what
 * `res.end(string)` does on raw node:http. A header of ours instead costs a validated header
 * (name token check, value check, special-header match: ~0.5–1 µs a request here, a measurable share
 * of a FastResponse request). Probed once on a detached response; any doubt keeps the header.
 * @internal
 */
export function nodeWritesLength(): boolean {
  try {
    const req = new http.IncomingMessage(null as unknown as net.Socket);
    req.method = "GET";
    req.httpVersionMajor = 1;
    req.httpVersionMinor = 1;
    const res = new http.ServerResponse(req);
    const out = res as unknown as OutgoingInternals;
    if (out._contentLength !== null || out._hasBody !== true || out.useChunkedEncodingByDefault !== true) return false;
    out._contentLength = 3;
    res.writeHead(200, ["x-probe", "1"]);
    const head = out._header;
    return typeof head === "string" && head.includes("\r\nContent-Length: 3\r\n") &&
      !/transfer-encoding/i.test(head) && head.split(/content-length/i).length === 2;
  } catch {
    return false;
  }
}
let implicitLength: boolean | undefined;

/** RFC 9110 §8.6, §15.3.5, §15.4.5: no Content-Length (and no body) on 1xx, 204 and 304. */
const bodyless = (status: number) => status === 204 || status === 304 || status < 200;

/** Streams a Web body into the Node response with backpressure; stops when the socket goes away. */
async function pump(
  body: ReadableStream<Uint8Array>,
  res: http.ServerResponse,
  flush: ReturnType<typeof setImmediate>,
  server: Server,
): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  res.once("close", cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      // Data (or the end) before the flush: the head goes out with it, in one write.
      clearImmediate(flush);
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      }
    }
    res.end();
  } catch (error) {
    clearImmediate(flush);
    // Logged as Deno's onError logs it (src/adapters/deno.ts); Bun prints it itself.
    server.logger.error(`response body failed: ${errorDetail(error)}`);
    // The body errored: end the connection without the last chunk, so the client sees the body
    // incomplete rather than truncated-but-valid. The chunks already written go first: Node corks
    // chunked writes until the next tick, and destroying now would drop them (srvx checks this).
    const socket = res.socket;
    if (socket && !socket.destroyed && !res.destroyed) {
      socket.uncork();
      socket.end(() => socket.destroy());
    } else {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  } finally {
    res.off("close", cancel);
  }
}

/** Sends the head written by writeHead() (headersSent is already true then: it means "head built"). */
function flushHead(res: http.ServerResponse): void {
  if (!res.destroyed && !res.writableEnded) res.flushHeaders();
}

/**
 * A response that cannot be written (status out of range, a header name or value Node refuses,
 * `Response.error()`) costs that one request, never the process (issue 10.11): 500 when nothing was
 * sent yet, else the connection is cut so the client sees an incomplete response. Logged either way.
 */
function badResponse(res: http.ServerResponse, error: unknown, server: Server): void {
  server.logger.error(`fetch handler returned a response that cannot be sent: ${errorDetail(error)}`);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  try {
    const headers = ["content-type", TEXT_PLAIN, "content-length", String(INTERNAL_ERROR.length)];
    // While draining, the drain has already set `Connection: close` where it applies (drain.ts).
    // The failed writeHead may have left its status message (the bad one) on the response.
    res.writeHead(500, INTERNAL_ERROR, headers);
    res.end(INTERNAL_ERROR);
  } catch {
    res.destroy();
  }
}

/** Writes a complete body: Content-Length unless the application set one or the status has no body. */
function sendKnown(
  res: http.ServerResponse,
  status: number,
  statusText: string | undefined,
  headers: string[],
  hasLength: boolean,
  body: string | Uint8Array | null,
): void {
  if (!hasLength && !bodyless(status)) {
    const length = body === null ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
    const out = res as unknown as OutgoingInternals;
    // NF1: Node writes the length itself, unless the response has no body (HEAD: it would then write
    // none, issue 10.1) or is not chunkable (an HTTP/1.0 client: it would close instead of sizing).
    if ((implicitLength ??= nodeWritesLength()) && out._hasBody && out.useChunkedEncodingByDefault) {
      out._contentLength = length;
    } else headers.push("content-length", String(length));
  }
  res.writeHead(status, statusText, headers);
  if (body === null) res.end();
  else if (typeof body === "string" || body.byteLength > SMALL_BODY) res.end(body);
  // Node joins the head and a string body into one write, but writes head and bytes as two (a
  // writev). Small bytes go as a string: ASCII ones (text, JSON: nearly all) with the default
  // encoding, Node's cheapest write (a "latin1" argument costs an encoding lookup at every layer);
  // others as latin1, which maps every byte to itself.
  else if (isAscii !== undefined && latin1Slice !== undefined && isAscii(body)) {
    res.end(latin1Slice.call(body, 0, body.byteLength));
  } else res.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1"), "latin1");
}

/**
 * Writes status and headers at once (issue 10.3: an SSE client sees them before the first event),
 * then the stream. "At once" is the end of this event-loop turn: a stream that has its first chunk
 * by then sends it with the head in one write instead of two.
 */
function sendStream(
  res: http.ServerResponse,
  status: number,
  statusText: string | undefined,
  headers: string[],
  stream: ReadableStream<Uint8Array>,
  server: Server,
): void {
  // A locked body cannot be sent: a 500 (badResponse), not getReader() throwing in pump(), whose
  // rejection nothing awaits (an unhandled rejection: the process died; test/node-bad-response.test.ts).
  if (stream.locked) throw lockedBody();
  res.writeHead(status, statusText, headers);
  void pump(stream, res, setImmediate(flushHead, res), server);
}

/**
 * Writes a Web `Response` to a Node response. (While draining, the drain has already set
 * `Connection: close` on the responses that close their connection — drain.ts, issue 12.)
 * `maySettle`: the response came from a synchronous handler, and a string body that Node 24 closes
 * one microtask after construction (NB3) may be taken after waiting that microtask.
 */
function sendResponse(
  res: http.ServerResponse,
  response: Response,
  server: Server,
  maySettle: boolean,
): void {
  try {
    const recorded = takeRecorded(response);
    if (recorded !== undefined) {
      const body = recorded.body;
      if (body == null || typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer) {
        // Taken once, so its (already copied) header list is ours to extend.
        const headers = recorded.headers;
        if (typeof body === "string" && !recorded.hasType) headers.push("content-type", TEXT_PLAIN);
        const bytes = body == null ? null : body instanceof ArrayBuffer ? new Uint8Array(body) : body;
        return sendKnown(res, recorded.status, recorded.statusText, headers, recorded.hasLength, bytes);
      }
      if (body instanceof ReadableStream) {
        return sendStream(res, recorded.status, recorded.statusText, recorded.headers, body, server);
      }
      // Blob, FormData, URLSearchParams…: undici knows how to serialise them.
      response = toResponse(recorded);
    }
    const status = response.status;
    // Response.error() (type "error", status 0) is a network error: there is nothing to send.
    if (status === 0) throw new TypeError("the fetch handler returned Response.error()");
    const known = knownBody(response, maySettle);
    if (known === AFTER_MICROTASK) {
      queueMicrotask(() => sendResponse(res, response, server, false));
      return;
    }
    const headers: string[] = [];
    let hasLength = false;
    // One pass over the headers; the iterator yields each Set-Cookie on its own.
    for (const [name, value] of response.headers) {
      if (name === "content-length") hasLength = true;
      headers.push(name, value);
    }
    const statusText = response.statusText || undefined;
    if (known !== UNKNOWN) return sendKnown(res, status, statusText, headers, hasLength, known);
    if (!hasLength) {
      const length = knownLength(response);
      if (length !== undefined) headers.push("content-length", String(length));
    }
    sendStream(res, status, statusText, headers, response.body!, server);
  } catch (error) {
    badResponse(res, error, server);
  }
}

const failure = (error: unknown, server: Server): Response => handlerFailure(error, server, FastResponse);

/** Starts `node:http` for `serve()`. @internal */
function startNodeServer(options: ResolvedServeOptions, server: Server): Transport {
  const { fetch, onError } = options;

  class Info implements ServeInfo {
    readonly #req: http.IncomingMessage;
    constructor(req: http.IncomingMessage) {
      this.#req = req;
    }
    get remoteAddr() {
      const s = this.#req.socket;
      return s.remoteAddress === undefined ? undefined : { hostname: s.remoteAddress, port: s.remotePort ?? 0 };
    }
    /**
     * node:http's request, as @hono/node-server passes it (`env.incoming`): what its `getConnInfo`
     * and other Node helpers read from a Hono handler's second argument.
     */
    get incoming(): http.IncomingMessage {
      return this.#req;
    }
    waitUntil(promise: Promise<unknown>): void {
      server.waitUntil(promise);
    }
  }

  const respond = (res: http.ServerResponse, response: unknown, sync: boolean) => {
    if (res.destroyed) return;
    if (!(response instanceof Response)) {
      response = failure(new TypeError(`fetch handler returned ${typeof response}, not a Response`), server);
    }
    sendResponse(res, response as Response, server, sync);
  };

  const handleError = (res: http.ServerResponse, request: Request, error: unknown) => {
    if (!onError) return respond(res, failure(error, server), false);
    Promise.resolve()
      .then(() => onError(error, request))
      .then((r) => respond(res, r, false), (e) => respond(res, failure(e, server), false));
  };

  const healthPath = options.healthPath;
  const health = (res: http.ServerResponse) => {
    const serving = isReady(server);
    const { status, body } = healthAnswer(serving);
    const headers = ["content-type", TEXT_PLAIN, "content-length", String(body.length), "cache-control", "no-store"];
    if (!serving) headers.push("connection", "close");
    res.writeHead(status, headers);
    res.end(body);
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (healthPath !== undefined && isHealthTarget(req.url ?? "", healthPath)) return health(res);
    const request = new NodeRequest(req, res) as unknown as Request;
    let result: ReturnType<FetchHandler>;
    try {
      result = fetch(request, new Info(req));
    } catch (error) {
      return handleError(res, request, error);
    }
    if (!(result instanceof Promise)) {
      if (!isThenable(result)) return respond(res, result, true);
      result = Promise.resolve(result);
    }
    result.then((r) => respond(res, r, false), (error) => handleError(res, request, error));
  };

  const httpServer = http.createServer(listener);
  const drainable = nodeDrainable(httpServer, server, { connectionGrace: options.connectionGrace });

  const listening = new Promise<{ hostname: string; port: number }>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    httpServer.once("error", onError);
    const inherited = options.inherited;
    const onListening = () => {
      httpServer.off("error", onError);
      const address = httpServer.address() as net.AddressInfo;
      resolve({ hostname: inherited ? address.address : options.hostname, port: address.port });
    };
    if (inherited?.mode === "fd") httpServer.listen({ fd: inherited.fd! }, onListening);
    else httpServer.listen({ port: inherited?.port ?? options.port, host: options.hostname }, onListening);
  });

  return {
    ...drainable,
    native: httpServer,
    listening,
    handoff() {
      const address = httpServer.address() as net.AddressInfo;
      // The listening socket itself goes to the successor: it is never closed, so nothing queued on it is lost.
      const handle = (httpServer as unknown as { _handle: unknown })._handle;
      return { socket: handle, handoff: { mode: "fd", port: address.port, hostname: address.address } };
    },
  };
}

/**
 * Starts a graceful `node:http` server with a Web-standard `fetch` handler.
 *
 * @example
 * ```ts
 * import { serve } from "graceful-serve/node";
 * const server = serve({ port: 8000, fetch: () => new Response("hello") });
 * await server.ready();
 * ```
 */
export function serve(options: ServeOptions): Server {
  return createServer(options, startNodeServer, processSignals);
}
