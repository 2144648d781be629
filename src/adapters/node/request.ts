/**
 * A Web `Request` over Node's `IncomingMessage`, built lazily: a handler that only reads `url` and
 * `method` never pays for `Headers`, a body stream or an `AbortController`. `instanceof Request` holds.
 *
 * What a lazy object cannot be is a real undici `Request`: undici keeps a request's state in
 * internal slots (Node 20: symbol-keyed properties; Node 24: private `#state`), which its own
 * constructor and `fetch()` read from an input `Request`. So the parts of the interface that need
 * those slots build one real `Request` on demand ({@link NodeRequest} `#native`) and delegate to it
 * from then on. See docs/runtimes.md "Node: the lazy Request" for what that means per Node version.
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { requestUrl } from "./url.ts";

/** GET and HEAD requests have a null body (Fetch: a Request with those methods cannot have one). */
function nullBody(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

function bodyUnusable(): TypeError {
  return new TypeError("Body is unusable: Body has already been read");
}

/** UTF-8 decode, dropping a leading BOM as the Fetch spec's "UTF-8 decode" does (issue 10.8). */
function utf8(bytes: Buffer): string {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.toString("utf8", 3)
    : bytes.toString("utf8");
}

function toBuffer(chunk: Buffer | string | null): Buffer {
  return chunk === null ? Buffer.alloc(0) : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}

/**
 * The error a body read fails with when the request stream ended early. A client that went away
 * after sending its whole body is not an error (issue 10.5): the body is there, so it is returned.
 */
function endedEarly(req: IncomingMessage): Error | undefined {
  const error = req.errored as NodeJS.ErrnoException | null;
  if (req.complete && (!error || error.code === "ECONNRESET")) return undefined;
  return error ?? new Error("aborted: the client closed the connection before sending the whole body");
}

/**
 * Collects the request body without a Web stream. Settles in every case: on `end`, and when the
 * stream is destroyed first (the client disconnected) — with what Node had buffered if the whole
 * body had arrived, else with the error. Node drops the `error` event when nobody listened at the
 * time, and a destroyed stream emits neither `data` nor `end`, so `close` is what is waited on.
 */
function readAll(req: IncomingMessage): Promise<Buffer> {
  if (req.destroyed) {
    const error = endedEarly(req);
    return error ? Promise.reject(error) : Promise.resolve(toBuffer(req.read() as Buffer | null));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    const onEnd = () => {
      req.off("data", onData).off("close", onClose);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onClose = () => {
      req.off("data", onData).off("end", onEnd);
      const error = endedEarly(req);
      if (error) return reject(error);
      const rest = req.read() as Buffer | null;
      if (rest !== null) chunks.push(toBuffer(rest));
      resolve(Buffer.concat(chunks));
    };
    req.on("data", onData).once("end", onEnd).once("close", onClose);
  });
}

/**
 * The request body as a Web stream. Unlike `Readable.toWeb()` it settles when the client
 * disconnects after sending everything (issue 10.5), `cancel()` discards the rest of the upload
 * instead of destroying the socket (so the response can still be sent), and once the response has
 * been sent while the body lies unread (a 413 answered early, issue 10.6), the rest is discarded —
 * as Node does for a body nobody touched — so the client's upload does not stall.
 */
function bodyStream(req: IncomingMessage, res: ServerResponse): ReadableStream<Uint8Array> {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const enqueue = (chunk: Buffer) => {
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  };
  const onData = (chunk: Buffer) => {
    enqueue(chunk);
    if (controller.desiredSize! <= 0) req.pause();
  };
  const detach = () => {
    open = false;
    req.off("data", onData).off("end", onEnd).off("close", onClose);
    res.off("finish", onFinish);
  };
  const onEnd = () => {
    detach();
    controller.close();
  };
  const onClose = () => {
    detach();
    const error = endedEarly(req);
    if (error) return controller.error(error);
    const rest = req.read() as Buffer | null;
    if (rest !== null) enqueue(toBuffer(rest));
    controller.close();
  };
  // Node's resOnFinish dumps an unread body only if nobody read from it (`_consuming`); this
  // stream did, so it discards the rest itself. Like Go's server (the body is closed once the
  // response is done), a read after that fails rather than waiting for bytes nobody pulls.
  const onFinish = () => {
    if (req.complete) return;
    detach();
    controller.error(new TypeError("the response was sent before the request body was read; the rest was discarded"));
    req.resume();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      if (req.destroyed) return onClose();
      req.on("data", onData).once("end", onEnd).once("close", onClose);
      res.once("finish", onFinish);
    },
    pull() {
      if (open) req.resume();
    },
    cancel() {
      if (!open) return;
      detach();
      // Discard rather than destroy: the connection stays usable for the response (and keep-alive).
      req.resume();
    },
  });
}

