// Turns bench results into a markdown report and two SVG charts (hand-written SVG, no dependency).

export const GOALS = {
  ratio: (kind) => (kind === "node" ? 0.9 : 0.97),
  drainMs: 5,
  sigtermMs: 30,
  deadlineMs: 50,
  heapNoiseBytes: 2 ** 20,
  rssNoiseBytes: 8 * 2 ** 20,
};
const RESTART_PLACEHOLDER = "not measured in this run";

/** The goals-table cell for restart loss: failed requests per run (worst first). */
function restartCell(r) {
  if (r.restart?.status !== "measured") return RESTART_PLACEHOLDER;
  return Object.entries(r.restart.mechanisms)
    .map(([mech, v]) => `${Math.max(...v.failed)} of ${fmtInt(v.requests)} worst (${mech.split(" ")[0]}) ${ok(v.failed.every((f) => f === 0))}`)
    .join("; ");
}

// ---------------------------------------------------------------- numbers
export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
/** First and third quartiles (linear interpolation). */
export function quartiles(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const at = (q) => {
    const i = (v.length - 1) * q;
    const lo = Math.floor(i);
    return v[lo] + (v[Math.min(lo + 1, v.length - 1)] - v[lo]) * (i - lo);
  };
  return [at(0.25), at(0.75)];
}
const finite = (values) => values.filter((x) => typeof x === "number" && Number.isFinite(x));
const failedCount = (values) => values.length - finite(values).length;
const ok = (pass) => (pass === undefined ? "" : pass ? "✓" : "✗");
const fmtInt = (n) => (n === undefined ? "—" : Math.round(n).toLocaleString("en-US"));
function fmtMs(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return "—";
  const a = Math.abs(ms);
  return `${a >= 100 ? ms.toFixed(0) : a >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}
const fmtMiB = (b) => (b === undefined ? "—" : `${(b / 2 ** 20).toFixed(1)} MiB`);
const fmtDeltaMiB = (b) => (b === undefined ? "—" : `${b >= 0 ? "+" : "−"}${(Math.abs(b) / 2 ** 20).toFixed(2)} MiB`);

/** Median req/s and p99 per implementation, and the median of per-round ratios to the bare server. */
export function throughputSummary(rt) {
  const t = rt.throughput;
  if (!t) return {};
  const out = {};
  for (const impl of t.impls) {
    const samples = t.samples[impl] ?? [];
    const roundRatios = (ref) => {
      const ratios = [];
      for (const s of samples) {
        const base = (t.samples[ref] ?? []).find((b) => b.round === s.round);
        if (base && base.rps > 0) ratios.push(s.rps / base.rps);
      }
      return ratios;
    };
    const ratiosTo = (ref) => median(roundRatios(ref));
    // CPU-time ratio: the reference's server CPU per request over this one's (1 = same cost).
    const cpuRatiosTo = (ref) => {
      const ratios = [];
      for (const s of samples) {
        const base = (t.samples[ref] ?? []).find((b) => b.round === s.round);
        if (base?.cpuUs > 0 && s.cpuUs > 0) ratios.push(base.cpuUs / s.cpuUs);
      }
      return median(ratios);
    };
    out[impl] = {
      n: samples.length,
      rps: median(samples.map((s) => s.rps)),
      p99: median(samples.map((s) => s.p99)),
      ratio: impl === "bare" ? 1 : ratiosTo("bare"),
      ratioIqr: impl === "bare" ? undefined : quartiles(roundRatios("bare")),
      ratioReq: t.impls.includes("bare-req") ? (impl === "bare-req" ? 1 : ratiosTo("bare-req")) : undefined,
      cpuUs: median(samples.map((s) => s.cpuUs)),
      cpuRatio: impl === "bare" ? 1 : cpuRatiosTo("bare"),
      cpuRatioReq: t.impls.includes("bare-req") ? (impl === "bare-req" ? 1 : cpuRatiosTo("bare-req")) : undefined,
      foreign: median(samples.map((s) => s.foreign)),
      retried: samples.filter((s) => (s.attempts ?? 1) > 1).length,
      min: samples.length ? Math.min(...samples.map((s) => s.rps)) : undefined,
      max: samples.length ? Math.max(...samples.map((s) => s.rps)) : undefined,
      errors: samples.reduce((n, s) => n + (s.errors ?? 0), 0),
    };
  }
  return out;
}

// ---------------------------------------------------------------- labels
function label(impl, kind, peers, section) {
  const native = { node: "node:http", deno: "Deno.serve", bun: "Bun.serve" }[kind];
  switch (impl) {
    case "bare-req":
      return `${native}((request) => …) (bare, handler declares the request)`;
    case "bare":
      if (section === "drain") return `${native} ${{ node: "close()", deno: "shutdown()", bun: "stop()" }[kind]} (native)`;
      if (section === "sigterm") return `${native}, no handler (reference: default signal death, not graceful)`;
      return `${native} (bare)`;
    case "gs":
      return kind === "node" ? "**graceful-serve** + FastResponse" : "**graceful-serve**";
    case "gs-response":
      return "**graceful-serve** + global Response";
    case "srvx":
      return `srvx ${peers.srvx}`;
    case "terminator":
      return `node:http + http-terminator ${peers["http-terminator"]}`;
    case "cwg":
      return `node:http + close-with-grace ${peers["close-with-grace"]}`;
  }
  return impl;
}
const plain = (s) => s.replace(/\*\*/g, "");
const runs = (n) => `${n} run${n === 1 ? "" : "s"}`;

function table(head, rows) {
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map((h) => (/^(req\/s|p99|ratio|median|min|max|RSS|heap|Δ|n|CPU|other)/.test(h) ? "---:" : "---")).join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

const ours = (impl) => impl === "gs" || impl === "gs-response";

// ---------------------------------------------------------------- markdown
export function renderMarkdown(results, { throughputSvg, shutdownSvg }) {
  const { meta } = results;
  const peers = meta.peers;
  const S = meta.settings;
  const rts = Object.values(results.runtimes);
  const md = [];
  md.push(`# graceful-serve benchmarks`);
  md.push("");
  md.push(
    `${meta.mode === "quick" ? "**Quick (smoke) run: short measurements, indicative only.** " : ""}` +
      `${meta.date.slice(0, 16).replace("T", " ")} UTC · graceful-serve at ${meta.git} (src snapshot ${meta.srcHash}) · ` +
      `${meta.host.cpus} × ${meta.host.cpuModel} · Linux ${meta.host.kernel} · ` +
      `${meta.host.pinned ? "server pinned to CPU 0, load generator to CPU 1" : "not pinned"} · run took ${meta.durationS} s.`,
  );
  md.push("");
  md.push(
    `Runtimes: ${rts.map((r) => `${r.name} = ${r.version ?? `skipped (${r.skipped})`}`).join(", ")}. ` +
      `Peers: srvx ${peers.srvx}, http-terminator ${peers["http-terminator"]}, close-with-grace ${peers["close-with-grace"]}; load: wrk ${peers.wrk}. ` +
      `Everything on 127.0.0.1. Produced by \`npm run bench\` (bench/run.mjs).`,
  );
  md.push("");

  // --- summary: graceful-serve against its goals
  md.push(`## graceful-serve against its goals`);
  md.push("");
  const head = ["goal", ...rts.map((r) => r.name)];
  const rows = [];
  rows.push([
    "throughput: req/s ratio vs bare server (≥ 0.90 Node, ≥ 0.97 Deno/Bun)",
    ...rts.map((r) => {
      const t = throughputSummary(r).gs;
      if (!t?.ratio) return "—";
      const req = t.ratioReq === undefined ? "" : ` (${t.ratioReq.toFixed(3)} vs \`(request) =>\`)`;
      return `${t.ratio.toFixed(3)} ${ok(t.ratio >= GOALS.ratio(r.kind))}${req}`;
    }),
  ]);
  rows.push([
    "throughput: server CPU-time-per-request ratio vs bare (same goal; robust to other load)",
    ...rts.map((r) => {
      const t = throughputSummary(r).gs;
      if (!t?.cpuRatio) return "—";
      const req = t.cpuRatioReq === undefined ? "" : ` (${t.cpuRatioReq.toFixed(3)} vs \`(request) =>\`)`;
      return `${t.cpuRatio.toFixed(3)} ${ok(t.cpuRatio >= GOALS.ratio(r.kind))}${req}`;
    }),
  ]);
  const medOf = (r, section, impl) => (r[section]?.[impl] ? median(r[section][impl].samples) : undefined);
  const anyFailed = (r, section, impl) => (r[section]?.[impl] ? failedCount(r[section][impl].samples) : 0);
  const cell = (r, section, impl, goal) => {
    const m = medOf(r, section, impl);
    const f = anyFailed(r, section, impl);
    if (m === undefined) return f ? `no result ✗` : "—";
    return `${fmtMs(m)} ${ok(m <= goal && f === 0)}${f ? ` (${f} failed)` : ""}`;
  };
  rows.push([`drain: last response → shutdown() resolved (≤ ${GOALS.drainMs} ms)`, ...rts.map((r) => cell(r, "drain", "gs", GOALS.drainMs))]);
  rows.push([`SIGTERM → exit, ${S.keepAlive} idle keep-alive connections (≤ ${GOALS.sigtermMs} ms)`, ...rts.map((r) => cell(r, "sigterm", "gs", GOALS.sigtermMs))]);
  rows.push([`deadline overshoot, ${S.streams} endless streams (≤ ${GOALS.deadlineMs} ms)`, ...rts.map((r) => cell(r, "deadline", "gs", GOALS.deadlineMs))]);
  rows.push(["restart loss under load (0 failed)", ...rts.map((r) => restartCell(r))]);
  rows.push([
    `memory: heap growth over ${fmtInt(S.memRequests)} requests within noise`,
    ...rts.map((r) => {
      const v = memoryVerdict(r, "gs");
      return v ? `heap ${fmtDeltaMiB(v.delta)}, RSS ${fmtDeltaMiB(v.rssDelta)} ${ok(v.pass)}` : "—";
    }),
  ]);
  md.push(table(head, rows));
  md.push("");
  md.push(`![throughput](${throughputSvg})`);
  md.push("");
  md.push(`![shutdown timings](${shutdownSvg})`);
  md.push("");

  // --- 1. throughput
  md.push(`## 1. Throughput overhead (hello world)`);
  md.push("");
  md.push(
    `\`wrk -t1 -c${S.connections} -d${S.duration}s --latency\`${S.warmup ? ` after ${S.warmup} s warm-up` : ""}, a fresh server per measurement, ` +
      `${S.rounds} interleaved rounds (A B C D, B C D A, …); medians. The ratio is the median of per-round ratios to the bare server ` +
      `of the same round; "ratio IQR" is the interquartile range of those per-round ratios — server processes differ from ` +
      `one another by several percent (it shows in CPU per request too, so it is not the load generator), which is why ` +
      `many short rounds are run rather than a few long ones. ` +
      `Goal: ≥ 0.90 on Node, ≥ 0.97 on Deno and Bun (applied to peers too, for comparison). p99 has no goal. ` +
      `Deno.serve skips building the Request for a zero-argument handler, which a wrapper (or any handler that reads the ` +
      `request) cannot get, so on Deno the bare server also runs as \`(request) => …\` and the second ratio is to that. ` +
      `"CPU µs/req": the server process's CPU time (user + system, all threads) over the requests it answered; its ` +
      `ratio (bare ÷ this) is what the req/s ratio would be on a CPU of its own, and stays meaningful when other ` +
      `processes take turns on the machine. "other load": median share of the machine's CPU used by other processes ` +
      `during a measurement (runs above ${Math.round(S.foreignMax * 100)}% were measured again, within a retry budget).`,
  );
  md.push("");
  {
    const rows = [];
    for (const r of rts) {
      const sum = throughputSummary(r);
      for (const impl of r.throughput?.impls ?? []) {
        const t = sum[impl];
        const goal = GOALS.ratio(r.kind);
        rows.push([
          r.name,
          label(impl, r.kind, peers, "throughput"),
          fmtInt(t.rps),
          t.n ? `${fmtInt(t.min)}–${fmtInt(t.max)}` : "—",
          fmtMs(t.p99),
          t.ratio === undefined ? "—" : t.ratio.toFixed(3),
          t.ratioIqr === undefined ? "" : `${t.ratioIqr[0].toFixed(2)}–${t.ratioIqr[1].toFixed(2)}`,
          impl === "bare" || impl === "bare-req" ? "reference" : `≥ ${goal.toFixed(2)} ${t.ratio === undefined ? "" : ok(t.ratio >= goal)}`,
          t.ratioReq === undefined ? "" : t.ratioReq.toFixed(3),
          t.cpuUs === undefined ? "—" : t.cpuUs.toFixed(1),
          t.cpuRatio === undefined
            ? "—"
            : `${t.cpuRatio.toFixed(3)}${impl === "bare" || impl === "bare-req" ? "" : ` ${ok(t.cpuRatio >= goal)}`}` +
              (t.cpuRatioReq === undefined || impl === "bare-req" ? "" : ` (${t.cpuRatioReq.toFixed(3)})`),
          t.foreign === undefined ? "—" : `${(t.foreign * 100).toFixed(0)}%`,
          `${t.n}${t.retried ? ` (${t.retried} re-measured)` : ""}${t.errors ? `, ${t.errors} errors` : ""}`,
        ]);
      }
    }
    md.push(table(["runtime", "server", "req/s", "range", "p99", "ratio", "ratio IQR", "goal", "ratio vs (request) =>", "CPU µs/req", "CPU ratio", "other load", "n"], rows));
  }
  md.push("");

  // --- 2a. drain
  md.push(`## 2. Drain latency and SIGTERM exit`);
  md.push("");
  md.push(
    `**Drain:** one request in flight (answers after ${S.slow} ms) on a keep-alive connection the client leaves open; the server starts ` +
      `its own graceful shutdown 20 ms into it. Figure: time from the response being written (Node: the \`finish\` event of the ` +
      `\`ServerResponse\`; Deno and Bun have no such hook, so the moment the handler hands the response to the runtime — an upper bound) ` +
      `to the shutdown resolving, in the server process. ${runs(S.drainReps)}, median. Goal ≤ ${GOALS.drainMs} ms.`,
  );
  md.push("");
  md.push(timingTable(rts, "drain", peers, GOALS.drainMs, (r, impl) => r.drain?.[impl]?.how));
  md.push("");
  md.push(
    `**SIGTERM → exit:** ${S.keepAlive} keep-alive connections, each after one request, idle; the parent sends SIGTERM and times ` +
      `until the child's exit event. ${runs(S.sigtermReps)}, median. Goal ≤ ${GOALS.sigtermMs} ms. Wiring: graceful-serve and srvx ` +
      `use their own signal handling; http-terminator as documented (\`terminate()\` then \`process.exit()\`); close-with-grace ` +
      `with \`server.close()\` as its callback.`,
  );
  md.push("");
  md.push(timingTable(rts, "sigterm", peers, GOALS.sigtermMs, (r, impl) => r.sigterm?.[impl]?.exits?.[0], (impl) => impl === "bare"));
  md.push("");

  // --- 3. deadline
  md.push(`## 3. Deadline precision`);
  md.push("");
  md.push(
    `${S.streams} never-ending streaming responses open; shutdown with a ${S.deadline} ms deadline. Figure: resolution time minus ` +
      `the deadline, in the server process. graceful-serve: \`shutdown({ deadline })\`; http-terminator: \`terminate()\` with ` +
      `\`gracefulTerminationTimeout\`; close-with-grace: \`delay\` (it ends in \`process.exit(1)\`); srvx has no programmatic deadline, ` +
      `so its signal plugin is used (\`gracefulTimeout: 1\` s, then \`close(true)\`), timed from the SIGTERM. ${runs(S.deadlineReps)}, median. ` +
      `Goal ≤ ${GOALS.deadlineMs} ms.`,
  );
  md.push("");
  md.push(timingTable(rts, "deadline", peers, GOALS.deadlineMs, (r, impl) => r.deadline?.[impl]?.how));
  md.push("");

  // --- 4. restart
  md.push(`## 4. Restart loss`);
  md.push("");
  md.push(
    `Failed requests during a SIGHUP restart under load (≥ 10 000 requests, ≥ 8 concurrent fresh connections), per runtime and ` +
      `handoff mechanism; goal 0.`,
  );
  md.push("");
  md.push(
    `Measured by driving \`runtimes/demo.mjs --requests N\` (examples/server.mjs with \`restart\`; load from a second ` +
      `process, 8 loops, a fresh connection per request; SIGHUP at 30 %). Node passes the listening socket itself; ` +
      `Deno.serve and Bun.serve cannot take it, so they hand over with reusePort (docs/runtimes.md: ` +
      `\`net.ipv4.tcp_migrate_req=1\` removes most of their losses).`,
  );
  md.push("");
  md.push(
    table(
      ["runtime", "mechanism", "requests per run", "failed per run", "goal"],
      rts.flatMap((r) =>
        r.restart?.status === "measured"
          ? Object.entries(r.restart.mechanisms).map(([mech, v]) => [
            r.name,
            mech,
            fmtInt(v.requests),
            `${v.failed.join(", ")} ${ok(v.failed.every((f) => f === 0))}`,
            "0 failed",
          ])
          : [[r.name, "—", "—", RESTART_PLACEHOLDER, "0 failed"]]
      ),
    ),
  );
  md.push("");

  // --- 5. memory
  md.push(`## 5. Memory`);
  md.push("");
  md.push(
    `RSS and heapUsed (after a forced GC) after ${fmtInt(S.memWarm)} warm-up requests and again after ${fmtInt(S.memRequests)} more ` +
      `(wrk, ${S.connections} connections). Δ is the growth over those requests; it is flagged when it exceeds the bare ` +
      `server's growth (on Deno: the \`(request) =>\` one) by more than ${fmtMiB(GOALS.heapNoiseBytes)} of heap or ` +
      `${fmtMiB(GOALS.rssNoiseBytes)} of RSS (noise).`,
  );
  md.push("");
  {
    const rows = [];
    for (const r of rts) {
      for (const impl of Object.keys(r.memory?.byImpl ?? {})) {
        const m = r.memory.byImpl[impl];
        const v = memoryVerdict(r, impl);
        rows.push([
          r.name,
          label(impl, r.kind, peers, "memory"),
          fmtInt(m.requests),
          fmtMiB(m.after.rss),
          fmtDeltaMiB(m.after.rss - m.before.rss),
          fmtMiB(m.after.heapUsed),
          fmtDeltaMiB(m.after.heapUsed - m.before.heapUsed),
          m.after.heapTotal === undefined ? "—" : `${fmtMiB(m.after.heapTotal)} (${fmtDeltaMiB(m.after.heapTotal - m.before.heapTotal)})`,
          impl === "bare" || impl === "bare-req" ? "reference" : v ? `within noise ${ok(v.pass)}` : "—",
        ]);
      }
    }
    md.push(table(["runtime", "server", "n requests", "RSS after", "ΔRSS", "heapUsed after", "Δheap", "heapTotal after (Δ)", "goal"], rows));
  }
  md.push("");

  // --- failures
  const errs = rts.flatMap((r) => {
    // The same failure in several runs is listed once, with its count.
    const counts = new Map();
    for (const e of r.errors) {
      const line = `- ${r.name} · ${e.section} · ${e.impl}: ${e.peer ? "no result (a peer's limit, reported as such)" : "FAILED"} — ${e.message.split("\n")[0]}`;
      counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    return [
      ...(r.skipped ? [`- ${r.name}: skipped — ${r.skipped}`] : []),
      ...[...counts].map(([line, n]) => (n > 1 ? `${line} (${n} runs)` : line)),
    ];
  });
  md.push(`## Failed, timed-out or missing measurements`);
  md.push("");
  md.push(errs.length ? errs.join("\n") : "None.");
  md.push("");
  return md.join("\n");
}

function timingTable(rts, section, peers, goal, note, isReference = () => false) {
  const rows = [];
  for (const r of rts) {
    for (const impl of Object.keys(r[section] ?? {})) {
      const samples = r[section][impl].samples;
      const m = median(samples);
      const f = failedCount(samples);
      const vals = finite(samples);
      rows.push([
        r.name,
        label(impl, r.kind, peers, section),
        m === undefined ? "no result" : fmtMs(m),
        vals.length ? `${fmtMs(Math.min(...vals))} – ${fmtMs(Math.max(...vals))}` : "—",
        isReference(impl) ? "reference" : `≤ ${goal} ms ${m === undefined ? "✗" : ok(m <= goal && f === 0)}`,
        `${vals.length}${f ? ` (+${f} failed)` : ""}`,
        note(r, impl) ?? "",
      ]);
    }
  }
  return table(["runtime", "server", "median", "min – max", "goal", "n", "measured at"], rows);
}

export function memoryVerdict(r, impl) {
  const m = r.memory?.byImpl?.[impl];
  if (!m) return undefined;
  const delta = m.after.heapUsed - m.before.heapUsed;
  const rssDelta = m.after.rss - m.before.rss;
  const ref = r.memory.byImpl["bare-req"] ?? r.memory.byImpl.bare;
  const refHeap = ref ? Math.max(0, ref.after.heapUsed - ref.before.heapUsed) : 0;
  const refRss = ref ? Math.max(0, ref.after.rss - ref.before.rss) : 0;
  return {
    delta,
    rssDelta,
    pass: delta <= refHeap + GOALS.heapNoiseBytes && rssDelta <= refRss + GOALS.rssNoiseBytes,
  };
}

// ---------------------------------------------------------------- SVG
const COLORS = { bare: "#9aa0a6", "bare-req": "#5f6368", gs: "#1a73e8", "gs-response": "#8ab4f8", srvx: "#f29900", terminator: "#188038", cwg: "#a142f4" };
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const FONT = `font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"`;

/**
 * Two panels of grouped bars per runtime and server: median req/s (ratio to bare over each bar) and
 * median server CPU µs per request (CPU-time ratio over each bar).
 */
export function renderThroughputSvg(results) {
  const peers = results.meta.peers;
  const groups = Object.values(results.runtimes)
    .filter((r) => r.throughput)
    .map((r) => ({ r, sum: throughputSummary(r), impls: r.throughput.impls }));
  const barW = 32;
  const gap = 8;
  const groupGap = 46;
  const left = 70;
  const plotH = 230;
  const groupW = (g) => g.impls.length * (barW + gap) - gap;
  const width = Math.max(680, left + groups.reduce((w, g) => w + groupW(g) + groupGap, 0) + 20);
  const legendImpls = [...new Set(groups.flatMap((g) => g.impls))];
  const out = [];
  const panel = (top, title, subtitle, value, ratio, fmtAxis) => {
    const maxV = niceCeil(Math.max(1e-9, ...groups.flatMap((g) => g.impls.map((i) => value(g.sum[i]) ?? 0))));
    const y = (v) => top + plotH - (v / maxV) * plotH;
    out.push(`<text x="${left}" y="${top - 30}" font-size="15" font-weight="600">${esc(title)}</text>`);
    out.push(`<text x="${left}" y="${top - 14}" fill="#555">${esc(subtitle)}</text>`);
    for (let i = 0; i <= 5; i++) {
      const v = (maxV / 5) * i;
      out.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e0e0e0"/>`);
      out.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${esc(fmtAxis(v))}</text>`);
    }
    let x = left + 16;
    for (const g of groups) {
      for (const impl of g.impls) {
        const t = g.sum[impl];
        const v = value(t) ?? 0;
        out.push(`<rect x="${x}" y="${y(v)}" width="${barW}" height="${top + plotH - y(v)}" fill="${COLORS[impl]}"><title>${esc(plain(label(impl, g.r.kind, peers, "throughput")))}: ${fmtInt(t?.rps)} req/s, p99 ${esc(fmtMs(t?.p99))}, ${t?.cpuUs?.toFixed(1) ?? "?"} µs CPU/request</title></rect>`);
        const rv = ratio(t);
        if (impl !== "bare" && rv !== undefined) {
          const pass = rv >= GOALS.ratio(g.r.kind);
          const color = impl === "bare-req" ? "#555" : pass ? "#188038" : "#d93025";
          out.push(`<text x="${x + barW / 2}" y="${y(v) - 5}" text-anchor="middle" font-size="10.5" fill="${color}">${rv.toFixed(3)}</text>`);
        }
        x += barW + gap;
      }
      out.push(`<text x="${x - gap - groupW(g) / 2}" y="${top + plotH + 18}" text-anchor="middle" font-weight="600">${esc(g.r.name)}</text>`);
      out.push(`<text x="${x - gap - groupW(g) / 2}" y="${top + plotH + 32}" text-anchor="middle" fill="#555" font-size="11">${esc(g.r.version ?? "")}</text>`);
      x += groupGap - gap;
    }
  };
  const top1 = 60;
  const top2 = top1 + plotH + 100;
  const legendTop = top2 + plotH + 58;
  const height = legendTop + legendImpls.length * 18 + 6;
  out.unshift(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.unshift(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`);
  panel(
    top1,
    `Hello-world throughput, median req/s (wrk -t1 -c${results.meta.settings.connections}, 127.0.0.1)`,
    "Over each bar: median per-round ratio to the bare server (goal ≥ 0.90 Node, ≥ 0.97 Deno/Bun; green met, red missed).",
    (t) => t?.rps,
    (t) => t?.ratio,
    fmtK,
  );
  panel(
    top2,
    "Server CPU time per request, median µs (lower is better)",
    "Over each bar: bare ÷ this, the throughput ratio the server would reach on a CPU of its own (same goals).",
    (t) => t?.cpuUs,
    (t) => t?.cpuRatio,
    (v) => `${v === 0 ? "0" : v.toFixed(v < 10 ? 1 : 0)} µs`,
  );
  let ly = legendTop;
  for (const impl of legendImpls) {
    out.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="${COLORS[impl]}"/>`);
    const text = impl === "bare"
      ? "bare native server (node:http res.end / Deno.serve / Bun.serve)"
      : impl === "bare-req"
      ? "Deno.serve with a handler that declares (request)"
      : plain(label(impl, "node", peers, "throughput")).replace(" + FastResponse", " (FastResponse on Node)");
    out.push(`<text x="${left + 18}" y="${ly}">${esc(text)}</text>`);
    ly += 18;
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** Three panels of horizontal bars on a log scale: drain latency, SIGTERM → exit, deadline overshoot. */
export function renderShutdownSvg(results) {
  const peers = results.meta.peers;
  const rts = Object.values(results.runtimes);
  const panels = [
    { key: "drain", title: "Drain: last response written → shutdown resolved", goal: GOALS.drainMs },
    { key: "sigterm", title: `SIGTERM → process exit (${results.meta.settings.keepAlive} idle keep-alive connections)`, goal: GOALS.sigtermMs },
    { key: "deadline", title: `Deadline overshoot (${results.meta.settings.streams} endless streams, ${results.meta.settings.deadline} ms deadline)`, goal: GOALS.deadlineMs },
  ];
  const rowH = 17;
  const labelW = 330;
  const plotW = 460;
  const left = 10;
  const lo = -1; // 0.1 ms
  const hi = 4; // 10 s
  const xOf = (ms) => left + labelW + ((Math.log10(Math.min(Math.max(ms, 0.1), 10 ** hi)) - lo) / (hi - lo)) * plotW;
  const width = left + labelW + plotW + 90;
  const out = [];
  let yPos = 30;
  const body = [];
  for (const p of panels) {
    body.push(`<text x="${left}" y="${yPos}" font-size="14" font-weight="600">${esc(p.title)} — median, log scale; goal ≤ ${p.goal} ms</text>`);
    yPos += 10;
    const rows = [];
    for (const r of rts) for (const impl of Object.keys(r[p.key] ?? {})) rows.push({ r, impl, s: r[p.key][impl].samples });
    const panelTop = yPos;
    const panelH = rows.length * rowH + 6;
    for (let e = lo; e <= hi; e++) {
      const xx = xOf(10 ** e);
      body.push(`<line x1="${xx}" x2="${xx}" y1="${panelTop}" y2="${panelTop + panelH}" stroke="#e0e0e0"/>`);
      body.push(`<text x="${xx}" y="${panelTop + panelH + 12}" text-anchor="middle" fill="#555" font-size="10">${e < 0 ? "0.1 ms" : e < 3 ? `${10 ** e} ms` : `${10 ** (e - 3)} s`}</text>`);
    }
    const gx = xOf(p.goal);
    body.push(`<line x1="${gx}" x2="${gx}" y1="${panelTop}" y2="${panelTop + panelH}" stroke="#d93025" stroke-dasharray="4 3"/>`);
    let ry = panelTop + 4;
    for (const { r, impl, s } of rows) {
      const m = median(s);
      const reference = p.key === "sigterm" && impl === "bare";
      const name = `${r.name} · ${plain(label(impl, r.kind, peers, p.key)).replace(" (reference: default signal death, not graceful)", " (reference: default death)")}`;
      body.push(`<text x="${left + labelW - 8}" y="${ry + 12}" text-anchor="end" font-size="11"${ours(impl) ? ' font-weight="600"' : ""}>${esc(name)}</text>`);
      if (m === undefined) {
        body.push(`<text x="${left + labelW + 4}" y="${ry + 12}" font-size="11" fill="#d93025">no result: did not finish in time (see the report)</text>`);
      } else {
        const w = Math.max(1, xOf(m) - (left + labelW));
        const color = reference ? COLORS.bare : COLORS[impl];
        body.push(`<rect x="${left + labelW}" y="${ry + 2}" width="${w}" height="${rowH - 5}" fill="${color}"><title>${esc(name)}: ${esc(fmtMs(m))}</title></rect>`);
        const mark = reference ? "" : m <= p.goal && failedCount(s) === 0 ? " ✓" : " ✗";
        body.push(`<text x="${left + labelW + w + 4}" y="${ry + 12}" font-size="11" fill="${mark === " ✗" ? "#d93025" : "#222"}">${esc(fmtMs(m) + mark)}</text>`);
      }
      ry += rowH;
    }
    yPos = panelTop + panelH + 40;
  }
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${yPos}" viewBox="0 0 ${width} ${yPos}" ${FONT} font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(...body);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
const fmtK = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(Math.round(v)));
