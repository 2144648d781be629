#!/usr/bin/env node
// Runs the one test suite (test/**/*.test.ts, vitest API) on Node 20, Node 24, Bun and Deno,
// one runtime at a time (the tests spawn servers; CI has 2 cores), streams each runtime's
// output with a [runtime] prefix, prints a summary table and, as the very last line,
// "N passed, M failed" (totals over runtimes; CI judges by it).
//
//   node runtimes/test-all.mjs [--only node20,node24,bun,deno] [--skip bun]
//                              [-t <test name regex>] [--timeout-min 15] [--no-rerun] [file patterns...]
//
// File patterns are substrings of the test file path (vitest semantics), resolved here to the
// same explicit file list for every runtime. Children get GS_RUNTIME=node20|node24|bun|deno.
// A runtime that exits non-zero or runs zero tests counts as (at least) 1 failed.
// At most RERUN_MAX failed tests in at most RERUN_MAX files run once more, those files alone
// (--no-rerun: never); a test that passes then is reported as flaky by name, and does not fail the run.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureNode24 } from "./node24.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const VITEST = join(ROOT, "node_modules", "vitest", "vitest.mjs");
const TEST_TIMEOUT_MS = 30_000; // keep in sync with vitest.config.ts testTimeout
const ALL = ["node20", "node24", "bun", "deno"];
const RERUN_MAX = 3;

// ---------- args ----------
function usage(code) {
  console.log(
    "usage: node runtimes/test-all.mjs [--only a,b] [--skip a,b] [-t name-regex] [--timeout-min N] [--no-rerun]" +
      " [file patterns...]\n" +
      `runtimes: ${ALL.join(", ")}`,
  );
  process.exit(code);
}
const opts = {
  only: ALL,
  skip: [],
  name: undefined,
  timeoutMin: Number(process.env.GS_TEST_TIMEOUT_MIN ?? 15),
  patterns: [],
  rerun: true,
};
{
  const argv = process.argv.slice(2);
  const list = (v) => (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) [a, val] = [a.slice(0, eq), a.slice(eq + 1)];
    const next = () => val ?? argv[++i];
    if (a === "--only") opts.only = list(next());
    else if (a === "--skip") opts.skip = list(next());
    else if (a === "-t" || a === "--test-name-pattern") opts.name = next();
    else if (a === "--timeout-min") opts.timeoutMin = Number(next());
    else if (a === "--no-rerun") opts.rerun = false;
    else if (a === "-h" || a === "--help") usage(0);
    else if (a === "--") opts.patterns.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith("-")) console.error(`unknown option ${a}`), usage(2);
    else opts.patterns.push(a);
  }
  for (const r of [...opts.only, ...opts.skip]) if (!ALL.includes(r)) console.error(`unknown runtime "${r}"`), usage(2);
  if (!(opts.timeoutMin > 0)) console.error("--timeout-min must be > 0"), usage(2);
}
const selected = ALL.filter((r) => opts.only.includes(r) && !opts.skip.includes(r));