/** A stream that counts as read: what a materialised Request carries after `text()` & co. */
function usedStream(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  void stream.getReader().read();
  return stream;
}

type Materialise = (request: NodeRequest) => Request;
let native: Materialise;

/** The Request a Node handler receives. Unused parts are never constructed. */
export class NodeRequest {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  #url: string | undefined;
  #headers: Headers | undefined;
  #body: ReadableStream<Uint8Array> | null | undefined;
  #abort: AbortController | undefined;
  /** The real Request, once something needed one; every body and header access goes to it then. */
  #full: Request | undefined;
  /** The body was read without a stream (text(), json(), ...). */
  #used = false;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
  }

  static {
    native = (request) => request.#native();
  }

  /** The Node request underneath, for code that needs it. */
  get node(): { req: IncomingMessage; res: ServerResponse } {
    return { req: this.#req, res: this.#res };
  }

  get method(): string {
    return this.#req.method ?? "GET";
  }

  get url(): string {
    return this.#url ??= requestUrl(this.#req);
  }

  get headers(): Headers {
    if (this.#full !== undefined) return this.#full.headers;
    if (this.#headers === undefined) {
      const headers = new Headers();
      const raw = this.#req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        // HTTP/2 pseudo-headers (":path") are not valid Headers names.
        if (raw[i]!.charCodeAt(0) !== 58) headers.append(raw[i]!, raw[i + 1]!);
      }
      this.#headers = headers;
    }
    return this.#headers;
  }

  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      const abort = (this.#abort = new AbortController());
      const res = this.#res;
      // Closed before the response finished = the client went away.
      if (res.destroyed && !res.writableFinished) abort.abort();
      else res.once("close", () => res.writableFinished || abort.abort());
    }
    return this.#abort.signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#full !== undefined) return this.#full.body;
    if (this.#body === undefined) {
      this.#body = nullBody(this.method) ? null : this.#used ? usedStream() : bodyStream(this.#req, this.#res);
    }
    return this.#body;
  }

  get bodyUsed(): boolean {
    if (this.#full !== undefined) return this.#full.bodyUsed;
    if (this.#used) return true;
    const body = this.#body;
    return body != null && (Readable as unknown as { isDisturbed(s: unknown): boolean }).isDisturbed(body);
  }

  /** The body as bytes, read once. A GET/HEAD body is null: empty, and not "used" (Fetch). */
  #consume(): Promise<Buffer> {
    if (nullBody(this.method)) return Promise.resolve(Buffer.alloc(0));
    if (this.bodyUsed) return Promise.reject(bodyUnusable());
    const body = this.#body;
    if (body != null) {
      if (body.locked) return Promise.reject(bodyUnusable());
      return new Response(body).arrayBuffer().then((ab) => Buffer.from(ab));
    }
    this.#used = true;
    return readAll(this.#req);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#full !== undefined) return this.#full.arrayBuffer();
    return this.#consume().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#full !== undefined) return this.#full.arrayBuffer().then((ab) => new Uint8Array(ab));
    return this.#consume().then((b) =>
      new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)
    );
  }

  text(): Promise<string> {
    if (this.#full !== undefined) return this.#full.text();
    return this.#consume().then(utf8);
  }

  json(): Promise<unknown> {
    if (this.#full !== undefined) return this.#full.json();
    return this.#consume().then((b) => JSON.parse(utf8(b)));
  }

  /** Through undici's own Body, so the type is the Fetch-normalised MIME type (issue 10.10). */
  blob(): Promise<Blob> {
    if (this.#full !== undefined) return this.#full.blob();
    const type = this.#req.headers["content-type"];
    return this.#consume().then((b) =>
      new Response(b.byteLength === 0 ? null : new Uint8Array(b), type ? { headers: { "content-type": type } } : {})
        .blob()
    );
  }

  formData(): Promise<FormData> {
    if (this.#full !== undefined) return this.#full.formData();
    const type = this.#req.headers["content-type"] ?? "";
    return this.#consume().then((b) =>
      new Response(new Uint8Array(b), { headers: { "content-type": type } }).formData()
    );
  }

  /**
   * A real undici Request with this one's url, method, headers, body and signal, built once. The
   * body moves to it (it reads the same stream); a body already read becomes a used stream there.
   */
  #native(): Request {
    if (this.#full === undefined) {
      const used = this.bodyUsed;
      // undici refuses a read stream as a body: a used body becomes an empty one, then read.
      const body = nullBody(this.method) ? null : used ? new ReadableStream({ start: (c) => c.close() }) : this.body;
      const full = new Request(this.url, {
        method: this.method,
        headers: this.headers,
        body,
        signal: this.signal,
        // Required by undici for stream bodies.
        ...(body ? { duplex: "half" } : {}),
      } as RequestInit);
      if (used) void full.body?.getReader().read();
      this.#full = full;
    }
    return this.#full;
  }

  clone(): Request {
    // A real Request throws here too; the real one built below could not tell (issue 10.10).
    if (this.bodyUsed) throw new TypeError("Request.clone: Body has already been consumed.");
    return this.#native().clone();
  }

  get cache(): RequestCache {
    return "default";
  }
  get credentials(): RequestCredentials {
    return "same-origin";
  }
  get destination(): RequestDestination {
    return "";
  }
  get integrity(): string {
    return "";
  }
  get keepalive(): boolean {
    return false;
  }
  get mode(): RequestMode {
    return "cors";
  }
  get redirect(): RequestRedirect {
    return "follow";
  }
  get referrer(): string {
    return "about:client";
  }
  get referrerPolicy(): ReferrerPolicy {
    return "";
  }
  get duplex(): string {
    return "half";
  }
}

