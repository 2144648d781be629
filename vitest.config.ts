import { defineConfig } from "vitest/config";

// Node (20 and 24) runner. Bun (`bun test ./test/`) and Deno (`deno test test/`, shim in
// test/_shim/) discover the same test/**/*.test.ts; see runtimes/test-all.mjs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/_shim/**", "**/node_modules/**", ".cache/**", "dist/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Lifecycle tests spawn servers/child processes; 2-core CI → one file at a time, in forks.
    pool: "forks",
    fileParallelism: false,
    allowOnly: false,
  },
});
