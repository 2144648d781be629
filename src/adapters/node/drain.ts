/**
 * The drain of a `node:http` (or `https`) server — shared by `serve()` and `attach()`, on Node and on
 * the `node:http` of Deno and Bun (Express and Fastify run there too).
 *
 * The rule (issue 12): a connection is closed by the drain only when no request can be on it.
 * - A request that reaches the server during the drain is served, with `Connection: close`; a request
 *   pipelined behind a response that closes its connection is never run (the client sees the
 *   connection close before its answer and may retry it, RFC 9112 §9.3.2) — never run and then dropped.
 * - An idle keep-alive connection is closed only after a quiet period (`connectionGrace`): at the
 *   signal its next request may already sit in the socket buffer, unread (Go's `Shutdown` waits for
 *   `StateNew` connections the same way).
 * - A request that has begun to arrive (a slowloris) is in flight: the deadline cuts it, and the
 *   report says so (issue 11, defect 5).
 * @module
 */

import type http from "node:http";
import net, { type Socket } from "node:net";
import type { Drainable, Lifecycle } from "../../core/lifecycle.ts";

/** Node's per-server connection list (`lib/_http_server.js`, kConnections), present since Node 18.2. */
interface ConnectionList {
  all(): Array<{ socket: Socket }>;
  active(): Array<{ socket: Socket }>;
}

/** The last response created on a connection (pipelined ones queue before it in Node). */
const kLast = Symbol("graceful-serve.lastResponse");
/** A response that closes the connection is queued on it: later pipelined requests are not run. */
const kClosing = Symbol("graceful-serve.closing");
/** The connection was handed to an `upgrade` listener (a WebSocket): not ours to close as idle. */
const kUpgraded = Symbol("graceful-serve.upgraded");
/** When the drain first saw the connection idle. */
const kIdleSince = Symbol("graceful-serve.idleSince");

type Tracked = Socket & {
  [kLast]?: http.ServerResponse;
  [kClosing]?: boolean;
  [kUpgraded]?: boolean;
  [kIdleSince]?: number;
};

function internal(server: http.Server, description: string): unknown {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === description);
  return key === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[key];
}

/** Node's list; `undefined` on Deno 2.9 (a list of another shape, NH1) and Bun 1.4 (none, NH2). */
function nodeList(server: http.Server): ConnectionList | undefined {
  const list = internal(server, "http.server.connections") as Partial<ConnectionList> | undefined;
  return typeof list?.all === "function" && typeof list.active === "function" ? list as ConnectionList : undefined;
}

/**
 * Deno 2.9's port of the same list (NH1, NH6): every socket in `_all`, and in `_active` those whose
 * request is arriving (or that are fresh) — what Node's `active()` answers. Read only to tell a
 * slowloris from an idle connection (issue 11.5); `undefined` when the shape differs (then such a
 * connection looks idle, as before).
 */
function denoActive(server: http.Server): Socket[] | undefined {
  const list = internal(server, "http.server.connections") as { _active?: unknown } | undefined;
  // Deno's primordial SafeMap is not `instanceof Map` (another realm's class): checked by shape.
  const active = list?._active as { keys?: () => Iterable<unknown> } | null | undefined;
  if (active === null || typeof active !== "object" || typeof active.keys !== "function") return undefined;
  const sockets: Socket[] = [];
  for (const key of active.keys()) if (key instanceof net.Socket) sockets.push(key);
  return sockets;
}

/** A response is being made on the connection: its last response is not yet handed to the socket. */
function answering(socket: Tracked): boolean {
  const last = socket[kLast];
  return last !== undefined && !last.writableFinished && !last.destroyed;
}

/**
 * The drain of a `node:http` (or `https`) server; see the module comment for the rule.
 * @internal
 */
