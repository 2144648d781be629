// Starts runtimes/fixtures/server.mjs (or another fixture) on the runtime running the tests, through the
// one spawner (procs.ts follow()), and waits for its "ready" event.
import { afterEach } from "vitest";
import { follow, type Proc } from "./procs.ts";
import { RawConnection } from "./raw-http.ts";
import { root, runtimeCommand } from "./runtime.ts";

// Kept here too: most tests import these from fixture.ts.
export { entry, type Exit, type FixtureEvent, runtime, runtimeCommand } from "./runtime.ts";

export interface Fixture extends Proc {
  port: number;
  url: string;
  pid: number;
  /** The same as signal(): process.kill, not child.kill (see Proc.signal). */
  kill(signal: NodeJS.Signals): void;
}

export async function startFixture(
  options: Record<string, unknown> = {},
  script = `${root}runtimes/fixtures/server.mjs`,
  env: Record<string, string> = {},
): Promise<Fixture> {
  const [cmd, args] = runtimeCommand(script);
  const proc = follow(cmd, args, { GS_OPTIONS: JSON.stringify(options), ...env });
  const ready = await proc.waitFor("ready");
  return {
    ...proc,
    port: ready.port as number,
    url: ready.url as string,
    pid: ready.pid as number,
    kill: proc.signal,
  };
}

/**
 * startFixture() for a test file that runs one fixture per test: registers an afterEach that SIGKILLs
 * the fixture started last if it is still running. Call at the top level of the test file.
 */
export function fixturePerTest(): typeof startFixture {
  let current: Fixture | undefined;
  afterEach(() => {
    if (current && current.child.exitCode === null && current.child.signalCode === null) current.kill("SIGKILL");
    current = undefined;
  });
  return async (...args) => (current = await startFixture(...args));
}

/**
 * Sends GET `path` on a new connection and resolves once the fixture's handler has started on it (one
 * more "handling" event than before the request).
 */
export async function inFlight(
  f: Pick<Fixture, "port" | "events" | "waitUntil">,
  path: string,
): Promise<RawConnection> {
  const handling = () => f.events.filter((e) => e.event === "handling").length;
  const before = handling();
  const conn = await RawConnection.open(f.port);
  conn.send(path);
  await f.waitUntil(() => handling() > before || undefined, `"handling" for ${path}`);
  return conn;
}
