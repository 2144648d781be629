// The core state machine, driven without sockets: a fake transport whose drain the test finishes.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { createLifecycle, type Drainable, type Lifecycle, type LifecycleState } from "../src/core.ts";

const silent = { logger: false as const };

/** A transport whose drain completes when the test says so, recording what it was asked. */
function fakeTransport(open = 0) {
  const calls: string[] = [];
  let finishDrain!: () => void;
  const drained = new Promise<void>((resolve) => (finishDrain = resolve));
  const transport: Drainable & { open: number } = {
    open,
    inFlight: () => transport.open,
    drain() {
      calls.push("drain");
      return drained;
    },
    forceClose() {
      calls.push(`force:${transport.open}`);
      transport.open = 0;
      finishDrain();
    },
  };
  return { transport, calls, finishDrain };
}

function states(lifecycle: Lifecycle): LifecycleState[] {
  const seen: LifecycleState[] = [];
  lifecycle.addEventListener("statechange", (e) => seen.push((e as Event & { state: LifecycleState }).state));
  return seen;
}

describe("lifecycle", () => {
  it("starts serving with a live signal", () => {
    const lifecycle = createLifecycle(silent);
    assert.equal(lifecycle.state, "serving");
    assert.equal(lifecycle.signal.aborted, false);
  });

  it("enters draining synchronously, aborts the signal, and closes when the transport drains", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 60_000 });
    const { transport, calls, finishDrain } = fakeTransport(2);
    lifecycle.drive(transport);
    const seen = states(lifecycle);
    const run = lifecycle.shutdown({ reason: "test" });
    assert.equal(lifecycle.state, "draining");
    assert.equal(lifecycle.signal.aborted, true);
    assert.deepEqual(calls, ["drain"]);
    transport.open = 0;
    finishDrain();
    const report = await run;
    assert.equal(lifecycle.state, "closed");
    assert.deepEqual(seen, ["draining", "closed"]);
    assert.equal(report.reason, "test");
    assert.equal(report.graceful, true);
    assert.equal(report.inFlight, 2);
    assert.equal(report.forced, 0);
    assert.deepEqual(calls, ["drain"], "no force when the drain finished first");
    assert.equal(await lifecycle.finished, report);
  });

  it("returns the same promise to every shutdown() call", async () => {
    const lifecycle = createLifecycle(silent);
    lifecycle.drive(fakeTransport().transport);
    const a = lifecycle.shutdown();
    const b = lifecycle.shutdown({ deadline: 1, reason: "other" });
    assert.equal(a, b);
    await lifecycle.hammer();
  });

  it("force-closes at the deadline and reports what was cut", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 20 });
    const { transport, calls } = fakeTransport(3);
    lifecycle.drive(transport);
    const forcedEvents: unknown[] = [];
    lifecycle.addEventListener("forced", (e) => forcedEvents.push((e as CustomEvent).detail));
    const report = await lifecycle.shutdown();
    assert.deepEqual(calls, ["drain", "force:3"]);
    assert.equal(report.graceful, false);
    assert.equal(report.forced, 3);
    assert.equal(report.inFlight, 3);
    assert.deepEqual(forcedEvents, [{ reason: "deadline", forced: 3 }]);
    assert.equal(lifecycle.state, "closed");
  });

  it("a per-call deadline overrides the configured one", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 60_000 });
    const { transport, calls } = fakeTransport(1);
    lifecycle.drive(transport);
    const report = await lifecycle.shutdown({ deadline: 0 });
    assert.equal(report.graceful, false);
    assert.deepEqual(calls, ["drain", "force:1"]);
  });

  it("hammer() cuts at once, while serving or while draining", async () => {
    const a = createLifecycle({ ...silent, deadline: 60_000 });
    const ta = fakeTransport(1);
    a.drive(ta.transport);
    const report = await a.hammer("SIGUSR2");
    assert.equal(report.reason, "SIGUSR2");
    assert.equal(report.graceful, false);
    assert.deepEqual(ta.calls, ["drain", "force:1"]);

    const b = createLifecycle({ ...silent, deadline: 60_000 });
    const tb = fakeTransport(2);
    b.drive(tb.transport);
    const run = b.shutdown({ reason: "SIGTERM" });
    const hammered = b.hammer("SIGTERM");
    assert.equal(run, hammered, "hammer joins the running shutdown");
    const r = await run;
    assert.equal(r.forced, 2);
    assert.equal(r.reason, "SIGTERM");
  });

  it("hammer() after close returns the finished report", async () => {
    const lifecycle = createLifecycle(silent);
    const report = await lifecycle.shutdown();
    assert.equal(await lifecycle.hammer(), report);
  });

  it("waitUntil work delays close, and is cut at the deadline", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 60_000 });
    let finish!: () => void;
    const order: string[] = [];
    lifecycle.waitUntil(new Promise<void>((resolve) => (finish = resolve)).then(() => void order.push("task")));
    const run = lifecycle.shutdown().then((r) => {
      order.push("closed");
      return r;
    });
    await Promise.resolve();
    assert.equal(lifecycle.state, "draining");
    finish();
    const report = await run;
    assert.deepEqual(order, ["task", "closed"]);
    assert.equal(report.inFlight, 1);
    assert.equal(report.graceful, true);

    const cut = createLifecycle({ ...silent, deadline: 10 });
    cut.waitUntil(new Promise(() => {}));
    const r = await cut.shutdown();
    assert.equal(r.graceful, false);
    assert.equal(r.forced, 1);
  });

  it("records a rejected waitUntil task in report.errors", async () => {
    const lifecycle = createLifecycle(silent);
    lifecycle.waitUntil(Promise.reject(new Error("task failed")));
    const report = await lifecycle.shutdown();
    assert.equal(report.errors.length, 1);
    assert.match(String(report.errors[0]), /task failed/);
  });

  it("a transport whose drain rejects still closes, with the error reported", async () => {
    const lifecycle = createLifecycle(silent);
    lifecycle.drive({ inFlight: () => 0, drain: () => Promise.reject(new Error("drain broke")), forceClose() {} });
    const report = await lifecycle.shutdown();
    assert.equal(lifecycle.state, "closed");
    assert.match(String(report.errors[0]), /drain broke/);
  });

  it("logs one line per transition to the given logger", async () => {
    const lines: string[] = [];
    const log = (m: string) => void lines.push(m);
    const lifecycle = createLifecycle({ logger: { info: log, warn: log, error: log }, deadline: 10 });
    lifecycle.drive(fakeTransport(1).transport);
    await lifecycle.shutdown({ reason: "SIGTERM" });
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /draining \(SIGTERM\): 1 in flight, deadline 10 ms/);
    assert.match(lines[1]!, /deadline: force-closing 1/);
    assert.match(lines[2]!, /closed \(SIGTERM\).*forced 1/);
  });

  it("rejects bad deadlines and loggers with errors naming the option", () => {
    assert.throws(
      () => createLifecycle({ deadline: -1 }),
      (e: unknown) => e instanceof RangeError && /"deadline"/.test(e.message),
    );
    assert.throws(() => createLifecycle({ deadline: Number.NaN }), RangeError);
    assert.throws(() => createLifecycle({ deadline: Infinity }), RangeError);
    assert.throws(
      () => createLifecycle({ deadline: "5s" as unknown as number }),
      (e: unknown) => e instanceof TypeError && /"deadline"/.test(e.message),
    );
    assert.throws(
      () => createLifecycle({ logger: {} as never }),
      (e: unknown) => e instanceof TypeError && /"logger"/.test(e.message),
    );
    const lifecycle = createLifecycle(silent);
    assert.throws(() => lifecycle.shutdown({ deadline: -5 }), RangeError);
    assert.equal(lifecycle.state, "serving", "a rejected shutdown() call changes nothing");
  });

  it("refuses a second transport", () => {
    const lifecycle = createLifecycle(silent);
    lifecycle.drive(fakeTransport().transport);
    assert.throws(
      () => lifecycle.drive(fakeTransport().transport),
      (e: unknown) =>
        e instanceof Error && /already attached/.test(e.message) &&
        (e as { code?: string }).code === "ERR_GRACEFUL_STATE",
    );
  });

  it("attach(), drive()'s deprecated name, still connects the transport (public API kept, issue 14)", async () => {
    const lifecycle = createLifecycle(silent);
    const { transport, calls, finishDrain } = fakeTransport();
    lifecycle.attach(transport);
    assert.throws(() => lifecycle.drive(fakeTransport().transport), /already attached/);
    const run = lifecycle.shutdown();
    assert.deepEqual(calls, ["drain"]);
    finishDrain();
    assert.equal((await run).graceful, true);
  });
});

