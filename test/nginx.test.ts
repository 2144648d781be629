// graceful-serve behind nginx (issue 12, defect 4): nginx 1.22 OSS in front of 2 backends, passive
// checks only, upstream `keepalive 32` (pooled connections), default `proxy_next_upstream`, load of
// GET and POST requests from keep-alive loops in a separate process. nginx retries a request whose
// pooled connection failed before it was sent, but never a POST it has already sent: whatever a
// backend closes under nginx's pool reaches the client as a 502, and counts as a failed request.
//  - SIGHUP restarts (serve({ restart: true }), default settings otherwise) lose nothing.
//  - Rolling SIGTERM stop/start with `proxy_next_upstream error timeout non_idempotent` (nginx may
//    retry a POST it has sent: only where that is safe) loses nothing; with nginx's defaults it loses
//    fewer than two bare servers measured beside it (runtimes/nginx/bare.mjs).
// nginx is installed with apt-get when missing (root); config: runtimes/nginx/nginx.conf.in.
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, it } from "vitest";
import { type Fixture, runtime, runtimeCommand, startFixture } from "./_helpers/fixture.ts";
import { RawConnection } from "./_helpers/raw-http.ts";
import { killEveryReady } from "./_helpers/backends.ts";
import { ensureNginx, type Nginx, nginxVersion, startNginx } from "../runtimes/nginx/nginx.ts";
import { freePort, type Load, type LoadOptions, type LoadResult, startLoad } from "../runtimes/proxy.ts";

const T = 90_000;
const MIN_REQUESTS = 10_000;
const CONCURRENCY = 8;
/** 8 keep-alive loops (1–100 requests per connection), GET /pid and POST /text half and half. */
const LOAD: LoadOptions = { minTotal: MIN_REQUESTS, concurrency: CONCURRENCY, postPercent: 50, maxPerConnection: 100 };
/** Requests between two restarts/stops, and after the last one, so every generation gets traffic. */
const BETWEEN = 1_000;
/** Each of the 2 backends is restarted (or stopped and replaced) this many times: 4 in all. */
const ROUNDS = 2;
/** Rolling runs only: nginx leaves a refused server out this long; the next stop waits until the replacement serves. */
const FAIL_TIMEOUT = "1s";
const BARE = fileURLToPath(new URL("../runtimes/nginx/bare.mjs", import.meta.url));
const label = process.env.GS_RUNTIME ?? runtime;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let nginxBin = "";
const fixtures: Fixture[] = [];
let nginx: Nginx | undefined;
let load: Load | undefined;
let tempDir: string | undefined;
const summary: string[] = [];

beforeAll(() => {
  nginxBin = ensureNginx(); // apt-get update + install on a fresh machine (root)
  console.log(`[nginx] ${nginxVersion(nginxBin)}`);
}, 300_000);

// Every process is ended even when a test failed half-way: the load generator, nginx, and every
// backend that ever said ready (restart successors too, which are not our children).
async function cleanup(): Promise<void> {
  load?.kill();
  load = undefined;
  await nginx?.stop();
  nginx = undefined;
  killEveryReady(fixtures);
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}
afterEach(cleanup, 10_000);

afterAll(() => {
  if (summary.length) console.log(`[nginx] summary ${label}: ${summary.join(" | ")}`);
});

interface Run {
  load: LoadResult;
  /** Every backend PID that served, in order of start. */
  pids: number[];
  upstreamErrors: Record<string, number>;
}

function describeRun(name: string, r: Run): string {
  const l = r.load;
  const first = l.failureLog.slice(0, 8).map((f) => `${f.ms}:${f.method} ${f.cause}`);
  return `[nginx] ${label} ${name}: ${l.total} requests on ${l.connections} connections in ${l.ms} ms, ` +
    `${l.failed} failed (GET ${l.get.failed}, POST ${l.post.failed}) ${JSON.stringify(l.failures)}; ` +
    `nginx upstream errors ${JSON.stringify(r.upstreamErrors)}` +
    (first.length ? `; first at ms ${first.join(", ")}` : "");
}