// ---------- test files: test/**/*.test.ts minus test/_shim ----------
function walk(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && e.name !== "_shim" && !e.name.startsWith(".")) walk(p, out);
    } else if (e.name.endsWith(".test.ts")) out.push(relative(ROOT, p).split(sep).join("/"));
  }
  return out;
}
const allFiles = existsSync(join(ROOT, "test")) ? walk(join(ROOT, "test")).sort() : [];
const files = opts.patterns.length
  ? allFiles.filter((f) =>
    opts.patterns.some((p) =>
      f.includes(p.split(sep).join("/").replace(/^\.\//, "")) || resolve(p) === resolve(ROOT, f)
    )
  )
  : allFiles;

// ---------- runtimes ----------
function version(bin, args = ["-v"]) {
  try {
    return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0].trim();
  } catch {
    return "";
  }
}
function findNode20() {
  const cands = [process.env.GS_NODE20, process.execPath];
  for (const d of (process.env.PATH ?? "").split(delimiter)) if (d) cands.push(join(d, "node"));
  for (const c of cands) if (c && existsSync(c) && version(c).startsWith("v20.")) return c;
  throw new Error(`no Node 20 binary found (runner is ${process.version}); set GS_NODE20=/path/to/node20`);
}
// `list` is the run's files: all of them, or the failed ones on a rerun.
const fileArgs = (list) => list.map((f) => `./${f}`);
const vitestCmd = (node, list) => [
  node,
  VITEST,
  "run",
  "--reporter=verbose",
  ...(opts.patterns.length || list !== files ? list : []),
  ...(opts.name ? ["-t", opts.name] : []),
];
const RUNTIMES = {
  node20: {
    prepare: (_tmp, list) => {
      const b = findNode20();
      return { version: version(b), cmd: vitestCmd(b, list) };
    },
    parse: parseVitest,
  },
  node24: {
    prepare: (_tmp, list) => {
      const b = ensureNode24();
      return { version: version(b), cmd: vitestCmd(b, list) };
    },
    parse: parseVitest,
  },
  bun: {
    prepare: (_tmp, list) => {
      const b = join(BIN, "bun");
      // --isolate: fresh globals per file (like vitest's per-file forks); default per-test timeout is 5 s.
      return {
        version: `bun ${version(b)}`,
        cmd: [
          b,
          "test",
          "--isolate",
          `--timeout=${TEST_TIMEOUT_MS}`,
          ...(opts.name ? ["-t", opts.name] : []),
          ...fileArgs(list),
        ],
      };
    },
    parse: parseBun,
  },
  deno: {
    prepare: (tmp, list) => {
      const b = join(BIN, "deno");
      const junit = join(tmp, "deno-junit.xml");
      // Offline: no JSR/npm fetches; vitest -> test/_shim/vitest-deno.ts via deno.json "imports".
      // -t is applied by the shim (GS_TEST_NAME_PATTERN): deno's --filter only sees top-level names.
      const cmd = [b, "test", "-A", "--cached-only", `--junit-path=${junit}`, ...fileArgs(list)];
      return { version: version(b), cmd, junit };
    },
    parse: parseDeno,
  },
};

// ---------- output parsing ----------
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "");
const num = (re, s) => {
  const all = [...s.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : 0;
};
function parseVitest(out) {
  // "      Tests  1 failed | 3 passed | 1 skipped (5)"
  const m = [...out.matchAll(/^\s*Tests\s+(.+)$/gm)].pop();
  const line = m ? m[1] : "";
  return {
    passed: num(/(\d+) passed/g, line),
    failed: num(/(\d+) failed/g, line),
    skipped: num(/(\d+) skipped/g, line) + num(/(\d+) todo/g, line),
  };
}
function parseBun(out) {
  // " 3 pass\n 1 skip\n 0 fail\nRan 4 tests across 1 file."
  return {
    passed: num(/^\s*(\d+) pass$/gm, out),
    failed: num(/^\s*(\d+) fail$/gm, out),
    skipped: num(/^\s*(\d+) skip$/gm, out) + num(/^\s*(\d+) todo$/gm, out),
  };
}
function parseDeno(out, info) {
  // Deno reports describe() as a test and it() as steps; count leaves from the JUnit file so the
  // numbers are comparable with vitest/bun. A testcase is a leaf unless another is named "<it> > ...".
  if (info.junit && existsSync(info.junit)) {
    const xml = readFileSync(info.junit, "utf8");
    const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({
      name: m[1],
      body: m[3] ?? "",
    }));
    const names = cases.map((c) => c.name);
    const r = { passed: 0, failed: 0, skipped: 0 };
    for (const c of cases) {
      if (names.some((n) => n.startsWith(`${c.name} &gt; `))) continue;
      if (/<failure|<error/.test(c.body)) r.failed++;
      else if (/<skipped/.test(c.body)) r.skipped++;
      else r.passed++;
    }
    return r;
  }
  // Fallback: "ok | 1 passed (3 steps) | 0 failed | 0 ignored (1 step)"
  const line = [...out.matchAll(/^(?:ok|FAILED) \|(.*)$/gm)].pop()?.[1] ?? "";
  const f = (re) => {
    const m = line.match(re);
    return m ? Number(m[1]) + Number(m[2] ?? 0) : 0;
  };
  return {
    passed: f(/(\d+) passed(?: \((\d+) steps?\))?/),
    failed: f(/(\d+) failed(?: \((\d+) steps?\))?/),
    skipped: f(/(\d+) ignored(?: \((\d+) steps?\))?/),
  };
}

