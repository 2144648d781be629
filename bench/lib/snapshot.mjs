// Copies src/ to bench/results/tmp/snapshot/src and builds it there with tsup (the same options as
// tsup.config.ts, ESM only, no types). Every runtime then measures the same code, even if src/ or
// dist/ change while the benchmark runs; the repository's own dist/ is never touched.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";

function hashTree(dir) {
  const hash = createHash("sha256");
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else hash.update(relative(dir, p)).update("\0").update(readFileSync(p)).update("\0");
    }
  };
  walk(dir);
  return hash.digest("hex").slice(0, 12);
}

/** @returns {Promise<{ dir: string, nodeEntry: string, sourceEntry: string, srcHash: string }>} */
export async function snapshotAndBuild(root, tmpDir) {
  const dir = join(tmpDir, "snapshot");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  const srcHash = hashTree(join(dir, "src"));
  const { build } = await import(join(root, "node_modules", "tsup", "dist", "index.js"));
  await build({
    config: false,
    entry: { index: join(dir, "src", "mod.ts") },
    outDir: join(dir, "dist"),
    format: ["esm"],
    dts: false,
    clean: true,
    target: "es2022",
    platform: "neutral",
    external: [/^node:/],
    splitting: true,
    treeshake: true,
    silent: true,
    // .js whatever the working directory (tsup picks .mjs where no package.json says "type": "module").
    outExtension: () => ({ js: ".js" }),
  });
  const nodeEntry = join(dir, "dist", "index.js");
  if (!existsSync(nodeEntry)) throw new Error(`build of the src/ snapshot produced no ${nodeEntry}`);
  return { dir, nodeEntry, sourceEntry: join(dir, "src", "mod.ts"), srcHash };
}
