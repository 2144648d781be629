// Spawns runtimes/fixtures/server.mjs on the runtime running the tests, and follows its JSON events.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { readJsonLines } from "./json-lines.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const g = globalThis as { Deno?: { execPath(): string }; Bun?: unknown };

export const runtime: "node" | "deno" | "bun" = g.Deno ? "deno" : g.Bun ? "bun" : "node";

/** Command line that runs `script` on the current runtime. */
export function runtimeCommand(script: string): [string, string[]] {
  // --unstable-net: serve({ restart }) on Deno binds with reusePort, which needs it.
  if (g.Deno) return [g.Deno.execPath(), ["run", "-A", "--unstable-net", script]];
  return [process.execPath, [script]];
}

/** The library entry a child on this runtime imports: Node runs the build, Deno and Bun the source. */
export const entry = runtime === "node" ? `${root}dist/index.js` : `${root}src/mod.ts`;

export interface FixtureEvent {
  event: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

export interface Fixture {
  child: ChildProcess;
  port: number;
  url: string;
  pid: number;
  events: FixtureEvent[];
  /** Resolves once stderr (so far or later) matches `pattern`. */
  waitForStderr(pattern: RegExp): Promise<void>;
  /** Resolves with the first event (past or future) named `name` that matches `where`. */
  waitFor(name: string, where?: (e: FixtureEvent) => boolean): Promise<FixtureEvent>;
  exited: Promise<Exit>;
  /** Resolves when every process writing to the fixture's stdout (restart successors too) is gone. */
  allGone: Promise<void>;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

export async function startFixture(
  options: Record<string, unknown> = {},
  script = `${root}runtimes/fixtures/server.mjs`,
  env: Record<string, string> = {},
): Promise<Fixture> {
  const [cmd, args] = runtimeCommand(script);
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, GS_ENTRY: entry, GS_OPTIONS: JSON.stringify(options), NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: FixtureEvent[] = [];
  let waiters: Array<() => void> = [];
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  readJsonLines(child.stdout!, (e) => events.push(e), () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const allGone = new Promise<void>((resolve) => child.stdout!.once("end", () => resolve()));
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  let gone = false;
  allGone.then(() => {
    gone = true;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });

  const waitFor = (name: string, where: (e: FixtureEvent) => boolean = () => true) =>
    new Promise<FixtureEvent>((resolve, reject) => {
      const check = () => {
        const found = events.find((e) => e.event === name && where(e));
        if (found) return resolve(found);
        if (gone) return reject(new Error(`fixture exited before "${name}"; stderr:\n${stderr}`));
        waiters.push(check);
      };
      check();
    });

  const ready = await waitFor("ready");
  return {
    child,
    port: ready.port as number,
    url: ready.url as string,
    pid: ready.pid as number,
    events,
    waitFor,
    exited,
    allGone,
    waitForStderr: (pattern) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stderr)) return resolve();
          if (gone) return reject(new Error(`fixture exited before stderr matched ${pattern}; stderr:\n${stderr}`));
          child.stderr!.once("data", () => queueMicrotask(check));
        };
        check();
      }),
    stderr: () => stderr,
    // process.kill, not child.kill: under Deno 2.9 child.kill() makes the exit event report the
    // signal even when the child handled it and exited with a code.
    kill: (signal) => void process.kill(child.pid!, signal),
  };
}
