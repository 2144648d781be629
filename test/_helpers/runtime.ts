// Which runtime runs the tests, and how to run a script on it. Imported by the spawner (procs.ts) and
// the fixture starter (fixture.ts) alike, so neither imports the other's module at load time.
import process from "node:process";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
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

/** The supervisor runs on Node: under Deno and Bun the tests start it with the machine's `node`. */
export const nodeBin = runtime === "node" ? process.execPath : "node";

/** One JSON object a child printed on a stdout line. */
export interface FixtureEvent {
  event: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: string | null;
}

/** The part of a bare `Deno.HttpServer` the runtime-facts tests use. */
export interface BareDenoServer {
  addr: { port: number };
  shutdown(): Promise<void>;
}

/** The part of a bare Bun `Server` the runtime-facts tests use. */
export interface BareBunServer {
  port: number;
  stop(force?: boolean): Promise<void>;
}

/**
 * The runtimes' own servers (`Deno.serve`, `Bun.serve`) for the facts tests that check the BARE primitive
 * (no library code), typed here so the tests need no Deno or Bun types.
 */
export const bare = globalThis as {
  Deno?: { serve(options: object, handler: (request: Request) => unknown): BareDenoServer };
  Bun?: { serve(options: object): BareBunServer };
};
