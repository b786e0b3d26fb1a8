// Runs `test_*` rules the way `opa test` does: a test passes when its value is defined and not false.
import { RegoError } from "./errors.ts";
import type { CompiledPolicy } from "./policy.ts";

export type RegoTestResult = { name: string; pass: boolean; detail: string; durationMs: number };

export function runRegoTests(
  policy: CompiledPolicy,
  filter: (name: string) => boolean = () => true,
): RegoTestResult[] {
  const out: RegoTestResult[] = [];
  for (const { pkg, name } of policy.listRules()) {
    if (!name.startsWith("test_")) continue;
    const full = `data.${pkg}.${name}`;
    if (!filter(full)) continue;
    const started = performance.now();
    let pass = false;
    let detail: string;
    try {
      const v = policy.evaluateRule(pkg, name, undefined);
      pass = v !== undefined && v !== false;
      detail = v === undefined ? "undefined" : v === false ? "false" : "ok";
    } catch (e) {
      detail = e instanceof RegoError ? e.message : String(e);
    }
    out.push({ name: full, pass, detail, durationMs: performance.now() - started });
  }
  return out;
}