/**
 * The failed tests in a runner's output: the lines naming them (vitest "FAIL"/"×", bun "(fail)", deno
 * "... FAILED") and their files. vitest names the file on its "FAIL" line; bun ("test/x.test.ts:") and
 * deno ("running 3 tests from ./test/x.test.ts") name it before the file's results, so their lines get it
 * as a prefix.
 */
function failuresIn(out) {
  const lines = new Set();
  const found = new Set();
  let current;
  for (const line of out.split("\n")) {
    const header = line.match(/^(?:running \d+ tests? from \.\/)?(test\/\S+\.test\.ts):?$/);
    if (header) current = header[1];
    // bun lists the failed tests again at the end, under the last file's header: not that file's.
    if (/^\d+ tests? failed:$/.test(line.trim())) current = undefined;
    const vitest = line.match(/^\s*(?:FAIL\s+|× )(test\/\S+\.test\.ts)/);
    if (vitest) {
      found.add(vitest[1]);
      lines.add(line.trim());
    } else if (current && /^\s*\(fail\)|\.\.\. FAILED/.test(line)) {
      found.add(current);
      lines.add(`${current}: ${line.trim()}`);
    }
  }
  const named = [...lines];
  return {
    lines: named.length > 40 ? [...named.slice(0, 40), `… ${named.length - 40} more`] : named,
    files: [...found].filter((f) => files.includes(f)),
  };
}

// ---------- process handling ----------
let current = null; // { child, kill }
function killGroup(child, sig) {
  try {
    process.kill(-child.pid, sig);
  } catch {
    /* already gone */
  }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (current) killGroup(current.child, "SIGKILL");
    console.error(`\ntest-all: got ${sig}, aborting`);
    process.exit(130);
  });
}

function run(name, cmd, extraEnv) {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    let out = "";
    let timedOut = false;
    const child = spawn(cmd[0], cmd.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // own process group, so a hang (incl. spawned servers) can be killed as a whole
    });
    current = { child };
    const pipe = (stream, dest) => {
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (d) => {
        out += d;
        buf += d;
        const lines = buf.split("\n");
        buf = lines.pop();
        for (const l of lines) dest.write(`[${name}] ${l}\n`);
      });
      stream.on("end", () => buf && dest.write(`[${name}] ${buf}\n`));
    };
    pipe(child.stdout, process.stdout);
    pipe(child.stderr, process.stdout); // bun prints results on stderr; one ordered stream reads best in CI logs
    const timer = setTimeout(() => {
      timedOut = true;
      process.stderr.write(
        `[${name}] test-all: TIMEOUT after ${opts.timeoutMin} min, killing process group ${child.pid}\n`,
      );
      killGroup(child, "SIGTERM");
      setTimeout(() => killGroup(child, "SIGKILL"), 5_000).unref();
    }, opts.timeoutMin * 60_000);
    let exitCode = null;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      current = null;
      resolvePromise({ code: exitCode, out: stripAnsi(out), timedOut, ms: Date.now() - started });
    };
    child.on("error", (err) => {
      out += `\nspawn error: ${err.message}\n`;
      process.stderr.write(`[${name}] spawn error: ${err.message}\n`);
      exitCode = 127;
      finish();
    });
    child.on("exit", (code, signal) => {
      exitCode = code ?? (signal ? 128 : 1);
      // Reap anything the tests leaked into the group (it would also keep our pipes open).
      killGroup(child, "SIGKILL");
      setTimeout(finish, 2_000).unref();
    });
    child.on("close", finish);
  });
}

