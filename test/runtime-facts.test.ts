// Runtime facts: what the BARE primitives (node:http, Deno.serve, Bun.serve, signals, fd handoff,
// reusePort) do, verified on the runtime that runs this file. graceful-serve's adapters are built
// on these facts; docs/runtimes.md lists them with versions and the name of the test for each.
// Each test spawns a small fixture of runtimes/fixtures/facts/ (no library code) and talks to it
// over real sockets on 127.0.0.1; the fixture prints JSON events on stdout and takes JSON commands
// on stdin. A few checks prove that something did NOT happen; those wait a bounded, small time
// (settlesWithin(), NEGATIVE_MS) and say so. Everything else waits for events.
// Test names start with an ID (N1, D3, B2, S1...) that docs/runtimes.md cites; run one with
// `node runtimes/test-all.mjs runtime-facts -t "D3:"`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { delimiter, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { runtime } from "./_helpers/fixture.ts";
import { follow, type Proc } from "./_helpers/procs.ts";
import type { Exit, FixtureEvent as Event } from "./_helpers/runtime.ts";
import { RawConnection } from "./_helpers/raw-http.ts";

const T = 30_000;
/** The bounded wait of a negative check ("X did not happen within this long"). */
const NEGATIVE_MS = 1_000;
const FACTS = fileURLToPath(new URL("../runtimes/fixtures/facts/", import.meta.url));
const g = globalThis as { Deno?: { execPath(): string } };
const nodeMajor = runtime === "node" ? Number(process.versions.node.split(".")[0]) : 0;

// ---------- child processes speaking JSON lines (the one spawner, _helpers/procs.ts) ----------
const procs: Proc[] = [];
afterEach(async () => {
  const list = procs.splice(0);
  for (const p of list) {
    // SIGTERM first: fd-parent.mjs kills its child on it. Everything else dies of it or of SIGKILL.
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
  }
  await Promise.all(
    list.map(async (p) => {
      if (!(await settlesWithin(p.exited, 2_000))) p.child.kill("SIGKILL");
      await p.exited;
    }),
  );
});

function spawnJson(cmd: string, args: string[]): Proc {
  const proc = follow(cmd, args, {}, "pipe");
  procs.push(proc);
  return proc;
}

/** Runs a facts fixture on the runtime running this file (Deno: `deno run` with denoFlags, default -A). */
function onThisRuntime(script: string, args: string[] = [], denoFlags = ["-A"]): Proc {
  if (g.Deno) return spawnJson(g.Deno.execPath(), ["run", ...denoFlags, join(FACTS, script), ...args]);
  return spawnJson(process.execPath, [join(FACTS, script), ...args]);
}

/** Starts a facts fixture on this runtime and waits for its "ready" event (the port it listens on). */
async function started(script: string): Promise<{ p: Proc; port: number }> {
  const p = onThisRuntime(script);
  const { port } = await p.waitFor("ready");
  return { p, port: port as number };
}

/** A request whose handler never answers (its "handling" seen) and a never-ending stream (bytes seen). */
async function hangAndStream(p: Proc, port: number) {
  const hang = await RawConnection.open(port);
  hang.send("/hang");
  await p.waitFor("handling");
  const stream = await RawConnection.open(port);
  stream.send("/stream");
  const streamed = stream.response();
  await moreBytes(stream, 1);
  return { hang, stream, streamed };
}

/** Deno: a stream open (its first chunk sent), then shutdown(), then the serve signal aborted (D2, D3). */
async function abortAfterShutdown(p: Proc, port: number) {
  const conn = await RawConnection.open(port);
  conn.send("/stream");
  const response = conn.response();
  await p.waitFor("streaming");
  p.send({ cmd: "shutdown" });
  await p.waitFor("shutdown-called");
  p.send({ cmd: "abort" });
  return { conn, response };
}

/** A real Node binary (not Bun's `node` shim), for facts that need a Node parent process. */
let nodeBinary: string | undefined;
function findNode(): string {
  if (nodeBinary) return nodeBinary;
  const candidates = [
    process.env.GS_NODE20,
    ...(process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "node")),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      const out = execFileSync(c, [
        "-e",
        "process.stdout.write(String(!globalThis.Bun && !globalThis.Deno) + ' ' + process.version)",
      ], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
      if (out.startsWith("true ")) return (nodeBinary = c);
    } catch {
      /* not there */
    }
  }
  throw new Error("no Node binary on PATH (set GS_NODE20)");
}

