// The PID file under attack and misconfiguration (issue 13, defects 10 and 11). A real filesystem race:
// the process is held before it starts (sh waits for a line on stdin), so its PID is known; a symlink
// is planted at the temp-file name the old code used (`<pidFile>.<pid>.tmp`) pointing at a file the
// attacker wants overwritten; then the process is let go.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { afterEach, describe, it } from "vitest";
import { runtimeCommand } from "./_helpers/fixture.ts";
import { cliRun, faultWorker, follow, nodeBin, type Proc, tempDir } from "./_helpers/procs.ts";
import { serve } from "../src/mod.ts";

const T = 60_000;
let procs: Proc[] = [];
afterEach(() => {
  for (const p of procs) p.cleanup();
  procs = [];
});

/** Runs `command` under `sh` with `umask`, held until released; returns the process and its PID-to-be. */
function held(umask: string, command: string[], env: Record<string, string> = {}) {
  const p = follow("sh", ["-c", `read line; umask ${umask}; exec "$0" "$@"`, ...command], env, "pipe");
  procs.push(p);
  return { p, pid: p.child.pid!, release: () => p.child.stdin!.end("go\n") };
}

function plant(pidFile: string, pid: number) {
  const victim = path.join(path.dirname(pidFile), "victim");
  fs.writeFileSync(victim, "precious\n", { mode: 0o600 });
  fs.symlinkSync(victim, `${pidFile}.${pid}.tmp`);
  return victim;
}

function checkPidFile(pidFile: string, pid: number, victim: string) {
  assert.equal(fs.readFileSync(victim, "utf8"), "precious\n", "the symlinked file was not written through");
  const stat = fs.lstatSync(pidFile);
  assert.equal(stat.isSymbolicLink(), false, "the PID file is not a symlink");
  assert.equal(stat.isFile(), true);
  assert.equal((stat.mode & 0o777).toString(8), "644", "mode 0644 whatever the umask");
  assert.equal(fs.readFileSync(pidFile, "utf8").trim(), String(pid));
}

describe("PID file security", () => {
  for (const umask of ["000", "077"]) {
    it(`serve(): a symlink planted at the predictable temp name is not followed; umask ${umask} → 0644`, async () => {
      const pidFile = path.join(tempDir(), "app.pid");
      const [cmd, args] = runtimeCommand(faultWorker);
      const { p, pid, release } = held(umask, [cmd, ...args], {
        GS_FAULT: "",
        GS_OPTIONS: JSON.stringify({ restart: { pidFile } }),
      });
      const victim = plant(pidFile, pid);
      release();
      const ready = await p.waitFor("ready");
      assert.equal(ready.pid, pid);
      checkPidFile(pidFile, pid, victim);
      p.signal("SIGTERM");
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      assert.equal(fs.existsSync(pidFile), false, "removed on exit");
    }, T);
  }

  it("graceful-serve run --pid-file: the same, umask 000", async () => {
    const pidFile = path.join(tempDir(), "run.pid");
    const [cmd, args] = runtimeCommand(faultWorker);
    const { p, pid, release } = held("000", [
      nodeBin,
      ...cliRun(["--port", "0", "--pid-file", pidFile], [cmd, ...args]),
    ], {
      GS_FAULT: "",
    });
    const victim = plant(pidFile, pid);
    release();
    await p.waitFor("ready");
    checkPidFile(pidFile, pid, victim);
    p.signal("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal(fs.existsSync(pidFile), false);
  }, T);
});

describe("PID file checked at serve()", () => {
  const fetch = () => new Response("x");
  it("a missing directory, a file as directory, a directory as the file: an Error naming restart.pidFile", () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, "file"), "");
    for (const pidFile of [path.join(dir, "missing", "a.pid"), path.join(dir, "file", "a.pid"), dir]) {
      assert.throws(
        () => serve({ fetch, port: 0, logger: false, signals: false, restart: { pidFile } }),
        (e: unknown) => e instanceof Error && /option "restart\.pidFile" cannot be written/.test(e.message),
        pidFile,
      );
    }
  });

  it.skipIf(process.getuid?.() === 0)("an unwritable directory: an Error naming restart.pidFile", () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o500);
    try {
      assert.throws(
        () => serve({ fetch, port: 0, logger: false, signals: false, restart: { pidFile: path.join(dir, "a.pid") } }),
        /option "restart\.pidFile" cannot be written: .* is not writable/,
      );
    } finally {
      fs.chmodSync(dir, 0o700);
    }
  });
});
