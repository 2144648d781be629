// systemd socket activation: LISTEN_FDS/LISTEN_PID naming the process → serve on fd 3, no bind.
import assert from "node:assert/strict";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";
import { follow } from "./_helpers/procs.ts";
import { request } from "./_helpers/raw-http.ts";

const fixture = fileURLToPath(new URL("../runtimes/fixtures/server.mjs", import.meta.url));

// Deno.serve and Bun.serve cannot serve on an inherited fd (docs/runtimes.md); there serve() logs
// that and binds instead, which the second test checks.
describe("socket activation", () => {
  it("serves on the socket systemd passed as fd 3", async () => {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", () => resolve()));
    const port = (listener.address() as net.AddressInfo).port;
    const [cmd, args] = runtimeCommand(fixture);
    // LISTEN_PID must name the server process itself: set it in a shell that then execs the runtime.
    const p = follow("/bin/sh", ["-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", cmd, ...args], {
      GS_OPTIONS: JSON.stringify({ port: runtime === "node" ? 1 : 0 }),
    }, {
      // Only a Node parent can put a listening socket into a child's fd table (Deno and Bun reject it).
      extraFds: [runtime === "node" ? (listener as unknown as { _handle: "ignore" })._handle : "ignore"],
    });
    // The test's own copy is closed: only the child can answer on the port now.
    listener.close();
    const ready = await p.waitFor("ready");
    if (runtime === "node") {
      assert.equal(ready.port, port, "listening on the inherited socket's port, not on port 1");
      assert.equal((await request(port, "/pid")).body, String(ready.pid));
      assert.match(p.stderr(), /inherited socket/);
    } else {
      assert.match(p.stderr(), /cannot listen on an inherited socket .* binding instead/);
    }
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  }, 30_000);
});