/** true if `p` settles within `ms`. Only for negative checks, with a small ms (see NEGATIVE_MS). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `n` more bytes arrived on the socket (a streaming body is still flowing). */
function moreBytes(conn: RawConnection, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= n) done(), resolve();
    };
    const onClose = () => (done(), reject(new Error(`socket closed after ${got} more bytes`)));
    const done = () => (conn.socket.off("data", onData), conn.socket.off("close", onClose));
    conn.socket.on("data", onData);
    conn.socket.on("close", onClose);
  });
}

/**
 * Opens a connection that sends nothing, and returns once the server has accepted it (not merely
 * the kernel): a request on a second, later connection is answered first. Accept loops take the
 * backlog in order, so the silent connection was accepted before the probe.
 */
async function acceptedSilentConnection(port: number): Promise<RawConnection> {
  const silent = await RawConnection.open(port);
  const probe = await RawConnection.open(port);
  probe.send("/probe");
  assert.equal((await probe.response()).status, 200);
  probe.close();
  return silent;
}

// ======================================================================================
describe.skipIf(runtime !== "node")("node:http (Node 20 and 24)", () => {
  it(
    "N1: close() with an in-flight keep-alive request: answered with Connection: keep-alive, socket left open until keepAliveTimeout",
    async () => {
      const p = onThisRuntime("node-http.mjs");
      const { port, keepAliveTimeout } = (await p.waitFor("ready")) as Event & {
        port: number;
        keepAliveTimeout: number;
      };
      const conn = await RawConnection.open(port);
      conn.send("/slow?ms=300");
      await p.waitFor("handling");
      p.send({ cmd: "close" });
      await p.waitFor("close-called");
      const response = await conn.response();
      const answeredAt = Date.now();
      assert.equal(response.status, 200);
      assert.equal(response.headers.connection, "keep-alive", "no Connection: close although the server is closing");
      // Negative check, bounded: the socket is still open a second after the response...
      assert.equal(await settlesWithin(conn.closed, NEGATIVE_MS), false, "socket still open after the response");
      // ...and close() has not called back, because that socket still counts.
      assert.equal(p.events.some((e) => e.event === "close-callback"), false, "close() callback not yet");
      // It goes only when the keep-alive timer (keepAliveTimeout, ~5 s; measured ~6 s) closes the socket.
      assert.equal(await conn.closed, "end");
      await p.waitFor("close-callback");
      const openFor = Date.now() - answeredAt;
      assert.equal(keepAliveTimeout, 5_000);
      assert.ok(
        openFor >= keepAliveTimeout - 1_000 && openFor < 15_000,
        `socket closed ${openFor} ms after the response`,
      );
    },
    T,
  );

  it(
    "N2: a connection accepted but silent is not idle: close() leaves it open and a request on it is served",
    async () => {
      const { p, port } = await started("node-http.mjs");
      const silent = await RawConnection.open(port);
      await p.waitFor("connection");
      p.send({ cmd: "close" }); // close() also runs closeIdleConnections() on Node >= 19
      await p.waitFor("close-called");
      // Negative check, bounded: close() did not close it.
      assert.equal(
        await settlesWithin(silent.closed, NEGATIVE_MS),
        false,
        "silent connection still open after close()",
      );
      silent.send("/late");
      const response = await silent.response();
      assert.equal(response.status, 200);
      assert.equal(response.body, "done /late");
      assert.equal(response.headers.connection, "keep-alive", "and it is even kept alive");
    },
    T,
  );

  it("N3: closeIdleConnections() leaves a silent connection open too", async () => {
    const { p, port } = await started("node-http.mjs");
    const silent = await RawConnection.open(port);
    await p.waitFor("connection");
    p.send({ cmd: "closeIdle" });
    await p.waitFor("closeIdle-called");
    assert.equal(await settlesWithin(silent.closed, NEGATIVE_MS), false, "not treated as idle"); // bounded negative check
    silent.send("/late");
    assert.equal((await silent.response()).body, "done /late");
  }, T);

  it("N4: closeAllConnections() after close() cuts a hanging request, and then close() calls back", async () => {
    const { p, port } = await started("node-http.mjs");
    const conn = await RawConnection.open(port);
    conn.send("/hang");
    await p.waitFor("handling");
    p.send({ cmd: "close" });
    await p.waitFor("close-called");
    assert.equal(
      await settlesWithin(p.waitFor("close-callback"), NEGATIVE_MS),
      false,
      "close() waits for the hanging request",
    ); // bounded negative check
    p.send({ cmd: "closeAll" });
    await p.waitFor("closeAll-called");
    await assert.rejects(conn.response(), /connection closed before a response/);
    await conn.closed;
    await p.waitFor("close-callback");
  }, T);

  it(
    "N5: reusePort: Node 20 ignores it (second bind EADDRINUSE), Node >= 22.12/23.1 lets two processes listen",
    async () => {
      const first = onThisRuntime("reuseport.mjs", ["0"]);
      const { port } = (await first.waitFor("ready")) as Event & { port: number };
      const second = onThisRuntime("reuseport.mjs", [String(port)]);
      if (nodeMajor === 20) {
        const e = await second.waitFor("listen-error");
        assert.equal(e.code, "EADDRINUSE");
        assert.deepEqual(await second.exited, { code: 3, signal: null });
        return;
      }
      await second.waitFor("ready");
      await bothServe(port, [first, second]);
    },
    T,
  );

  it(
    "N6: node:http listen({ fd: 3 }) in a Node child serves the listening socket a Node parent handed over",
    async () => {
      await handOff(process.execPath, [join(FACTS, "fd-child.mjs"), "http-fd"], "http-fd");
    },
    T,
  );
});

