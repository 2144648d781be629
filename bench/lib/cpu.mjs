// CPU time seen by other processes while we measure: this machine's 2 cores may be shared with other
// work (a test suite running beside the benchmark), which would otherwise show up as "overhead".
// Linux only (/proc); elsewhere every function reports `undefined` and nothing waits.
import { readdirSync, readFileSync } from "node:fs";

function cpuLines() {
  try {
    const out = {};
    for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
      const m = /^cpu(\d*)\s+(.*)$/.exec(line);
      if (!m) continue;
      const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = m[2].trim().split(/\s+/).map(Number);
      // Busy in process context only: interrupts and softirqs (loopback TCP) are nobody's in particular.
      out[m[1] === "" ? "all" : m[1]] = { busy: user + nice + system + steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks (user + system) used so far by process `pid` (all its threads); with `reaped`, plus those
 * of its children that have exited and been waited for (how wrk's time is counted once it is done).
 */
function processTicks(pid, reaped = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime, stime, cutime, cstime: fields 14–17 of the file
    return Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) process `pid` has used so far, in nanoseconds, over all its threads, or
 * undefined off Linux / once it is gone.
 *
 * Which /proc file: `/proc/<pid>/stat` fields 14+15 (utime, stime) already sum every thread of the
 * process (live and exited), but in clock ticks (10 ms): ±1 % on a 2 s window. `schedstat`'s first field
 * is the scheduler's own run time in ns, but per thread — `/proc/<pid>/schedstat` is the main thread
 * only, so Deno's and Bun's worker threads are in `/proc/<pid>/task/<tid>/schedstat`, summed here.
 * A thread that exits between two samples takes its time with it; the servers measured here keep their
 * threads for their whole life. Falls back to the ticks where schedstat is missing.
 */
export function processCpuNs(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch (error) {
        if (error.code !== "ENOENT" && error.code !== "ESRCH") throw error; // that thread just exited
      }
    }
    return ns;
  } catch {
    const ticks = processTicks(pid);
    return ticks === undefined ? undefined : ticks * 1e7; // USER_HZ = 100
  }
}

/**
 * The sampler for "server CPU µs per request": call before the measured load window, `end(requests)`
 * after it (the load generator has exited). Returns the µs of CPU the server used per request completed,
 * or undefined when it cannot be known. Unlike req/s it does not count the time the server waited for
 * the CPU (steal, other processes), so it is what a request costs the server.
 */
export function cpuPerRequest(pid) {
  const t0 = processCpuNs(pid);
  return {
    end(requests) {
      const t1 = processCpuNs(pid);
      if (t0 === undefined || t1 === undefined || !(requests > 0)) return undefined;
      return (t1 - t0) / 1000 / requests;
    },
  };
}

/**
 * Starts watching the whole machine. `end()` — called after the load generator has exited — returns
 * `foreign`: the share of all CPUs (0–1) that processes other than this one, its reaped children (wrk)
 * and `pids` (the server) used meanwhile, and `pidMs`: the CPU milliseconds `pids` used (undefined
 * where it cannot be known).
 */
export function watchForeign(pids) {
  const c0 = cpuLines()?.all;
  const s0 = processTicks(process.pid, true);
  const p0 = pids.map((pid) => processTicks(pid));
  const n0 = pids.map((pid) => processCpuNs(pid));
  return {
    end() {
      const c1 = cpuLines()?.all;
      const s1 = processTicks(process.pid, true);
      const p1 = pids.map((pid) => processTicks(pid));
      if ([...p0, ...p1].some((t) => t === undefined)) return { foreign: undefined, pidMs: undefined };
      const pidTicks = p1.reduce((sum, t, i) => sum + (t - p0[i]), 0);
      const n1 = pids.map((pid) => processCpuNs(pid));
      const pidMs = [...n0, ...n1].some((t) => t === undefined)
        ? pidTicks * 10 // USER_HZ = 100
        : n1.reduce((sum, t, i) => sum + (t - n0[i]), 0) / 1e6;
      if (!c0 || !c1 || s0 === undefined || s1 === undefined) return { foreign: undefined, pidMs };
      const total = c1.total - c0.total;
      if (total <= 0) return { foreign: undefined, pidMs };
      return { foreign: Math.max(0, (c1.busy - c0.busy - (s1 - s0) - pidTicks) / total), pidMs };
    },
  };
}

/** Busy share (0–1) of all CPUs over `ms`, excluding this process. */
async function busyShare(ms) {
  const a = cpuLines()?.all;
  const s0 = processTicks(process.pid, true);
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuLines()?.all;
  const s1 = processTicks(process.pid, true);
  if (!a || !b || s0 === undefined || s1 === undefined) return undefined;
  const total = b.total - a.total;
  return total > 0 ? Math.max(0, (b.busy - a.busy - (s1 - s0)) / total) : undefined;
}

/**
 * Waits (at most `maxMs`) until the machine is quiet: under `threshold` of all CPUs busy over a
 * 250 ms window. Returns the last busy share seen (undefined where /proc is missing).
 */
export async function waitForQuiet({ threshold = 0.1, maxMs = 10_000 } = {}) {
  const until = performance.now() + maxMs;
  let share;
  for (let i = 0; i < 200; i++) {
    share = await busyShare(250);
    if (share === undefined || share < threshold || performance.now() >= until) return share;
  }
  return share;
}

