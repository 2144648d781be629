// Fault injection on serve()'s own process lifecycle (issue 13): successors that crash, exit 0, never
// get ready or claim a port they do not serve; the old process SIGKILLed or SIGTERMed mid-restart;
// signal storms; hooks that hang; a server that cannot listen. Each ends with exactly the processes
// expected alive, the PID file naming a live server or absent, and the documented exit code.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "vitest";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";
import { request } from "./_helpers/raw-http.ts";
import { graceful } from "../src/mod.ts";
import { alive, faultServer, gone, type Proc, signalStorm, tempDir } from "./_helpers/procs.ts";

const T = 60_000;
let procs: Proc[] = [];
afterEach(() => {
  for (const p of procs) p.cleanup();
  procs = [];
});

function server(faults: string, options: Record<string, unknown> = {}, env: Record<string, string> = {}): Proc {
  const p = faultServer(faults, options, env);
  procs.push(p);
  return p;
}

function readPid(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, "utf8").trim());
  } catch {
    return undefined;
  }
}

/** After every process of a test is gone: no PID alive, and the PID file absent. */
async function nothingLeft(p: Proc, pidFile?: string) {
  await p.allGone;
  for (const pid of p.pids()) assert.equal(await gone(pid), true, `pid ${pid} is still alive`);
  if (pidFile) assert.equal(fs.existsSync(pidFile), false, `PID file left behind naming ${readPid(pidFile)}`);
}

describe("faults: a restart successor that fails", () => {
  it("crashes at start: the old process keeps serving and keeps the PID file; nothing is left behind", async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, "app.pid");
    const failFile = path.join(dir, "fail");
    const p = server("fail", { restart: { pidFile } }, { GS_FAIL_FILE: failFile });
    const ready = await p.waitFor("ready");
    fs.writeFileSync(failFile, "");
    p.signal("SIGHUP");
    const restart = await p.waitFor("restart");
    assert.equal(restart.ok, false);
    assert.match(String(restart.error), /exited \(code 3\) before it was ready/);
    assert.equal(alive(restart.pid as number), false, "the failed successor is gone");
    assert.equal(readPid(pidFile), ready.pid, "the PID file still names the serving process");
    assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid));
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p, pidFile);
  }, T);

  it("exits 0 before it is ready: a failed restart, not a handoff", async () => {
    const dir = tempDir();
    const script = path.join(dir, "exit0.mjs");
    fs.writeFileSync(script, "process.exit(0);\n");
    const [cmd, args] = runtimeCommand(script);
    const pidFile = path.join(dir, "app.pid");
    const p = server("", { restart: { pidFile, command: [cmd, ...args] } });
    const ready = await p.waitFor("ready");
    p.signal("SIGHUP");
    const restart = await p.waitFor("restart");
    assert.equal(restart.ok, false);
    assert.match(String(restart.error), /exited \(code 0\) before it was ready/);
    assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid), "still serving");
    assert.equal(readPid(pidFile), ready.pid);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p, pidFile);
  }, T);

  it("never gets ready: killed at restart.timeout, the old process keeps serving", async () => {
    const dir = tempDir();
    const gate = path.join(dir, "gate");
    const pidFile = path.join(dir, "app.pid");
    const p = server("gate", { restart: { pidFile, timeout: 1000 } }, { GS_GATE_FILE: gate });
    const ready = await p.waitFor("ready");
    fs.writeFileSync(gate, "");
    p.signal("SIGHUP");
    const gated = await p.waitFor("gated");
    const restart = await p.waitFor("restart");
    assert.equal(restart.ok, false);
    assert.match(String(restart.error), /not ready within 1000 ms/);
    assert.equal(alive(gated.pid as number), false, "the successor was killed");
    assert.equal(readPid(pidFile), ready.pid);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p, pidFile);
  }, T);

  it(
    "says ready but serves nothing of ours (binds nothing): refused, killed, the old process keeps serving",
    async () => {
      const pidFile = path.join(tempDir(), "app.pid");
      const p = server("bogus-ready", { restart: { pidFile } });
      const ready = await p.waitFor("ready");
      p.signal("SIGHUP");
      const restart = await p.waitFor("restart");
      assert.equal(restart.ok, false, "readiness must prove the successor serves our socket or port");
      assert.match(String(restart.error), /bound port 1 itself instead of taking fd 3|serves port 1, not/);
      assert.equal(alive(restart.pid as number), false);
      assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid));
      p.signal("SIGTERM");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      await nothingLeft(p, pidFile);
    },
    T,
  );
});

