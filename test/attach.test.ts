// attach(): the lifecycle on a server the user built (Express on Node, Deno.serve, Bun.serve).
import assert from "node:assert/strict";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { attach } from "../src/mod.ts";
import { type Fixture, runtime, startFixture } from "./_helpers/fixture.ts";
import { hangingRequestCutAtDeadline } from "./_helpers/scenarios.ts";
import { connectOutcome, RawConnection } from "./_helpers/raw-http.ts";

const T = 30_000;
const script = fileURLToPath(new URL("../runtimes/fixtures/attached.mjs", import.meta.url));
let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture && fixture.child.exitCode === null && fixture.child.signalCode === null) fixture.kill("SIGKILL");
  fixture = undefined;
});

describe("attach", () => {
  it("SIGTERM drains the user's server: the in-flight request completes, idle keep-alive closes, exit 0", async () => {
    const f = (fixture = await startFixture({}, script));
    const idle = await RawConnection.open(f.port);
    idle.send("/");
    assert.equal((await idle.response()).body, "hello");
    const conn = await RawConnection.open(f.port);
    conn.send("/slow?ms=600");
    await f.waitFor("handling");
    f.kill("SIGTERM");
    assert.equal(await idle.closed, "end", "idle keep-alive closed");
    const response = await conn.response();
    assert.equal(response.body, "slow done");
    assert.equal(response.complete, true);
    // Deno 2.9 and Bun 1.4 close the socket after it without saying so (docs/runtimes.md);
    // on Node attach() adds the header to the user's response.
    if (runtime === "node") assert.equal(response.headers.connection, "close");
    assert.equal(await conn.closed, "end");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    assert.equal(await connectOutcome(f.port), "ECONNREFUSED");
    const report = f.events.find((e) => e.event === "report")!;
    assert.equal(report.graceful, true);
    if (runtime !== "deno") assert.ok((report.inFlight as number) >= 1, "in-flight counted (not on Deno)");
  }, T);

  it("a hanging request is cut at the deadline: exit 1", async () => {
    const f = (fixture = await startFixture({ deadline: 400 }, script));
    await hangingRequestCutAtDeadline(f);
  }, T);

  it.skipIf(runtime !== "node")("a Node HTTP/2 server: sessions get GOAWAY, the open stream finishes", async () => {
    const http2 = await import("node:http2");
    const server = http2.createServer();
    let arrived!: () => void;
    const streamArrived = new Promise<void>((resolve) => (arrived = resolve));
    server.on("stream", (stream, headers) => {
      arrived();
      const ms = headers[":path"] === "/slow" ? 300 : 0;
      setTimeout(() => {
        stream.respond({ ":status": 200 });
        stream.end("done");
      }, ms);
    });
    const lifecycle = attach(server, { signals: false, logger: false, deadline: 10_000 });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.address() as { port: number }).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const goaway = new Promise<void>((resolve) => client.once("goaway", () => resolve()));
    const req = client.request({ ":path": "/slow" });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (body += d));
    const ended = new Promise<void>((resolve) => req.once("end", () => resolve()));
    await streamArrived; // GOAWAY then names it as processed, so it is finished, not refused
    const report = lifecycle.shutdown();
    await goaway;
    await ended;
    assert.equal(body, "done", "the stream open at GOAWAY finished");
    const r = await report;
    assert.equal(r.graceful, true);
    client.close();
    assert.equal(await connectOutcome(port), "ECONNREFUSED");
  }, T);

  it("rejects what is not a server", () => {
    assert.throws(
      () => attach({} as never),
      (e: unknown) => e instanceof TypeError && /attach\(\) needs a server/.test(e.message),
    );
    assert.throws(() => attach(null as never), TypeError);
    // Issue 13.13: a null options object names the option instead of a raw "cannot read properties".
    const idle = http.createServer();
    assert.throws(() => attach(idle, null as never), { name: "TypeError", message: /option "options"/ });
    assert.throws(() => attach(idle, 5 as never), { name: "TypeError", message: /option "options"/ });
  });
});