// `request instanceof Request` is true; every accessor the prototype has is overridden above.
Object.setPrototypeOf(NodeRequest.prototype, Request.prototype);

/**
 * The request as a real runtime `Request`, for code that hands it to `new Request(request[, init])`
 * or `fetch(request)`. On Node, `serve()` gives handlers a lazy `Request` (nothing is built that the
 * handler does not read); Node 24's undici refuses any `Request` its own constructor did not make
 * (docs/runtimes.md, RQ-N1), so there `new Request(request)` throws. This builds the real one once
 * (url, method, headers, the body — which moves to it — and the abort signal) and returns it every
 * time after; the lazy request delegates to it from then on. Anything else (Deno's and Bun's
 * requests, a `Request` you built) is returned as it is.
 *
 * It costs what undici's `Request` costs (≈ 8–15 µs on Node 24, more than a whole `node:http`
 * request; `bench/micro-request-native.mjs`), which is why `serve()` does not do it for every request.
 * Opt in where middleware needs it: `fetch: (request) => app.fetch(nativeRequest(request))`.
 * @param request The request a `serve()` handler received (or any `Request`).
 * @returns A `Request` that undici's `new Request()` and `fetch()` accept.
 * @example Hono middleware that re-wraps the request (hono/body-limit on a chunked body), on Node 24
 * ```ts
 * import { Hono } from "hono";
 * import { bodyLimit } from "hono/body-limit";
 * import { nativeRequest, serve } from "graceful-serve";
 *
 * const app = new Hono().post("/upload", bodyLimit({ maxSize: 1024 * 1024 }), (c) => c.text("stored"));
 * serve({ fetch: (request, info) => app.fetch(nativeRequest(request), info) });
 * ```
 * @example Middleware that passes the request on with one header more
 * ```ts
 * import { nativeRequest, serve } from "graceful-serve";
 *
 * const handler = (request: Request) => new Response(request.headers.get("x-request-id"));
 * serve({
 *   fetch(request) {
 *     const headers = new Headers(request.headers);
 *     headers.set("x-request-id", crypto.randomUUID());
 *     return handler(new Request(nativeRequest(request), { headers }));
 *   },
 * });
 * ```
 */
export function nativeRequest(request: Request): Request {
  return request instanceof NodeRequest ? native(request) : request;
}

/**
 * `new Request(request[, init])` and `fetch(request)` read the input's undici slots directly. On
 * Node 20 (undici 6) those are symbol-keyed properties of the instance (`Symbol(state)`,
 * `Symbol(signal)`, `Symbol(headers)`, `Symbol(dispatcher)`), found here on a probe Request: a getter
 * for each hands over the real Request's slot, so those calls see a real request (issue 10.9).
 * Node 24 (undici 7) keeps them in private fields, which no other object can have: there the
 * constructor throws (docs/runtimes.md, fact RQ-N1). Deno and Bun never build a NodeRequest.
 */
function bridgeUndiciSlots(): void {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
  if (g.Deno !== undefined || g.Bun !== undefined || g.process?.versions?.node === undefined) return;
  const wanted = new Set(["state", "signal", "headers", "dispatcher"]);
  for (const key of Object.getOwnPropertySymbols(new Request("http://localhost/"))) {
    if (!wanted.has(key.description ?? "")) continue;
    Object.defineProperty(NodeRequest.prototype, key, {
      get(this: NodeRequest) {
        return (native(this) as unknown as Record<symbol, unknown>)[key];
      },
      configurable: true,
    });
  }
}
bridgeUndiciSlots();