/** Requests on fresh connections until both processes have answered (kernel spreads them). */
async function bothServe(port: number, servers: Proc[]) {
  const pids = new Set<string>();
  const want = new Set(servers.map((s) => String(s.child.pid)));
  for (let i = 0; i < 64 && pids.size < want.size; i++) {
    const conn = await RawConnection.open(port);
    conn.send("/", { headers: { connection: "close" } });
    pids.add((await conn.response()).body.split(" ")[1]!);
    conn.close();
  }
  assert.deepEqual([...pids].sort(), [...want].sort(), "both listeners accepted connections");
}

/**
 * A Node parent listens on 127.0.0.1:0, hands the listening socket to the child as fd 3 and closes
 * its own copy. Returns the child's answer on the parent's port, or undefined when nothing
 * answered within NEGATIVE_MS (bounded negative check).
 */
async function handOff(childCmd: string, childArgs: string[], mode: string, expectServed = true) {
  const parent = spawnJson(findNode(), [join(FACTS, "fd-parent.mjs"), childCmd, ...childArgs]);
  const ready = await parent.waitFor("ready");
  const childReady = await parent.waitFor("child-ready");
  const conn = await RawConnection.open(ready.port as number);
  conn.send("/", { headers: { connection: "close" } });
  if (expectServed) {
    const response = await conn.response();
    assert.equal(response.status, 200);
    assert.equal(response.body, `child ${mode} ${ready.childPid}`, "the child answered on the handed-off port");
    return childReady;
  }
  const answered = await settlesWithin(conn.response(), NEGATIVE_MS);
  assert.equal(answered, false, "nothing answers on the handed-off port");
  conn.close();
  return childReady;
}

