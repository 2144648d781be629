// Signal policy through a fake platform: which signal drains, which hammers, what exit code follows.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  createLifecycle,
  type Drainable,
  installSignalHandlers,
  type SignalName,
  type SignalPlatform,
} from "../src/core.ts";

function fakePlatform(unsupported: SignalName[] = []) {
  const listeners = new Map<SignalName, Set<() => void>>();
  const exits: number[] = [];
  let onExit: (() => void) | undefined;
  const platform: SignalPlatform = {
    on(signal, listener) {
      if (unsupported.includes(signal)) throw new Error(`unsupported ${signal}`);
      if (!listeners.has(signal)) listeners.set(signal, new Set());
      listeners.get(signal)!.add(listener);
    },
    off(signal, listener) {
      listeners.get(signal)?.delete(listener);
    },
    exit(code) {
      exits.push(code);
      onExit?.();
    },
  };
  const raise = (signal: SignalName) => {
    for (const l of [...(listeners.get(signal) ?? [])]) l();
  };
  const count = () => [...listeners.values()].reduce((n, s) => n + s.size, 0);
  const exited = () => new Promise<void>((resolve) => (onExit = resolve));
  return { platform, raise, exits, count, exited };
}

/** A transport that never drains on its own (one request hangs). */
function hanging(): Drainable & { forced: boolean } {
  let finish!: () => void;
  const drained = new Promise<void>((resolve) => (finish = resolve));
  const t = {
    forced: false,
    inFlight: () => (t.forced ? 0 : 1),
    drain: () => drained,
    forceClose() {
      t.forced = true;
      finish();
    },
  };
  return t;
}

describe("signals", () => {
  it("first SIGTERM drains and exits 0 when nothing was cut", async () => {
    const lifecycle = createLifecycle({ logger: false });
    const p = fakePlatform();
    installSignalHandlers(lifecycle, p.platform, { exit: true });
    assert.equal(p.count(), 3, "SIGINT, SIGTERM, SIGUSR2");
    const exited = p.exited();
    p.raise("SIGTERM");
    assert.equal(lifecycle.state, "draining");
    await exited;
    assert.deepEqual(p.exits, [0]);
    assert.equal((await lifecycle.finished).reason, "SIGTERM");
    assert.equal(p.count(), 3, "handlers kept until the process is gone: a signal storm must not meet default death");
  });

  // Two ways to hammer: a second drain signal, or SIGUSR2 at once. Either cuts the work and exits 1.
  for (
    const [name, raised] of [
      ["a second SIGINT hammers and exits 1", ["SIGINT", "SIGINT"]],
      ["SIGUSR2 hammers at once", ["SIGUSR2"]],
    ] as const
  ) {
    it(name, async () => {
      const lifecycle = createLifecycle({ logger: false, deadline: 60_000 });
      const transport = hanging();
      lifecycle.drive(transport);
      const p = fakePlatform();
      installSignalHandlers(lifecycle, p.platform, { exit: true });
      const exited = p.exited();
      for (const [i, signal] of raised.entries()) {
        // Not cut before the last signal: the first SIGINT only drains.
        assert.equal(transport.forced, false, `not forced before signal ${i + 1}`);
        p.raise(signal);
      }
      await exited;
      assert.equal(transport.forced, true);
      assert.deepEqual(p.exits, [1]);
      const report = await lifecycle.finished;
      assert.equal(report.graceful, false);
      assert.equal(report.reason, raised[0]);
    });
  }

  it("exits 1 when the deadline cut work", async () => {
    const lifecycle = createLifecycle({ logger: false, deadline: 10 });
    lifecycle.drive(hanging());
    const p = fakePlatform();
    installSignalHandlers(lifecycle, p.platform, { exit: true });
    const exited = p.exited();
    p.raise("SIGTERM");
    await exited;
    assert.deepEqual(p.exits, [1]);
  });

  it("exit: false drains without exiting, and removes its handlers", async () => {
    const lifecycle = createLifecycle({ logger: false });
    const p = fakePlatform();
    installSignalHandlers(lifecycle, p.platform, { exit: false });
    p.raise("SIGTERM");
    await lifecycle.finished;
    await Promise.resolve();
    assert.deepEqual(p.exits, []);
    assert.equal(p.count(), 0);
  });

  it("a manual shutdown also removes the handlers", async () => {
    const lifecycle = createLifecycle({ logger: false });
    const p = fakePlatform();
    installSignalHandlers(lifecycle, p.platform, { exit: true });
    await lifecycle.shutdown();
    await Promise.resolve();
    assert.equal(p.count(), 0);
    assert.deepEqual(p.exits, [], "a manual shutdown never exits the process");
  });

  it("skips signals the platform cannot deliver (Windows) and says so", () => {
    const warnings: string[] = [];
    const log = (m: string) => void warnings.push(m);
    const lifecycle = createLifecycle({ logger: { info: log, warn: log, error: log } });
    const p = fakePlatform(["SIGTERM", "SIGUSR2"]);
    installSignalHandlers(lifecycle, p.platform, { exit: true });
    assert.equal(p.count(), 1, "only SIGINT");
    assert.deepEqual(warnings.map((w) => w.split(" ")[0]), ["SIGTERM", "SIGUSR2"]);
  });

  it("the returned function removes the handlers", () => {
    const lifecycle = createLifecycle({ logger: false });
    const p = fakePlatform();
    const remove = installSignalHandlers(lifecycle, p.platform, { exit: true });
    remove();
    assert.equal(p.count(), 0);
  });
});

describe("several servers in one process", () => {
  it("a signal drains them all, and the process exits once, after the last, with the worst code", async () => {
    const p = fakePlatform();
    const fast = createLifecycle({ logger: false });
    const slow = createLifecycle({ logger: false, deadline: 20 });
    slow.drive(hanging());
    installSignalHandlers(fast, p.platform, { exit: true });
    installSignalHandlers(slow, p.platform, { exit: true });
    const exited = p.exited();
    p.raise("SIGTERM");
    await fast.finished;
    await Promise.resolve();
    assert.deepEqual(p.exits, [], "the first server to close does not end the process");
    await exited;
    assert.deepEqual(p.exits, [1], "one exit, with the slow server's code (it was cut)");
    assert.equal(slow.state, "closed");
  });
});
