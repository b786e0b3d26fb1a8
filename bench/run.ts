// `bun run bench [names…] [--write] [flags…]`: runs every bench/*.bench.ts in turn (or those whose
// name contains one of `names`), each in its own Bun process, passing the flags through. A failing
// benchmark does not stop the others; the exit code says whether all passed.
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith("--"));
const flags = args.filter((a) => a.startsWith("--"));
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => names.length === 0 || names.some((n) => f.includes(n)))
  .sort();
if (scripts.length === 0) {
  console.error(`no benchmark in ${dir} matches ${names.join(", ")}`);
  process.exit(1);
}

const outcomes: { script: string; code: number; seconds: number }[] = [];
for (const script of scripts) {
  console.log(`\n=== ${script} ${flags.join(" ")}`);
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, join(dir, script), ...flags], {
    stdout: "inherit",
    stderr: "inherit",
  });
  const code = await proc.exited;
  outcomes.push({ script, code, seconds: (performance.now() - started) / 1000 });
}

console.log("\n=== summary");
for (const o of outcomes)
  console.log(`${o.code === 0 ? "ok  " : "FAIL"} ${o.script} (${o.seconds.toFixed(0)} s)`);
process.exit(outcomes.every((o) => o.code === 0) ? 0 : 1);