// ======================================================================================
describe.skipIf(runtime !== "deno")("Deno.serve (Deno 2)", () => {
  it(
    "D1: shutdown() does not resolve while a streaming body is open, and resolves once the handler ends the stream",
    async () => {
      const { p, port } = await started("deno-serve.mjs");
      const conn = await RawConnection.open(port);
      conn.send("/stream");
      const response = conn.response();
      await p.waitFor("streaming");
      await moreBytes(conn, 1);
      p.send({ cmd: "shutdown" });
      await p.waitFor("shutdown-called");
      // Negative check, bounded: a second with the stream open and still flowing, no resolve.
      assert.equal(await settlesWithin(p.waitFor("shutdown-resolved"), NEGATIVE_MS), false, "shutdown() still pending");
      await moreBytes(conn, 20);
      p.send({ cmd: "end-stream" });
      await p.waitFor("shutdown-resolved");
      const r = await response;
      assert.equal(r.complete, true, "the stream ended normally (last chunk sent)");
      assert.match(r.body, /^tick 0\n/);
      assert.equal(await conn.closed, "end", "and the socket was closed after it");
    },
    T,
  );

  it("D2: aborting the serve signal after shutdown() is an uncaught BadResource that kills the process", async () => {
    const { p, port } = await started("deno-serve.mjs");
    const { response } = await abortAfterShutdown(p, port);
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 1, signal: null });
    assert.match(p.stderr(), /Uncaught BadResource/);
    assert.equal((await response).complete, false, "the open stream died with the process");
  }, T);

  it(
    "D3: that BadResource reaches a global 'error' listener; preventDefault() keeps the process and the open stream alive",
    async () => {
      const { p, port } = await started("deno-serve.mjs");
      p.send({ cmd: "catch-errors" });
      await p.waitFor("catching");
      const { conn, response } = await abortAfterShutdown(p, port);
      const caught = await p.waitFor("error-caught");
      assert.match(String(caught.message), /BadResource/);
      await p.waitFor("abort-called"); // abort() itself returned: the error was reported, not thrown
      // 300 more bytes (~25 "tick N" chunks, one per 50 ms) after the abort: the stream was not cut.
      await moreBytes(conn, 300);
      p.send({ cmd: "end-stream" });
      await p.waitFor("shutdown-resolved");
      assert.equal((await response).complete, true);
      assert.equal(p.child.exitCode, null, "process still running");
    },
    T,
  );

  it(
    "D4: after shutdown() the handler side can still end work: a late 503 for a hanging request is sent, an errored stream is cut, then shutdown() resolves",
    async () => {
      const { p, port } = await started("deno-serve.mjs");
      const { hang, stream, streamed } = await hangAndStream(p, port);
      p.send({ cmd: "shutdown" });
      await p.waitFor("shutdown-called");
      p.send({ cmd: "answer-hanging" });
      const late = await hang.response();
      assert.equal(late.status, 503, "the late answer is sent");
      assert.equal(await hang.closed, "end");
      assert.equal(p.events.some((e) => e.event === "shutdown-resolved"), false, "the stream still holds shutdown()");
      p.send({ cmd: "error-stream" });
      await p.waitFor("shutdown-resolved");
      assert.equal((await streamed).complete, false, "the errored stream ends without its last chunk");
      await stream.closed;
      assert.equal(p.child.exitCode, null, "no crash");
    },
    T,
  );

  it(
    "D5: a request in flight during shutdown() is answered without a connection: close header, then the socket is closed",
    async () => {
      const { p, port } = await started("deno-serve.mjs");
      const conn = await RawConnection.open(port);
      conn.send("/slow?ms=300");
      await p.waitFor("handling");
      p.send({ cmd: "shutdown" });
      await p.waitFor("shutdown-called");
      const r = await conn.response();
      assert.equal(r.status, 200);
      assert.equal(r.body, "done /slow");
      assert.equal(r.headers.connection, undefined, "no connection header at all");
      assert.equal(await conn.closed, "end", "closed after the response");
      await p.waitFor("shutdown-resolved");
    },
    T,
  );

  it(
    "D6: a connection: close header set by the handler is sent, but Deno keeps the socket open and serves the next request on it",
    async () => {
      const { port } = await started("deno-serve.mjs");
      const conn = await RawConnection.open(port);
      conn.send("/close-header");
      const r = await conn.response();
      assert.equal(r.headers.connection, "close");
      // Negative check, bounded: the socket is not closed after a "connection: close" response.
      assert.equal(await settlesWithin(conn.closed, NEGATIVE_MS), false, "socket kept open");
      conn.send("/again");
      const again = await conn.response();
      assert.equal(again.status, 200);
      assert.equal(again.body, "done /again", "a second request on the 'closed' connection is served");
    },
    T,
  );

  it(
    "D7: shutdown() closes a connection that was accepted but has not sent its request; a late request gets no response",
    async () => {
      const { p, port } = await started("deno-serve.mjs");
      const silent = await acceptedSilentConnection(port);
      p.send({ cmd: "shutdown" });
      await p.waitFor("shutdown-called");
      assert.equal(await silent.closed, "end", "closed by the server (FIN), not left to the deadline");
      silent.send("/late");
      await assert.rejects(silent.response(), /connection closed before a response/);
      await p.waitFor("shutdown-resolved");
    },
    T,
  );

  it(
    "D8: Deno.serve({ reusePort: true }) without --unstable-net exits the process with code 70 (not catchable)",
    async () => {
      const p = onThisRuntime("reuseport.mjs", ["0"]);
      assert.deepEqual(await p.exited, { code: 70, signal: null });
      assert.match(p.stderr(), /--unstable-net/);
      assert.equal(
        p.events.some((e) => e.event === "caught" || e.event === "ready"),
        false,
        "neither caught nor listening",
      );
    },
    T,
  );

  it("D9: Deno.serve({ reusePort: true }) with --unstable-net lets two processes listen on one port", async () => {
    const first = onThisRuntime("reuseport.mjs", ["0"], ["-A", "--unstable-net"]);
    const { port } = (await first.waitFor("ready")) as Event & { port: number };
    const second = onThisRuntime("reuseport.mjs", [String(port)], ["-A", "--unstable-net"]);
    await second.waitFor("ready");
    await bothServe(port, [first, second]);
  }, T);

  it(
    "D10: node:http listen({ fd: 3 }) in a Deno child serves the listening socket a Node parent handed over",
    async () => {
      await handOff(g.Deno!.execPath(), ["run", "-A", join(FACTS, "fd-child.mjs"), "http-fd"], "http-fd");
    },
    T,
  );

  it("D11: node:net listen({ fd: 3 }) + http 'connection' in a Deno child serves the handed-over socket", async () => {
    await handOff(g.Deno!.execPath(), ["run", "-A", join(FACTS, "fd-child.mjs"), "net-fd"], "net-fd");
  }, T);
});

