// HAProxy for the rolling-deploy test (test/haproxy.test.ts): a config from haproxy.cfg.in in a temp
// dir, HAProxy in the foreground as our child, the "Server be/sN is UP/DOWN" lines it prints on
// stderr, and its stats socket; installing it, the process and the load generator are the shared
// proxy harness (runtimes/proxy.ts). Runs on Node, Deno and Bun (node:* modules only).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureInstalled, type ForegroundProcess, renderTemplate, startForeground } from "../proxy.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The haproxy binary, installed with apt-get first when missing (root). */
export const ensureHaproxy = (): string => ensureInstalled("haproxy");

/** The first line of `haproxy -v`, e.g. "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/". */
export function haproxyVersion(bin: string): string {
  return execFileSync(bin, ["-v"], { encoding: "utf8" }).split("\n")[0]!.trim();
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

export interface Haproxy extends ForegroundProcess {
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
}

export function renderConfig(options: HaproxyOptions): string {
  return renderTemplate(path.join(here, "haproxy.cfg.in"), {
    statsSocket: path.join(options.dir, "admin.sock"),
    frontendPort: String(options.frontendPort),
    healthCheck: options.checkRequest === "bare"
      ? `option httpchk GET ${options.checkPath}\n    http-check expect status 200`
      : `option httpchk\n    http-check send meth GET uri ${options.checkPath} ver HTTP/1.1 hdr Host 127.0.0.1\n    http-check expect status 200`,
    inter: String(options.inter),
    fall: String(options.fall),
    rise: String(options.rise),
    servers: options.ports.map((port, i) => `    server s${i + 1} 127.0.0.1:${port}`).join("\n"),
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

/** Starts HAProxy in the foreground (`-db`) and resolves once its stats socket answers. */
export async function startHaproxy(bin: string, options: HaproxyOptions): Promise<Haproxy> {
  const config = renderConfig(options);
  const configPath = path.join(options.dir, "haproxy.cfg");
  fs.writeFileSync(configPath, config);
  const socketPath = path.join(options.dir, "admin.sock");
  const transitions: Transition[] = [];
  const current = new Map<string, "UP" | "DOWN">();
  let rest = "";
  const waiters: Array<() => void> = [];
  let exited = false;
  const onStderr = (d: string, exit: boolean) => {
    exited ||= exit;
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
  };
  // HAProxy prints nothing when it is up (no master-worker "Loading success"): its stats socket answers.
  const up = async () => (await statsCommand(socketPath, "show info")).includes("Pid:");
  const proc = await startForeground(bin, ["-db", "-f", configPath], config, up, onStderr);
  return {
    ...proc,
    port: options.frontendPort,
    config,
    transitions,
    state: (server) => current.get(server) ?? "UP",
    waitFor: (server, state, from, timeoutMs = 10_000) =>
      new Promise<Transition>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `HAProxy did not mark ${server} ${state} within ${timeoutMs} ms; stderr:\n${proc.stderr().slice(-4000)}`,
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
            return reject(new Error(`HAProxy exited; stderr:\n${proc.stderr().slice(-4000)}`));
          }
          waiters.push(check);
        };
        check();
      }),
    command: (cmd) => statsCommand(socketPath, cmd),
  };
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
