// Measuring servers side by side in the same time window, so the machine is the same for all of them.
//
// Why: on this kind of machine (a 2-vCPU firecracker VM, shared host) how fast a CPU runs changes by up to
// 2× from one second to the next — steal, the neighbours' cache traffic. Taken one after the other, two
// servers' req/s (and even their CPU µs per request, which the slowdown inflates just as much) swing by
// ±40 % between rounds, far more than the 3–10 % a goal is about. Run at once, pinned to the same core,
// under one wrk each, both see the same slowdowns: the scheduler gives each the same share of the core,
// so the req/s ratio is the ratio of what a request costs each, and each one's CPU time per request
// (bench/lib/cpu.mjs) is sampled over the same window.
import { cpuPerRequest } from "./cpu.mjs";
import { wrk } from "./wrk.mjs";

/**
 * Loads every target (`{ port, pid }`, all pinned to the same CPU by the caller) at once, one
 * `wrk -t1 -c<connections>` each (pinned to `cpu`), for `seconds`. Returns, per target, wrk's result plus
 * `cpuUs`: the server's CPU µs per completed request over that window.
 */
export async function measureTogether(targets, { seconds, connections = 32, cpu, script }) {
  const samplers = targets.map((t) => cpuPerRequest(t.pid));
  const results = await Promise.all(targets.map((t) => wrk(t.port, { seconds, connections, cpu, script })));
  return results.map((r, i) => ({ ...r, cpuUs: samplers[i].end(r.requests) }));
}
