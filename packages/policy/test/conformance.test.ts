// Runs OPA's own conformance cases (test/opa-cases, copied unchanged) and a few more from the OPA
// repository (test/extra-cases). Each case is its own test; unsupported ones are listed in skip-list.ts.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCases, type OpaCase } from "./load-cases.ts";
import { runCase } from "./run-case.ts";
import { SKIPPED_CASES } from "./skip-list.ts";

const opaCases = loadCases(join(import.meta.dir, "opa-cases"));
const extraDir = join(import.meta.dir, "extra-cases");
const extraCases = existsSync(extraDir) ? loadCases(extraDir) : [];

function registerCases(cases: OpaCase[]): void {
  for (const c of cases) {
    const skipped = SKIPPED_CASES[c.note];
    if (skipped !== undefined) {
      test.skip(`${c.note} [unsupported: ${skipped}]`, () => {});
      continue;
    }
    test(c.note, () => {
      const outcome = runCase(c);
      if (!outcome.ok) throw new Error(`${c.file}\n${outcome.detail}`);
      expect(outcome.ok).toBe(true);
    });
  }
}

describe("OPA conformance cases", () => registerCases(opaCases));
describe("extra OPA cases", () => registerCases(extraCases));

/** Reads "| label | N |" rows of the conformance table in README.md. */
function readmeFigure(label: string): number {
  const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");
  const m = new RegExp(`\\|\\s*${label}\\s*\\|\\s*(\\d+)\\s*\\|`).exec(readme);
  if (!m) throw new Error(`README.md has no "${label}" row`);
  return Number(m[1]);
}

describe("conformance bookkeeping", () => {
  test("the README's case counts are reproduced by this run", () => {
    const passed = opaCases.filter((c) => SKIPPED_CASES[c.note] === undefined && runCase(c).ok).length;
    expect(opaCases.length).toBe(readmeFigure("OPA cases"));
    expect(passed).toBeGreaterThanOrEqual(readmeFigure("passed"));
    expect(opaCases.filter((c) => SKIPPED_CASES[c.note] !== undefined).length).toBe(readmeFigure("skipped"));
    const extraPassed = extraCases.filter((c) => SKIPPED_CASES[c.note] === undefined && runCase(c).ok).length;
    expect(extraPassed).toBeGreaterThanOrEqual(readmeFigure("extra cases passed"));
  });

  test("every skip-list entry names an existing case that still fails", () => {
    const all = [...opaCases, ...extraCases];
    for (const note of Object.keys(SKIPPED_CASES)) {
      const matching = all.filter((c) => c.note === note);
      expect(matching.length).toBeGreaterThan(0);
      expect(matching.some((c) => !runCase(c).ok)).toBe(true);
    }
  });
});