export function nodeDrainable(
  httpServer: http.Server,
  lifecycle: Lifecycle,
  options: { connectionGrace: number },
): Drainable {
  const quiet = options.connectionGrace;
  // Where Node's own list is missing (Deno, Bun: NH1, NH2), the connections are tracked here; decided
  // at the first connection (Node makes its list when listening).
  let own: Set<Tracked> | undefined;
  let decided = false;
  // Over TLS the socket a request arrives on is the TLS one, made at `secureConnection`.
  const connectionEvent = typeof (httpServer as unknown as { addContext?: unknown }).addContext === "function"
    ? "secureConnection"
    : "connection";
  const list = (): Tracked[] => {
    const node = nodeList(httpServer);
    if (node) return node.all().map((c) => c.socket);
    return own ? [...own] : [];
  };
  /**
   * Sockets with a request partly received: Node's parser knows (NH0), Deno's port keeps the same
   * list under other names (NH6); on Bun none are seen (NH2). A fresh connection is "active" too, but
   * has read nothing.
   */
  const arriving = (): Set<Socket> => {
    const node = nodeList(httpServer);
    const active = node ? node.active().map((c) => c.socket) : own ? denoActive(httpServer) ?? [] : [];
    const set = new Set<Socket>();
    for (const socket of active) {
      if (socket.bytesRead > 0 && !answering(socket)) set.add(socket);
    }
    // A request answered before its body arrived (an early 413) whose client is still uploading:
    // the rest of the body is still on its way, so the request is too. Node's list says so already;
    // Deno's drops the connection from `_active` once the response is sent (NH6).
    if (!node) {
      for (const socket of list()) {
        const req = (socket[kLast] as (http.ServerResponse & { req?: http.IncomingMessage }) | undefined)?.req;
        if (req !== undefined && req.complete === false && !socket.destroyed) set.add(socket);
      }
    }
    return set;
  };

  let draining = false;
  // One wrapper around the server's `emit`, not a listener: a `request` listener of ours would not
  // stop the user's from running, and an `upgrade` listener would change how Node treats upgrades.
  // Per request it only notes the response on its socket. The arguments go on with `arguments`: a
  // rest parameter and a spread into a new array cost two allocations per request (bench/profile.mjs
  // showed the wrapper at 0.6–1.9 µs/request self time on Node 24 before).
  const emit = httpServer.emit;
  httpServer.emit = function (this: http.Server, event: string | symbol, a?: unknown, b?: unknown): boolean {
    if (event === "request" || event === "checkContinue") {
      const res = b as http.ServerResponse;
      const socket = (a as http.IncomingMessage).socket as Tracked;
      if (draining) {
        // Pipelined behind a response that closes the connection: never run (it could not be answered).
        if (socket[kClosing]) return true;
        res.setHeader("connection", "close");
        socket[kClosing] = true;
      }
      socket[kLast] = res;
    } else if (event === "upgrade") {
      ((a as http.IncomingMessage).socket as Tracked)[kUpgraded] = true;
    } else if (event === connectionEvent) {
      if (!decided) {
        decided = true;
        if (!nodeList(httpServer)) own = new Set();
      }
      if (own) {
        const socket = a as Tracked;
        const set = own;
        set.add(socket);
        socket.once("close", () => set.delete(socket));
      }
    }
    return (emit as (...args: unknown[]) => boolean).apply(this, arguments as unknown as unknown[]);
  };

  let sweepTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepAt = Infinity;
  let sweeping = false;
  const watched = new WeakSet<http.ServerResponse>();
  const discarding = new WeakSet<http.IncomingMessage>();
  /**
   * A request answered while its body is unfinished (issue 11.2) is in flight until the rest arrives.
   * Node discards such a body itself once the response is sent, if the handler never read it
   * (`resOnFinish` → `req._dump()`); Deno 2.9's port leaves it paused (NH7), so a body that had all
   * been sent would hold the drain to the deadline. Done here, at drain time only (own tracking, i.e.
   * not on Node): read the rest, and look again when it ends. A client that stalls its upload stays
   * in flight and is cut.
   */
  const discardUnread = (res: http.ServerResponse) => {
    const req = (res as http.ServerResponse & { req?: http.IncomingMessage }).req;
    if (req === undefined || req.complete || req.destroyed || discarding.has(req)) return;
    discarding.add(req);
    req.once("end", () => schedule(Date.now()));
    // Not Node's `_consuming` test: Deno's port sets it for a body nobody read. After the response
    // nobody needs the rest; a reader still attached gets it, otherwise it is dropped.
    req.resume();
  };
  /** Closes connections idle for the quiet period; plans the next look. One timer at a time. */
  const sweep = () => {
    sweepTimer = undefined;
    sweepAt = Infinity;
    const now = Date.now();
    const partial = arriving();
    for (const socket of list()) {
      if (socket[kUpgraded] || socket.destroyed) continue;
      if (answering(socket) || partial.has(socket)) {
        socket[kIdleSince] = undefined;
        const last = socket[kLast];
        // A response that keeps the connection (its headers went out before the drain): look again
        // when it is done.
        if (last && !socket[kClosing] && !watched.has(last)) {
          watched.add(last);
          last.once("finish", () => {
            socket[kIdleSince] = Date.now();
            schedule(socket[kIdleSince] + quiet);
          });
        }
        if (own && last?.writableFinished) discardUnread(last);
        continue;
      }
      const since = socket[kIdleSince] ??= now;
      if (now - since >= quiet) {
        if (typeof socket.destroySoon === "function") socket.destroySoon();
        else socket.end();
      } else schedule(since + quiet);
    }
  };
  const schedule = (at: number) => {
    if (!sweeping || at >= sweepAt) return;
    clearTimeout(sweepTimer);
    sweepAt = at;
    sweepTimer = setTimeout(sweep, Math.max(0, at - Date.now()));
  };

  lifecycle.signal.addEventListener("abort", () => {
    draining = true;
    for (const socket of list()) {
      const last = socket[kLast];
      // The response still to be written last on the connection says it closes it; those queued
      // before it (pipelined, their handlers ran) are answered first. One whose headers went out
      // already (a stream) cannot: its connection goes idle afterwards and gets the quiet period.
      if (last && answering(socket) && !last.headersSent) {
        last.setHeader("connection", "close");
        socket[kClosing] = true;
      }
    }
  }, { once: true });

  let closed: Promise<void> | undefined;
  return {
    inFlight() {
      let n = 0;
      const partial = arriving();
      for (const socket of list()) if (answering(socket) || partial.has(socket)) n++;
      return n;
    },
    drain(reason) {
      closed ??= new Promise<void>((resolve) => {
        if (!httpServer.listening) {
          // Never bound (listen failed or still pending): nothing to drain.
          httpServer.once("listening", () => httpServer.close());
          return resolve();
        }
        const done = () => {
          clearTimeout(sweepTimer);
          resolve();
        };
        stopAccepting(httpServer, done);
        // After a restart the successor answers on this very port, so a client or proxy holding an
        // idle keep-alive connection is let go of it in its own time: the connection ends after its
        // next response (Connection: close) or at the server's keep-alive timeout.
        if (reason !== "restart") {
          sweeping = true;
          sweep();
        }
      });
      return closed;
    },
    forceClose() {
      sweeping = false;
      clearTimeout(sweepTimer);
      if (nodeList(httpServer)) httpServer.closeAllConnections();
      else for (const socket of list()) socket.destroy();
      return closed;
    },
  };
}

/**
 * Stops accepting without closing idle connections (their next request may be on the wire): the
 * `net.Server` close under `http.Server#close()`, which also closes idle ones at once. `done` runs once
 * the last connection is gone.
 */
function stopAccepting(httpServer: http.Server, done: () => void): void {
  // Bun 1.4 (NH3): `net.Server#close` does not work on its `http.Server`, whose `close()` asks the
  // native server to close idle connections first; that one call is skipped.
  const bun = internal(httpServer, "::bunternal::") as { closeIdleConnections?: () => unknown } | undefined;
  if (bun && typeof bun.closeIdleConnections === "function") {
    const own = Object.hasOwn(bun, "closeIdleConnections");
    const original = bun.closeIdleConnections;
    bun.closeIdleConnections = () => 0;
    try {
      httpServer.close(() => done());
    } finally {
      if (own) bun.closeIdleConnections = original;
      else delete bun.closeIdleConnections;
    }
    return;
  }
  net.Server.prototype.close.call(httpServer, () => done());
}
