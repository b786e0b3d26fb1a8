import type { Module, PackageNode } from "./ast.ts";
import { buildTree, findNode, resolveQuery, resolveStandalone } from "./compile.ts";
import { messageOf } from "./errors.ts";
import { Evaluator, type Frame } from "./eval.ts";
import { parseModule, parseQuery, parseTermSource } from "./parser.ts";
import { fromJson, type Value } from "./values.ts";

/**
 * `failed`: no decision could be made (an evaluation error, a missing package, OPA unreachable or
 * answering nonsense) — a denial all the same, whose `reason` says why for the operator's log.
 */
export type Decision = { allow: boolean; reason: string; failed?: true };

export type PolicyModule = { path: string; source: string };

export type CompileOptions = {
  /** Maximum evaluation steps (expressions, iterations, calls) per query or decision. */
  stepBudget?: number;
};

export type QueryOptions = {
  input?: unknown;
  data?: unknown;
  /** Builtin errors raise (OPA's strict-builtin-errors) instead of making the expression undefined. */
  strictBuiltinErrors?: boolean;
};

export type Bindings = Record<string, Value>;

export const DEFAULT_STEP_BUDGET = 100_000;

export class CompiledPolicy {
  readonly modules: readonly Module[];
  private readonly root: PackageNode;
  private readonly stepBudget: number;

  constructor(modules: Module[], stepBudget: number) {
    this.modules = modules;
    this.root = buildTree(modules);
    this.stepBudget = stepBudget;
  }

  /** Evaluates a Rego query body; returns one bindings object per solution. Throws RegoError. */
  query(source: string, opts: QueryOptions = {}): Bindings[] {
    return this.queryValue(source, opts.input === undefined ? undefined : fromJson(opts.input), opts);
  }

  /** Like `query`, with the input given as a Rego term (e.g. `{"foo": {{1}}}`, which JSON cannot express). */
  queryWithInputTerm(source: string, inputTerm: string, opts: QueryOptions = {}): Bindings[] {
    const term = resolveStandalone(this.root, parseTermSource(inputTerm, "input"));
    let input: Value | undefined;
    this.createEvaluator(undefined, opts).evalTerm(term, [], (v) => {
      input = v;
      return true;
    });
    return this.queryValue(source, input, opts);
  }

  private queryValue(source: string, input: Value | undefined, opts: QueryOptions): Bindings[] {
    const { body, vars, slots } = resolveQuery(this.root, parseQuery(source));
    const ev = this.createEvaluator(input, opts);
    const out: Bindings[] = [];
    const f: Frame = new Array(slots);
    ev.evalBody(body, 0, f, () => {
      const b: Bindings = {};
      for (const { name, slot } of vars) {
        const v = f[slot];
        if (v !== undefined) b[name] = v;
      }
      out.push(b);
      return false;
    });
    return out;
  }

  private createEvaluator(input: Value | undefined, opts: QueryOptions): Evaluator {
    const data = opts.data === undefined ? undefined : fromJson(opts.data);
    return Evaluator.create(this.root, data ?? null, input, {
      stepBudget: this.stepBudget,
      strictBuiltinErrors: opts.strictBuiltinErrors ?? false,
    });
  }

  /** Value of `data.<pkg>.<rule>` for a dotted package name; undefined when the rule is. Throws RegoError. */
  evaluateRule(pkg: string, rule: string, input: unknown, data?: unknown): Value | undefined {
    const node = findNode(this.root, pkg.split("."));
    const rs = node?.rules.get(rule);
    if (!rs) return undefined;
    const inputValue = input === undefined ? undefined : fromJson(input);
    return this.createEvaluator(inputValue, { data }).ruleValue(rs);
  }

  /** Every non-function rule as (dotted package, name), in definition order. */
  listRules(): { pkg: string; name: string }[] {
    const out: { pkg: string; name: string }[] = [];
    const walk = (node: PackageNode, path: string[]) => {
      for (const [name, rs] of node.rules) if (rs.kind !== "func") out.push({ pkg: path.join("."), name });
      for (const [name, child] of node.children) walk(child, [...path, name]);
    };
    walk(this.root, []);
    return out;
  }

  hasPackage(pkg: string): boolean {
    return findNode(this.root, pkg.split(".")) !== undefined;
  }

  /**
   * Decides `allow` / `reason` of a package. Only `allow` exactly `true` grants; anything else — undefined,
   * another value, an error, a missing package, an exhausted budget — denies. Never throws.
   */
  decide(entrypoint: string, input: unknown): Decision {
    try {
      const node = findNode(this.root, entrypoint.split("."));
      if (!node) return { allow: false, reason: `no such package ${entrypoint}`, failed: true };
      const allowRule = node.rules.get("allow");
      if (allowRule?.kind !== "complete") return { allow: false, reason: "allow is undefined" };
      const ev = this.createEvaluator(input === undefined ? undefined : fromJson(input), {});
      let allowValue: Value | undefined;
      try {
        allowValue = ev.ruleValue(allowRule);
      } catch (e) {
        return { allow: false, reason: `policy error: ${messageOf(e)}`, failed: true };
      }
      const allow = allowValue === true;
      return { allow, reason: this.decideReason(node, ev, allow, allowValue) };
    } catch (e) {
      return { allow: false, reason: `policy error: ${messageOf(e)}`, failed: true };
    }
  }

  /**
   * `reason` is evaluated after `allow` is settled, with a fresh step budget (rule values already computed
   * are reused): a broken or conflicting reason costs only the message, never the decision.
   */
  private decideReason(
    node: PackageNode,
    ev: Evaluator,
    allow: boolean,
    allowValue: Value | undefined,
  ): string {
    const fallback = allow
      ? "allowed"
      : allowValue === undefined
        ? "allow is undefined"
        : allowValue === false
          ? "denied"
          : "allow is not a boolean";
    // A non-boolean allow denies whatever the policy's reason says.
    if (!allow && allowValue !== false && allowValue !== undefined) return fallback;
    const reasonRule = node.rules.get("reason");
    if (reasonRule?.kind !== "complete") return fallback;
    try {
      ev.resetSteps();
      const r = ev.ruleValue(reasonRule);
      return typeof r === "string" ? r : fallback;
    } catch {
      return fallback;
    }
  }
}

/** Parses and compiles Rego modules. Throws RegoError (with file:line) on parse or compile errors. */
export function compilePolicies(modules: PolicyModule[], opts: CompileOptions = {}): CompiledPolicy {
  const parsed = modules.map((m) => parseModule(m.source, m.path));
  return new CompiledPolicy(parsed, opts.stepBudget ?? DEFAULT_STEP_BUDGET);
}
