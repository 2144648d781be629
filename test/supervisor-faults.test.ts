// `graceful-serve run` under faults (issue 13, and issue 12 defect 6): workers that fail to start,
// crash loops, signals to the supervisor in every phase, signal storms, workers behind wrappers, and
// keep-alive clients across restarts. Real processes, real signals; each test ends with exactly the
// processes expected alive (none), the PID file naming a live supervisor or absent, and the exit
// code `graceful-serve run --help` documents.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "vitest";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";
import { startKeepAliveLoad } from "./_helpers/load.ts";
import { request } from "./_helpers/raw-http.ts";
import {
  faultWorker,
  follow,
  gone,
  nodeBin,
  type Proc,
  root,
  signalStorm,
  supervisor,
  supervisorPort,
  tempDir,
} from "./_helpers/procs.ts";

const T = 60_000;
let procs: Proc[] = [];
afterEach(() => {
  for (const p of procs) p.cleanup();
  procs = [];
});

function run(flags: string[], faults = "", env: Record<string, string> = {}, command?: string[]): Proc {
  const p = supervisor(["--port", "0", ...flags], faults, env, command);
  procs.push(p);
  return p;
}

/** After the supervisor exited: every worker gone, the PID file absent. */
async function nothingLeft(p: Proc, pidFile?: string) {
  await p.allGone;
  for (const pid of p.pids()) assert.equal(await gone(pid), true, `worker ${pid} is still alive`);
  if (pidFile) assert.equal(fs.existsSync(pidFile), false, "PID file left behind");
}

/** The n-th worker ready (0-based): its own event, and the supervisor's log that it heard so. */
async function nthReady(p: Proc, n: number) {
  const ready = await p.waitFor("ready", (e) => p.events.filter((r) => r.event === "ready").indexOf(e) === n);
  await p.waitForStderr(new RegExp(`worker ${ready.pid} ready|server pid ${ready.pid} behind a wrapper`));
  return ready;
}

describe("graceful-serve run: workers that fail", () => {
  it(
    "a respawned worker that fails at start is retried with backoff; the supervisor never exits 0 workerless",
    async () => {
      const dir = tempDir();
      const failFile = path.join(dir, "fail");
      const pidFile = path.join(dir, "run.pid");
      const p = run(["--pid-file", pidFile], "fail", { GS_FAIL_FILE: failFile });
      const first = await nthReady(p, 0);
      fs.writeFileSync(failFile, "");
      process.kill(first.pid as number, "SIGKILL");
      await p.waitForStderr(/exited unexpectedly \(code 137\); starting another in 500 ms/);
      await p.waitForStderr(/failed to start; starting another in 1000 ms/);
      assert.equal(p.child.exitCode, null, "the supervisor is still running, retrying");
      assert.equal(fs.readFileSync(pidFile, "utf8").trim(), String(p.child.pid));
      fs.rmSync(failFile);
      const second = await nthReady(p, 1);
      const port = await supervisorPort(p);
      assert.equal((await request(port, "/pid")).body, String(second.pid));
      p.signal("SIGTERM");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      await nothingLeft(p, pidFile);
    },
    T,
  );

  it("a crash loop backs off 0.5 s, 1 s, 2 s; after 10 s up the backoff is back to 0.5 s", async () => {
    const p = run([]);
    const kill = async (n: number) => process.kill((await nthReady(p, n)).pid as number, "SIGKILL");
    await kill(0);
    await p.waitForStderr(/starting another in 500 ms/);
    await kill(1);
    await p.waitForStderr(/starting another in 1000 ms/);
    const third = await nthReady(p, 2);
    await p.waitForStderr(new RegExp(`worker ${third.pid} up for 10000 ms; respawn backoff reset to 500 ms`));
    process.kill(third.pid as number, "SIGKILL");
    await p.waitForStderr(
      new RegExp(`worker ${third.pid} exited unexpectedly \\(code 137\\); starting another in 500 ms`),
    );
    await nthReady(p, 3);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p);
  }, T);

  it("a first worker that never becomes ready: exit 1 after --timeout, nothing left", async () => {
    const dir = tempDir();
    const gate = path.join(dir, "gate");
    fs.writeFileSync(gate, "");
    const p = run(["--timeout", "1000"], "gate", { GS_GATE_FILE: gate });
    await p.waitFor("gated");
    assert.deepEqual(await p.exited, { code: 1, signal: null });
    assert.match(p.stderr(), /not ready within 1000 ms/);
    await nothingLeft(p);
  }, T);
});

