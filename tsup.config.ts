import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/mod.ts",
    core: "src/core.ts",
    node: "src/node.ts",
    deno: "src/deno.ts",
    bun: "src/bun.ts",
    cli: "src/cli.ts",
  },
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  target: "es2022",
  platform: "neutral",
  external: [/^node:/],
  splitting: true,
  treeshake: true,
});