// ======================================================================================
describe.skipIf(runtime !== "bun")("Bun.serve (Bun 1)", () => {
  it(
    "B1: stop() lets the in-flight request finish without a Connection: close header, closes the socket after it, and resolves when it is done",
    async () => {
      const { p, port } = await started("bun-serve.mjs");
      const conn = await RawConnection.open(port);
      conn.send("/slow?ms=300");
      await p.waitFor("handling");
      p.send({ cmd: "stop" });
      const called = await p.waitFor("stop-called");
      assert.equal(called.pendingRequests, 1, "pendingRequests counts the in-flight request");
      const r = await conn.response();
      assert.equal(r.body, "done /slow");
      assert.equal(r.headers.connection, undefined, "no Connection header");
      assert.equal(await conn.closed, "end", "closed after the response");
      const resolved = await p.waitFor("stop-resolved");
      assert.equal(resolved.pendingRequests, 0);
      const at = (name: string) => p.events.findIndex((e) => e.event === name);
      assert.ok(at("responding") < at("stop-resolved"), "stop() resolved only after the handler answered");
    },
    T,
  );

  it(
    "B2: a connection accepted before stop() that sends nothing is closed neither by stop() nor by stop(true); a request on it then gets no response",
    async () => {
      const { p, port } = await started("bun-serve.mjs");
      const silent = await acceptedSilentConnection(port);
      p.send({ cmd: "stop" });
      await p.waitFor("stop-resolved");
      // Negative checks, bounded (NEGATIVE_MS each): still open after stop() and after stop(true).
      assert.equal(await settlesWithin(silent.closed, NEGATIVE_MS), false, "open after stop()");
      p.send({ cmd: "stop-force" });
      await p.waitFor("stop-force-resolved");
      assert.equal(await settlesWithin(silent.closed, NEGATIVE_MS), false, "open after stop(true)");
      silent.send("/late");
      await assert.rejects(silent.response(), /connection closed before a response/);
      assert.equal(await silent.closed, "reset", "the late request is answered with a reset");
      assert.equal(
        p.events.some((e) => e.event === "request" && e.path === "/late"),
        false,
        "the handler never saw it",
      );
    },
    T,
  );

  it(
    "B3: an idle keep-alive connection is closed by stop(); stop() resolves before the client sees the close",
    async () => {
      const { p, port } = await started("bun-serve.mjs");
      // Over the wire: the idle socket is closed cleanly.
      const conn = await RawConnection.open(port);
      conn.send("/x");
      assert.equal((await conn.response()).headers.connection, undefined, "kept alive (HTTP/1.1 default)");
      p.send({ cmd: "stop" });
      await p.waitFor("stop-resolved");
      assert.equal(await conn.closed, "end");
      // Ordering, on one clock: a client inside the server process.
      const second = onThisRuntime("bun-serve.mjs");
      await second.waitFor("ready");
      second.send({ cmd: "self-idle-stop" });
      const { order } = await second.waitFor("self-idle-order");
      assert.deepEqual(order, ["stop-resolved", "client-close"]);
    },
    T,
  );

  it(
    "B4: stop(true) after stop() cuts a hanging request and a never-ending stream; both promises resolve",
    async () => {
      const { p, port } = await started("bun-serve.mjs");
      const { hang, stream, streamed } = await hangAndStream(p, port);
      p.send({ cmd: "stop" });
      const called = await p.waitFor("stop-called");
      assert.equal(called.pendingRequests, 2);
      // Bounded negative check: stop() alone does not end either of them.
      assert.equal(await settlesWithin(p.waitFor("stop-resolved"), NEGATIVE_MS), false, "stop() waits");
      await moreBytes(stream, 20); // still flowing
      p.send({ cmd: "stop-force" });
      await p.waitFor("stop-force-resolved");
      await p.waitFor("stop-resolved");
      await assert.rejects(hang.response(), /connection closed before a response/);
      assert.equal((await streamed).complete, false, "the stream was cut, not ended");
      await hang.closed;
      await stream.closed;
    },
    T,
  );

  it("B5: Bun.serve({ reusePort: true }) lets two processes listen on one port", async () => {
    const first = onThisRuntime("reuseport.mjs", ["0"]);
    const { port } = (await first.waitFor("ready")) as Event & { port: number };
    const second = onThisRuntime("reuseport.mjs", [String(port)]);
    await second.waitFor("ready");
    await bothServe(port, [first, second]);
  }, T);

  it(
    "B6: Bun.serve({ fd: 3 }) ignores the inherited listening socket and binds its default address instead",
    async () => {
      const childReady = await handOff(
        process.execPath,
        [join(FACTS, "fd-child.mjs"), "bun-serve"],
        "bun-serve",
        false,
      );
      // Bun's default port (PORT/BUN_PORT/NODE_PORT are unset for the child), not the inherited one;
      // when 3000 is taken on this machine, the same fact shows as EADDRINUSE.
      if (childReady.error !== undefined) assert.match(String(childReady.error), /EADDRINUSE/);
      else assert.equal((childReady.address as { port: number }).port, 3000);
    },
    T,
  );

  it(
    "B7: Bun node:http listen({ fd: 3 }) ignores the inherited listening socket and binds an ephemeral port on ::",
    async () => {
      const childReady = await handOff(process.execPath, [join(FACTS, "fd-child.mjs"), "http-fd"], "http-fd", false);
      const address = childReady.address as { address: string; port: number };
      assert.equal(address.address, "::");
    },
    T,
  );

  it("B8: Bun node:net listen({ fd: 3 }) + http 'connection' serves the handed-over socket", async () => {
    await handOff(process.execPath, [join(FACTS, "fd-child.mjs"), "net-fd"], "net-fd");
  }, T);
});

