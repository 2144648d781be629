// A server process that misbehaves on request, for test/faults.test.ts and test/supervisor-faults.test.ts.
// GS_FAULT is a comma list of:
//   gate        while the file GS_GATE_FILE exists: print {"event":"gated"} and wait for SIGUSR1 before serving
//   ignore-term while gated, SIGTERM is ignored (printed as {"event":"term-ignored"})
//   fail        while the file GS_FAIL_FILE exists: exit 3 at start
//   bogus-ready as a restart successor: claim "ready" for a port it does not serve, then idle
//   title       set process.title after loading graceful-serve (the usual order)
//   title-first set process.title before loading graceful-serve
//   hook-hang   serve with an onShutdown hook that never settles (timeout 60 s)
//   no-ready    serve on GS_PORT and never call ready()
// Otherwise it runs runtimes/fixtures/server.mjs (JSON events on stdout; GS_OPTIONS, GS_ENTRY).
import fs from "node:fs";
import process from "node:process";

const faults = new Set((process.env.GS_FAULT ?? "").split(",").filter(Boolean));
const emit = (event, data = {}) => console.log(JSON.stringify({ event, pid: process.pid, ...data }));

if (faults.has("fail") && fs.existsSync(process.env.GS_FAIL_FILE)) process.exit(3);
if (faults.has("gate") && fs.existsSync(process.env.GS_GATE_FILE)) {
  if (faults.has("ignore-term")) process.on("SIGTERM", () => emit("term-ignored"));
  const released = new Promise((resolve) => process.once("SIGUSR1", resolve));
  const keepAlive = setInterval(() => {}, 1 << 30); // a signal listener alone does not keep Node running
  emit("gated");
  await released;
  clearInterval(keepAlive);
}
if (faults.has("bogus-ready") && process.env.GRACEFUL_SERVE_HANDOFF !== undefined) {
  fs.writeSync(4, `ready ${process.pid} port 1\n`);
  setInterval(() => {}, 1 << 30);
} else if (faults.has("no-ready")) {
  const { serve } = await import(process.env.GS_ENTRY);
  serve({ port: Number(process.env.GS_PORT), hostname: "127.0.0.1", fetch: () => new Response("x") });
} else if (faults.has("hook-hang")) {
  const { serve } = await import(process.env.GS_ENTRY);
  const server = serve({ port: 0, hostname: "127.0.0.1", deadline: 20_000, fetch: () => new Response("x") });
  server.onShutdown(() => {
    emit("hook");
    return new Promise(() => {});
  }, { name: "stuck", timeout: 60_000 });
  server.finished.then((report) => emit("report", { ...report, errors: report.errors.map(String) }));
  await server.ready();
  emit("ready", { port: server.port, url: server.url });
} else {
  if (faults.has("title-first")) process.title = "myapp";
  await import(process.env.GS_ENTRY);
  if (faults.has("title")) process.title = "myapp";
  await import(new URL("../../runtimes/fixtures/server.mjs", import.meta.url).href);
}
