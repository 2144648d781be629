// What the proxy tests (test/haproxy.test.ts, test/nginx.test.ts) share: finding or installing the
// proxy, a free port, a config rendered from a template into a temp dir, the proxy run in the
// foreground as our child (own PID, stopped with SIGTERM then SIGKILL), and the one load generator
// (runtimes/load.mjs, a separate process on the current runtime) driven through it.
// Runs on Node, Deno and Bun (node:* modules only).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { readJsonLines } from "../test/_helpers/json-lines.mjs";

function which(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"]) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The `name` binary; installs the Debian package of that name first when it is missing and we are
 * root (`apt-get update` once, then `apt-get install -y`), so the test passes on a fresh machine.
 */
export function ensureInstalled(name: string): string {
  const found = which(name);
  if (found) return found;
  const apt = which("apt-get");
  if (!apt || process.getuid?.() !== 0) {
    throw new Error(
      `${name} is not installed and cannot be installed here (needs root and apt-get): apt-get install -y ${name}`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]) =>
    execFileSync(apt, args, { env, stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });
  run(["update", "-qq"]);
  run(["install", "-y", "-qq", "--no-install-recommends", name]);
  const installed = which(name);
  if (!installed) throw new Error(`apt-get install ${name} succeeded but no ${name} binary was found`);
  return installed;
}

/** A port that was free a moment ago on 127.0.0.1 (bound to 0, read, closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Fills the `{{name}}` placeholders of `template` (a file); a placeholder without a value throws. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return fs.readFileSync(template, "utf8").replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${path.basename(template)}: no value for {{${key}}}`);
    return value;
  });
}

/** A proxy running in the foreground as our child. */
export interface ForegroundProcess {
  child: ChildProcess;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  exited(): boolean;
  /** Stops it (SIGTERM, SIGKILL after 2 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Spawns `bin args` with stderr captured (`onStderr` sees each chunk), then waits until `up()` says
 * it serves: a bounded loop, at most 10 s, 50 ms apart — the proxies print nothing when they are up.
 */
export async function startForeground(
  bin: string,
  args: string[],
  config: string,
  up: () => Promise<boolean>,
  onStderr?: (chunk: string, exited: boolean) => void,
): Promise<ForegroundProcess> {
  const name = path.basename(bin);
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
      onStderr?.("", true);
    });
    child.once("error", (error) => {
      stderr += `\nspawn error: ${error.message}`;
    });
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    stderr += d;
    onStderr?.(d, false);
  });
  const proc: ForegroundProcess = {
    child,
    stderr: () => stderr,
    exited: () => exited,
    stop: async () => {
      if (exited || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exit;
      clearTimeout(timer);
    },
  };
  for (let i = 0;; i++) {
    if (exited) {
      throw new Error(`${name} exited at start (code ${child.exitCode}); stderr:\n${stderr}\nconfig:\n${config}`);
    }
    if (await up().catch(() => false)) return proc;
    if (i >= 200) {
      await proc.stop();
      throw new Error(`${name} did not come up within 10 s; stderr:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether 127.0.0.1:`port` accepts a connection. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface Tally {
  ok: number;
  failed: number;
}

/** What runtimes/load.mjs reports at the end (its "done" line) plus the failures it printed. */
export interface LoadResult {
  total: number;
  ok: number;
  failed: number;
  /** Failures by cause ("status 502", "ECONNRESET", ...). */
  failures: Record<string, number>;
  /** GET answers by body (the PID, for GET /pid). */
  pids: Record<string, number>;
  get: Tally;
  post: Tally;
  fresh: Tally;
  keepAlive: Tally;
  connections: number;
  ms: number;
  timedOut: boolean;
  /** The first 50 failures, with ms since the load started. */
  failureLog: Array<{ cause: string; ms: number; method: string; keepAlive: boolean }>;
}

/** How runtimes/load.mjs loads the proxy (see its header). */
export interface LoadOptions {
  /** Requests before it may stop; it runs until stop() once it has done these. */
  minTotal: number;
  concurrency: number;
  /** GET path. Default "/pid". */
  path?: string;
  /** Share of requests that are POST /text with a 1–2000 byte body. Default 0. */
  postPercent?: number;
  /** Share of loops sending every request on a fresh connection (`Connection: close`). Default 0. */
  freshPercent?: number;
  /** A keep-alive connection carries 1..this many requests. Default 50. */
  maxPerConnection?: number;
  maxSeconds?: number;
}

export interface Load {
  child: ChildProcess;
  /** Date.now() when it was started (failureLog times count from about then). */
  startedAt: number;
  /** Resolves once at least `n` requests are done (or the generator has ended). */
  reached(n: number): Promise<void>;
  done(): number;
  /** Tells it to finish once `minTotal` requests are done. */
  stop(): void;
  result: Promise<LoadResult>;
  kill(): void;
}

/** Starts runtimes/load.mjs in "until stopped" mode against 127.0.0.1:`port`. */
export function startLoad(
  runtimeCommand: (script: string) => [string, string[]],
  port: number,
  options: LoadOptions,
): Load {
  const [cmd, args] = runtimeCommand(fileURLToPath(new URL("./load.mjs", import.meta.url)));
  const child = spawn(cmd, [...args, "--until-stopped", String(port), JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const startedAt = Date.now();
  let done = 0;
  let ended = false;
  const failureLog: LoadResult["failureLog"] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveResult!: (r: LoadResult) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<LoadResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  result.catch(() => {}); // observed by the caller; never an unhandled rejection
  // The project's one reader of a child's JSON lines (robust to a line or a character split across chunks).
  readJsonLines(child.stdout!, (e) => {
    if (e.event === "progress") done = e.done as number;
    if (e.event === "failure") {
      failureLog.push({
        cause: e.cause as string,
        ms: e.ms as number,
        method: e.method as string,
        keepAlive: e.keepAlive as boolean,
      });
    }
    if (e.event === "done") {
      done = e.total as number;
      resolveResult({ ...(e as unknown as LoadResult), failureLog });
    }
  }, () => {
    waiters = waiters.filter((w) => (done >= w.n ? (w.resolve(), false) : true));
  });
  child.stdin!.on("error", () => {}); // EPIPE if it already ended
  child.once("exit", (code, signal) => {
    ended = true;
    if (code !== 0) rejectResult(new Error(`load generator exited ${code ?? signal}`));
    for (const w of waiters.splice(0)) w.resolve();
  });
  return {
    child,
    startedAt,
    reached: (n) => new Promise((resolve) => (done >= n || ended ? resolve() : waiters.push({ n, resolve }))),
    done: () => done,
    stop: () => {
      if (!ended) child.stdin!.end("stop\n");
    },
    result,
    kill: () => {
      if (!ended) child.kill("SIGKILL");
    },
  };
}
