// Runtime facts: aborting the `signal` given to Deno.serve WITHOUT calling shutdown() first (Deno 2.9.6;
// docs/runtimes.md cites the IDs). D2/D3 (runtime-facts.test.ts) are the abort AFTER shutdown(), a fatal
// uncaught BadResource; these facts are what a force-close at the deadline can rest on instead.
// The BARE primitive (no library code): runtimes/fixtures/deno-abort.mjs, spawned on Deno, prints JSON
// events; the test drives it with raw sockets on 127.0.0.1 and waits for events only (no sleeps, no
// timing limits). Run one with `node runtimes/test-all.mjs --only deno runtime-facts-deno-abort -t "D-h11-7:"`.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { follow, type Proc } from "./_helpers/procs.ts";
import { type CloseKind, connectOutcome, RawConnection, type RawResponse } from "./_helpers/raw-http.ts";

const T = 30_000;
const FIXTURE = fileURLToPath(new URL("../runtimes/fixtures/deno-abort.mjs", import.meta.url));
const g = globalThis as { Deno?: { execPath(): string } };

const procs: Proc[] = [];
const conns: RawConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await p.exited;
  }
});

/** The fixture on Deno, once it listens. */
async function fixture(): Promise<{ p: Proc; port: number }> {
  const p = follow(g.Deno!.execPath(), ["run", "-A", FIXTURE], {}, "pipe");
  procs.push(p);
  const { port } = await p.waitFor("ready");
  return { p, port: port as number };
}

async function open(port: number): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  conns.push(c);
  return c;
}

/** Resolves once the bytes received on `c` from now on contain `text` (a streaming body is flowing). */
function received(c: RawConnection, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes(text)) done(), resolve();
    };
    const onClose = () => (done(), reject(new Error(`socket closed before ${JSON.stringify(text)}`)));
    const done = () => (c.socket.off("data", onData), c.socket.off("close", onClose));
    c.socket.on("data", onData);
    c.socket.on("close", onClose);
  });
}

/** A connection whose handler awaits a promise that never settles (its "handling" seen). */
async function hanging(p: Proc, port: number) {
  const c = await open(port);
  const response = c.response().then((r) => r, (e: Error) => e);
  c.send("/hang");
  await p.waitFor("handling", (e) => e.path === "/hang");
  return { c, response };
}

/** A POST announcing 1000 body bytes, sending 3; its handler is awaiting request.text(). */
async function uploading(p: Proc, port: number) {
  const c = await open(port);
  const response = c.response().then((r) => r, (e: Error) => e);
  c.socket.write(
    "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc",
  );
  await p.waitFor("reading-body");
  return { c, response };
}

/** A keep-alive connection that already got a complete response and is idle. */
async function idle(port: number) {
  const c = await open(port);
  c.send("/ok");
  const first = await c.response();
  assert.equal(first.status, 200);
  assert.equal(first.complete, true);
  assert.notEqual(first.headers.connection, "close", "the connection stays open");
  return { c };
}

/**
 * Aborts the serve signal (shutdown() is never called). Then ends the fixture's stdin (its command
 * channel, which would keep it alive) unless `keepStdin`.
 */
function abort(p: Proc, keepStdin = false): void {
  p.send({ cmd: "abort" });
  if (!keepStdin) p.child.stdin!.end();
}

/** A response read that ended without a response: the socket closed first. */
function noResponse(r: RawResponse | Error): void {
  assert.ok(r instanceof Error, `no response, got ${JSON.stringify(r)}`);
  assert.match(r.message, /connection closed before a response/);
}

/** The events the fixture reports for an uncaught error, an unhandled rejection or a Deno onError call. */
function errorsReported(p: Proc) {
  return p.events.filter((e) => ["global-error", "unhandled-rejection", "on-error"].includes(e.event));
}

