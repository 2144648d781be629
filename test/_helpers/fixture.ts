// Starts runtimes/fixtures/server.mjs (or another fixture) on the runtime running the tests, through the
// one spawner (procs.ts follow()), and waits for its "ready" event.
import { follow, type Proc } from "./procs.ts";
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
