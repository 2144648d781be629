/**
 * Deno-only stand-in for `vitest` (mapped in deno.json "imports").
 *
 * Why: the suite is written once against the vitest API. Node runs it with
 * vitest, Bun rewrites `vitest` to `bun:test` itself, but Deno cannot run
 * vitest, and JSR (@std/testing) is not reachable offline. Deno does ship
 * `node:test`, so we adapt that. The call shapes differ:
 *   vitest/bun: it(name, fn, timeoutMs)     node:test: it(name, { timeout }, fn)
 * and node:test has no skipIf.
 *
 * Only the subset that behaves the same on vitest, bun:test and here is
 * exported, so `deno check` / `deno test` flags non-portable usage:
 *   describe(name, fn) .skip .skipIf(cond)
 *   it/test(name, fn, timeoutMs?) .skip .skipIf(cond) .todo(name)
 *   beforeAll/afterAll/beforeEach/afterEach(fn, timeoutMs?)
 * Not provided on purpose: runIf (bun:test lacks it; use skipIf(!cond)),
 * `.only`, `.each`, `expect` (assert with node:assert/strict), and the
 * test-context argument (fn is called with no arguments).
 */
import * as nt from "node:test";
import process from "node:process";

/** Same default as vitest.config.ts testTimeout / `bun test --timeout`. */
const DEFAULT_TIMEOUT_MS = 30_000;

export type TestFn = () => void | Promise<void>;
export type SuiteFn = () => void;
export type HookFn = () => unknown | Promise<unknown>;

type TestOpts = { timeout?: number; skip?: boolean; todo?: boolean };

/** `test-all.mjs -t <regex>`: deno's --filter only sees top-level (describe) names, so the full
 * "suite test" name (space-joined, like vitest/bun -t) is matched here; non-matching tests are
 * registered as skipped, which is also how vitest reports them. */
const namePattern = ((): RegExp | undefined => {
  try {
    const p = process.env.GS_TEST_NAME_PATTERN;
    return p ? new RegExp(p) : undefined;
  } catch {
    return undefined; // no --allow-env
  }
})();
const suiteStack: string[] = [];

export interface TestAPI {
  (name: string, fn: TestFn, timeoutMs?: number): void;
  skip(name: string, fn?: TestFn, timeoutMs?: number): void;
  skipIf(condition: unknown): (name: string, fn: TestFn, timeoutMs?: number) => void;
  todo(name: string): void;
}

export interface SuiteAPI {
  (name: string, fn: SuiteFn): void;
  skip(name: string, fn: SuiteFn): void;
  skipIf(condition: unknown): (name: string, fn: SuiteFn) => void;
}

function register(name: string, fn: TestFn | undefined, opts: TestOpts): void {
  const filteredOut = namePattern !== undefined && !namePattern.test([...suiteStack, name].join(" "));
  // Wrapping keeps arity 0: node:test treats a 2-arg fn as callback style.
  void nt.it(
    name,
    { timeout: opts.timeout ?? DEFAULT_TIMEOUT_MS, skip: opts.skip || filteredOut, todo: opts.todo },
    async () => {
      await fn?.();
    },
  );
}

function makeTest(): TestAPI {
  const t = (name: string, fn: TestFn, timeoutMs?: number) => register(name, fn, { timeout: timeoutMs });
  t.skip = (name: string, fn?: TestFn, timeoutMs?: number) => register(name, fn, { timeout: timeoutMs, skip: true });
  t.skipIf = (condition: unknown) => (name: string, fn: TestFn, timeoutMs?: number) =>
    register(name, fn, { timeout: timeoutMs, skip: Boolean(condition) });
  t.todo = (name: string) => register(name, undefined, { todo: true });
  return t;
}

function suite(name: string, fn: SuiteFn, skip = false): void {
  void nt.describe(name, { skip }, () => {
    suiteStack.push(name);
    try {
      fn();
    } finally {
      suiteStack.pop();
    }
  });
}

export const it: TestAPI = makeTest();
export const test: TestAPI = it;

export const describe: SuiteAPI = Object.assign(
  (name: string, fn: SuiteFn) => suite(name, fn),
  {
    skip: (name: string, fn: SuiteFn) => suite(name, fn, true),
    skipIf: (condition: unknown) => (name: string, fn: SuiteFn) => suite(name, fn, Boolean(condition)),
  },
);

const hook = (h: typeof nt.before) => (fn: HookFn, timeoutMs?: number): void => {
  h(async () => {
    await fn();
  }, { timeout: timeoutMs ?? DEFAULT_TIMEOUT_MS });
};

export const beforeAll: (fn: HookFn, timeoutMs?: number) => void = hook(nt.before);
export const afterAll: (fn: HookFn, timeoutMs?: number) => void = hook(nt.after);
export const beforeEach: (fn: HookFn, timeoutMs?: number) => void = hook(nt.beforeEach);
export const afterEach: (fn: HookFn, timeoutMs?: number) => void = hook(nt.afterEach);