function startBackend(options: Record<string, unknown>, script?: string): Promise<Fixture> {
  return startFixture(options, script).then((f) => (fixtures.push(f), f));
}

/**
 * GET /pid through nginx until `pid` answers: nginx has taken a replaced server back. Bounded at 30 s,
 * longer than nginx's default fail_timeout (10 s): one upstream error during a replacement (a retried GET,
 * not a failed request) takes the peer out for that long, and under the load the replacement would
 * otherwise see no request at all (a CI run on Deno: the last successor answered none of 1 000).
 */
async function servedThroughNginx(port: number, pid: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const body = await fetch(`http://127.0.0.1:${port}/pid`).then((r) => r.text(), () => "");
    if (body === String(pid)) return;
    await sleep(50);
  }
  throw new Error(`nginx did not route to PID ${pid} within 30 s`);
}

/**
 * 2 backends behind nginx under load; each is restarted with SIGHUP (`mode: "sighup"`) or stopped
 * with SIGTERM and replaced on the same port (`"stop-start"`), one at a time, ROUNDS times.
 */
async function run(
  mode: "sighup" | "stop-start",
  backend: { options?: Record<string, unknown>; script?: string },
  nginxOptions: { nextUpstream?: string; failTimeout?: string } = {},
): Promise<Run> {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "gs-nginx-"));
  const options = { ...backend.options, ...(mode === "sighup" ? { restart: true } : {}) };
  const slots = await Promise.all([0, 1].map(async () => {
    const f = await startBackend({ ...options, port: 0 }, backend.script);
    return { port: f.port, fixture: f, pid: f.pid };
  }));
  const pids = slots.map((s) => s.pid);
  nginx = await startNginx(nginxBin, {
    dir: tempDir,
    frontendPort: await freePort(),
    ports: slots.map((s) => s.port),
    ...nginxOptions,
  });
  load = startLoad(runtimeCommand, nginx.port, LOAD);
  await load.reached(BETWEEN); // traffic is flowing (and nginx's pool filled) before the first one

  for (let round = 0; round < ROUNDS; round++) {
    for (const slot of slots) {
      const old = slot.pid;
      if (mode === "sighup") {
        process.kill(old, "SIGHUP");
        const ready = await slot.fixture.waitFor("ready", (e) => e.pid !== old && !pids.includes(e.pid as number));
        slot.pid = ready.pid as number;
        // The old process is closed once it reports (the first generation is our child; later ones
        // are not, and their report is what they leave).
        const report = await slot.fixture.waitFor("report", (e) => e.pid === old);
        assert.equal(report.reason, "restart");
        assert.equal(report.graceful, true, `PID ${old}'s drain was cut: ${JSON.stringify(report)}`);
        await servedThroughNginx(nginx.port, slot.pid);
      } else {
        process.kill(old, "SIGTERM");
        const exit = await slot.fixture.exited;
        const killed = backend.options?.onSigterm === "die";
        assert.deepEqual(
          exit,
          killed ? { code: null, signal: "SIGTERM" } : { code: 0, signal: null },
          `PID ${old} exit`,
        );
        slot.fixture = await startBackend({ ...options, port: slot.port }, backend.script);
        slot.pid = slot.fixture.pid;
        await servedThroughNginx(nginx.port, slot.pid);
      }
      pids.push(slot.pid);
      await load.reached(load.done() + BETWEEN);
    }
  }
  load.stop();
  const result = await load.result;
  const upstreamErrors = nginx.upstreamErrors();
  for (const slot of slots) process.kill(slot.pid, "SIGTERM");
  await Promise.all(slots.map((s) => s.fixture.allGone));
  await nginx.stop();
  return { load: result, pids, upstreamErrors };
}

