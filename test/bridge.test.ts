// The Request/Response bridge on this runtime, over real HTTP.
import assert from "node:assert/strict";
import net from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Fixture, startFixture } from "./_helpers/fixture.ts";
import { RawConnection, request } from "./_helpers/raw-http.ts";

const T = 30_000;
let f: Fixture;
beforeAll(async () => {
  f = await startFixture({ exit: false, deadline: 5_000 });
}, T);
afterAll(async () => {
  f.kill("SIGTERM");
  await f.exited;
}, T);

describe("adapter", () => {
  it("keeps multiple Set-Cookie headers apart", async () => {
    const r = await request(f.port, "/cookies");
    assert.equal(r.headers["set-cookie"], "a=1; Path=/\nb=2; Path=/");
    assert.equal(r.body, "cookies");
  }, T);

  it("answers HEAD with headers and no body", async () => {
    const conn = await RawConnection.open(f.port);
    conn.send("/", { method: "HEAD" });
    const head = await conn.response({ head: true });
    assert.equal(head.status, 200);
    conn.send("/");
    const get = await conn.response();
    assert.equal(get.body, "hello", "no stray HEAD body was sent before the next response");
    conn.close();
  }, T);

  it("reads a request body", async () => {
    const r = await request(f.port, "/text", { method: "POST", body: "x".repeat(1000) });
    assert.equal(r.body, "POST 1000");
  }, T);

  it("streams a large body both ways", async () => {
    const size = 4 * 1024 * 1024;
    const socket = net.connect(f.port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 97);
    let sent = 0;
    const write = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once("drain", write);
      }
    };
    write();
    let received = 0;
    let head = "";
    let inBody = false;
    let chunkedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on("data", (d: Buffer) => {
        received += d.length;
        if (!inBody) {
          head += d.toString("latin1");
          const i = head.indexOf("\r\n\r\n");
          if (i >= 0) {
            inBody = true;
            chunkedBytes = Buffer.byteLength(head.slice(i + 4), "latin1");
          }
        } else chunkedBytes += d.length;
      });
      socket.once("end", resolve);
      socket.once("error", reject);
    });
    assert.match(head, /^HTTP\/1.1 200/);
    assert.match(head, /x-method: POST/i);
    // Chunk framing adds a little; the payload itself must all be there.
    assert.ok(chunkedBytes >= size, `received ${chunkedBytes} of ${size} body bytes (${received} total)`);
  }, T);

  it("aborts request.signal when the client goes away", async () => {
    const conn = await RawConnection.open(f.port);
    conn.send("/watch");
    await f.waitFor("watching");
    conn.close();
    const aborted = await f.waitFor("aborted");
    assert.equal(aborted.path, "/watch");
  }, T);

  it("turns a throwing handler into a 500 and keeps serving", async () => {
    const r = await request(f.port, "/throw");
    assert.equal(r.status, 500);
    await f.waitForStderr(/fetch handler failed: Error: boom/);
    assert.equal((await request(f.port, "/")).body, "hello");
  }, T);

  it("serves a finite stream completely", async () => {
    const r = await request(f.port, "/stream?n=5&every=5");
    assert.equal(r.complete, true);
    assert.equal(r.body, "tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n");
  }, T);
});
