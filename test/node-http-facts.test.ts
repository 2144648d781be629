// Runtime facts behind src/adapters/node/drain.ts (issue 12): what the BARE node:http of Deno and Bun does, and
// Bun.serve with pipelining — no library code. docs/runtimes.md ("node:http under Deno and Bun")
// cites each by its ID (NH0..NH6, BP1); run one with `node runtimes/test-all.mjs node-http-facts -t "NH5:"`.
// In process, real sockets on 127.0.0.1; every wait is for an event.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { describe, it } from "vitest";
import { RawConnection } from "./_helpers/raw-http.ts";
import { runtimeName } from "./_helpers/drain-servers.ts";

const T = 30_000;

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  );
}

function symbol(server: object, description: string): unknown {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === description);
  return key === undefined ? undefined : (server as Record<symbol, unknown>)[key];
}

describe.skipIf(runtimeName !== "node")("node:http under Node 20 and 24", () => {
  it(
    "NH0: Node's list of a server's connections has all() and active(); a silent new connection is active",
    async () => {
      const server = http.createServer((_req, res) => res.end("hi"));
      const port = await listen(server);
      const silent = await RawConnection.open(port);
      const other = await RawConnection.open(port);
      other.send("/");
      await other.response();
      const list = symbol(server, "http.server.connections") as {
        all(): Array<{ socket: net.Socket }>;
        active(): Array<{ socket: net.Socket }>;
      };
      assert.equal(list.all().length, 2);
      assert.equal(list.active().length, 1, "the silent one: a request may be on its way");
      assert.equal(list.active()[0]!.socket.bytesRead, 0);
      silent.close();
      other.close();
      await Promise.all([silent.closed, other.closed]);
      await new Promise((resolve) => server.close(resolve));
    },
    T,
  );
});

describe.skipIf(runtimeName !== "deno")("node:http under Deno 2", () => {
  it("NH1: the server has an http.server.connections list, but without Node's all()/active()", async () => {
    const server = http.createServer((_req, res) => res.end("hi"));
    await listen(server);
    const list = symbol(server, "http.server.connections") as Record<string, unknown> | undefined;
    assert.equal(typeof list, "object");
    assert.equal(typeof list!.all, "undefined");
    assert.equal(typeof list!.active, "undefined");
    await new Promise((resolve) => server.close(resolve));
  }, T);

  it(
    "NH5: once the listener is closed, a connection is destroyed as soon as its response finishes, though it said keep-alive; a request sent on it then is never seen",
    async () => {
      let release!: () => void;
      const seen: string[] = [];
      const server = http.createServer((req, res) => {
        seen.push(req.url!);
        if (req.url === "/held") release = () => res.end("held");
        else res.end("hi");
      });
      const port = await listen(server);
      const conn = await RawConnection.open(port);
      conn.send("/held");
      await new Promise<void>((resolve) => server.once("request", () => resolve()));
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      release();
      const response = await conn.response();
      assert.equal(response.body, "held");
      assert.equal(response.headers.connection, "keep-alive");
      assert.equal(await conn.closed, "end", "closed by the server after a keep-alive response");
      await closed;
      assert.deepEqual(seen, ["/held"]);
    },
    T,
  );

  it(
    "NH6: the list keeps the sockets in _all (Set-shaped) and in _active (Map-shaped) those with a request arriving or a fresh one; a connection idle after its response is not active",
    async () => {
      const server = http.createServer((_req, res) => res.end("hi"));
      const port = await listen(server);
      const list = symbol(server, "http.server.connections") as {
        _all: Set<net.Socket>;
        _active: Map<net.Socket, unknown>;
      };
      // Primordial SafeSet/SafeMap: Set- and Map-shaped, but not `instanceof` this realm's classes.
      assert.equal(typeof list._all.has, "function", "_all is Set-shaped");
      assert.equal(typeof list._active.keys, "function", "_active is Map-shaped");
      const idle = await RawConnection.open(port);
      idle.send("/");
      await idle.response();
      const partial = await RawConnection.open(port);
      partial.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      // A full exchange on a third connection: the server has read the partial head by then.
      const other = await RawConnection.open(port);
      other.send("/", { headers: { connection: "close" } });
      await other.response();
      await other.closed;
      assert.equal(list._all.size, 2);
      const active = [...list._active.keys()];
      assert.equal(active.length, 1, "only the one whose request is arriving");
      assert.ok(active[0]!.bytesRead > 0, "its bytes were read");
      idle.close();
      partial.close();
      await Promise.all([idle.closed, partial.closed]);
      await new Promise((resolve) => server.close(resolve));
    },
    T,
  );
});

describe.skipIf(runtimeName !== "bun")("node:http and Bun.serve under Bun 1", () => {
  it("NH2: the node:http server has no http.server.connections list", async () => {
    const server = http.createServer((_req, res) => res.end("hi"));
    await listen(server);
    assert.equal(symbol(server, "http.server.connections"), undefined);
    await new Promise((resolve) => server.close(resolve));
  }, T);

  it(
    "NH3: net.Server#close does not work on the http.Server; close() closes an idle keep-alive connection at once",
    async () => {
      const server = http.createServer((_req, res) => res.end("hi"));
      const port = await listen(server);
      assert.throws(() => net.Server.prototype.close.call(server), TypeError);
      const idle = await RawConnection.open(port);
      idle.send("/");
      assert.equal((await idle.response()).headers.connection, "keep-alive");
      server.close();
      assert.equal(await idle.closed, "end");
    },
    T,
  );

  it(
    "NH4: a plain-TCP connection that has sent nothing is not seen: no 'connection' event, close() calls back while it is open",
    async () => {
      let connections = 0;
      const server = http.createServer((_req, res) => res.end("hi"));
      server.on("connection", () => connections++);
      const port = await listen(server);
      const silent = await RawConnection.open(port);
      // Proof that the server has accepted it: a request on a later connection is answered first.
      const other = await RawConnection.open(port);
      other.send("/", { headers: { connection: "close" } });
      await other.response();
      await other.closed;
      assert.equal(connections, 1, "only the connection that sent a request was seen");
      let silentClosed = false;
      void silent.closed.then(() => (silentClosed = true));
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      assert.equal(silentClosed, false, "close() called back with the silent connection still open");
      silent.close();
    },
    T,
  );

  it(
    "BP1: Bun.serve closes a connection when a request is pipelined behind one whose async handler is pending: that response is lost, the second request never runs",
    async () => {
      const seen: string[] = [];
      let release!: () => void;
      let entered!: () => void;
      const inHandler = new Promise<void>((resolve) => (entered = resolve));
      const Bun = (globalThis as unknown as {
        Bun: {
          serve(o: unknown): { port: number; stop(force?: boolean): Promise<void> };
        };
      }).Bun;
      const server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        async fetch(request: Request) {
          const path = new URL(request.url).pathname;
          seen.push(path);
          if (path === "/slow") {
            entered();
            await new Promise<void>((resolve) => (release = resolve));
          }
          return new Response(`ok ${path}`);
        },
      });
      const conn = await RawConnection.open(server.port);
      conn.send("/slow");
      await inHandler;
      conn.send("/b");
      assert.equal(await conn.closed, "end");
      assert.equal(conn.pending, "", "no response at all");
      release();
      assert.deepEqual(seen, ["/slow"]);
      await server.stop(true);
    },
    T,
  );
});
