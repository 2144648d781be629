// HAProxy for the rolling-deploy test (test/haproxy.test.ts): installs it when missing, writes a
// config from haproxy.cfg.in into a temp dir, runs it in the foreground as a child, follows the
// "Server be/sN is UP/DOWN" lines it prints on stderr, talks to its stats socket, and runs the
// load generator (load.mjs, a separate process on the current runtime) through it.
// Runs on Node, Deno and Bun (node:* modules only).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
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
 * The haproxy binary; installs the Debian package first when it is missing and we are root
 * (`apt-get update` once, then `apt-get install -y haproxy`), so the test passes on a fresh machine.
 */
export function ensureHaproxy(): string {
  const found = which("haproxy");
  if (found) return found;
  const apt = which("apt-get");
  if (!apt || process.getuid?.() !== 0) {
    throw new Error(
      "haproxy is not installed and cannot be installed here (needs root and apt-get): apt-get install -y haproxy",
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]) =>
    execFileSync(apt, args, { env, stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 });
  run(["update", "-qq"]);
  run(["install", "-y", "-qq", "--no-install-recommends", "haproxy"]);
  const installed = which("haproxy");
  if (!installed) throw new Error("apt-get install haproxy succeeded but no haproxy binary was found");
  return installed;
}

/** The first line of `haproxy -v`, e.g. "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/". */
export function haproxyVersion(bin: string): string {
  return execFileSync(bin, ["-v"], { encoding: "utf8" }).split("\n")[0]!.trim();
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

export interface HaproxyOptions {
  /** Temp dir for the config and the stats socket. */
  dir: string;
  frontendPort: number;
  /** Backends, in order; named s1, s2, ... in the config. */
  ports: number[];
  /** The health check's path; the check passes on status 200 only. */
  checkPath: string;
  /**
   * "http/1.1" (default): `http-check send meth GET uri <path> ver HTTP/1.1 hdr Host 127.0.0.1`.
   * "bare": HAProxy's default check line, `GET <path> HTTP/1.0` with no Host header.
   */
  checkRequest?: "http/1.1" | "bare";
  inter: number;
  fall: number;
  rise: number;
}

export interface Transition {
  /** "s1", "s2", ... */
  server: string;
  state: "UP" | "DOWN";
  /** Date.now() when the line was read. */
  at: number;
  line: string;
}

export interface Haproxy {
  child: ChildProcess;
  port: number;
  config: string;
  /** Every UP/DOWN line HAProxy printed, in order. */
  transitions: Transition[];
  /** The server's state as far as HAProxy's lines tell (servers start UP). */
  state(server: string): "UP" | "DOWN";
  /** Resolves with the first transition of `server` to `state` at index >= `from`; rejects after `timeoutMs`. */
  waitFor(server: string, state: "UP" | "DOWN", from: number, timeoutMs?: number): Promise<Transition>;
  /** A command on the stats socket (`show stat`, `show servers state be`, ...); resolves with the answer. */
  command(cmd: string): Promise<string>;
  stderr(): string;
  /** Stops HAProxy and waits for it to exit (SIGKILL after 2 s). */
  stop(): Promise<void>;
}

export function renderConfig(options: HaproxyOptions): string {
  const template = fs.readFileSync(path.join(here, "haproxy.cfg.in"), "utf8");
  const values: Record<string, string> = {
    statsSocket: path.join(options.dir, "admin.sock"),
    frontendPort: String(options.frontendPort),
    healthCheck: options.checkRequest === "bare"
      ? `option httpchk GET ${options.checkPath}\n    http-check expect status 200`
      : `option httpchk\n    http-check send meth GET uri ${options.checkPath} ver HTTP/1.1 hdr Host 127.0.0.1\n    http-check expect status 200`,
    inter: String(options.inter),
    fall: String(options.fall),
    rise: String(options.rise),
    servers: options.ports.map((port, i) => `    server s${i + 1} 127.0.0.1:${port}`).join("\n"),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`haproxy.cfg.in: no value for {{${key}}}`);
    return value;
  });
}

