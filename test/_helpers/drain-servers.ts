// In-process servers for the drain tests: serve() on this runtime, and attach() of a node:http server
// built four ways (plain http, https, Express, Fastify) — on Node, and under Deno and Bun's node:http.
// Every kind answers the same routes, driven by events (the drain beginning), never by timers:
//   /                      "hello"
//   /until-drain           answers "done" once draining has begun
//   /stream-until-drain    sends "foo" at once (headers out before the drain), "bar" once draining, ends
//   /hang                  never answers
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { attach, type Lifecycle, serve, type Server } from "../../src/mod.ts";
import { RawConnection } from "./raw-http.ts";
import { cert, key } from "./tls-fixture.ts";

export type Kind = "serve" | "http" | "https" | "express" | "fastify";

export interface Subject {
  kind: Kind;
  port: number;
  lifecycle: Lifecycle;
  /** How many times the handler ran for `path`. */
  runs(path: string): number;
  /** Resolves once the handler has run `count` times for `path`. */
  entered(path: string, count?: number): Promise<void>;
  /** A raw connection (TLS for https). */
  open(): Promise<RawConnection>;
  /** The node:http server (attach kinds), for its own events. */
  native?: http.Server;
}

const g = globalThis as { Deno?: unknown; Bun?: unknown };
export const runtimeName: "node" | "deno" | "bun" = g.Deno ? "deno" : g.Bun ? "bun" : "node";

/** Opens a raw connection; over TLS (self-signed, not verified) when `secure`. */
export function openRaw(port: number, secure: boolean): Promise<RawConnection> {
  if (!secure) return RawConnection.open(port);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      // RawConnection only needs a net.Socket; a TLSSocket is one.
      resolve(new (RawConnection as unknown as new (s: net.Socket) => RawConnection)(socket));
    });
    socket.once("error", reject);
  });
}

/** Starts a subject of `kind` with the given lifecycle options (signals off, silent). */
export async function startSubject(kind: Kind, options: Record<string, unknown> = {}): Promise<Subject> {
  const counts = new Map<string, number>();
  let waiters: Array<() => void> = [];
  const ran = (path: string) => {
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const runs = (path: string) => counts.get(path) ?? 0;
  const entered = (path: string, count = 1) =>
    new Promise<void>((resolve) => {
      const check = () => (runs(path) >= count ? resolve() : waiters.push(check));
      check();
    });
  let lifecycle!: Lifecycle;
  const draining = () =>
    new Promise<void>((resolve) => {
      if (lifecycle.signal.aborted) resolve();
      else lifecycle.signal.addEventListener("abort", () => resolve(), { once: true });
    });
  const base = {
    signals: false,
    exit: false,
    logger: false as const,
    deadline: 20_000,
    connectionGrace: 100,
    ...options,
  };

  if (kind === "serve") {
    const encoder = new TextEncoder();
    const server: Server = serve({
      ...base,
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const path = new URL(request.url).pathname;
        ran(path);
        if (path === "/until-drain") {
          await draining();
          return new Response("done");
        }
        if (path === "/stream-until-drain") {
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(encoder.encode("foo"));
                void draining().then(() => {
                  controller.enqueue(encoder.encode("bar"));
                  controller.close();
                });
              },
            }),
          );
        }
        if (path === "/hang") return new Promise<Response>(() => {});
        return new Response("hello");
      },
    });
    lifecycle = server;
    await server.ready();
    return { kind, port: server.port!, lifecycle, runs, entered, open: () => openRaw(server.port!, false) };
  }

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    ran(path);
    if (path === "/until-drain") {
      void draining().then(() => res.end("done"));
    } else if (path === "/stream-until-drain") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("foo");
      void draining().then(() => res.end("bar"));
    } else if (path === "/hang") {
      // never answers
    } else res.end("hello");
  };

  let server: http.Server;
  if (kind === "http") server = http.createServer(handle);
  else if (kind === "https") server = https.createServer({ key, cert }, handle) as unknown as http.Server;
  else if (kind === "express") {
    const { default: express } = await import("express");
    const app = express();
    app.use((req, res) => handle(req, res));
    server = http.createServer(app);
  } else {
    const { default: Fastify } = await import("fastify");
    const app = Fastify();
    app.all("/*", (request, reply) => {
      reply.hijack();
      handle(request.raw, reply.raw);
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    server = app.server as http.Server;
  }
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  lifecycle = attach(server, base);
  const port = (server.address() as net.AddressInfo).port;
  return { kind, port, lifecycle, runs, entered, open: () => openRaw(port, kind === "https"), native: server };
}
