// Developer aid: `bun run packages/policy/test/report-cases.ts [filter]` prints every failing case.
import { join } from "node:path";
import { loadCases } from "./load-cases.ts";
import { runCase } from "./run-case.ts";

const filter = process.argv[2] ?? "";
const cases = [
  ...loadCases(join(import.meta.dir, "opa-cases")),
  ...loadCases(join(import.meta.dir, "extra-cases")),
];
let pass = 0;
for (const c of cases) {
  if (!c.note.includes(filter)) continue;
  const r = runCase(c);
  if (r.ok) pass++;
  else console.log(`FAIL ${c.note} (${c.file.split("/").slice(-2).join("/")})\n  ${r.detail}`);
}
console.log(`${pass}/${cases.filter((c) => c.note.includes(filter)).length} pass`);
