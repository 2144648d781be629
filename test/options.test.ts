// serve() rejects bad options synchronously, naming the option, and leaves nothing listening.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "vitest";
import { serve } from "../src/mod.ts";
import { connectOutcome } from "./_helpers/raw-http.ts";

const fetch = () => new Response("x");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function throwsNaming(fn: () => unknown, type: typeof TypeError | typeof RangeError, option: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${e}`);
    assert.match((e as Error).message, new RegExp(`"${option}"`));
    // One error style (issue 14): the prefix, and a code to branch on instead of the message.
    assert.match((e as Error).message, /^graceful-serve: /);
    assert.equal((e as { code?: string }).code, "ERR_GRACEFUL_OPTION");
    return true;
  });
}

describe("options", () => {
  it("needs an options object with a fetch function", () => {
    throwsNaming(() => serve(undefined as never), TypeError, "fetch");
    throwsNaming(() => serve({} as never), TypeError, "fetch");
    throwsNaming(() => serve({ fetch: "hi" } as never), TypeError, "fetch");
  });

  it("checks port type and range", () => {
    throwsNaming(() => serve({ fetch, port: "8000" as never }), TypeError, "port");
    throwsNaming(() => serve({ fetch, port: -1 }), RangeError, "port");
    throwsNaming(() => serve({ fetch, port: 65536 }), RangeError, "port");
    throwsNaming(() => serve({ fetch, port: 80.5 }), RangeError, "port");
  });

  it("checks deadline and connectionGrace", () => {
    throwsNaming(() => serve({ fetch, deadline: -1 }), RangeError, "deadline");
    throwsNaming(() => serve({ fetch, deadline: Number.NaN }), RangeError, "deadline");
    throwsNaming(() => serve({ fetch, deadline: Infinity }), RangeError, "deadline");
    throwsNaming(() => serve({ fetch, deadline: "10s" as never }), TypeError, "deadline");
    throwsNaming(() => serve({ fetch, connectionGrace: -5 }), RangeError, "connectionGrace");
  });

  it("checks the other options' types", () => {
    throwsNaming(() => serve({ fetch, hostname: "" }), TypeError, "hostname");
    throwsNaming(() => serve({ fetch, hostname: 127 as never }), TypeError, "hostname");
    throwsNaming(() => serve({ fetch, signals: "yes" as never }), TypeError, "signals");
    throwsNaming(() => serve({ fetch, exit: 1 as never }), TypeError, "exit");
    throwsNaming(() => serve({ fetch, logger: {} as never }), TypeError, "logger");
    throwsNaming(() => serve({ fetch, onError: 5 as never }), TypeError, "onError");
    throwsNaming(() => serve({ fetch, healthPath: "healthz" }), TypeError, "healthPath");
    throwsNaming(() => serve({ fetch, drainDelay: 6_000, deadline: 5_000 }), RangeError, "drainDelay");
  });

  it("leaves nothing listening and no signal handler behind after a throw", async () => {
    const port = await freePort();
    const before = process.listenerCount("SIGTERM");
    assert.throws(() => serve({ fetch, port, hostname: "127.0.0.1", deadline: -1 }), RangeError);
    assert.equal(await connectOutcome(port), "ECONNREFUSED");
    assert.equal(process.listenerCount("SIGTERM"), before);
  });

  it("a valid server starts, reports its url, and disposes", async () => {
    const server = serve({ fetch, port: 0, hostname: "127.0.0.1", logger: false, signals: false });
    await server.ready();
    assert.match(server.url!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(server.port, Number(new URL(server.url!).port));
    await server[Symbol.asyncDispose]();
    assert.equal(server.state, "closed");
    assert.equal(await connectOutcome(server.port!), "ECONNREFUSED");
  });

  it("ready() rejects when the port is taken, and the server closes", async () => {
    const first = serve({ fetch, port: 0, hostname: "127.0.0.1", logger: false, signals: false });
    await first.ready();
    const second = serve({ fetch, port: first.port!, hostname: "127.0.0.1", logger: false, signals: false });
    await assert.rejects(second.ready());
    const report = await second.finished;
    assert.equal(report.reason, "error");
    assert.equal(second.state, "closed");
    await first.shutdown();
  });
});

describe("restart options", () => {
  it("rejects bad restart options naming the option", () => {
    throwsNaming(() => serve({ fetch, restart: { timeout: 0 } }), RangeError, "restart.timeout");
    throwsNaming(() => serve({ fetch, restart: { timeout: -1 } }), RangeError, "restart.timeout");
    throwsNaming(() => serve({ fetch, restart: { command: [] } }), RangeError, "restart.command");
    throwsNaming(() => serve({ fetch, restart: { command: "node server.js" as never } }), TypeError, "restart.command");
    throwsNaming(() => serve({ fetch, restart: { pidFile: "" } }), TypeError, "restart.pidFile");
    throwsNaming(() => serve({ fetch, restart: "yes" as never }), TypeError, "restart");
  });

  it.skipIf(!("Deno" in globalThis))("on Deno without --unstable-net, restart throws before binding", () => {
    // This suite runs without --unstable-net; reusePort there would exit the process with code 70.
    assert.throws(() => serve({ fetch, port: 0, restart: true, logger: false, signals: false }), /--unstable-net/);
  });
});