describe("faults: the old process during a restart", () => {
  it("SIGTERM while the successor starts: the successor is stopped too, nothing serves after stop", async () => {
    const dir = tempDir();
    const gate = path.join(dir, "gate");
    const pidFile = path.join(dir, "app.pid");
    const p = server("gate", { restart: { pidFile } }, { GS_GATE_FILE: gate });
    await p.waitFor("ready");
    fs.writeFileSync(gate, "");
    p.signal("SIGHUP");
    const gated = await p.waitFor("gated");
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.match(p.stderr(), new RegExp(`stopping successor ${gated.pid}`));
    await nothingLeft(p, pidFile);
  }, T);

  it("SIGKILLed while the successor starts: the successor does not serve unmanaged, the PID file goes", async () => {
    const dir = tempDir();
    const gate = path.join(dir, "gate");
    const pidFile = path.join(dir, "app.pid");
    const p = server("gate", { restart: { pidFile } }, { GS_GATE_FILE: gate });
    const ready = await p.waitFor("ready");
    fs.writeFileSync(gate, "");
    p.signal("SIGHUP");
    const gated = await p.waitFor("gated");
    p.signal("SIGKILL");
    assert.deepEqual(await p.exited, { code: null, signal: "SIGKILL" });
    assert.equal(readPid(pidFile), ready.pid, "the killed process could not clean up");
    process.kill(gated.pid as number, "SIGUSR1");
    await p.waitForStderr(new RegExp(`successor of pid ${ready.pid}, which is gone before the handoff`));
    await nothingLeft(p, pidFile);
  }, T);
});

describe("faults: signals", () => {
  it("a storm of 10 signals in a burst ends in exit 0 or 1, never in death by the signal (5 rounds)", async () => {
    const mixes: NodeJS.Signals[][] = [
      Array(10).fill("SIGTERM"),
      Array(10).fill("SIGINT"),
      ["SIGTERM", "SIGHUP", "SIGTERM", "SIGUSR2", "SIGINT", "SIGHUP", "SIGTERM", "SIGUSR2", "SIGTERM", "SIGTERM"],
      Array(10).fill("SIGTERM"),
      Array(10).fill("SIGUSR2"),
    ];
    for (const [round, mix] of mixes.entries()) {
      const p = server("", { restart: true });
      await p.waitFor("ready");
      // 10 signals over ~10 ms: the later ones land while the first one's drain ends and the process exits.
      await signalStorm(p, mix);
      const exit = await p.exited;
      assert.equal(exit.signal, null, `round ${round} (${mix.join(" ")}): died by ${exit.signal}`);
      assert.ok(exit.code === 0 || exit.code === 1, `round ${round}: exit code ${exit.code}`);
      await nothingLeft(p);
    }
  }, 120_000);

  for (const second of ["SIGTERM", "SIGUSR2"] as const) {
    it(`${second} while an onShutdown hook hangs hammers at once: exit 1, the hook recorded as cut`, async () => {
      const p = server("hook-hang");
      await p.waitFor("ready");
      p.signal("SIGTERM");
      await p.waitFor("hook");
      p.signal(second);
      // The hook's own timeout is 60 s, beyond this test's: only a hammer ends the process in time.
      assert.deepEqual(await p.exited, { code: 1, signal: null });
      const report = await p.waitFor("report");
      assert.match(String(report.errors), /shutdown hook "stuck" cut by a hammer/);
    }, T);
  }
});

