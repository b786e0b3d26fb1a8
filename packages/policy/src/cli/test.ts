// `bun run packages/policy/src/cli/test.ts <dir>`: loads every .rego file in <dir> (recursively), runs all
// test_* rules, prints PASS/FAIL per test and a summary; exits 1 on any failure or compile error.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { compilePolicies, RegoError, runRegoTests } from "../index.ts";

function listRego(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listRego(p));
    else if (name.endsWith(".rego")) out.push(p);
  }
  return out;
}

function main(): number {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: test.ts <policy-dir>");
    return 2;
  }
  const files = listRego(dir);
  let policy: ReturnType<typeof compilePolicies>;
  try {
    policy = compilePolicies(
      files.map((f) => ({ path: relative(process.cwd(), f), source: readFileSync(f, "utf8") })),
    );
  } catch (e) {
    console.error(e instanceof RegoError ? e.message : e);
    return 1;
  }
  const results = runRegoTests(policy);
  for (const r of results) {
    const line = `${r.pass ? "PASS" : "FAIL"} ${r.name} (${r.durationMs.toFixed(2)} ms)`;
    console.log(r.pass ? line : `${line}: ${r.detail}`);
  }
  const failed = results.filter((r) => !r.pass).length;
  console.log(`--------------------------------------------------------------------------------`);
  console.log(`PASS: ${results.length - failed}/${results.length}${failed ? `, FAIL: ${failed}` : ""}`);
  if (results.length === 0) {
    console.error("no test_* rules found");
    return 1;
  }
  return failed > 0 ? 1 : 0;
}

process.exit(main());
