// Request-path design variants for bench/web-throughput.mjs and bench/micro-request-path.mjs (issue 11):
// `label=DIR` (DIR/src is a graceful-serve src/ tree) or `label=FILE.diff` (a `git diff` against src/ at
// HEAD, as in bench/variants/: HEAD's src/ is extracted to bench/results/tmp/variant-<label> and the diff
// applied there, so a design can be measured without touching the working tree).
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

/** `["label=DIR|FILE.diff", ...]` → `[[label, dir]]`, where `dir/src/mod.ts` is the entry. */
export function prepareVariants(specs, root) {
  return specs.map((spec) => {
    const [label, path] = spec.split("=");
    if (!label || !path) throw new Error(`--variants: label=DIR or label=FILE.diff, not ${spec}`);
    if (!/\.(diff|patch)$/.test(path)) return [label, resolve(path)];
    const dir = join(root, "bench", "results", "tmp", `variant-${label}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["-x", "-C", dir], { input: execFileSync("git", ["archive", "HEAD", "src"], { cwd: root }) });
    // patch(1), not `git apply`: inside this repository's tree, `git apply` skips the paths silently.
    execFileSync("patch", ["-p1", "--forward", "--silent", "-i", resolve(path)], { cwd: dir });
    return [label, dir];
  });
}