function assertLoad(r: Run): void {
  assert.equal(r.load.timedOut, false, "the load generator finished in time");
  assert.ok(r.load.total >= MIN_REQUESTS, `${r.load.total} requests`);
  assert.ok(r.load.get.ok > 0 && r.load.post.ok > 0, "GETs and POSTs both answered");
  for (const pid of r.pids) {
    assert.ok((r.load.pids[String(pid)] ?? 0) > 0, `PID ${pid} answered no GET: ${JSON.stringify(r.load.pids)}`);
  }
}

describe("behind nginx (keepalive pool, passive checks)", () => {
  it("SIGHUP restarts with default settings: no request fails", async () => {
    const r = await run("sighup", {});
    console.log(describeRun("sighup", r));
    summary.push(`sighup ${r.load.failed}/${r.load.total} failed`);
    assertLoad(r);
    assert.equal(new Set(r.pids).size, 2 + 2 * ROUNDS, "every restart started a new process");
    assert.equal(
      r.load.failed,
      0,
      `${r.load.failed} of ${r.load.total} failed: ${JSON.stringify(r.load.failures)} ${
        JSON.stringify(r.load.failureLog)
      }`,
    );
  }, T);

  // Issue 12's Done-when: with nginx's defaults, the same rolling stop/start loses fewer requests with
  // graceful-serve than with the bare server measured beside it in the same test — one killed by
  // SIGTERM — on every runtime (nothing lost counts as fewer too). Beside the bare server that stops
  // with its runtime's own graceful stop it is asserted on Node only: on Deno and Bun the drain ends in
  // that same stop, which drops connections nginx has just opened and sent a request on (D7, B2), and
  // under continuous load nginx keeps opening them to the draining listener; docs/deploy.md has the
  // numbers of both.
  it(
    "rolling SIGTERM stop/start with nginx's defaults: graceful-serve loses fewer than a bare server (killed; own stop on Node)",
    async () => {
      const runs: Array<[string, Run]> = [];
      for (
        const [name, backend] of [
          ["bare, killed by SIGTERM", { script: BARE, options: { onSigterm: "die" } }],
          ["bare, runtime's own stop", { script: BARE }],
          ["graceful-serve, defaults", { options: {} }],
        ] as const
      ) {
        const r = await run("stop-start", backend, { failTimeout: FAIL_TIMEOUT });
        await cleanup();
        console.log(describeRun(`stop/start ${name}`, r));
        runs.push([name, r]);
      }
      summary.push(`stop/start ${runs.map(([name, r]) => `${name} ${r.load.failed}/${r.load.total}`).join(", ")}`);
      for (const [, r] of runs) assertLoad(r);
      const graceful = runs[2]![1].load;
      for (const [name, r] of runtime === "node" ? runs.slice(0, 2) : runs.slice(0, 1)) {
        assert.ok(
          graceful.failed === 0 || graceful.failed < r.load.failed,
          `graceful-serve lost ${graceful.failed} (${JSON.stringify(graceful.failures)}), ${name} ${r.load.failed}: ` +
            JSON.stringify(graceful.failureLog),
        );
      }
    },
    3 * T,
  );

  it("rolling SIGTERM stop/start with proxy_next_upstream non_idempotent: no request fails", async () => {
    const r = await run("stop-start", { options: {} }, {
      failTimeout: FAIL_TIMEOUT,
      nextUpstream: "error timeout non_idempotent",
    });
    console.log(describeRun("graceful stop/start, non_idempotent", r));
    summary.push(`stop/start non_idempotent ${r.load.failed}/${r.load.total}`);
    assertLoad(r);
    assert.equal(r.load.failed, 0, `${JSON.stringify(r.load.failures)} ${JSON.stringify(r.load.failureLog)}`);
  }, T);
});