describe("graceful-serve run: signals in every phase", () => {
  it("SIGTERM while the first worker starts: not waited for; the worker is stopped; exit 1", async () => {
    const gate = path.join(tempDir(), "gate");
    fs.writeFileSync(gate, "");
    const p = run([], "gate", { GS_GATE_FILE: gate });
    await p.waitFor("gated");
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 1, signal: null });
    await nothingLeft(p);
  }, T);

  it("a second SIGTERM forces a starting worker that ignores the first", async () => {
    const gate = path.join(tempDir(), "gate");
    fs.writeFileSync(gate, "");
    const p = run([], "gate,ignore-term", { GS_GATE_FILE: gate });
    await p.waitFor("gated");
    p.signal("SIGTERM");
    await p.waitFor("term-ignored");
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 1, signal: null });
    assert.match(p.stderr(), /SIGTERM: hammering worker/);
    await nothingLeft(p);
  }, T);

  it("SIGTERM during the respawn backoff starts nothing and exits 1 (no worker was serving)", async () => {
    const p = run([]);
    const first = await nthReady(p, 0);
    process.kill(first.pid as number, "SIGKILL");
    await p.waitForStderr(/starting another in 500 ms/);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 1, signal: null });
    assert.doesNotMatch(p.stderr(), /respawn: started worker/);
    await nothingLeft(p);
  }, T);

  it("SIGTERM while a SIGHUP's new worker starts: both stop, the serving one drains, exit 0", async () => {
    const dir = tempDir();
    const gate = path.join(dir, "gate");
    const pidFile = path.join(dir, "run.pid");
    const p = run(["--pid-file", pidFile], "gate", { GS_GATE_FILE: gate });
    const first = await nthReady(p, 0);
    fs.writeFileSync(gate, "");
    p.signal("SIGHUP");
    const gated = await p.waitFor("gated");
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.match(
      p.stderr(),
      new RegExp(`SIGTERM: draining worker (${first.pid}, ${gated.pid}|${gated.pid}, ${first.pid})`),
    );
    await nothingLeft(p, pidFile);
  }, T);

  it("SIGTERM while a replaced worker still drains: both end, exit 0", async () => {
    const p = run([]);
    const first = await nthReady(p, 0);
    const port = await supervisorPort(p);
    // A slow request keeps the replaced worker draining.
    const slow = request(port, "/slow?ms=1500");
    await p.waitFor("handling");
    p.signal("SIGHUP");
    await nthReady(p, 1);
    await p.waitFor("state", (e) => e.pid === first.pid && e.state === "draining");
    p.signal("SIGTERM");
    assert.equal((await slow).body, "slow 1500 done", "the draining worker finished its request");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p);
  }, T);

  it("the supervisor SIGKILLed: its workers drain and exit instead of serving unmanaged", async () => {
    const p = run([]);
    const first = await nthReady(p, 0);
    p.signal("SIGKILL");
    assert.deepEqual(await p.exited, { code: null, signal: "SIGKILL" });
    await p.waitFor("report", (e) => e.pid === first.pid);
    await nothingLeft(p);
  }, T);

  it(
    "a storm of 10 signals ends in exit 0 or 1, never death by the signal, with every worker gone (3 rounds)",
    async () => {
      const mixes: NodeJS.Signals[][] = [
        Array(10).fill("SIGTERM"),
        ["SIGHUP", "SIGTERM", "SIGHUP", "SIGINT", "SIGTERM", "SIGUSR2", "SIGTERM", "SIGHUP", "SIGTERM", "SIGTERM"],
        ["SIGHUP", "SIGHUP", "SIGHUP", "SIGHUP", "SIGHUP", "SIGTERM", "SIGTERM", "SIGTERM", "SIGTERM", "SIGTERM"],
      ];
      for (const [round, mix] of mixes.entries()) {
        const p = run([]);
        await nthReady(p, 0);
        await signalStorm(p, mix);
        const exit = await p.exited;
        assert.equal(exit.signal, null, `round ${round}: died by ${exit.signal}`);
        assert.ok(exit.code === 0 || exit.code === 1, `round ${round}: exit code ${exit.code}`);
        await nothingLeft(p);
      }
    },
    120_000,
  );
});

