// A minimal HTTP/1.1 client on raw sockets, to 127.0.0.1 only: one GET per connection, and the
// connection stays open afterwards (as a keep-alive client or pool would leave it).
import net from "node:net";

export const HOST = "127.0.0.1";

/**
 * Opens a connection to 127.0.0.1:`port`, sends `GET path`, and resolves once `marker` has arrived
 * (the body of a short response, or the first chunk of a stream). Rejects after `timeoutMs`, or when
 * the server closes first. The returned handle records when the server closed the connection.
 */
export function openRequest(port, path, marker, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST });
    const handle = { socket, closedAt: undefined, received: "" };
    let settled = false;
    const settle = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(handle);
    };
    const timer = setTimeout(() => settle(new Error(`GET ${path}: no "${marker}" within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    socket.once("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`));
    socket.on("data", (chunk) => {
      if (settled) return; // endless streams: stop keeping what arrives
      handle.received += chunk;
      if (handle.received.includes(marker)) settle();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      handle.closedAt = performance.now();
      settle(new Error(`GET ${path}: connection closed before "${marker}" (got ${JSON.stringify(handle.received.slice(0, 120))})`));
    });
  });
}

/** Opens `n` connections at once, each with one completed request; resolves with their handles. */
export async function openMany(n, port, path, marker, timeoutMs = 5000) {
  const results = await Promise.allSettled(Array.from({ length: n }, () => openRequest(port, path, marker, timeoutMs)));
  const handles = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    closeAll(handles);
    throw failed.reason;
  }
  return handles;
}

export function closeAll(handles) {
  for (const h of handles ?? []) h.socket.destroy();
}
