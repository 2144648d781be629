/**
 * A `Response` that only records its arguments, so the Node adapter can write status, headers and
 * body straight to `node:http` without undici building streams it would then take apart. Anything
 * else asked of it builds the real `Response` once and delegates. `instanceof Response` holds.
 * @module
 */

/** What the Node adapter reads off a {@link FastResponse}. @internal */
export interface RecordedResponse {
  body: BodyInit | null | undefined;
  init: ResponseInit | undefined;
}

let take: (response: FastResponse) => RecordedResponse | undefined;

/**
 * @internal Takes the recorded arguments (once), or `undefined` when the real Response was built
 * already or `response` is not a FastResponse.
 */
export function takeRecorded(response: object): RecordedResponse | undefined {
  return response instanceof FastResponse ? take(response) : undefined;
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
    this.#recorded = { body, init };
  }

  /** Same as `Response.json()`, kept on the fast path. */
  static json(data: unknown, init?: ResponseInit): Response {
    const headers = new Headers(init?.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new FastResponse(JSON.stringify(data), { ...init, headers }) as unknown as Response;
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
      this.#real = new Response(r?.body, r?.init);
    }
    return this.#real;
  }

  /** Status code (200 unless given). */
  get status(): number {
    return this.#real?.status ?? this.#recorded?.init?.status ?? 200;
  }
  /** Status text (empty unless given). */
  get statusText(): string {
    return this.#real?.statusText ?? this.#recorded?.init?.statusText ?? "";
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
