// An Express app made graceful with attach(): Ctrl+C / SIGTERM stops accepting, closes idle
// keep-alive connections, lets requests in flight finish (with Connection: close), runs the
// shutdown hooks, and exits 0 — or force-closes at the deadline and exits 1.
//   node examples/express.mjs      (after `npm run build`; `npm install graceful-serve express` in your project)
import process from "node:process";
import express from "express";
import { attach } from "graceful-serve";

const app = express();
app.get("/", (_req, res) => res.send(`hello from Express, pid ${process.pid}\n`));
app.get("/slow", async (req, res) => {
  // A long request: it completes even if a shutdown starts meanwhile.
  console.log(`slow request started (pid ${process.pid})`);
  await new Promise((resolve) => setTimeout(resolve, Number(req.query.ms ?? 2000)));
  res.send(`slow request served by pid ${process.pid}\n`);
});

const server = app.listen(Number(process.env.PORT ?? 8000), process.env.HOST ?? "127.0.0.1", () => {
  console.error(`[express] listening on http://127.0.0.1:${server.address().port}/`);
});
const lifecycle = attach(server, { deadline: 10_000 });
lifecycle.onShutdown(() => console.error("[express] closing the database pool"), { name: "db" });
