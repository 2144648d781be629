// The example server: a plain fetch handler that drains on Ctrl+C / SIGTERM and restarts with zero
// downtime on SIGHUP. Runs unchanged on Node (`node examples/server.mjs`, after `npm run build`),
// Deno (`deno run -A --unstable-net examples/server.mjs`) and Bun (`bun examples/server.mjs`).
import process from "node:process";
import { serve } from "graceful-serve";

const server = serve({
  port: Number(process.env.PORT ?? 8000),
  hostname: process.env.HOST ?? "127.0.0.1",
  deadline: 10_000, // force-close whatever is still open 10 s after SIGTERM
  healthPath: "/healthz", // 200 while serving, 503 from the moment draining starts (readiness probes)
  drainDelay: Number(process.env.DRAIN_DELAY ?? 0), // behind a load balancer: keep serving this long after SIGTERM
  restart: { pidFile: process.env.PID_FILE }, // SIGHUP: a successor takes the port, then this one drains
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/slow") {
      // A long request: it completes even if a shutdown or restart starts meanwhile.
      console.log(`slow request started (pid ${process.pid})`);
      await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get("ms") ?? 2000)));
      return new Response(`slow request served by pid ${process.pid}\n`);
    }
    return new Response(`hello from pid ${process.pid}\n`);
  },
});

await server.ready();
