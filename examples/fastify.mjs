// A Fastify app made graceful with attach() on its underlying node:http server (`fastify.server`).
// Fastify's own close() waits for keep-alive sockets; attach() closes idle ones at once, tells
// in-flight responses `Connection: close`, and enforces a deadline.
//   node examples/fastify.mjs      (after `npm run build`; `npm install graceful-serve fastify` in your project)
import process from "node:process";
import Fastify from "fastify";
import { attach } from "graceful-serve";

const fastify = Fastify();
fastify.get("/", () => `hello from Fastify, pid ${process.pid}\n`);
fastify.get("/slow", async (request) => {
  console.log(`slow request started (pid ${process.pid})`);
  await new Promise((resolve) => setTimeout(resolve, Number(request.query.ms ?? 2000)));
  return `slow request served by pid ${process.pid}\n`;
});

await fastify.listen({ port: Number(process.env.PORT ?? 8000), host: process.env.HOST ?? "127.0.0.1" });
console.error(`[fastify] listening on http://127.0.0.1:${fastify.server.address().port}/`);
const lifecycle = attach(fastify.server, { deadline: 10_000 });
// Fastify's onClose hooks (plugins' cleanup) run after the drain.
lifecycle.onShutdown(() => fastify.close(), { name: "fastify" });
