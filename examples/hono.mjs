// A Hono app served through graceful-serve: Ctrl+C / SIGTERM stops accepting, lets requests in
// flight finish (up to the deadline), then exits 0. The same file runs on every runtime:
//   node examples/hono.mjs          (after `npm run build`; "graceful-serve" resolves to this package)
//   deno run -A examples/hono.mjs   ("graceful-serve" via deno.json imports, "hono" from node_modules)
//   bun examples/hono.mjs
// In your own project: `npm install graceful-serve hono` (or `deno add jsr:@graceful/serve npm:hono`).
import process from "node:process";
import { Hono } from "hono";
import { logger } from "hono/logger";
import { serve } from "graceful-serve";

const app = new Hono();
app.use(logger()); // "<-- GET /slow" when a request arrives, "--> GET /slow 200 2s" when answered

app.get("/", (c) => {
  // graceful-serve passes its ServeInfo as Hono's `c.env`: remoteAddr and waitUntil (and what Hono's
  // runtime helpers read, so getConnInfo from hono/bun, hono/deno or @hono/node-server works too).
  const client = c.env?.remoteAddr?.hostname ?? "unknown";
  return c.text(`hello from Hono, pid ${process.pid}, client ${client}\n`);
});

app.get("/slow", async (c) => {
  // A long request: it completes even if a shutdown starts meanwhile.
  const ms = Number(c.req.query("ms") ?? 2000);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return c.text(`slow request (${ms} ms) served by pid ${process.pid}\n`);
});

const server = serve({
  fetch: app.fetch,
  port: Number(process.env.PORT ?? 8000),
  hostname: process.env.HOST ?? "127.0.0.1",
  deadline: 10_000, // force-close whatever is still open 10 s after SIGTERM
});

await server.ready(); // logs "[graceful-serve] listening on http://127.0.0.1:8000/ (pid …)" to stderr