// ---------- main ----------
const results = [];
if (!files.length) {
  console.error(
    `test-all: no test files match ${opts.patterns.length ? opts.patterns.join(" ") : "test/**/*.test.ts"}`,
  );
}
/** One run of `list` on runtime `name`: its output, exit and counts. */
async function runOnce(name, list, label = name) {
  const tmp = mkdtempSync(join(tmpdir(), `gs-test-${name}-`));
  let res;
  let info;
  try {
    info = RUNTIMES[name].prepare(tmp, list);
  } catch (err) {
    console.error(`\n==== [${label}] setup failed: ${err.message}`);
    res = { code: 1, out: "", timedOut: false, ms: 0 };
    info = { version: "?", cmd: [] };
  }
  if (info.cmd.length && list.length) {
    console.log(
      `\n==== [${label}] ${info.version}\n==== [${label}] $ ${
        info.cmd.map((a) => (a.startsWith(ROOT + sep) ? relative(ROOT, a) : a)).join(" ")
      }`,
    );
    const env = { GS_RUNTIME: name, NO_COLOR: "1" };
    if (name === "deno" && opts.name) env.GS_TEST_NAME_PATTERN = opts.name;
    res = await run(label, info.cmd, env);
  } else if (!res) {
    res = { code: 1, out: "", timedOut: false, ms: 0 };
  }
  const counts = res.out ? RUNTIMES[name].parse(res.out, info) : { passed: 0, failed: 0, skipped: 0 };
  rmSync(tmp, { recursive: true, force: true });
  const clean = res.code === 0 && !res.timedOut && counts.failed === 0 && counts.passed > 0;
  return { res, info, counts, clean };
}

for (const name of selected) {
  const first = await runOnce(name, files);
  const { res, info, counts } = first;
  let note = "";
  if (!files.length) note = "no test files";
  else if (res.timedOut) note = "TIMEOUT";
  else if (res.code !== 0 && counts.failed === 0) note = `exit ${res.code}`;
  else if (counts.passed + counts.failed === 0) note = "no tests ran";
  // CI reads only the final line: make sure a crashed/empty/timed-out runtime shows as failed.
  let failed = counts.failed || (res.code !== 0 || res.timedOut || counts.passed === 0 ? 1 : 0);
  let passed = counts.passed;
  let code = res.code;
  let ms = res.ms;
  const { lines: failures, files: again } = failuresIn(res.out);
  let flaky = [];
  // A few failed tests in a few files (not a crash, not a timeout) run once more, those files alone.
  // Passing then, they are reported as flaky (named above the summary, where CI's tail shows them) and
  // the runtime counts as passed; failing again, the runtime fails as before.
  if (
    opts.rerun && !first.clean && !res.timedOut && counts.failed > 0 && counts.failed <= RERUN_MAX &&
    again.length > 0 && again.length <= RERUN_MAX
  ) {
    const second = await runOnce(name, again, `${name} rerun`);
    ms += second.res.ms;
    if (second.clean) {
      flaky = failures;
      passed += failed;
      failed = 0;
      code = 0;
      note = `${counts.failed} flaky: passed on rerun`;
    } else {
      note = "failed again on rerun";
      failures.push(...failuresIn(second.res.out).lines.map((l) => `rerun: ${l}`));
    }
  }
  results.push({
    name,
    version: info.version,
    passed,
    failed,
    skipped: counts.skipped,
    code,
    ms,
    note,
    failures: flaky.length ? [] : failures,
    flaky,
  });
}

const rows = [["runtime", "version", "passed", "failed", "skipped", "exit", "time", "note"]];
for (const r of results) {
  rows.push([r.name, r.version, r.passed, r.failed, r.skipped, r.code, `${(r.ms / 1000).toFixed(1)}s`, r.note]);
}
const total = results.reduce((t, r) => ({ passed: t.passed + r.passed, failed: t.failed + r.failed }), {
  passed: 0,
  failed: 0,
});
// CI shows only the tail of the log: name the failed tests there, next to the summary.
if (results.some((r) => r.flaky.length)) {
  console.log("\n==== flaky tests (failed, then passed when their files ran again)");
  for (const r of results) for (const l of r.flaky) console.log(`[${r.name}] ${l}`);
}
if (results.some((r) => r.failures.length)) {
  console.log("\n==== failed tests");
  for (const r of results) for (const l of r.failures) console.log(`[${r.name}] ${l}`);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
console.log("\n==== summary");
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd());
const ok = results.length > 0 && results.every((r) => r.code === 0 && r.failed === 0 && r.passed > 0);
if (!results.length) total.failed++;
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exitCode = ok && total.failed === 0 ? 0 : 1;