describe("drain delay and hooks", () => {
  it("with a drain delay, drain() starts only after it, while the state is already draining", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 60_000, drainDelay: 150 });
    const { transport, calls, finishDrain } = fakeTransport();
    lifecycle.drive(transport);
    const order: string[] = [];
    lifecycle.onDrain(() => void order.push("onDrain"));
    const run = lifecycle.shutdown();
    assert.equal(lifecycle.state, "draining");
    assert.equal(lifecycle.signal.aborted, true);
    assert.deepEqual(calls, [], "still accepting during the delay");
    await new Promise<void>((resolve) => {
      const original = transport.drain;
      transport.drain = () => {
        resolve();
        return original();
      };
    });
    assert.deepEqual(calls, ["drain"]);
    finishDrain();
    const report = await run;
    assert.equal(report.graceful, true);
    assert.deepEqual(order, ["onDrain"]);
  });

  it("a hammer during the drain delay skips it", async () => {
    const lifecycle = createLifecycle({ ...silent, deadline: 60_000, drainDelay: 30_000 });
    const { transport, calls } = fakeTransport(1);
    lifecycle.drive(transport);
    void lifecycle.shutdown();
    const report = await lifecycle.hammer("SIGUSR2");
    assert.deepEqual(calls, ["drain", "force:1"]);
    assert.ok(report.durationMs < 30_000);
  });

  it("rejects a drain delay longer than the deadline", () => {
    assert.throws(
      () => createLifecycle({ deadline: 1000, drainDelay: 2000 }),
      (e: unknown) => e instanceof RangeError && /"drainDelay"/.test(e.message) && /"deadline"/.test(e.message),
    );
    assert.throws(() => createLifecycle({ drainDelay: -1 }), RangeError);
  });

  it("runs shutdown hooks after the drain, last registered first, with the reason", async () => {
    const lifecycle = createLifecycle(silent);
    const { transport, finishDrain } = fakeTransport();
    lifecycle.drive(transport);
    const order: string[] = [];
    lifecycle.onShutdown((reason) => void order.push(`db:${reason}`));
    lifecycle.onShutdown(async () => {
      await Promise.resolve();
      order.push("cache");
    });
    const removed = lifecycle.onShutdown(() => void order.push("never"));
    removed();
    const run = lifecycle.shutdown({ reason: "SIGTERM" });
    await Promise.resolve();
    assert.deepEqual(order, [], "hooks wait for the drain");
    finishDrain();
    const report = await run;
    assert.deepEqual(order, ["cache", "db:SIGTERM"]);
    assert.deepEqual(report.errors, []);
  });

  it("a hook that throws or times out is reported and does not stop the others", async () => {
    const lifecycle = createLifecycle(silent);
    const order: string[] = [];
    lifecycle.onShutdown(() => void order.push("first"), { name: "first" });
    lifecycle.onShutdown(() => new Promise(() => {}), { name: "stuck", timeout: 20 });
    lifecycle.onShutdown(() => {
      throw new Error("broken");
    }, { name: "thrower" });
    const report = await lifecycle.shutdown();
    assert.deepEqual(order, ["first"]);
    assert.equal(report.errors.length, 2);
    assert.match(String(report.errors[0]), /shutdown hook "thrower" failed: broken/);
    assert.match(String(report.errors[1]), /shutdown hook "stuck" timed out after 20 ms/);
    for (const error of report.errors) assert.equal((error as { code?: string }).code, "ERR_GRACEFUL_HOOK");
    assert.equal(report.graceful, true, "graceful speaks of requests; errors speak of hooks");
  });

  it("an unregister function called twice removes only its own hook", async () => {
    const lifecycle = createLifecycle(silent);
    lifecycle.drive(fakeTransport().transport);
    const order: string[] = [];
    lifecycle.onShutdown(() => void order.push("first"));
    const remove = lifecycle.onShutdown(() => void order.push("second"));
    lifecycle.onDrain(() => void order.push("drain-first"));
    const removeDrain = lifecycle.onDrain(() => void order.push("drain-second"));
    remove();
    remove();
    removeDrain();
    removeDrain();
    await lifecycle.shutdown({ deadline: 0 });
    assert.deepEqual(order, ["drain-first", "first"]);
  });

  it("checks hook arguments", () => {
    const lifecycle = createLifecycle(silent);
    assert.throws(() => lifecycle.onShutdown(5 as never), TypeError);
    assert.throws(
      () => lifecycle.onShutdown(() => {}, { timeout: -1 }),
      (e: unknown) => e instanceof RangeError && /"timeout"/.test(e.message),
    );
    assert.throws(() => lifecycle.onDrain("x" as never), TypeError);
  });
});
