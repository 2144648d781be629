// The published package, as users get it: `npm pack` the tarball (once per run of this file),
// install it into a temp project offline, and import it the way each runtime would — ESM and CJS on
// Node, TypeScript and CJS on Bun, ESM on Deno (npm resolution through node_modules). Each import
// starts a server on port 0, fetches it once over 127.0.0.1 and shuts it down. Plus the static
// facts: export conditions and their order, the tarball's file list, npm/JSR manifests agreeing.
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runtime, runtimeCommand } from "./_helpers/fixture.ts";

const T = 60_000;
const root = fileURLToPath(new URL("../", import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const denoJson = JSON.parse(fs.readFileSync(path.join(root, "deno.json"), "utf8"));

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}): Ran {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: 45_000,
    ...options,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function ok(r: Ran, what: string): string {
  assert.equal(r.status, 0, `${what} exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

/** The last line of a consumer's stdout, parsed. */
function result(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line);
}

// ---------------------------------------------------------------------------------------------
// What each consumer does: serve through the package, fetch once, shut down, print a JSON line.
// `sub` is the runtime's own subpath (graceful-serve/node, /deno or /bun), served the same way.
const roundTrip = (label: string) => `
  async function roundTrip(serve, FastResponse, path) {
    const server = serve({
      port: 0, hostname: "127.0.0.1", signals: false, exit: false, logger: false,
      fetch: (request) => new FastResponse("hello " + new URL(request.url).pathname + " via ${label}"),
    });
    await server.ready();
    const response = await fetch("http://127.0.0.1:" + server.port + path);
    const body = await response.text();
    const report = await server.shutdown();
    return { status: response.status, body, report, state: server.state };
  }`;

const esmConsumer = (sub: string) => `
import process from "node:process";
import * as gs from "graceful-serve";
import * as core from "graceful-serve/core";
import * as sub from "graceful-serve/${sub}";
${roundTrip("esm")}
const main = await roundTrip(gs.serve, gs.FastResponse, "/esm");
const viaSub = await roundTrip(sub.serve, gs.FastResponse, "/${sub}");
const subpaths = {};
for (const name of ["node", "deno", "bun", "core"]) subpaths[name] = Object.keys(await import("graceful-serve/" + name)).sort();
console.log(JSON.stringify({ main, viaSub, exports: Object.keys(gs).sort(), core: Object.keys(core).sort(), subpaths, pid: process.pid }));
`;

const cjsConsumer = (sub: string) => `
const gs = require("graceful-serve");
const core = require("graceful-serve/core");
const sub = require("graceful-serve/${sub}");
const { version } = require("graceful-serve/package.json");
${roundTrip("cjs")}
(async () => {
  const main = await roundTrip(gs.serve, gs.FastResponse, "/cjs");
  const viaSub = await roundTrip(sub.serve, gs.FastResponse, "/${sub}");
  console.log(JSON.stringify({ main, viaSub, exports: Object.keys(gs).sort(), core: Object.keys(core).sort(), version }));
})().catch((error) => { console.error(error); process.exitCode = 1; });
`;

const bunTsConsumer = `
import { FastResponse, serve, type ServeOptions, type ShutdownReport } from "graceful-serve";
const options: ServeOptions = {
  port: 0, hostname: "127.0.0.1", signals: false, exit: false, logger: false,
  fetch: (request: Request) => new FastResponse("hello " + new URL(request.url).pathname + " via bun ts"),
};
const server = serve(options);
await server.ready();
const response = await fetch(\`http://127.0.0.1:\${server.port}/ts\`);
const body: string = await response.text();
const report: ShutdownReport = await server.shutdown();
console.log(JSON.stringify({ main: { status: response.status, body, report, state: server.state } }));
`;

/** Only the runtime-neutral core: what workerd (and any runtime without a server) gets. */
const conditionConsumer = `
import * as gs from "graceful-serve";
console.log(JSON.stringify({ exports: Object.keys(gs).sort() }));
`;

/**
 * The main entry where no runtime is recognised (what JSR's mod.ts or a bundle gets on an edge
 * runtime): it must load, keep its runtime-neutral parts working, and let serve() say what is wrong.
 * `process.versions.node` is hidden before the import, as it is on a runtime that is not Node.
 */
const unknownRuntimeConsumer = `
import process from "node:process";
// Node's fetch globals load lazily and read the version themselves: load them first.
const NativeResponse = Response;
Object.defineProperty(process.versions, "node", { value: undefined });
const gs = await import("graceful-serve");
let thrown;
try {
  gs.serve({ port: 0, fetch: () => new Response("x") });
} catch (error) {
  thrown = { name: error.name, code: error.code, message: error.message };
}
const lifecycle = gs.createLifecycle({ deadline: 100 });
const report = await lifecycle.shutdown();
console.log(JSON.stringify({ thrown, fastIsNative: gs.FastResponse === NativeResponse, graceful: report.graceful }));
`;

// A TypeScript user of the tarball, ESM and CJS, checked with the repo's tsc.
const tsEsm = `
import { FastResponse, serve, type ShutdownReport } from "graceful-serve";
import { createLifecycle } from "graceful-serve/core";
import { serve as serveNode } from "graceful-serve/node";
const server = serve({ port: 0, fetch: () => new FastResponse("hi") });
const report: Promise<ShutdownReport> = server.shutdown();
const lifecycle = createLifecycle({ deadline: 1000 });
const state: "serving" | "draining" | "closed" = lifecycle.state;
export { report, serveNode, state };
`;
const tsCjs = `
import gs = require("graceful-serve");
import core = require("graceful-serve/core");
const server = gs.serve({ port: 0, fetch: () => new Response("hi") });
const deadline: number = core.DEFAULT_DEADLINE + server.deadline;
export = deadline;
`;

// ---------------------------------------------------------------------------------------------
let tmp = "";
let project = "";
let packed: { filename: string; files: Array<{ path: string }> } | undefined;

describe("npm package", () => {
  beforeAll(() => {
    assert.ok(
      fs.existsSync(path.join(root, "dist", "index.js")),
      "dist/ is missing: run `npm run build` first (npm test does)",
    );
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gs-pkg-"));
    // --ignore-scripts: dist is already built (pretest); packing must not rebuild under other tests.
    const out = ok(
      run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp], { cwd: root }),
      "npm pack",
    );
    packed = JSON.parse(out.slice(out.indexOf("[")))[0];
    project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "gs-consumer", version: "1.0.0", private: true }, null, 2),
    );
    // The package has no dependencies, so an offline install of the tarball needs no registry.
    ok(
      run("npm", [
        "install",
        path.join(tmp, packed!.filename),
        "--no-audit",
        "--no-fund",
        "--offline",
        "--no-package-lock",
        "--ignore-scripts",
      ], { cwd: project }),
      "npm install <tarball>",
    );
  }, T);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("ships only dist/, README.md, LICENSE, CHANGELOG.md and package.json", () => {
    const files = packed!.files.map((f) => f.path).sort();
    const stray = files.filter((f) => !/^(dist\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(f));
    assert.deepEqual(stray, [], "no sources, tests, benchmarks or examples in the tarball");
    for (const name of ["index", "core", "node", "deno", "bun"]) {
      for (const ext of [".js", ".cjs", ".d.ts", ".d.cts"]) {
        assert.ok(files.includes(`dist/${name}${ext}`), `dist/${name}${ext} is packed`);
      }
    }
    for (const f of ["README.md", "LICENSE", "CHANGELOG.md"]) assert.ok(files.includes(f), `${f} is packed`);
  });

  it(`imports from ESM on ${runtime}, serves one request and shuts down`, () => {
    const file = path.join(project, "esm-consumer.mjs");
    fs.writeFileSync(file, esmConsumer(runtime));
    const [cmd, args] = runtimeCommand(file);
    const r = result(ok(run(cmd, args, { cwd: project }), `${runtime} esm-consumer.mjs`));
    assertRoundTrip(r.main, "/esm", "esm");
    assertRoundTrip(r.viaSub, `/${runtime}`, "esm");
    const exports = r.exports as string[];
    for (const name of ["serve", "FastResponse", "createLifecycle", "Lifecycle", "DEFAULT_DEADLINE"]) {
      assert.ok(exports.includes(name), `"graceful-serve" exports ${name} on ${runtime}`);
    }
    const core = r.core as string[];
    assert.ok(!core.includes("serve"), "graceful-serve/core has no server");
    for (const name of core) assert.ok(exports.includes(name), `"graceful-serve" re-exports core's ${name}`);
    const subpaths = r.subpaths as Record<string, string[]>;
    for (const sub of ["node", "deno", "bun"]) {
      assert.ok(subpaths[sub]!.includes("serve"), `graceful-serve/${sub} exports serve`);
    }
    assert.deepEqual(subpaths.core, core);
  }, T);

  it(`imports from CommonJS (require) on ${runtime}`, () => {
    const file = path.join(project, "cjs-consumer.cjs");
    fs.writeFileSync(file, cjsConsumer(runtime));
    const [cmd, args] = runtimeCommand(file);
    const r = result(ok(run(cmd, args, { cwd: project }), `${runtime} cjs-consumer.cjs`));
    assertRoundTrip(r.main, "/cjs", "cjs");
    assertRoundTrip(r.viaSub, `/${runtime}`, "cjs");
    assert.equal(r.version, pkg.version);
    assert.ok((r.exports as string[]).includes("serve"));
    assert.ok(!(r.core as string[]).includes("serve"));
  }, T);

  it.skipIf(runtime !== "bun")("imports from a Bun TypeScript file", () => {
    const file = path.join(project, "bun-consumer.ts");
    fs.writeFileSync(file, bunTsConsumer);
    const r = result(ok(run(process.execPath, [file], { cwd: project }), "bun bun-consumer.ts"));
    assertRoundTrip(r.main, "/ts", "bun ts");
  }, T);

  it.skipIf(runtime !== "node")("resolves the workerd condition to the runtime-neutral core", () => {
    const file = path.join(project, "condition-consumer.mjs");
    fs.writeFileSync(file, conditionConsumer);
    const workerd = result(
      ok(run(process.execPath, ["--conditions=workerd", file], { cwd: project }), "node -C workerd"),
    );
    const plain = result(ok(run(process.execPath, [file], { cwd: project }), "node"));
    assert.ok(!(workerd.exports as string[]).includes("serve"), "workerd gets no serve()");
    assert.ok((workerd.exports as string[]).includes("createLifecycle"), "workerd gets the lifecycle");
    assert.ok((plain.exports as string[]).includes("serve"), "node gets serve()");
  }, T);

  it.skipIf(runtime !== "node")(
    "loads where no runtime is recognised; serve() then throws ERR_GRACEFUL_RUNTIME",
    () => {
      const file = path.join(project, "unknown-runtime-consumer.mjs");
      fs.writeFileSync(file, unknownRuntimeConsumer);
      const r = result(ok(run(process.execPath, [file], { cwd: project }), "node unknown-runtime-consumer.mjs"));
      const thrown = r.thrown as { name: string; code: string; message: string } | undefined;
      assert.ok(thrown, "serve() throws when it has no server to start");
      assert.equal(thrown.code, "ERR_GRACEFUL_RUNTIME");
      assert.match(thrown.message, /unsupported runtime/);
      assert.equal(r.fastIsNative, true, "FastResponse is the platform's Response there");
      assert.equal(r.graceful, true, "the runtime-neutral lifecycle still works");
    },
    T,
  );

  it.skipIf(runtime !== "node")("type-checks for TypeScript users (node16 ESM and CJS)", () => {
    fs.writeFileSync(path.join(project, "types-esm.mts"), tsEsm);
    fs.writeFileSync(path.join(project, "types-cjs.cts"), tsCjs);
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "node16",
          moduleResolution: "node16",
          target: "es2022",
          lib: ["es2023", "dom", "esnext.disposable"],
          strict: true,
          noEmit: true,
          types: ["node"],
          typeRoots: [path.join(root, "node_modules", "@types")],
        },
        files: ["types-esm.mts", "types-cjs.cts"],
      }),
    );
    ok(run(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", project]), "tsc");
  }, T);
});

