// Issue 11: the deadline wins whatever clients and handlers do, and what was cut is reported.
// Real processes, real signals, raw sockets; each test asserts the outcome (exit code, report fields,
// status codes), never how long it took: a short deadline only keeps the suite quick.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "vitest";
import { type Fixture, runtime, startFixture } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
const SCRIPT = fileURLToPath(new URL("../runtimes/fixtures/clients.mjs", import.meta.url));
const fixtures: Fixture[] = [];
const connections: RawConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.close();
  for (const f of fixtures.splice(0)) {
    if (f.child.exitCode === null && f.child.signalCode === null) f.kill("SIGKILL");
  }
});
async function start(options: Record<string, unknown> = {}): Promise<Fixture> {
  const f = await startFixture(options, SCRIPT);
  fixtures.push(f);
  return f;
}
async function open(port: number): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  connections.push(c);
  return c;
}

/** A POST whose response arrives while its body is still being uploaded (and never finishes). */
async function stalledUpload(f: Fixture): Promise<RawConnection> {
  const c = await open(f.port);
  c.socket.write("POST /early HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + "a".repeat(1000));
  const response = await c.response();
  assert.equal(response.body, "early");
  return c;
}

/** A GET of a 32 MiB body by a client that never reads it. */
async function neverReads(f: Fixture): Promise<RawConnection> {
  const c = await open(f.port);
  c.socket.pause();
  c.send("/big");
  await f.waitFor("handling", (e) => e.path === "/big");
  return c;
}

function report(f: Fixture) {
  return f.waitFor("report");
}

describe("the deadline wins whatever clients do (issue 11.1)", () => {
  // Deno's shutdown() waits for the rest of the body (D-h11-2): cut at the deadline, it counts. So
  // does Node's drain: the connection still holds a request whose body has not all arrived.
  it.skipIf(runtime === "bun")(
    "D-h11-2: SIGTERM exits 1 at the deadline while a client stalls its upload after the response",
    async () => {
      const f = await start({ deadline: 300 });
      await stalledUpload(f);
      f.kill("SIGTERM");
      assert.deepEqual(await f.exited, { code: 1, signal: null });
      const r = await report(f);
      assert.equal(r.graceful, false);
      assert.ok((r.forced as number) >= 1, `forced ${r.forced}`);
    },
    T,
  );

  // Bun's stop() does not wait for the body of a request it has answered: nothing is held or cut.
  it.skipIf(runtime !== "bun")(
    "B-h11-2: SIGTERM exits 0 at once while a client stalls its upload after the response",
    async () => {
      const f = await start({ deadline: 600_000 });
      const c = await stalledUpload(f);
      f.kill("SIGTERM");
      assert.deepEqual(await f.exited, { code: 0, signal: null });
      assert.equal((await report(f)).graceful, true);
      await c.closed;
    },
    T,
  );

  it("D-h11-1: SIGTERM exits 1 at the deadline while a client never reads its response", async () => {
    const f = await start({ deadline: 300 });
    await neverReads(f);
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 1, signal: null });
    const r = await report(f);
    assert.equal(r.graceful, false);
    assert.ok((r.forced as number) >= 1, `forced ${r.forced}`);
  }, T);

  // A connection accepted with no request yet (a browser's preconnect); Bun closes it neither on
  // stop() nor on stop(true) (B2), Deno at once (D7), Node after connectionGrace.
  it("SIGTERM exits by the deadline with a fresh connection open (no request bytes)", async () => {
    const f = await start({ deadline: 300, connectionGrace: 100 });
    await open(f.port);
    // A full exchange on a later connection: the listener accepted the fresh one before it.
    assert.equal((await request(f.port, "/")).body, "hello");
    f.kill("SIGTERM");
    const exit = await f.exited;
    assert.equal(exit.signal, null);
    assert.ok(exit.code === 0 || exit.code === 1, `exit code ${exit.code}`);
    const r = await report(f);
    assert.equal(r.graceful, exit.code === 0);
  }, T);

  for (const second of ["SIGTERM", "SIGUSR2"] as const) {
    it(
      `D-h11-1: a ${second} during a drain held by a client that never reads hammers (deadline far away)`,
      async () => {
        const f = await start({ deadline: 600_000 });
        await stalledUpload(f);
        await neverReads(f);
        f.kill("SIGTERM");
        await f.waitFor("state", (e) => e.state === "draining");
        f.kill(second);
        assert.deepEqual(await f.exited, { code: 1, signal: null });
        const r = await report(f);
        assert.equal(r.reason, "SIGTERM");
        assert.equal(r.graceful, false);
        await f.waitForStderr(new RegExp(`${second}.*hammering`));
      },
      T,
    );
  }
});