function statsCommand(socketPath: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: socketPath });
    let answer = "";
    socket.setEncoding("utf8");
    socket.setTimeout(2_000, () => socket.destroy(new Error(`stats socket: no answer to "${cmd}" within 2 s`)));
    socket.on("connect", () => socket.write(`${cmd}\n`));
    socket.on("data", (d) => (answer += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts HAProxy in the foreground (`-db`) and resolves once its stats socket answers. */
export async function startHaproxy(bin: string, options: HaproxyOptions): Promise<Haproxy> {
  const config = renderConfig(options);
  const configPath = path.join(options.dir, "haproxy.cfg");
  fs.writeFileSync(configPath, config);
  const socketPath = path.join(options.dir, "admin.sock");
  const child = spawn(bin, ["-db", "-f", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  const transitions: Transition[] = [];
  const current = new Map<string, "UP" | "DOWN">();
  let stderr = "";
  let rest = "";
  let waiters: Array<() => void> = [];
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
      for (const w of waiters.splice(0)) w();
    });
    child.once("error", (error) => {
      stderr += `\nspawn error: ${error.message}`;
    });
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    stderr += d;
    const lines = (rest + d).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      // "[WARNING]  (pid) : Server be/s1 is DOWN, reason: ..." — printed by HAProxy itself in the
      // foreground; the same text comes again as a raw log line, which is skipped here.
      const m = /^\[(?:WARNING|NOTICE|ALERT)\].*Server be\/(s\d+) is (UP|DOWN)/.exec(line);
      if (!m) continue;
      const t: Transition = { server: m[1]!, state: m[2] as "UP" | "DOWN", at: Date.now(), line };
      transitions.push(t);
      current.set(t.server, t.state);
    }
    for (const w of waiters.splice(0)) w();
  });

  const haproxy: Haproxy = {
    child,
    port: options.frontendPort,
    config,
    transitions,
    state: (server) => current.get(server) ?? "UP",
    waitFor: (server, state, from, timeoutMs = 10_000) =>
      new Promise<Transition>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `HAProxy did not mark ${server} ${state} within ${timeoutMs} ms; stderr:\n${stderr.slice(-4000)}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const found = transitions.slice(from).find((t) => t.server === server && t.state === state);
          if (found) {
            clearTimeout(timer);
            return resolve(found);
          }
          if (exited) {
            clearTimeout(timer);
            return reject(new Error(`HAProxy exited; stderr:\n${stderr.slice(-4000)}`));
          }
          waiters.push(check);
        };
        check();
      }),
    command: (cmd) => statsCommand(socketPath, cmd),
    stderr: () => stderr,
    stop: async () => {
      if (exited || child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exit;
      clearTimeout(timer);
    },
  };

  // HAProxy prints nothing when it is up (no master-worker "Loading success"), so ask its stats
  // socket: a bounded loop (at most 10 s, 50 ms apart) against HAProxy's own socket, nothing else.
  for (let i = 0;; i++) {
    if (exited) {
      throw new Error(`haproxy exited at start (code ${child.exitCode}); stderr:\n${stderr}\nconfig:\n${config}`);
    }
    try {
      const info = await statsCommand(socketPath, "show info");
      if (info.includes("Pid:")) break;
    } catch {
      // not listening yet
    }
    if (i >= 200) {
      await haproxy.stop();
      throw new Error(`haproxy's stats socket did not answer within 10 s; stderr:\n${stderr}`);
    }
    await sleep(50);
  }
  return haproxy;
}

/** One row per server from `show stat` (CSV), keyed by column name. */
export async function serverStats(haproxy: Haproxy): Promise<Array<Record<string, string>>> {
  const csv = await haproxy.command("show stat");
  const [header, ...rows] = csv.trim().split("\n");
  const columns = header!.replace(/^# /, "").split(",");
  return rows
    .map((row) => Object.fromEntries(row.split(",").map((v, i) => [columns[i]!, v])))
    .filter((r) => r.pxname === "be" && r.svname !== "BACKEND");
}

export interface LoadResult {
  total: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  pids: Record<string, number>;
  fresh: { ok: number; failed: number };
  keepAlive: { ok: number; failed: number };
  connections: number;
  ms: number;
  timedOut: boolean;
  /** The first 50 failures, with ms since the load started. */
  failureLog: Array<{ cause: string; ms: number; keepAlive: boolean }>;
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

/** Starts load.mjs on `cmd args` (the current runtime's command line for a script). */
export function startLoad(
  runtimeCommand: (script: string) => [string, string[]],
  port: number,
  minTotal: number,
  concurrency: number,
  path = "/pid",
  maxSeconds = 60,
): Load {
  const [cmd, args] = runtimeCommand(fileURLToPath(new URL("./load.mjs", import.meta.url)));
  const child = spawn(cmd, [...args, String(port), String(minTotal), String(concurrency), path, String(maxSeconds)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const startedAt = Date.now();
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
      if (e.event === "failure") failureLog.push({ cause: e.cause, ms: e.ms, keepAlive: e.keepAlive });
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
