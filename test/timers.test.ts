// Timer options above 2^31-1 ms fire after ~1 ms on every runtime (setTimeout stores a signed 32-bit
// delay), so one validator refuses them, naming the option (issue 13, defect 7); and the option
// objects that threw raw TypeErrors now name what is wrong (defect 13).
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { checkMilliseconds, createLifecycle } from "../src/core.ts";
import { serve } from "../src/mod.ts";

const MAX = 2 ** 31 - 1;
const fetch = () => new Response("x");

function rangeNaming(fn: () => unknown, name: string) {
  assert.throws(
    fn,
    (e: unknown) => e instanceof RangeError && e.message.includes(`"${name}"`) && e.message.includes(String(MAX)),
    name,
  );
}

describe("timer options longer than a timer can wait", () => {
  it("checkMilliseconds accepts 2^31-1 and refuses 2^31, naming the option", () => {
    assert.equal(checkMilliseconds("grace", MAX), MAX);
    rangeNaming(() => checkMilliseconds("grace", MAX + 1), "grace");
  });

  it("every timer option of serve() and the lifecycle goes through it", () => {
    const base = { fetch, port: 0, logger: false as const, signals: false };
    rangeNaming(() => serve({ ...base, deadline: 1e12 }), "deadline");
    rangeNaming(() => serve({ ...base, connectionGrace: 2 ** 31 }), "connectionGrace");
    rangeNaming(() => serve({ ...base, deadline: MAX, drainDelay: 1e10 }), "drainDelay");
    rangeNaming(() => serve({ ...base, restart: { timeout: 1e10 } }), "restart.timeout");
    rangeNaming(() => createLifecycle({ deadline: 2 ** 40 }), "deadline");
    const lifecycle = createLifecycle({ logger: false });
    rangeNaming(() => lifecycle.onShutdown(() => {}, { timeout: 2 ** 32 }), "timeout");
    rangeNaming(() => lifecycle.shutdown({ deadline: 1e12 }), "deadline");
    assert.equal(lifecycle.state, "serving", "a refused shutdown() did not start one");
  });
});

describe("option objects that are not objects", () => {
  it("onShutdown(fn, null) and a non-string name: TypeError naming the option", () => {
    const lifecycle = createLifecycle({ logger: false });
    assert.throws(
      () => lifecycle.onShutdown(() => {}, null as never),
      (e: unknown) => e instanceof TypeError && /onShutdown\(\) option "options" must be an object/.test(e.message),
    );
    assert.throws(() => lifecycle.onShutdown(() => {}, 5000 as never), TypeError);
    assert.throws(
      () => lifecycle.onShutdown(() => {}, { name: 42 as never }),
      (e: unknown) => e instanceof TypeError && /option "name" must be a string/.test(e.message),
    );
  });
});
