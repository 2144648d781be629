// The bare server test/nginx.test.ts measures beside graceful-serve: the runtime's own HTTP server,
// as one would write it without graceful-serve. On SIGTERM, by default, the runtime's own graceful
// stop:
//   Node: server.close() + closeIdleConnections(), exit when closed;
//   Deno: Deno.serve, httpServer.shutdown(), exit;  Bun: Bun.serve, server.stop(), exit.
// With { onSigterm: "die" } no handler is installed: SIGTERM kills the process.
// Same routes as runtimes/fixtures/server.mjs (GET /pid, POST /text) and the same "ready" event.
// Options (GS_OPTIONS, JSON): { port, onSigterm }.
import process from "node:process";

const { port = 0, onSigterm = "stop" } = JSON.parse(process.env.GS_OPTIONS ?? "{}");
const handle = onSigterm !== "die";
const emit = (event, data = {}) => console.log(JSON.stringify({ event, ...data }));

async function answer(request) {
  const path = new URL(request.url, "http://x").pathname;
  if (path === "/pid") return { status: 200, body: String(process.pid) };
  if (path === "/text") return { status: 200, body: `${request.method} ${(await request.text()).length}` };
  return { status: 404, body: "not found" };
}
const toResponse = ({ status, body }) => new Response(body, { status });

if (globalThis.Deno) {
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", onListen: () => {} },
    async (request) => toResponse(await answer(request)),
  );
  if (handle) Deno.addSignalListener("SIGTERM", () => server.shutdown().then(() => Deno.exit(0)));
  emit("ready", { port: server.addr.port, url: `http://127.0.0.1:${server.addr.port}/`, pid: process.pid });
} else if (globalThis.Bun) {
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: async (request) => toResponse(await answer(request)),
  });
  if (handle) process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
  emit("ready", { port: server.port, url: `http://127.0.0.1:${server.port}/`, pid: process.pid });
} else {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("latin1");
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const path = req.url.split("?")[0];
      const text = path === "/pid"
        ? String(process.pid)
        : path === "/text"
        ? `${req.method} ${body.length}`
        : "not found";
      res.writeHead(path === "/pid" || path === "/text" ? 200 : 404, { "content-type": "text/plain" }).end(text);
    });
  });
  server.listen(port, "127.0.0.1", () => {
    const { port } = server.address();
    emit("ready", { port, url: `http://127.0.0.1:${port}/`, pid: process.pid });
  });
  if (handle) {
    process.on("SIGTERM", () => {
      server.close(() => process.exit(0));
      server.closeIdleConnections();
    });
  }
}