// nginx's own behaviour that the numbers above come from, made deterministic: backend A answers the
// first request on a connection (keep-alive, so nginx pools it) and closes the connection when a
// second one arrives on it — a pooled connection closed just as nginx reuses it. Backend B always
// answers. IDs X1, X2 are cited in docs/runtimes.md.
describe("nginx 1.22 and a pooled connection closed under a request (facts)", () => {
  /** Backends on 127.0.0.1: A ("close on reuse") and B ("good"); `closedUnder` counts A's closes. */
  async function backends() {
    const sockets = new Set<net.Socket>();
    const stats = { closedUnder: 0, answeredA: 0 };
    const listen = (onData: (socket: net.Socket, state: { answered: boolean }) => void) =>
      new Promise<net.Server>((resolve) => {
        const server = net.createServer((socket) => {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {});
          const state = { answered: false };
          socket.on("data", () => onData(socket, state));
        });
        server.listen(0, "127.0.0.1", () => resolve(server));
      });
    const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const a = await listen((socket, state) => {
      if (state.answered) {
        stats.closedUnder++;
        socket.destroy();
        return;
      }
      state.answered = true;
      stats.answeredA++;
      socket.write(ok("A"));
    });
    // B reads whole requests loosely: one answer per request line seen.
    const b = await listen(() => {});
    b.removeAllListeners("connection");
    b.on("connection", (socket: net.Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      socket.setEncoding("latin1");
      socket.on("data", (d: string) => {
        for (const _ of d.matchAll(/^(GET|POST) /gm)) socket.write(ok("B"));
      });
    });
    cleanupBackends = () => {
      for (const socket of sockets) socket.destroy();
      a.close();
      b.close();
    };
    return { ports: [(a.address() as net.AddressInfo).port, (b.address() as net.AddressInfo).port], stats };
  }
  let cleanupBackends: (() => void) | undefined;
  afterEach(() => {
    cleanupBackends?.();
    cleanupBackends = undefined;
  });

  /** nginx over A and B; GETs until A has answered once (its connection is pooled); then `method` requests until one met A's closing connection. */
  async function reuseClosed(method: "GET" | "POST", nextUpstream?: string) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "gs-nginx-"));
    const { ports, stats } = await backends();
    nginx = await startNginx(nginxBin, { dir: tempDir, frontendPort: await freePort(), ports, nextUpstream });
    const client = await RawConnection.open(nginx.port);
    try {
      for (let i = 0; i < 4 && stats.answeredA === 0; i++) {
        client.send("/");
        assert.equal((await client.response()).status, 200);
      }
      assert.equal(stats.answeredA, 1, "A answered a GET on a connection nginx keeps");
      const answers: Array<{ status: number; body: string }> = [];
      for (let i = 0; i < 4 && stats.closedUnder === 0; i++) {
        client.send("/", method === "POST" ? { method, body: "payload" } : {});
        const r = await client.response();
        answers.push({ status: r.status, body: r.body });
      }
      assert.equal(stats.closedUnder, 1, "nginx reused the pooled connection to A and sent the request on it");
      return { last: answers.at(-1)!, errors: nginx.upstreamErrors() };
    } finally {
      client.close();
    }
  }

  it(
    "X1: default proxy_next_upstream: a GET is retried on the other server, a POST that was sent gets 502",
    async () => {
      const get = await reuseClosed("GET");
      assert.deepEqual(get.last, { status: 200, body: "B" }, JSON.stringify(get.errors));
      await cleanup();
      cleanupBackends?.();
      const post = await reuseClosed("POST");
      assert.equal(post.last.status, 502, JSON.stringify(post));
      assert.ok((post.errors["upstream prematurely closed connection"] ?? 0) >= 1, JSON.stringify(post.errors));
    },
    T,
  );

  it("X2: proxy_next_upstream error timeout non_idempotent: that POST is retried on the other server", async () => {
    const post = await reuseClosed("POST", "error timeout non_idempotent");
    assert.deepEqual(post.last, { status: 200, body: "B" }, JSON.stringify(post.errors));
  }, T);
});
