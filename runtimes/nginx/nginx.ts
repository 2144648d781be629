// nginx for test/nginx.test.ts: a config from nginx.conf.in in a temp dir, nginx in the foreground
// as a single process (our child, own PID, own temp dirs); installing it, the process and the load
// generator are the shared proxy harness (runtimes/proxy.ts). Runs on Node, Deno and Bun.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fs from "node:fs";
import { canConnect, ensureInstalled, type ForegroundProcess, renderTemplate, startForeground } from "../proxy.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The nginx binary, installed with apt-get first when missing (root). */
export const ensureNginx = (): string => ensureInstalled("nginx");

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

export interface Nginx extends ForegroundProcess {
  port: number;
  config: string;
  /** Upstream errors nginx logged, by kind ("upstream prematurely closed connection", "recv() failed (104: ...)"). */
  upstreamErrors(): Record<string, number>;
}

export function renderConfig(options: NginxOptions): string {
  return renderTemplate(path.join(here, "nginx.conf.in"), {
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
  });
}

/** Starts nginx in the foreground and resolves once its frontend port accepts connections. */
export async function startNginx(bin: string, options: NginxOptions): Promise<Nginx> {
  const config = renderConfig(options);
  const configPath = path.join(options.dir, "nginx.conf");
  fs.writeFileSync(configPath, config);
  const proc = await startForeground(
    bin,
    ["-p", options.dir, "-c", configPath, "-e", "stderr", "-g", "daemon off;"],
    config,
    () => canConnect(options.frontendPort),
  );
  return {
    ...proc,
    port: options.frontendPort,
    config,
    upstreamErrors: () => {
      const counts: Record<string, number> = {};
      // "... [error] 123#123: *45 upstream prematurely closed connection while reading response header from upstream, ..."
      for (const m of proc.stderr().matchAll(/\[(?:error|warn)\] \d+#\d+: \*\d+ (.+?) while /g)) {
        counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
      }
      return counts;
    },
  };
}
