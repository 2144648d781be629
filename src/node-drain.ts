/**
 * The drain of a `node:http` server on Node's own connection list — shared by `serve()` and `attach()`.
 * @module
 */

import type http from "node:http";
import net, { type Socket } from "node:net";
import type { Drainable, Lifecycle } from "./lifecycle.ts";

/** Node's per-server connection list (`lib/_http_server.js`, kConnections), present since Node 18.2. */
interface ConnectionList {
  all(): Array<{ socket: Socket }>;
  idle(): Array<{ socket: Socket }>;
  active(): Array<{ socket: Socket }>;
}

function internal<T>(server: http.Server, description: string): T | undefined {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === description);
  return key === undefined ? undefined : (server as unknown as Record<symbol, T>)[key];
}

/** A socket with no request in progress: Node's own test in `closeIdleConnections()`. */
function isIdle(socket: Socket): boolean {
  const message = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  return !message || message.writableEnded;
}

/**
 * The drain of a `node:http` (or `https`) server, on Node's own connection list: `close()` stops
 * accepting and closes idle keep-alive sockets, accepted-but-silent sockets get `connectionGrace`,
 * responses made while draining say `Connection: close`, and the deadline closes everything.
 * `ownsResponses: false` (attach) marks the user's responses through their headers instead.
 * @internal
 */
export function nodeDrainable(
  httpServer: http.Server,
  lifecycle: Lifecycle,
  options: { connectionGrace: number; ownsResponses: boolean },
): Drainable {
  const connections = () => internal<ConnectionList>(httpServer, "http.server.connections");
  if (!options.ownsResponses) {
    // The user's handler writes the responses: add the header before it runs, once draining.
    httpServer.prependListener("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (lifecycle.state !== "serving") res.setHeader("connection", "close");
    });
  }
  lifecycle.signal.addEventListener("abort", () => {
    for (const { socket } of connections()?.all() ?? []) {
      const message = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
      if (!message || message.writableEnded) continue;
      if (message.headersSent) {
        // Headers went out before draining began (a stream): close the socket once it finishes.
        message.once("finish", () => socket.end());
      } else if (!options.ownsResponses) {
        message.setHeader("connection", "close");
      }
    }
  }, { once: true });

  let closed: Promise<void> | undefined;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  return {
    inFlight() {
      let n = 0;
      for (const { socket } of connections()?.all() ?? []) if (!isIdle(socket)) n++;
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
          clearTimeout(graceTimer);
          resolve();
        };
        if (reason === "restart") {
          // The successor answers on this very port, so a client holding an idle keep-alive
          // connection (a proxy's pool) may send on it any moment: closing it now would race that
          // request. Stop accepting only; each idle connection ends after its next response
          // (Connection: close) or at Node's keep-alive timeout.
          net.Server.prototype.close.call(httpServer, done);
        } else {
          // Stops accepting and closes idle keep-alive sockets at once; the callback fires when the
          // last connection is gone — Node's own count, so no bookkeeping here.
          httpServer.close(done);
        }
        // Node counts an accepted connection with no bytes yet as active, not idle, so close() left
        // it open. Its request may be on the wire: give it the grace, then close it if still silent.
        if (connections()?.active().some(({ socket }) => socket.bytesRead === 0)) {
          graceTimer = setTimeout(() => {
            for (const { socket } of connections()?.active() ?? []) if (socket.bytesRead === 0) socket.destroy();
          }, options.connectionGrace);
        }
      });
      return closed;
    },
    forceClose() {
      clearTimeout(graceTimer);
      httpServer.closeAllConnections();
      return closed;
    },
  };
}
