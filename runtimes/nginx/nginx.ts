// nginx for test/nginx.test.ts: installs it when missing, writes a config from nginx.conf.in into a
// temp dir, runs it in the foreground as a single process (our child, own PID, own temp dirs), and
// runs the load generator (load.mjs, a separate process on the current runtime) through it.
// Runs on Node, Deno and Bun (node:* modules only).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

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
 * The nginx binary; installs the Debian package first when it is missing and we are root
 * (`apt-get update` once, then `apt-get install -y nginx`), so the test passes on a fresh machine.
 */
export function ensureNginx(): string {
  const found = which("nginx");
  if (found) return found;
  const apt = which("apt-get");
  if (!apt || process.getuid?.() !== 0) {
    throw new Error(
      "nginx is not installed and cannot be installed here (needs root and apt-get): apt-get install -y nginx",
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]) =>
    execFileSync(apt, args, { env, stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });
  run(["update", "-qq"]);
  run(["install", "-y", "-qq", "--no-install-recommends", "nginx"]);
  const installed = which("nginx");
  if (!installed) throw new Error("apt-get install nginx succeeded but no nginx binary was found");
  return installed;
}

/** `nginx -v` (printed on stderr), e.g. "nginx version: nginx/1.22.1". */
export function nginxVersion(bin: string): string {
  return spawnSync(bin, ["-v"], { encoding: "utf8" }).stderr.trim();
}

export interface NginxOptions {
  /** Temp dir: config, PID file, nginx's temp dirs. */
  dir: string;
  frontendPort: number;
  /** Backends on 127.0.0.1, in order. */
  ports: number[];
  /**
   * `proxy_next_upstream` value; omitted = nginx's default (`error timeout`). E.g.
   * `"error timeout non_idempotent"` lets nginx retry a POST it has already sent.
   */
  nextUpstream?: string;
  /** `fail_timeout` of each server (passive check: how long a failed server is left out). Default nginx's 10s. */
  failTimeout?: string;
}

export interface Nginx {
  child: ChildProcess;
  port: number;
  config: string;
  stderr(): string;
  /** Upstream errors nginx logged, by kind ("upstream prematurely closed connection", "recv() failed (104: ...)"). */
  upstreamErrors(): Record<string, number>;
  /** Stops nginx (SIGTERM, SIGKILL after 2 s) and waits for it to exit. */
  stop(): Promise<void>;
}

export function renderConfig(options: NginxOptions): string {
  const template = fs.readFileSync(path.join(here, "nginx.conf.in"), "utf8");
  const values: Record<string, string> = {
    dir: options.dir,
    logLevel: "warn",
    frontendPort: String(options.frontendPort),
    failTimeout: options.failTimeout ?? "10s",
    servers: options.ports
      .map((port) =>
        `        server 127.0.0.1:${port}${options.failTimeout ? ` fail_timeout=${options.failTimeout}` : ""};`
      )
      .join("\n"),
    nextUpstream: options.nextUpstream ? `            proxy_next_upstream ${options.nextUpstream};` : "",
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`nginx.conf.in: no value for {{${key}}}`);
    return value;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts nginx in the foreground and resolves once its frontend port accepts connections. */
export async function startNginx(bin: string, options: NginxOptions): Promise<Nginx> {
  const config = renderConfig(options);
  const configPath = path.join(options.dir, "nginx.conf");
  fs.writeFileSync(configPath, config);
  const child = spawn(bin, ["-p", options.dir, "-c", configPath, "-e", "stderr", "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
    child.once("error", (error) => {
      stderr += `\nspawn error: ${error.message}`;
    });
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => (stderr += d));
  const nginx: Nginx = {
    child,
    port: options.frontendPort,
    config,
    stderr: () => stderr,
    upstreamErrors: () => {
      const counts: Record<string, number> = {};
      // "... [error] 123#123: *45 upstream prematurely closed connection while reading response header from upstream, ..."
      for (const m of stderr.matchAll(/\[(?:error|warn)\] \d+#\d+: \*\d+ (.+?) while /g)) {
        counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
      }
      return counts;
    },
    stop: async () => {
      if (exited || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exit;
      clearTimeout(timer);
    },
  };
  // nginx prints nothing when it is up: try its port, a bounded loop (at most 10 s, 50 ms apart).
  for (let i = 0;; i++) {
    if (exited) {
      throw new Error(`nginx exited at start (code ${child.exitCode}); stderr:\n${stderr}\nconfig:\n${config}`);
    }
    if (await canConnect(options.frontendPort)) break;
    if (i >= 200) {
      await nginx.stop();
      throw new Error(`nginx did not accept connections within 10 s; stderr:\n${stderr}`);
    }
    await sleep(50);
  }
  return nginx;
}

export interface Tally {
  ok: number;
  failed: number;
}

export interface LoadResult {
  total: number;
  ok: number;
  failed: number;
  /** Failures by cause ("status 502", "ECONNRESET", ...). */
  failures: Record<string, number>;
  get: Tally;
  post: Tally;
  /** GET /pid answers by PID. */
  pids: Record<string, number>;
  connections: number;
  ms: number;
  timedOut: boolean;
  /** The first 50 failures, with ms since the load started. */
  failureLog: Array<{ cause: string; ms: number; method: string }>;
}

export interface Load {
  child: ChildProcess;
  /** Resolves once at least `n` requests are done (or the generator has ended). */
  reached(n: number): Promise<void>;
  done(): number;
  /** Tells it to finish once `minTotal` requests are done. */
  stop(): void;
  result: Promise<LoadResult>;
  kill(): void;
}

/** Starts load.mjs (GET /pid and POST /text, keep-alive loops) against 127.0.0.1:`port`. */
export function startLoad(
  runtimeCommand: (script: string) => [string, string[]],
  port: number,
  minTotal: number,
  concurrency: number,
  maxSeconds = 60,
): Load {
  const [cmd, args] = runtimeCommand(path.join(here, "load.mjs"));
  const child = spawn(cmd, [...args, String(port), String(minTotal), String(concurrency), String(maxSeconds)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let done = 0;
  let ended = false;
  let rest = "";
  const failureLog: LoadResult["failureLog"] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveResult!: (r: LoadResult) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<LoadResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  result.catch(() => {}); // observed by the caller; never an unhandled rejection
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    const lines = (rest + d).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      const e = JSON.parse(line);
      if (e.event === "progress") done = e.done;
      if (e.event === "failure") failureLog.push({ cause: e.cause, ms: e.ms, method: e.method });
      if (e.event === "done") {
        done = e.total;
        resolveResult({ ...e, failureLog });
      }
    }
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
