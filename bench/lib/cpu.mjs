// CPU time seen by other processes while we measure: this machine's 2 cores may be shared with other
// work (a test suite running beside the benchmark), which would otherwise show up as "overhead".
// Linux only (/proc); elsewhere every function reports `undefined` and nothing waits.
import { readFileSync } from "node:fs";


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
 * Starts watching the whole machine. `end()` — called after the load generator has exited — returns
 * `foreign`: the share of all CPUs (0–1) that processes other than this one, its reaped children (wrk)
 * and `pids` (the server) used meanwhile, and `pidMs`: the CPU milliseconds `pids` used (undefined
 * where it cannot be known).
 */
export function watchForeign(pids) {
  const c0 = cpuLines()?.all;
  const s0 = processTicks(process.pid, true);
  const p0 = pids.map((pid) => processTicks(pid));
  return {
    end() {
      const c1 = cpuLines()?.all;
      const s1 = processTicks(process.pid, true);
      const p1 = pids.map((pid) => processTicks(pid));
      if ([...p0, ...p1].some((t) => t === undefined)) return { foreign: undefined, pidMs: undefined };
      const pidTicks = p1.reduce((sum, t, i) => sum + (t - p0[i]), 0);
      const pidMs = pidTicks * 10; // USER_HZ = 100
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