describe("graceful-serve run: the worker's socket", () => {
  it("a worker behind a wrapper (sh -c, no exec) serves the supervisor's port; SIGTERM reaches it", async () => {
    const [cmd, args] = runtimeCommand(faultWorker);
    const p = run([], "", {}, ["sh", "-c", '"$0" "$@"; exit $?', cmd, ...args]);
    const port = await supervisorPort(p);
    let ready;
    if (runtime === "node") ready = await nthReady(p, 0);
    else {
      // Deno.serve/Bun.serve cannot take the socket: the first worker says it bound a port of its
      // own, is refused, and --handoff auto switches to reuseport.
      await p.waitForStderr(/bound port \d+ itself instead of taking fd 3/);
      await p.waitForStderr(/handoff switched to reuseport/);
      ready = await nthReady(p, 1);
    }
    assert.equal((await request(port, "/pid")).body, String(ready.pid), "the supervisor's port is served");
    p.signal("SIGHUP");
    const next = await nthReady(p, runtime === "node" ? 1 : 2);
    // Once the replaced worker is closed (with reusePort a request racing its listener's close can
    // be reset: docs/runtimes.md), only the new one answers.
    await p.waitFor("report", (e) => e.pid === ready.pid);
    assert.equal((await request(port, "/pid")).body, String(next.pid));
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p);
  }, T);
});

describe("graceful-serve run: keep-alive clients across restarts (issue 12, defect 6)", () => {
  it("two SIGHUPs under keep-alive load: the replaced worker drains as a restart, 0 requests fail", async () => {
    const p = run([]);
    await nthReady(p, 0);
    const port = await supervisorPort(p);
    const total = 6000;
    const load = startKeepAliveLoad(nodeBin, port, total, 8);
    await load.reached(total / 4);
    p.signal("SIGHUP");
    await nthReady(p, 1);
    await load.reached(total / 2);
    p.signal("SIGHUP");
    await nthReady(p, 2);
    const result = await load.result;
    console.log(
      `[supervisor keep-alive] ${runtime}: ${result.failed} of ${total} failed, ${result.reused} on reused connections ${
        JSON.stringify(result.failures)
      }`,
    );
    assert.ok(result.reused > total / 2, `most requests reuse a connection (${result.reused})`);
    // Node: the replaced worker keeps its keep-alive connections until each ends after a response
    // with Connection: close, so 0. Deno and Bun: their own shutdown()/stop() closes idle keep-alive
    // connections under the client (issue 12, defects 4 and 6; their drain is request-path/deno/bun.s),
    // measured 16 of 6000 here before that lands: bounded at 1% until then.
    if (runtime === "node") assert.equal(result.failed, 0, JSON.stringify(result.failures));
    else assert.ok(result.failed <= total / 100, JSON.stringify(result.failures));
    assert.ok(Object.keys(result.pids).length >= 2, `answered by ${Object.keys(result.pids).join(", ")}`);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    await nothingLeft(p);
  }, T);
});

describe("graceful-serve run: arguments", () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(nodeBin, [`${root}dist/cli.js`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      child.once("exit", (code) => resolve({ code, stdout, stderr }));
    });

  it("run --help prints the usage, signals and exit codes, and exits 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const help = await cli("run", flag);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /usage: graceful-serve run \[options\] -- <command\.\.\.>/);
      assert.match(help.stdout, /SIGHUP/);
      assert.match(help.stdout, /exit code: 0 when/);
    }
  }, T);

  it("bad flags exit 2 with a message naming the flag", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--port", "", "--", "node", "x.mjs"], /--port must be an integer from 0 to 65535, got ""/],
      [["--port", "8o", "--", "node", "x.mjs"], /--port must be an integer/],
      [["--prot", "1", "--", "node", "x.mjs"], /--prot/],
      [["--port", "--", "node", "x.mjs"], /--port/],
      [["--timeout", "1e10", "--", "node", "x.mjs"], /--timeout must be a number of ms above 0 and at most 2147483647/],
      [["--timeout", "3000000000", "--", "node", "x.mjs"], /--timeout must be .* at most 2147483647/],
      [["--handoff", "pipe", "--", "node", "x.mjs"], /--handoff must be auto, fd or reuseport/],
      [["--port", "0"], /no worker command after --/],
    ];
    for (const [args, message] of cases) {
      const result = await cli("run", ...args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(" "));
    }
  }, T);

  it("a --pid-file in a missing directory fails at startup, naming --pid-file; nothing is started", async () => {
    const result = await cli(
      "run",
      "--port",
      "0",
      "--pid-file",
      path.join(tempDir(), "no", "run.pid"),
      "--",
      "sh",
      "-c",
      "echo started",
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--pid-file cannot be written: directory .*no does not exist/);
    assert.doesNotMatch(result.stdout, /started/);
  }, T);

  it("a follow() helper sanity check: unknown verbs exit 2 with the usage", async () => {
    const p = follow(nodeBin, [`${root}dist/cli.js`, "serve"]);
    procs.push(p);
    assert.deepEqual(await p.exited, { code: 2, signal: null });
    assert.match(p.stderr(), /usage: graceful-serve run/);
  }, T);
});