describe("shutdown({ deadline }) settles and counts what it cut (issue 11.2)", () => {
  it.skipIf(runtime === "bun")(
    "D-h11-2: shutdown({ deadline }) settles with forced ≥ 1 while a client is still uploading after its response",
    async () => {
      const f = await start({ exit: false });
      await stalledUpload(f);
      await request(f.port, "/__shutdown?deadline=300");
      const r = await report(f);
      assert.equal(r.graceful, false);
      assert.ok((r.forced as number) >= 1, `forced ${r.forced}`);
    },
    T,
  );
});

describe("a handler still reading a stalled upload at the deadline (issue 11.1)", () => {
  // Deno: the handler began while serving, so shutdown() has not been called when the deadline comes,
  // and aborting the serve signal closes the connection (D-h11-7, D-h11-9). Before, the deadline
  // answered 503 from our own promise and Deno, waiting for the rest of the body (D-h11-2), kept the
  // connection open after it. Node destroys the socket; Bun's stop(true) cuts it.
  it("shutdown({ deadline }) closes the connection: the client is not held past the deadline", async () => {
    const f = await start({ exit: false });
    const c = await open(f.port);
    c.socket.write("POST /read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + "a".repeat(1000));
    await f.waitFor("handling", (e) => e.path === "/read");
    await request(f.port, "/__shutdown?deadline=300");
    const r = await report(f);
    assert.equal(r.graceful, false);
    assert.ok((r.forced as number) >= 1, `forced ${r.forced}`);
    await c.closed;
  }, T);
});

describe("inFlight counts a request from the moment the handler is called (issue 11.3)", () => {
  it("is 1 inside an async handler before its first await", async () => {
    const f = await start();
    assert.equal((await request(f.port, "/inflight")).body, "1");
  }, T);

  it("a shutdown begun there reports inFlight 1 and waits for that request", async () => {
    const f = await start();
    const response = await request(f.port, "/inflight?shutdown=1");
    assert.equal(response.status, 200);
    assert.equal(response.body, "1");
    const r = await report(f);
    assert.equal(r.inFlight, 1);
    assert.equal(r.graceful, true);
  }, T);
});

describe("a handler that returns no Response is a handler error (issue 11.4)", () => {
  for (const path of ["/undefined", "/async-undefined", "/fake"]) {
    it(`B-h11-1${path === "/fake" ? ", D-h11-4" : ""}: ${path} → 500`, async () => {
      const f = await start();
      const response = await request(f.port, path);
      assert.equal(response.status, 500);
      assert.doesNotMatch(response.body, /Welcome to Bun/);
      // The Node bridge meets a fake Response when it reads it, and logs it as a response that cannot be
      // sent (src/adapters/node/serve.ts badResponse); Deno and Bun check the brand first (src/serve/request-path.ts).
      await f.waitForStderr(/fetch handler failed|response that cannot be sent/);
      // The server still serves.
      assert.equal((await request(f.port, "/")).body, "hello");
    }, T);
  }
});

/** A connection whose request head is still arriving when the signal comes. */
async function slowloris(f: Fixture): Promise<RawConnection> {
  const slow = await open(f.port);
  slow.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  // A full exchange on a later connection: the listener accepted the slow one before it.
  assert.equal((await request(f.port, "/")).body, "hello");
  return slow;
}

// Node's part of 11.5 is src/adapters/node/drain.ts's (another change).
describe("a slowloris connection at shutdown (issue 11.5)", () => {
  it.skipIf(runtime !== "bun")(
    "B-h11-3: Bun holds it to the deadline: exit 1, graceful false, forced ≥ 1",
    async () => {
      const f = await start({ deadline: 300 });
      await slowloris(f);
      f.kill("SIGTERM");
      assert.deepEqual(await f.exited, { code: 1, signal: null });
      const r = await report(f);
      assert.equal(r.graceful, false);
      assert.ok((r.forced as number) >= 1, `forced ${r.forced}`);
    },
    T,
  );

  // Deno's shutdown() closes a connection with an incomplete head as it closes idle ones.
  it.skipIf(runtime !== "deno")("D-h11-3: Deno closes it when draining begins: exit 0, graceful", async () => {
    const f = await start({ deadline: 600_000 });
    const slow = await slowloris(f);
    f.kill("SIGTERM");
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    assert.equal((await report(f)).graceful, true);
    await slow.closed;
  }, T);
});
