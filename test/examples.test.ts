// The files in examples/ are what people copy, so each runs here: the HTTP ones on this runtime as
// real child processes (`node|deno run -A|bun examples/X.mjs`, "graceful-serve" resolving as it does
// for the reader), served one request, then SIGTERM with a request in flight: that request must
// arrive whole and the process exit 0. The Kubernetes manifest and the systemd unit are text: their
// fields must agree with the examples and the defaults.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { DEFAULT_DEADLINE } from "../src/core.ts";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";
import { follow, type Proc } from "./_helpers/procs.ts";
import { request } from "./_helpers/raw-http.ts";

const T = 30_000;
const root = fileURLToPath(new URL("../", import.meta.url));
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

interface Example extends Proc {
  port: number;
}

/** Runs `test` on examples/`file` started on this runtime on a free port, once it logs "listening on". */
async function withExample(file: string, test: (example: Example) => Promise<void>): Promise<void> {
  const [cmd, args] = runtimeCommand(path.join(root, "examples", file));
  // cwd root: Deno finds deno.json there ("graceful-serve" import map, node_modules for "hono").
  const p = follow(cmd, args, { PORT: "0", HOST: "127.0.0.1" });
  try {
    const listening = await p.waitForStderr(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
    await test({ ...p, port: Number(listening[1]) });
  } finally {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
}

/** SIGTERM with one slow request in flight: it completes, the drain is logged, the exit is 0. */
async function drainsInFlight(example: Example, whenInFlight: () => Promise<unknown>, body: RegExp): Promise<void> {
  const slow = request(example.port, "/slow?ms=1500");
  await whenInFlight();
  example.signal("SIGTERM"); // process.kill, not child.kill: see Proc.signal

  const response = await slow;
  assert.equal(response.status, 200);
  assert.ok(response.complete, "the in-flight response arrived whole");
  assert.match(response.body, body);
  assert.equal(response.headers["connection"], "close", "a draining server closes the connection after it");
  const exit = await example.exited;
  await example.allGone; // its last lines read
  assert.deepEqual(exit, { code: 0, signal: null }, `exit 0 after a graceful drain; stderr:\n${example.stderr()}`);
  assert.match(example.stderr(), /draining \(SIGTERM\): 1 in flight/);
  assert.match(example.stderr(), /closed \(SIGTERM\) in \d+ ms: graceful/);
}

describe("examples", () => {
  // Express and Fastify are Node frameworks; attach() gives their node:http server the lifecycle.
  for (const [file, name] of [["express.mjs", "Express"], ["fastify.mjs", "Fastify"]] as const) {
    it.skipIf(runtime !== "node")(`${file}: ${name} through attach(), drained on SIGTERM`, async () => {
      await withExample(file, async (example) => {
        const hello = await request(example.port, "/");
        assert.equal(hello.status, 200);
        assert.match(hello.body, new RegExp(`^hello from ${name}, pid \\d+\\n$`));
        await drainsInFlight(
          example,
          () => example.waitForStdout(/slow request started/),
          /^slow request served by pid \d+\n$/,
        );
      });
    }, T);
  }

  it(`hono.mjs: a Hono app served on ${runtime}, drained on SIGTERM`, async () => {
    await withExample("hono.mjs", async (example) => {
      const hello = await request(example.port, "/");
      assert.equal(hello.status, 200);
      assert.match(hello.body, /^hello from Hono, pid \d+, client 127\.0\.0\.1\n$/, "c.env is graceful-serve's info");
      const missing = await request(example.port, "/nope");
      assert.equal(missing.status, 404, "Hono's own routing answers");
      // Hono's logger prints "<-- GET /slow..." when the request reaches the app.
      await drainsInFlight(
        example,
        () => example.waitForStdout(/<-- GET \/slow/),
        /^slow request \(1500 ms\) served by pid \d+\n$/,
      );
      assert.match(example.stdout(), /--> GET \/slow\?ms=1500 200/);
    });
  }, T);

  it(`server.mjs: the plain fetch handler on ${runtime}, drained on SIGTERM`, async () => {
    await withExample("server.mjs", async (example) => {
      const hello = await request(example.port, "/");
      assert.equal(hello.status, 200);
      assert.match(hello.body, /^hello from pid \d+\n$/);
      assert.equal((await request(example.port, "/healthz")).status, 200, "readiness while serving");
      await drainsInFlight(
        example,
        () => example.waitForStdout(/slow request started/),
        /^slow request served by pid \d+\n$/,
      );
    });
  }, T);
});

/** The largest `deadline:` any example passes to serve(), in ms (the default when none does). */
function exampleDeadline(): number {
  let max = DEFAULT_DEADLINE;
  for (const file of fs.readdirSync(path.join(root, "examples"))) {
    if (!file.endsWith(".mjs")) continue;
    for (const m of read(`examples/${file}`).matchAll(/\bdeadline:\s*([\d_]+)/g)) {
      max = Math.max(max, Number(m[1]!.replaceAll("_", "")));
    }
  }
  return max;
}

describe("deployment examples", () => {
  it("k8s.yaml: a Deployment and a Service, grace period longer than the deadline", () => {
    const text = read("examples/k8s.yaml");
    assert.ok(!/\t/.test(text), "YAML has no tabs");
    const docs = text.split(/^---$/m).map((d) => d.replace(/^\s*#.*$/gm, "").trim());
    assert.deepEqual(docs.map((d) => d.match(/^kind: (\w+)$/m)?.[1]), ["Deployment", "Service"]);
    for (const doc of docs) {
      // Structure a YAML parser would reject: odd indentation, or a key without a value or a block.
      for (const line of doc.split("\n").filter((l) => l.trim())) {
        const indent = line.length - line.trimStart().length;
        assert.equal(indent % 2, 0, `2-space indentation: ${JSON.stringify(line)}`);
      }
    }
    const grace = Number(text.match(/^\s+terminationGracePeriodSeconds: (\d+)$/m)?.[1]);
    const deadline = exampleDeadline();
    assert.ok(grace * 1000 > deadline, `terminationGracePeriodSeconds ${grace} s > deadline ${deadline} ms`);
    const port = text.match(/name: PORT\n\s+value: "(\d+)"/)?.[1];
    assert.equal(text.match(/containerPort: (\d+)/)?.[1], port, "containerPort is the PORT the app binds");
    assert.match(text, /name: HOST\n\s+value: "0\.0\.0\.0"/, "binds every interface inside the pod");
    assert.match(text, /command: \["node", "examples\/server\.mjs"\]/, "exec form: node is PID 1 and gets SIGTERM");
    assert.match(text, /readinessProbe:\n\s+httpGet:\n\s+path: \/healthz/, "readiness on the app's healthPath");
    assert.match(read("examples/server.mjs"), /healthPath: "\/healthz"/);
    const period = Number(text.match(/periodSeconds: (\d+)\n\s+failureThreshold: (\d+)/)?.[1]);
    const failures = Number(text.match(/periodSeconds: \d+\n\s+failureThreshold: (\d+)/)?.[1]);
    const drainDelay = Number(text.match(/name: DRAIN_DELAY\n\s+value: "(\d+)"/)?.[1]);
    const env = text.slice(text.indexOf("env:"), text.indexOf("ports:"));
    assert.match(env, /name: DRAIN_DELAY/, "DRAIN_DELAY is an env entry, not a port");
    assert.ok(period * failures * 1000 < drainDelay, "the probe fails before the listener closes");
    const selector = text.match(/selector:\n\s+app: ([\w-]+)/)?.[1];
    assert.match(text, new RegExp(`labels:\\n\\s+app: ${selector}`), "the Service selects the Deployment's pods");
  });

  it("graceful-serve.service: PIDFile, reload = SIGHUP, stop = SIGTERM within TimeoutStopSec", () => {
    const text = read("examples/graceful-serve.service");
    const sections: Record<string, Record<string, string>> = {};
    let current: Record<string, string> | undefined;
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#") || line.startsWith(";")) continue;
      const section = line.match(/^\[(\w+)\]$/);
      if (section) {
        current = sections[section[1]!] = {};
        continue;
      }
      const kv = line.match(/^([A-Za-z]+)=(.*)$/);
      assert.ok(kv && current, `a Key=Value line inside a section: ${JSON.stringify(line)}`);
      current![kv![1]!] = kv![2]!;
    }
    assert.deepEqual(Object.keys(sections), ["Unit", "Service", "Install"]);
    const service = sections.Service!;
    assert.equal(service.KillSignal, "SIGTERM");
    assert.match(service.ExecReload!, /^\/bin\/kill -HUP \$MAINPID$/);
    const stopSec = Number(service.TimeoutStopSec);
    const deadline = exampleDeadline();
    assert.ok(stopSec * 1000 > deadline, `TimeoutStopSec ${stopSec} s > deadline ${deadline} ms`);
    // The app must write the PID file systemd reads: examples/server.mjs takes its path from PID_FILE.
    const pidFile = service.PIDFile!;
    assert.ok(pidFile.startsWith(`/run/${service.RuntimeDirectory}/`), "PID file in the unit's RuntimeDirectory");
    assert.match(service.Environment!, new RegExp(`(^| )PID_FILE=${pidFile}( |$)`));
    assert.match(service.ExecStart!, /examples\/server\.mjs$/);
    const server = read("examples/server.mjs");
    assert.match(server, /pidFile: process\.env\.PID_FILE/, "server.mjs writes the PID file named by PID_FILE");
    assert.match(server, /restart:/, "server.mjs enables restart, so SIGHUP (reload) is handled");
  });
});
