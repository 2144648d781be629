/**
 * A `Response` that only records its arguments, so the Node adapter can write status, headers and
 * body straight to `node:http` without undici building streams it would then take apart. Anything
 * else asked of it builds the real `Response` once and delegates. `instanceof Response` holds.
 * @module
 */

/**
 * What the Node adapter reads off a {@link FastResponse}: its arguments, copied when it was built
 * (issue 10.7: later changes to the init object or to a parent Response do not leak in), with the
 * headers already in Node's flat `[name, value, ...]` form. @internal
 */
export interface RecordedResponse {
  body: BodyInit | null | undefined;
  status: number;
  statusText: string | undefined;
  headers: string[];
  /** A content-type header is among `headers`. */
  hasType: boolean;
  /** A content-length header is among `headers` (issue 10.2: the adapter must not add a second). */
  hasLength: boolean;
}

let take: (response: FastResponse) => RecordedResponse | undefined;

/**
 * @internal Takes the recorded arguments (once), or `undefined` when the real Response was built
 * already or `response` is not a FastResponse.
 */
export function takeRecorded(response: object): RecordedResponse | undefined {
  return response instanceof FastResponse ? take(response) : undefined;
}

/** @internal The real `Response` for recorded arguments (undici validates and serialises). */
export function toResponse(r: RecordedResponse): Response {
  const headers = new Headers();
  for (let i = 0; i < r.headers.length; i += 2) headers.append(r.headers[i]!, r.headers[i + 1]!);
  return new Response(r.body, { status: r.status, statusText: r.statusText, headers });
}

/** Copies `init.headers` into `r` (flat), noting content-type and content-length. */
function copyHeaders(init: HeadersInit | undefined, r: RecordedResponse): void {
  if (init === undefined || init === null) return;
  const out = r.headers;
  const note = (name: string) => {
    if (name.length === 12 && name.toLowerCase() === "content-type") r.hasType = true;
    else if (name.length === 14 && name.toLowerCase() === "content-length") r.hasLength = true;
  };
  if (init instanceof Headers) {
    for (const [name, value] of init) {
      note(name);
      out.push(name, value);
    }
  } else if (Array.isArray(init)) {
    for (const pair of init as Array<[string, string]>) {
      if (pair.length !== 2) throw new TypeError("FastResponse: each header must be a [name, value] pair");
      note(pair[0]);
      out.push(pair[0], String(pair[1]));
    }
  } else if (typeof init === "object") {
    for (const name in init) {
      const value = (init as Record<string, string | string[]>)[name]!;
      note(name);
      if (Array.isArray(value)) { for (const v of value) out.push(name, String(v)); }
      else out.push(name, String(value));
    }
  } else {
    throw new TypeError("FastResponse: init.headers must be a Headers, an array of pairs or a record");
  }
}

/** Validates and copies a ResponseInit as `new Response()` does (status range, null-body statuses). */
function record(body: BodyInit | null | undefined, init: ResponseInit | undefined): RecordedResponse {
  let status = 200;
  let statusText: string | undefined;
  const r: RecordedResponse = { body, status, statusText, headers: [], hasType: false, hasLength: false };
  if (init !== undefined && init !== null) {
    if (init.status !== undefined) {
      status = init.status;
      // Same rule and error as the Fetch standard's Response constructor.
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`FastResponse: init.status must be an integer from 200 to 599, got ${status}`);
      }
      if (body != null && (status === 204 || status === 205 || status === 304)) {
        throw new TypeError(`FastResponse: a response with status ${status} cannot have a body`);
      }
      r.status = status;
    }
    if (init.statusText !== undefined) r.statusText = String(init.statusText);
    copyHeaders(init.headers, r);
  }
  return r;
}

/**
 * Drop-in `Response` that Node serves without building a Web stream; on Deno and Bun the package
 * exports the native `Response` under this name instead.
 *
 * @example
 * ```ts
 * import { FastResponse as Response, serve } from "graceful-serve";
 * serve({ fetch: () => new Response("hello", { headers: { "content-type": "text/plain" } }) });
 * ```
 */
export class FastResponse {
  #real: Response | undefined;
  #recorded: RecordedResponse | undefined;

  static {
    // A private field read is cheaper than a WeakMap per response.
    take = (response) => {
      const r = response.#recorded;
      response.#recorded = undefined;
      return r;
    };
  }

  /** Same arguments as `new Response()`. */
  constructor(body?: BodyInit | null, init?: ResponseInit) {
    this.#recorded = record(body, init);
  }

  /** Same as `Response.json()`, kept on the fast path. */
  static json(data: unknown, init?: ResponseInit): Response {
    const json = JSON.stringify(data);
    if (json === undefined) throw new TypeError("FastResponse.json: data is not serialisable to JSON");
    const response = new FastResponse(json, init);
    const r = response.#recorded!;
    if (!r.hasType) {
      r.headers.push("content-type", "application/json");
      r.hasType = true;
    }
    return response as unknown as Response;
  }

  /** Same as `Response.error()`. */
  static error(): Response {
    return Response.error();
  }

  /** Same as `Response.redirect()`. */
  static redirect(url: string | URL, status?: number): Response {
    return Response.redirect(url, status);
  }

  #response(): Response {
    if (this.#real === undefined) {
      const r = take(this);
      this.#real = r === undefined ? new Response() : toResponse(r);
    }
    return this.#real;
  }

  /** Status code (200 unless given). */
  get status(): number {
    return this.#real?.status ?? this.#recorded?.status ?? 200;
  }
  /** Status text (empty unless given). */
  get statusText(): string {
    return this.#real?.statusText ?? this.#recorded?.statusText ?? "";
  }
  /** Whether the status is 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  /** The headers (builds the real Response once). */
  get headers(): Headers {
    return this.#response().headers;
  }
  /** The body as a stream (builds the real Response once). */
  get body(): ReadableStream<Uint8Array> | null {
    return this.#response().body;
  }
  /** Whether the body was read. */
  get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }
  /** Always false: this Response was made by the application. */
  get redirected(): boolean {
    return false;
  }
  /** Always "default". */
  get type(): ResponseType {
    return "default";
  }
  /** Always empty: this Response was made by the application. */
  get url(): string {
    return "";
  }
  /** Reads the body, as on `Response`. */
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#response().arrayBuffer();
  }
  /** Reads the body, as on `Response`. */
  blob(): Promise<Blob> {
    return this.#response().blob();
  }
  /** Reads the body, as on `Response`. */
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#response().arrayBuffer().then((b) => new Uint8Array(b));
  }
  /** Reads the body, as on `Response`. */
  formData(): Promise<FormData> {
    return this.#response().formData();
  }
  /** Reads the body, as on `Response`. */
  json(): Promise<unknown> {
    return this.#response().json();
  }
  /** Reads the body, as on `Response`. */
  text(): Promise<string> {
    return this.#response().text();
  }
  /** A real `Response` copy. */
  clone(): Response {
    return this.#response().clone();
  }
}

Object.setPrototypeOf(FastResponse.prototype, Response.prototype);
