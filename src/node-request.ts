/**
 * A Web `Request` over Node's `IncomingMessage`, built lazily: a handler that only reads `url` and
 * `method` never pays for `Headers`, a body stream or an `AbortController`. `instanceof Request` holds.
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

const NO_BODY = new Set(["GET", "HEAD"]);

/** Collects the request body without going through a Web stream. */
function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

/** The Request a Node handler receives. Unused parts are never constructed. */
export class NodeRequest {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  #url: string | undefined;
  #headers: Headers | undefined;
  #body: ReadableStream<Uint8Array> | null | undefined;
  #abort: AbortController | undefined;
  #full: Request | undefined;
  #used = false;

  constructor(req: IncomingMessage, res: ServerResponse) {
    this.#req = req;
    this.#res = res;
  }

  /** The Node request underneath, for code that needs it. */
  get node(): { req: IncomingMessage; res: ServerResponse } {
    return { req: this.#req, res: this.#res };
  }

  get method(): string {
    return this.#req.method ?? "GET";
  }

  get url(): string {
    if (this.#url === undefined) {
      const req = this.#req;
      const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
      const host = req.headers.host ?? `${req.socket.localAddress}:${req.socket.localPort}`;
      this.#url = `${secure ? "https" : "http"}://${host}${req.url ?? "/"}`;
    }
    return this.#url;
  }

  get headers(): Headers {
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
    if (this.#body === undefined) {
      this.#body = NO_BODY.has(this.method)
        ? null
        : (Readable.toWeb(this.#req) as unknown as ReadableStream<Uint8Array>);
    }
    return this.#body;
  }

  get bodyUsed(): boolean {
    return this.#used || (this.#body != null && this.#body.locked);
  }

  #consume(): Promise<Buffer> {
    if (this.bodyUsed) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    this.#used = true;
    if (NO_BODY.has(this.method)) return Promise.resolve(Buffer.alloc(0));
    if (this.#body) return new Response(this.#body).arrayBuffer().then((ab) => Buffer.from(ab));
    return readAll(this.#req);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#consume().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#consume().then((b) =>
      new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)
    );
  }

  text(): Promise<string> {
    return this.#consume().then((b) => b.toString("utf8"));
  }

  json(): Promise<unknown> {
    return this.text().then((text) => JSON.parse(text));
  }

  blob(): Promise<Blob> {
    const type = this.#req.headers["content-type"] ?? "";
    return this.#consume().then((b) => new Blob([new Uint8Array(b)], { type }));
  }

  formData(): Promise<FormData> {
    return this.#consume().then((b) =>
      new Response(new Uint8Array(b), { headers: { "content-type": this.#req.headers["content-type"] ?? "" } })
        .formData()
    );
  }

  /** A full undici Request, built once, for the rarely used parts of the interface. */
  #request(): Request {
    if (this.#full === undefined) {
      const body = this.body;
      this.#full = new Request(this.url, {
        method: this.method,
        headers: this.headers,
        body,
        signal: this.signal,
        // Required by undici for stream bodies.
        ...(body ? { duplex: "half" } : {}),
      } as RequestInit);
    }
    return this.#full;
  }

  clone(): Request {
    return this.#request().clone();
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
