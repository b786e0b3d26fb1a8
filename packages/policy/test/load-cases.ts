// Loads OPA's YAML conformance cases (test/cases/testdata format) from a directory tree.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export type OpaCase = {
  note: string;
  query: string;
  modules?: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  want_error_code?: string;
  want_error?: string;
  strict_error?: boolean;
  sort_bindings?: boolean;
  file: string;
};

function listYaml(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listYaml(p));
    else if (name.endsWith(".yaml") || name.endsWith(".yml")) out.push(p);
  }
  return out;
}

export function loadCases(dir: string): OpaCase[] {
  const out: OpaCase[] = [];
  for (const file of listYaml(dir)) {
    const doc = parse(readFileSync(file, "utf8")) as { cases?: Omit<OpaCase, "file">[] };
    for (const c of doc.cases ?? []) out.push({ ...c, file });
  }
  return out;
}
