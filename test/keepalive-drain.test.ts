// Issue 12: nothing lost on keep-alive and pipelined connections. A connection is closed by the drain
// only when no request can be on it; a request that reaches the server during the drain is served with
// `Connection: close`; a pipelined request the server will not answer is never run.
// serve() on this runtime, and attach() of node:http servers (http, https, Express, Fastify) — on Node,
// and on the node:http of Deno and Bun. Raw clients over 127.0.0.1, in process.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "vitest";
import type { ShutdownReport } from "../src/mod.ts";
import { type Kind, runtimeName, startSubject, type Subject } from "./_helpers/drain-servers.ts";
import { connectOutcome, type RawConnection } from "./_helpers/raw-http.ts";
import { readAll } from "./_helpers/responses.ts";

const T = 30_000;
let current: Subject | undefined;
afterEach(async () => {
  if (current && current.lifecycle.state !== "closed") await current.lifecycle.hammer("test over");
  current = undefined;
});

async function start(kind: Kind, options: Record<string, unknown> = {}): Promise<Subject> {
  current = await startSubject(kind, options);
  return current;
}

/** Sends `paths` pipelined, in one write. */
function pipeline(conn: RawConnection, paths: string[]): void {
  conn.socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(""));
}

/** Resolves once the client has received `text` (a body's first chunk: the headers went out). */
function received(conn: RawConnection, text: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (conn.pending.includes(text)) {
        conn.socket.off("data", check);
        resolve();
      }
    };
    conn.socket.on("data", check);
    check();
  });
}

/**
 * A subject of `kind` with one request on a raw connection when the drain begins: `/until-drain`
 * (its handler entered, answered once draining) or `/stream-until-drain` (headers and "foo" out).
 */
async function drainDuring(kind: Kind, path: "/until-drain" | "/stream-until-drain") {
  const s = await start(kind);
  const conn = await s.open();
  conn.send(path);
  if (path === "/until-drain") await s.entered(path);
  else await received(conn, "foo");
  return { s, conn, report: s.lifecycle.shutdown() };
}

/**
 * What a server kind on this runtime does differently, by runtime fact (docs/runtimes.md); every case
 * runs for every kind, and these decide what it asserts or, where the runtime makes it impossible,
 * that it is skipped.
 */
interface KindFacts {
  /** Deno.serve runs a pipelined request only once the response before it is written (DP1). */
  pipelinesOneAtATime: boolean;
  /** Bun.serve drops a request pipelined behind a pending async one (BP1). */
  dropsPipelined: boolean;
  /** Deno.serve keeps a connection after a Connection: close response until shutdown() (D6). */
  keepsAfterCloseHeader: boolean;
  /** Bun.serve leaves a connection that never sent a request open (B2). */
  leavesSilentOpen: boolean;
  /** Deno's node:http closes a connection once its response is done when the listener is closed (NH5). */
  closesAfterResponseOnceClosed: boolean;
  /** Bun's node:http does not see a plain-TCP connection before its first request, nor close it (NH4). */
  silentUnseen: boolean;
}

// serve() on every runtime (on Deno and Bun: src/adapters/deno.ts, bun.ts — serving with Connection:
// close until quiet, then shutdown()/stop(); issue 12, K1, B3); attach() of node:http servers built
// four ways on every runtime (Deno and Bun run Express and Fastify on their node:http).
const deno = runtimeName === "deno";
const bun = runtimeName === "bun";
const table: Array<[Kind, KindFacts]> = (["serve", "http", "https", "express", "fastify"] as const).map((kind) => [
  kind,
  kind === "serve"
    ? {
      pipelinesOneAtATime: deno,
      dropsPipelined: bun,
      keepsAfterCloseHeader: deno,
      leavesSilentOpen: bun,
      closesAfterResponseOnceClosed: false,
      silentUnseen: false,
    }
    : {
      pipelinesOneAtATime: false,
      dropsPipelined: false,
      keepsAfterCloseHeader: false,
      leavesSilentOpen: false,
      closesAfterResponseOnceClosed: deno,
      silentUnseen: bun && kind !== "https",
    },
]);

