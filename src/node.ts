/**
 * Node.js adapter: `serve()` on `node:http`, with the Web `Request`/`Response` bridged lazily.
 *
 * The drain uses the connection list Node already keeps (the one behind `closeIdleConnections()`),
 * so serving a request costs no extra bookkeeping.
 * @module
 */

import http from "node:http";
import net from "node:net";
import { Buffer } from "node:buffer";
import { FastResponse, takeRecorded } from "./fast-response.ts";
import { NodeRequest } from "./node-request.ts";
import {
  type FetchHandler,
  handlerFailure,
  healthAnswer,
  isHealthTarget,
  isReady,
  type ResolvedServeOptions,
  type ServeInfo,
  type ServeOptions,
} from "./options.ts";
import { nodeDrainable } from "./node-drain.ts";
import { processSignals } from "./process-signals.ts";
import { createServer, type Server, type Transport } from "./server.ts";

export { FastResponse };
export * from "./core.ts";
export { type ListenAddress, RestartEvent, type Server } from "./server.ts";
export type { RestartOptions, RestartResult } from "./restart.ts";

const TEXT_PLAIN = "text/plain;charset=UTF-8";

/** Headers from a `ResponseInit` as Node's flat `[name, value, ...]` form; notes a content-type. */
function flatHeaders(init: HeadersInit | undefined, out: string[]): boolean {
  let hasType = false;
  if (init === undefined) return false;
  if (init instanceof Headers) {
    for (const [name, value] of init) {
      if (name === "content-type") hasType = true;
      out.push(name, value);
    }
  } else if (Array.isArray(init)) {
    for (const [name, value] of init as Array<[string, string]>) {
      if (name.toLowerCase() === "content-type") hasType = true;
      out.push(name, value);
    }
  } else {
    for (const name in init) {
      const value = (init as Record<string, string | string[]>)[name]!;
      if (name.length === 12 && name.toLowerCase() === "content-type") hasType = true;
      if (Array.isArray(value)) { for (const v of value) out.push(name, v); }
      else out.push(name, value);
    }
  }
  return hasType;
}

/** Streams a Web body into the Node response with backpressure; stops when the socket goes away. */
async function pump(body: ReadableStream<Uint8Array>, res: http.ServerResponse): Promise<void> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  res.once("close", cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
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
    // The body errored: cut the response so the client sees it incomplete rather than truncated-but-valid.
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  } finally {
    res.off("close", cancel);
  }
}

/**
 * Writes a Web `Response` to a Node response. (While draining, the drain has already set
 * `Connection: close` on the responses that close their connection — node-drain.ts, issue 12.)
 */
function sendResponse(res: http.ServerResponse, response: Response): void {
  const headers: string[] = [];
  let status: number;
  let statusText: string | undefined;
  let bytes: string | Uint8Array | null = null;
  let stream: ReadableStream<Uint8Array> | null = null;
  const recorded = takeRecorded(response);
  const body = recorded?.body;
  if (
    recorded !== undefined &&
    (body == null || typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer ||
      body instanceof ReadableStream)
  ) {
    status = recorded.init?.status ?? 200;
    statusText = recorded.init?.statusText;
    const hasType = flatHeaders(recorded.init?.headers, headers);
    if (typeof body === "string") {
      if (!hasType) headers.push("content-type", TEXT_PLAIN);
      bytes = body;
    } else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body);
    else if (body instanceof ReadableStream) stream = body;
    else if (body) bytes = body;
  } else {
    if (recorded !== undefined) response = new Response(body, recorded.init);
    status = response.status;
    statusText = response.statusText || undefined;
    for (const [name, value] of response.headers) headers.push(name, value);
    stream = response.body;
  }
  if (bytes !== null) {
    headers.push("content-length", String(typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength));
  } else if (stream === null) {
    headers.push("content-length", "0");
  }
  res.writeHead(status, statusText, headers);
  if (stream === null) res.end(bytes ?? undefined);
  else void pump(stream, res);
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
    waitUntil(promise: Promise<unknown>): void {
      server.waitUntil(promise);
    }
  }

  const respond = (res: http.ServerResponse, response: unknown) => {
    if (res.destroyed) return;
    if (!(response instanceof Response)) {
      response = failure(new TypeError(`fetch handler returned ${typeof response}, not a Response`), server);
    }
    sendResponse(res, response as Response);
  };

  const handleError = (res: http.ServerResponse, request: Request, error: unknown) => {
    if (!onError) return respond(res, failure(error, server));
    Promise.resolve()
      .then(() => onError(error, request))
      .then((r) => respond(res, r), (e) => respond(res, failure(e, server)));
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
    if (result instanceof Promise) {
      result.then((r) => respond(res, r), (error) => handleError(res, request, error));
    } else {
      respond(res, result);
    }
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