function assertRoundTrip(value: unknown, urlPath: string, via: string): void {
  const r = value as { status: number; body: string; state: string; report: Record<string, unknown> };
  assert.equal(r.status, 200);
  assert.equal(r.body, `hello ${urlPath} via ${via}`);
  assert.equal(r.state, "closed");
  assert.equal(r.report.reason, "manual");
  assert.equal(r.report.graceful, true);
  assert.equal(r.report.forced, 0);
  assert.equal(r.report.inFlight, 0, "the one request was done before shutdown");
  assert.deepEqual(r.report.errors, []);
}

describe("package manifests", () => {
  it('lists the export conditions of "." in the order types, deno, bun, workerd, node, default', () => {
    const dot = pkg.exports["."];
    assert.deepEqual(Object.keys(dot), ["types", "deno", "bun", "workerd", "node", "default"]);
    for (const cond of ["deno", "bun", "node"]) {
      assert.deepEqual(dot[cond], { import: "./dist/index.js", require: "./dist/index.cjs" }, `${cond} gets serve()`);
    }
    for (const cond of ["workerd", "default"]) {
      assert.deepEqual(dot[cond], { import: "./dist/core.js", require: "./dist/core.cjs" }, `${cond} gets the core`);
    }
    assert.equal(dot.types.workerd.import, "./dist/core.d.ts");
    assert.equal(dot.types.import, "./dist/index.d.ts");
    assert.equal(dot.types.require, "./dist/index.d.cts");
  });

  it("has a subpath per runtime plus core and package.json, each with ESM, CJS and types", () => {
    assert.deepEqual(Object.keys(pkg.exports), [".", "./node", "./deno", "./bun", "./core", "./package.json"]);
    for (const name of ["node", "deno", "bun", "core"]) {
      assert.deepEqual(pkg.exports[`./${name}`], {
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
    }
    assert.equal(pkg.sideEffects, false);
    assert.equal(pkg.engines.node, ">=20");
    assert.equal(pkg.type, "module");
  });

  it("keeps package.json and deno.json in step (runtimes/check-versions.mjs)", () => {
    const [cmd, args] = runtimeCommand(path.join(root, "runtimes", "check-versions.mjs"));
    const out = ok(run(cmd, args, { cwd: root }), "check-versions");
    assert.match(out, new RegExp(`agree on ${pkg.version.replaceAll(".", "\\.")}`));
    assert.equal(denoJson.version, pkg.version);
  }, T);

  it("exports the same entry points on JSR as on npm", () => {
    assert.equal(denoJson.name, "@graceful/serve");
    assert.equal(denoJson.license, "MIT");
    assert.deepEqual(denoJson.exports, {
      ".": "./src/mod.ts",
      "./core": "./src/core.ts",
      "./node": "./src/node.ts",
      "./deno": "./src/deno.ts",
      "./bun": "./src/bun.ts",
    });
    assert.ok(denoJson.publish.include.includes("src/"));
    assert.ok(denoJson.publish.exclude.includes("test/"));
    // Test and example tooling stays resolvable for `deno test` / `deno run examples/...`.
    assert.equal(denoJson.imports["graceful-serve"], "./src/mod.ts");
    assert.equal(denoJson.imports.vitest, "./test/_shim/vitest-deno.ts");
  });
});