// ======================================================================================
describe("signals and child processes (every runtime)", () => {
  it(
    "S1: node:child_process: SIGTERM to a child that handles it and exits 0 — child.kill() vs process.kill()",
    async () => {
      const outcomes: Record<string, Exit> = {};
      for (const how of ["child.kill", "process.kill"] as const) {
        const p = onThisRuntime("sigterm-exit0.mjs");
        await p.waitFor("ready");
        if (how === "child.kill") p.child.kill("SIGTERM");
        else process.kill(p.child.pid!, "SIGTERM");
        outcomes[how] = await p.exited;
      }
      const clean = { code: 0, signal: null };
      // Deno 2 reports the signal it sent for child.kill(), although the child exited with code 0.
      const viaChildKill = runtime === "deno" ? { code: null, signal: "SIGTERM" } : clean;
      assert.deepEqual(outcomes, { "child.kill": viaChildKill, "process.kill": clean });
    },
    T,
  );

  it(
    "S2: a process.on('SIGTERM') listener keeps the process alive; removing it restores death by SIGTERM",
    async () => {
      // Deno: no --allow-* flag at all; signals need no permission.
      await listenerKeepsAlive(onThisRuntime("signal-listener.mjs", ["process"], ["--no-prompt"]));
    },
    T,
  );

  it.skipIf(runtime !== "deno")(
    "S3: Deno.addSignalListener('SIGTERM') keeps the process alive; removing it restores death by SIGTERM (no permission needed)",
    async () => {
      await listenerKeepsAlive(onThisRuntime("signal-listener.mjs", ["deno"], ["--no-prompt"]));
    },
    T,
  );
});

async function listenerKeepsAlive(p: Proc) {
  const { pid } = (await p.waitFor("ready")) as Event & { pid: number };
  process.kill(pid, "SIGTERM");
  await p.waitFor("got-signal");
  p.send({ cmd: "ping" });
  await p.waitFor("pong"); // alive after the signal was handled
  assert.equal(p.child.exitCode, null);
  p.send({ cmd: "remove" });
  await p.waitFor("removed");
  process.kill(pid, "SIGTERM");
  assert.deepEqual(await p.exited, { code: null, signal: "SIGTERM" });
  assert.equal(p.events.filter((e) => e.event === "got-signal").length, 1, "the removed listener did not run");
}