describe("faults: startup", () => {
  it("a listen failure in an app that never awaits ready() exits 1, not 0", async () => {
    const taken = net.createServer().listen(0, "127.0.0.1");
    await new Promise((resolve) => taken.once("listening", resolve));
    try {
      const p = server("no-ready", {}, { GS_PORT: String((taken.address() as net.AddressInfo).port) });
      const exit = await p.exited;
      assert.deepEqual(exit, { code: 1, signal: null }, `stderr:\n${p.stderr()}`);
      assert.match(p.stderr(), /could not listen/);
    } finally {
      taken.close();
    }
  }, T);

  it("process.title set after loading: SIGHUP still restarts the same program", async () => {
    const p = server("title", { restart: true });
    const ready = await p.waitFor("ready");
    p.signal("SIGHUP");
    const restart = await p.waitFor("restart");
    assert.equal(restart.ok, true, `restart failed: ${restart.error}\n${p.stderr()}`);
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal((await request(ready.port as number, "/pid")).body, String(restart.pid));
    process.kill(restart.pid as number, "SIGTERM");
    await nothingLeft(p);
  }, T);

  it.skipIf(runtime !== "deno")(
    "Deno, process.title set before graceful-serve loaded: restart fails naming restart.command, still serving",
    async () => {
      const p = server("title-first", { restart: true });
      const ready = await p.waitFor("ready");
      p.signal("SIGHUP");
      const restart = await p.waitFor("restart");
      assert.equal(restart.ok, false);
      assert.match(String(restart.error), /restart\.command/);
      assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid));
      p.signal("SIGTERM");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
    },
    T,
  );

  for (const [option, value] of [["deadline", 1e12], ["connectionGrace", 2 ** 31], ["drainDelay", 1e10]] as const) {
    it(
      `${option}: ${value} is refused at serve() with a RangeError naming it (a timer that long fires at once)`,
      async () => {
        const p = server("", { [option]: value, ...(option === "drainDelay" ? { deadline: 2 ** 31 - 1 } : {}) });
        const exit = await p.exited;
        assert.notEqual(exit.code, 0);
        assert.match(p.stderr(), new RegExp(`RangeError.*"${option}" must be at most 2147483647`));
        assert.equal(p.events.some((e) => e.event === "ready"), false);
      },
      T,
    );
  }

  it("restart.pidFile in a missing directory is refused at serve(), naming the option", async () => {
    const p = server("", { restart: { pidFile: path.join(tempDir(), "missing", "app.pid") } });
    const exit = await p.exited;
    assert.notEqual(exit.code, 0);
    assert.match(p.stderr(), /option "restart\.pidFile" cannot be written: directory .*missing does not exist/);
    assert.equal(p.events.some((e) => e.event === "ready"), false);
  }, T);

  it.skipIf(runtime === "bun")("graceful() with the Bun-only websocket option warns the same way", async () => {
    const warnings: string[] = [];
    const app = graceful({
      fetch: () => new Response("hi"),
      websocket: {},
      signals: false,
      logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
    });
    assert.equal(app.websocket, undefined);
    assert.match(warnings.join("\n"), new RegExp(`option "websocket" is ignored on ${runtime}.*app\\.lifecycle`));
    await app.lifecycle.shutdown();
  }, T);

  it.skipIf(runtime === "bun")(
    "the Bun-only websocket option is not ignored silently: a warning names the runtime",
    async () => {
      const p = server("", { websocket: {} });
      await p.waitFor("ready");
      assert.match(p.stderr(), new RegExp(`option "websocket" is ignored on ${runtime}`));
      p.signal("SIGTERM");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
    },
    T,
  );
});

describe("faults: an inherited GRACEFUL_SERVE_HANDOFF that is not ours", () => {
  it("a stale one naming another process is ignored with a warning; the configured port is bound", async () => {
    const stranger = faultServer("");
    procs.push(stranger);
    const other = await stranger.waitFor("ready");
    const handoff = {
      mode: "reuseport",
      port: other.port,
      hostname: "127.0.0.1",
      readyFd: 1, // would close stdout
      ppid: other.pid, // alive, but not our parent
    };
    const p = server("", {}, { GRACEFUL_SERVE_HANDOFF: JSON.stringify(handoff) });
    const ready = await p.waitFor("ready");
    assert.notEqual(ready.port, other.port, "bound its own port, not the one named in the variable");
    assert.match(p.stderr(), /ignoring GRACEFUL_SERVE_HANDOFF \(it names pid \d+, which is not this process's parent/);
    assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid));
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal(p.events.filter((e) => e.event === "report").length, 1, "stdout stayed open");
  }, T);

  it("one naming our parent but with nothing on fd 3 is ignored; the configured port is bound", async () => {
    const handoff = { mode: "fd", fd: 3, port: 1, hostname: "127.0.0.1", ppid: process.pid };
    const p = server("", {}, { GRACEFUL_SERVE_HANDOFF: JSON.stringify(handoff) });
    const ready = await p.waitFor("ready");
    assert.equal((await request(ready.port as number, "/pid")).body, String(ready.pid));
    if (runtime === "node") assert.match(p.stderr(), /ignoring GRACEFUL_SERVE_HANDOFF \(fd 3 is not (open|a socket)\)/);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
  }, T);
});
