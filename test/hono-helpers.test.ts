// Hono's per-runtime helpers read the handler's second argument (Hono's `c.env`) as the platform's
// server passes it: hono/bun's `getConnInfo` and `upgradeWebSocket` want Bun's `Server` (`env.server`
// when env has one), hono/deno's `getConnInfo` reads `env.remoteAddr`, @hono/node-server's
// `getConnInfo` reads `env.incoming`. A Hono app served by serve() uses them as it would on the
// platform's own server (before: 500 "requestIP is not a function" on Bun, "incoming" undefined on Node).
import assert from "node:assert/strict";
import { Hono, type MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, it } from "vitest";
import { serve, type Server } from "../src/mod.ts";
import { runtime } from "./_helpers/fixture.ts";
import { RawConnection } from "./_helpers/raw-http.ts";

const T = 30_000;

type ConnInfo = { remote: { address?: string; port?: number } };
type Helpers = {
  getConnInfo: (c: unknown) => ConnInfo;
  upgradeWebSocket?: (create: () => Record<string, unknown>) => MiddlewareHandler;
  websocket?: unknown;
};
const helpers: Helpers = runtime === "bun"
  ? await import("hono/bun") as unknown as Helpers
  : runtime === "deno"
  ? await import("hono/deno") as unknown as Helpers
  : await import("@hono/node-server/conninfo") as unknown as Helpers;

const app = new Hono();
app.get("/conn", (c) => c.json(helpers.getConnInfo(c).remote));
if (helpers.upgradeWebSocket) {
  app.get(
    "/ws",
    helpers.upgradeWebSocket(() => ({
      onMessage(event: { data: unknown }, ws: { send(data: string): void }) {
        ws.send(`echo:${event.data}`);
      },
    })),
  );
}

let server: Server;
beforeAll(async () => {
  server = serve({
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger: false,
    fetch: app.fetch,
    ...(runtime === "bun" ? { websocket: helpers.websocket as Record<string, unknown> } : {}),
  });
  await server.ready();
}, T);
afterAll(async () => {
  await server.shutdown();
}, T);

describe("Hono's runtime helpers on serve()", () => {
  it("getConnInfo reports the client's address and port", async () => {
    const connection = await RawConnection.open(server.port!);
    try {
      connection.send("/conn");
      const response = await connection.response();
      assert.equal(response.status, 200, response.body);
      const remote = JSON.parse(response.body) as ConnInfo["remote"];
      assert.equal(remote.address, "127.0.0.1");
      assert.equal(remote.port, connection.socket.localPort);
    } finally {
      connection.close();
    }
  }, T);

  it.skipIf(runtime === "node")("upgradeWebSocket: a WebSocket opened through the Hono app echoes", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    const reply = new Promise<string>((resolve, reject) => {
      ws.onmessage = (event) => resolve(String(event.data));
      ws.onerror = () => reject(new Error("WebSocket error"));
      ws.onclose = (event) => reject(new Error(`closed before a reply (${event.code})`));
    });
    ws.onopen = () => ws.send("ping");
    try {
      assert.equal(await reply, "echo:ping");
    } finally {
      ws.onclose = null;
      ws.close();
    }
  }, T);
});
