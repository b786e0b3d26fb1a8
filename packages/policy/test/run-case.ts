// Runs one OPA conformance case against the evaluator, the way OPA's topdown exported tests do.
import { compilePolicies, RegoError } from "../src/index.ts";
import { compareValues, equalValues, fromJson, toJson, type Value } from "../src/values.ts";
import type { OpaCase } from "./load-cases.ts";

export type CaseOutcome = { ok: true } | { ok: false; detail: string };

function normalise(b: Record<string, unknown>, sort: boolean): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(b)) {
    let x = fromJson(v) ?? null;
    if (sort && Array.isArray(x)) x = [...x].sort(compareValues);
    out[k] = x;
  }
  return out;
}

function sameBindings(a: Record<string, Value>, b: Record<string, Value>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => k in b && equalValues(a[k] as Value, b[k] as Value));
}

/** Set comparison: every wanted binding is produced and nothing else. */
function sameResultSets(got: Record<string, Value>[], want: Record<string, Value>[]): boolean {
  return (
    got.every((g) => want.some((w) => sameBindings(g, w))) &&
    want.every((w) => got.some((g) => sameBindings(g, w)))
  );
}

export function runCase(c: OpaCase): CaseOutcome {
  const wantsError = c.want_error_code !== undefined || c.want_error !== undefined;
  try {
    const policy = compilePolicies(
      (c.modules ?? []).map((source, i) => ({ path: `test-${i}.rego`, source })),
    );
    const opts = { data: c.data ?? {}, strictBuiltinErrors: c.strict_error === true };
    const raw =
      c.input_term !== undefined
        ? policy.queryWithInputTerm(c.query, c.input_term, opts)
        : policy.query(c.query, { ...opts, input: c.input });
    // Results travel through JSON as in OPA's runner: sets become arrays.
    const got = raw.map((b) => {
      const json: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(b)) json[k] = toJson(v);
      return normalise(json, c.sort_bindings === true);
    });
    if (wantsError)
      return {
        ok: false,
        detail: `expected error ${c.want_error_code ?? ""} ${c.want_error ?? ""}, got ${JSON.stringify(got.map((g) => Object.fromEntries(Object.entries(g).map(([k, v]) => [k, toJson(v)]))))}`,
      };
    const want = (c.want_result ?? []).map((w) => normalise(w, c.sort_bindings === true));
    if (c.want_result === undefined) return { ok: false, detail: "case has no expectation" };
    if (!sameResultSets(got, want)) {
      const show = (xs: Record<string, Value>[]) =>
        JSON.stringify(xs.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, toJson(v)]))));
      return { ok: false, detail: `want ${show(want)}\n got ${show(got)}` };
    }
    return { ok: true };
  } catch (e) {
    if (!wantsError)
      return { ok: false, detail: `unexpected error: ${e instanceof Error ? e.message : String(e)}` };
    if (!(e instanceof RegoError)) return { ok: false, detail: `non-Rego error: ${String(e)}` };
    if (c.want_error_code !== undefined && e.code !== c.want_error_code) {
      return { ok: false, detail: `want code ${c.want_error_code}, got ${e.code}: ${e.message}` };
    }
    if (c.want_error !== undefined && !e.message.includes(c.want_error)) {
      return {
        ok: false,
        detail: `want message containing ${JSON.stringify(c.want_error)}, got ${e.message}`,
      };
    }
    return { ok: true };
  }
}