for (const [kind, facts] of table) {
  describe(`keep-alive drain: ${kind} on ${runtimeName}`, () => {
    // http-terminator "ongoing requests receive {connection: close} header (new request reusing an
    // existing socket)": response 0's headers went out before the drain; after it ends, request 1 on
    // the same socket is answered with Connection: close — not reset after its handler ran.
    it(
      "a request reusing a socket after the drain began is served, with Connection: close",
      async () => {
        const { s, conn, report } = await drainDuring(kind, "/stream-until-drain");
        const first = await conn.response();
        assert.equal(first.body, "foobar");
        assert.equal(first.complete, true);
        assert.notEqual(first.headers.connection, "close", "its headers went out before the drain");
        conn.send("/");
        if (facts.closesAfterResponseOnceClosed) {
          // NH5: closed after response 0 although it said keep-alive; request 1 is not run, so not lost.
          await assert.rejects(conn.response(), /connection closed before a response/);
          assert.equal(s.runs("/"), 0);
          assert.equal((await report).graceful, true);
          return;
        }
        const second = await conn.response();
        assert.equal(second.status, 200);
        assert.equal(second.body, "hello");
        assert.equal(second.headers.connection, "close");
        assert.equal(s.runs("/"), 1);
        assert.equal(await conn.closed, "end");
        assert.equal((await report).graceful, true);
      },
      T,
    );

    // http-terminator "ongoing requests receive {connection: close} header".
    it("a response in flight when the drain begins says Connection: close, and its socket then closes", async () => {
      const { conn, report } = await drainDuring(kind, "/until-drain");
      const response = await conn.response();
      assert.equal(response.body, "done");
      assert.equal(response.headers.connection, "close");
      assert.equal(await conn.closed, "end");
      const r = await report;
      assert.equal(r.graceful, true);
      assert.equal(r.inFlight >= 1, true, `inFlight ${r.inFlight}`);
    }, T);

    // Defect 3: the next request is already in the socket buffer, unread, when the drain begins. The
    // connection is "idle" to the server; closing it then resets a request the client has sent.
    it(
      "an idle keep-alive connection whose next request is already sent is served, not reset",
      async () => {
        const s = await start(kind);
        const conn = await s.open();
        conn.send("/");
        assert.equal((await conn.response()).body, "hello");
        conn.send("/"); // written to the kernel now; the server has not read it yet
        const report = s.lifecycle.shutdown();
        const response = await conn.response();
        assert.equal(response.body, "hello");
        assert.equal(response.headers.connection, "close");
        assert.equal(await conn.closed, "end");
        assert.equal((await report).graceful, true);
      },
      T,
    );

    it(
      "sixteen keep-alive clients firing at the moment of the drain: every request answered",
      async () => {
        const s = await start(kind);
        const conns = await Promise.all(Array.from({ length: 16 }, () => s.open()));
        for (const c of conns) c.send("/");
        for (const c of conns) assert.equal((await c.response()).body, "hello");
        for (const c of conns) c.send("/");
        const report = s.lifecycle.shutdown();
        const responses = await Promise.all(conns.map((c) => c.response()));
        assert.deepEqual(responses.map((r) => r.body), conns.map(() => "hello"));
        assert.ok(responses.every((r) => r.headers.connection === "close"));
        assert.deepEqual(await Promise.all(conns.map((c) => c.closed)), conns.map(() => "end"));
        assert.equal((await report).graceful, true);
      },
      T,
    );

    // Defect 2 (fastify "Should return 503 while closing - pipelining"): requests pipelined behind one
    // in flight have had their handlers run; each gets its response before the connection closes.
    // Bun.serve itself drops a request pipelined behind a pending one (BP1). Deno.serve runs a pipelined
    // request only once the response before it is written (DP1): the two "/" run after the drain began.
    it.skipIf(facts.dropsPipelined)("pipelined requests whose handlers ran all get their responses", async () => {
      const s = await start(kind);
      const conn = await s.open();
      pipeline(conn, ["/until-drain", "/", "/"]);
      await s.entered("/until-drain");
      if (!facts.pipelinesOneAtATime) await s.entered("/", 2);
      const report = s.lifecycle.shutdown();
      const responses = await readAll(conn);
      assert.deepEqual(responses.map((r) => r.body), ["done", "hello", "hello"]);
      assert.ok(responses.every((r) => r.complete));
      // Their answers were written (queued) before the drain, so none could say Connection: close; the
      // connection is closed once idle, after the last of them.
      assert.equal(await conn.closed, "end");
      assert.equal((await report).graceful, true);
    }, T);

    // The other half of the rule: a request pipelined behind the response that closes the connection
    // is never run (so nothing is executed and then dropped); the client sees the close and may retry.
    it("requests pipelined behind the closing response are never run", async () => {
      const { s, conn, report } = await drainDuring(kind, "/until-drain");
      pipeline(conn, ["/", "/"]);
      const responses = await readAll(conn);
      if (facts.keepsAfterCloseHeader) {
        // Deno keeps a connection after a Connection: close response (D6): the drain, still serving
        // until quiet, runs and answers both — each with Connection: close. Nothing is lost either way.
        assert.deepEqual(responses.map((r) => r.body), ["done", "hello", "hello"]);
        assert.ok(responses.every((r) => r.headers.connection === "close"), JSON.stringify(responses));
        assert.equal((await report).graceful, true);
        return;
      }
      assert.deepEqual(responses.map((r) => r.body), ["done"]);
      assert.equal(responses[0]!.headers.connection, "close");
      assert.equal(s.runs("/"), 0, "not run, so not lost");
      assert.equal((await report).graceful, true);
    }, T);

    // stoppable "with requests in-flight closes their sockets once they finish"; the connection of a
    // response that could not say Connection: close is closed after the quiet period, not under a request.
    it("a stream whose headers went out before the drain ends whole; its idle connection is then closed", async () => {
      const { conn, report } = await drainDuring(kind, "/stream-until-drain");
      const response = await conn.response();
      assert.equal(response.body, "foobar");
      assert.equal(response.complete, true);
      assert.equal(await conn.closed, "end");
      assert.equal((await report).graceful, true);
    }, T);

    // stoppable / http-terminator "stops accepting new connections"; Go TestServerShutdown: the
    // request that began the shutdown completes, and the listener is closed.
    it("a shutdown begun inside a handler: that request completes, new connections are refused", async () => {
      const { s, conn, report } = await drainDuring(kind, "/until-drain");
      const response = await conn.response();
      assert.equal(response.body, "done");
      const r = await report;
      assert.equal(await connectOutcome(s.port), "ECONNREFUSED");
      assert.equal(r.graceful, true);
      assert.ok(r.inFlight >= 1, `the active request was counted (${r.inFlight})`);
    }, T);

    // Go TestServerShutdownStateNew / fastify "closes idle connections": a connection that never sends
    // anything is closed by the server after the quiet period, and the deadline never fires.
    // serve() on Bun: Bun.serve leaves such a connection open (B2, test/drain.test.ts).
    it.skipIf(facts.leavesSilentOpen)(
      "a connection that never sends a request is closed by the server, without the deadline",
      async () => {
        const s = await start(kind);
        const silent = await s.open();
        const idle = await s.open();
        idle.send("/");
        assert.equal((await idle.response()).body, "hello");
        let forced = false;
        s.lifecycle.addEventListener("forced", () => (forced = true));
        const r = await s.lifecycle.shutdown();
        // Bun 1.4's node:http does not see a plain-TCP connection before its first request (NH4): it
        // cannot close it, but it does not hold the shutdown either.
        if (!facts.silentUnseen) assert.equal(await silent.closed, "end");
        else silent.close();
        assert.equal(await idle.closed, "end");
        assert.equal(forced, false, "the deadline did not cut anything");
        assert.equal(r.graceful, true);
        assert.equal(r.forced, 0);
      },
      T,
    );

    // Go TestServerKeepAlivesEnabled: once draining (here within the drain delay, listener still open),
    // keep-alive is off: every response closes its connection, so no connection is reused.
    // Deno.serve keeps a connection after its Connection: close response (D6), until shutdown().
    it.skipIf(facts.keepsAfterCloseHeader)(
      "while draining, each response closes its connection: none is reused",
      async () => {
        const s = await start(kind, { drainDelay: 10_000 });
        const report = s.lifecycle.shutdown();
        for (let i = 0; i < 2; i++) {
          const conn = await s.open();
          conn.send("/");
          const response = await conn.response();
          assert.equal(response.body, "hello");
          assert.equal(response.headers.connection, "close");
          assert.equal(await conn.closed, "end", `request ${i}: the server closed the connection`);
        }
        void s.lifecycle.hammer("test over");
        await report;
      },
      T,
    );

    // http-terminator "terminates hanging sockets after gracefulTerminationTimeout"; stoppable "kills
    // connections after the grace": cut at the deadline, and the report says so.
    it("a hanging request is cut at the deadline: graceful false, forced counted", async () => {
      const s = await start(kind, { deadline: 300 });
      const conn = await s.open();
      conn.send("/hang");
      await s.entered("/hang");
      const r: ShutdownReport = await s.lifecycle.shutdown();
      assert.equal(r.graceful, false);
      assert.ok(r.forced >= 1, `forced ${r.forced}`);
      await conn.closed;
    }, T);

    // http-terminator "terminates HTTP server with no connections" / "does not send {connection: close}
    // when server is not terminating".
    it("keep-alive untouched while serving; with nothing open the shutdown is graceful at once", async () => {
      const s = await start(kind);
      const conn = await s.open();
      conn.send("/");
      const response = await conn.response();
      assert.notEqual(response.headers.connection, "close");
      conn.close();
      await conn.closed;
      const r = await s.lifecycle.shutdown();
      assert.equal(r.graceful, true);
      assert.equal(await connectOutcome(s.port), "ECONNREFUSED");
    }, T);
  });
}