describe.skipIf(runtime !== "deno")("Deno 2.9.6: aborting the Deno.serve signal without shutdown()", () => {
  it(
    "D-h11-7: aborting the serve signal without shutdown() closes every connection (a handler pending forever, a handler awaiting a request body, an idle keep-alive connection); server.finished resolves and the listener is closed",
    async () => {
      const { p, port } = await fixture();
      const hang = await hanging(p, port);
      const upload = await uploading(p, port);
      const keepAlive = await idle(port);
      abort(p, true); // stdin stays open: the process lives on, so the listener check below is the abort's
      await p.waitFor("abort-called");
      const closes: CloseKind[] = await Promise.all([hang.c.closed, upload.c.closed, keepAlive.c.closed]);
      assert.deepEqual(closes, ["end", "end", "end"], "each closed with a FIN, no reset");
      noResponse(await hang.response);
      noResponse(await upload.response);
      assert.equal(keepAlive.c.pending, "", "nothing more arrived on the idle connection");
      await p.waitFor("finished");
      assert.equal(p.events.some((e) => e.event === "finished-rejected"), false);
      assert.equal(await connectOutcome(port), "ECONNREFUSED", "the listener is closed too");
      assert.equal(p.child.exitCode, null, "by the abort, not by the process exiting");
    },
    T,
  );

  it(
    "D-h11-8: after that abort the process exits by itself with code 0 while a handler is still pending forever (the pending handler keeps nothing alive)",
    async () => {
      const { p, port } = await fixture();
      await hanging(p, port);
      await uploading(p, port);
      await idle(port);
      abort(p);
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      const unload = p.events.find((e) => e.event === "unload");
      assert.equal(unload?.pendingHandlers, 1, "exited with the /hang handler still pending");
      assert.deepEqual(
        p.events.filter((e) => e.event === "handler-settled").map((e) => e.path),
        ["/ok", "/upload"],
        "the /hang handler never settled",
      );
      assert.deepEqual(errorsReported(p), []);
    },
    T,
  );

  it(
    'D-h11-9: a handler awaiting request.text() when the signal is aborted sees it reject (BadResource: "Cannot read body as underlying resource unavailable"); nothing reaches the global error/unhandledrejection listeners',
    async () => {
      const { p, port } = await fixture();
      const upload = await uploading(p, port);
      abort(p);
      const rejected = await p.waitFor("body-rejected");
      assert.equal(rejected.isError, true);
      assert.equal(rejected.name, "BadResource");
      assert.equal(rejected.message, "Cannot read body as underlying resource unavailable");
      assert.equal(await upload.c.closed, "end");
      noResponse(await upload.response);
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.equal(p.events.some((e) => e.event === "body-read"), false);
      assert.deepEqual(errorsReported(p), []);
    },
    T,
  );

  it(
    "D-h11-10: a handler that returns its Response after the abort (after server.finished) causes no uncaught error and no unhandled rejection; the client got no response",
    async () => {
      const { p, port } = await fixture();
      const c = await open(port);
      const response = c.response().then((r) => r, (e: Error) => e);
      c.send("/late");
      await p.waitFor("handling", (e) => e.path === "/late");
      abort(p);
      await p.waitFor("answering-late");
      await p.waitFor("handler-settled", (e) => e.path === "/late");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.equal(await c.closed, "end");
      noResponse(await response);
      assert.deepEqual(errorsReported(p), []);
    },
    T,
  );

  it(
    "D-h11-11: a streaming response that never ends is cut by the abort: the client sees the connection close without the last chunk, and the stream's cancel() is called (reason: the string 'resource closed')",
    async () => {
      const { p, port } = await fixture();
      const c = await open(port);
      c.send("/stream");
      const flowing = received(c, "tick 1\n");
      const response = c.response();
      await p.waitFor("streaming");
      await flowing;
      abort(p);
      const r = await response;
      assert.equal(r.status, 200);
      assert.match(r.headers["transfer-encoding"] ?? "", /chunked/);
      assert.equal(r.complete, false, "no terminating chunk");
      assert.match(r.body, /^tick 0\ntick 1\n/);
      assert.equal(await c.closed, "end");
      const cancelled = await p.waitFor("stream-cancelled");
      assert.deepEqual([cancelled.type, cancelled.message], ["string", "resource closed"], "the reason is a string");
      // cancel() cleared the interval: nothing is left to keep the process alive.
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.deepEqual(errorsReported(p), []);
    },
    T,
  );
});
