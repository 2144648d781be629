// One option parser for the bench scripts (issue 14: memory.mjs, web-throughput.mjs, node-bridge.mjs and
// run.mjs each parsed argv by hand). node:util parseArgs, strict: an unknown option is an error that
// prints the usage line, not a silently ignored flag.
import process from "node:process";
import { parseArgs } from "node:util";

/**
 * Parses `argv` against `spec`: `{ name: { type: "string" | "boolean" | "list" | "number", default } }`.
 * "list" is a comma-separated string returned as an array; "number" a string returned as a number.
 * `--help` prints `usage` and exits 0; a bad option prints it and exits 2.
 */
export function options(spec, usage, argv = process.argv.slice(2)) {
  const config = { help: { type: "boolean", short: "h" } };
  for (const [name, s] of Object.entries(spec)) config[name] = { type: s.type === "boolean" ? "boolean" : "string" };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: config, strict: true, allowPositionals: false }));
  } catch (error) {
    process.stderr.write(`${error.message}\nusage: ${usage}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  const out = {};
  for (const [name, s] of Object.entries(spec)) {
    const v = values[name];
    if (v === undefined) out[name] = s.default;
    else if (s.type === "list") out[name] = v.split(",").map((x) => x.trim()).filter(Boolean);
    else if (s.type === "number") {
      out[name] = Number(v);
      if (!Number.isFinite(out[name])) {
        process.stderr.write(`--${name} must be a number (got ${JSON.stringify(v)})\nusage: ${usage}\n`);
        process.exit(2);
      }
    } else out[name] = v;
  }
  return out;
}

/** Median of a non-empty array of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
