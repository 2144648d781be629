// WebSockets through the lifecycle: told by `signal`, closed with 1001 at the deadline.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "vitest";
import { fixturePerTest, runtime } from "./_helpers/fixture.ts";

const T = 30_000;
const startOne = fixturePerTest();

/** A raw WebSocket client: handshake, then resolves with the close frame's code (or "no close frame"). */
async function openWebSocket(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write(
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  let buffer = Buffer.alloc(0);
  let upgraded: (status: number) => void;
  const upgradedP = new Promise<number>((resolve) => (upgraded = resolve));
  let headDone = false;
  const closeCode = new Promise<number | string>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!headDone) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        headDone = true;
        upgraded(Number(buffer.subarray(9, 12).toString()));
        buffer = buffer.subarray(end + 4);
      }
      // Server frames are unmasked: [fin|opcode][len][payload]; a close frame is opcode 8.
      while (buffer.length >= 2) {
        const opcode = buffer[0]! & 0x0f;
        const length = buffer[1]! & 0x7f;
        if (buffer.length < 2 + length) return;
        if (opcode === 8) return resolve(length >= 2 ? buffer.readUInt16BE(2) : "close without code");
        buffer = buffer.subarray(2 + length);
      }
    });
    socket.once("close", () => resolve("no close frame"));
  });
  return { status: await upgradedP, closeCode, socket };
}

describe("websockets", () => {
  it("an open WebSocket does not hold the shutdown: at the deadline it gets 1001 going away", async () => {
    const f = await startOne({ deadline: 600 });
    const ws = await openWebSocket(f.port);
    assert.equal(ws.status, 101);
    await f.waitFor("ws-open");
    f.kill("SIGTERM");
    assert.equal(await ws.closeCode, 1001);
    const report = await f.waitFor("report");
    assert.ok((report.inFlight as number) >= 1, "the socket counted as in flight");
    if (runtime === "deno") {
      // Deno 2.9's shutdown() itself closes upgraded sockets with 1001 (docs/runtimes.md): graceful.
      assert.deepEqual(await f.exited, { code: 0, signal: null });
    } else {
      assert.deepEqual(await f.exited, { code: 1, signal: null }, "cut at the deadline: not graceful");
      assert.ok((report.forced as number) >= 1);
    }
    ws.socket.destroy();
  }, T);

  it("a WebSocket closed when `signal` aborts lets the shutdown finish gracefully", async () => {
    const f = await startOne({ deadline: 20_000 }, undefined, { GS_WS_CLOSE_ON_DRAIN: "1" });
    const ws = await openWebSocket(f.port);
    await f.waitFor("ws-open");
    f.kill("SIGTERM");
    assert.equal(await ws.closeCode, 1001);
    ws.socket.destroy();
    assert.deepEqual(await f.exited, { code: 0, signal: null });
    const report = f.events.find((e) => e.event === "report")!;
    assert.equal(report.graceful, true);
    assert.ok((report.durationMs as number) < 10_000, `did not wait for the deadline (${report.durationMs} ms)`);
  }, T);
});
