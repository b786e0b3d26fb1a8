// Backtracking evaluator in continuation-passing style. Every enumeration calls its continuation once
// per solution; a continuation returns true to stop the whole search (used by `not`, constant rules and
// membership checks). Bindings live in per-rule frames and are undone on the way back.
import type { Expr, PackageNode, Rule, RuleSet, Term, WithModifier } from "./ast.ts";
import { BUILTINS } from "./builtins/index.ts";
import { ROOT_SLOT } from "./compile.ts";
import { BuiltinError, type Location, RegoError } from "./errors.ts";
import {
  equalValues,
  isObject,
  isSet,
  keyOf,
  RegoObject,
  RegoSet,
  type Value,
  type ValueKey,
} from "./values.ts";

export type Frame = (Value | undefined)[];
type K = () => boolean;
type VK = (v: Value) => boolean;

export type EvalOptions = { stepBudget: number; strictBuiltinErrors: boolean };

/** Counters shared by an evaluation and the child evaluators that `with` creates. */
type Shared = { steps: number; budget: number; strict: boolean; depth: number };

type Override = { path: string[]; value: Value };

const MAX_CALL_DEPTH = 400;
const IN_PROGRESS = Symbol("in-progress");
const UNDEFINED = Symbol("undefined");
type CacheEntry = Value | typeof IN_PROGRESS | typeof UNDEFINED;

function conflict(message: string, loc: Location): RegoError {
  return new RegoError("eval_conflict_error", message, loc);
}

/**
 * Base documents are JSON, so their object keys are strings; OPA lets integer refs reach them
 * (`data.nested[2]` finds key "2"). Values computed by rules or bound to variables get no such help.
 */
function lookupData(v: Value, key: Value): Value | undefined {
  const direct = lookup(v, key);
  if (direct === undefined && typeof key === "number" && v instanceof RegoObject) return v.get(String(key));
  return direct;
}

function lookup(v: Value, key: Value): Value | undefined {
  if (Array.isArray(v)) return typeof key === "number" && Number.isInteger(key) ? v[key] : undefined;
  if (v instanceof RegoObject) return v.get(key);
  if (v instanceof RegoSet) return v.has(key) ? key : undefined;
  return undefined;
}

/** Calls `cb(key, value)` for each element of a collection; scalars have none. */
function iterate(v: Value, cb: (k: Value, v: Value) => boolean): boolean {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (cb(i, v[i] as Value)) return true;
  } else if (v instanceof RegoObject) {
    for (const [k, x] of [...v.entries.values()]) if (cb(k, x)) return true;
  } else if (v instanceof RegoSet) {
    for (const x of [...v.items.values()]) if (cb(x, x)) return true;
  }
  return false;
}

function isUnboundVar(t: Term, f: Frame): t is Term & { t: "var" } {
  return t.t === "var" && t.slot >= 0 && f[t.slot] === undefined;
}

/** True for literal patterns (vars, arrays, objects) that still contain an unbound variable. */
function hasUnbound(t: Term, f: Frame): boolean {
  switch (t.t) {
    case "var":
      return t.slot >= 0 && f[t.slot] === undefined;
    case "array":
      return t.items.some((i) => hasUnbound(i, f));
    case "object":
      return t.entries.some(([, v]) => hasUnbound(v, f));
    default:
      return false;
  }
}

/**
 * Pairs the values of two object literals by their constant keys: null when the key sets differ,
 * undefined when a key is not a constant (then the objects are compared as values).
 */
function pairObjectEntries(a: [Term, Term][], b: [Term, Term][]): [Term, Term][] | null | undefined {
  const byKey = new Map<ValueKey, Term>();
  for (const [kt, vt] of b) {
    if (kt.t !== "value") return undefined;
    byKey.set(keyOf(kt.v), vt);
  }
  const out: [Term, Term][] = [];
  for (const [kt, vt] of a) {
    if (kt.t !== "value") return undefined;
    const other = byKey.get(keyOf(kt.v));
    if (!other) return null;
    out.push([vt, other]);
  }
  return out;
}

/** Returns a copy of `base` with `value` placed at `path` (objects are created along the way). */
function patch(base: Value | undefined, path: string[], value: Value): Value {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const out = new RegoObject();
  if (base instanceof RegoObject) for (const [k, e] of base.entries) out.entries.set(k, e);
  out.set(head, patch(base instanceof RegoObject ? base.get(head) : undefined, rest, value));
  return out;
}

export class Evaluator {
  private readonly cache = new Map<RuleSet, CacheEntry>();

  constructor(
    private readonly root: PackageNode,
    private readonly data: Value,
    private readonly input: Value | undefined,
    private readonly shared: Shared,
    private readonly overrides: Override[] = [],
  ) {}

  static create(root: PackageNode, data: Value, input: Value | undefined, opts: EvalOptions): Evaluator {
    return new Evaluator(root, data, input, {
      steps: 0,
      budget: opts.stepBudget,
      strict: opts.strictBuiltinErrors,
      depth: 0,
    });
  }

  get steps(): number {
    return this.shared.steps;
  }

  resetSteps(): void {
    this.shared.steps = 0;
    this.shared.depth = 0;
  }

  private step(loc: Location | undefined): void {
    if (++this.shared.steps > this.shared.budget) {
      throw new RegoError("eval_budget_error", `step budget of ${this.shared.budget} exhausted`, loc);
    }
  }

  evalBody(body: Expr[], i: number, f: Frame, k: K): boolean {
    if (i === body.length) return k();
    return this.evalExpr(body[i] as Expr, f, () => this.evalBody(body, i + 1, f, k));
  }

  evalExpr(expr: Expr, f: Frame, k: K): boolean {
    this.step(expr.loc);
    if (expr.with) return this.evalWith(expr, expr.with, f, k);
    return this.evalPlainExpr(expr, f, k);
  }

  private evalPlainExpr(expr: Expr, f: Frame, k: K): boolean {
    switch (expr.e) {
      case "term":
        return this.evalTerm(expr.term, f, (v) => v !== false && k());
      case "unify":
      case "assign":
        return this.unify(expr.lhs, expr.rhs, f, k);
      case "some":
        return k();
      case "somein": {
        const { key, value } = expr;
        return this.evalTerm(expr.coll, f, (c) =>
          iterate(c, (ck, cv) =>
            this.unifyValue(value, cv, f, () => (key ? this.unifyValue(key, ck, f, k) : k())),
          ),
        );
      }
      case "every": {
        const { key, value, body } = expr;
        return this.evalTerm(expr.coll, f, (c) => {
          if (!(Array.isArray(c) || c instanceof RegoObject || c instanceof RegoSet)) return false;
          let all = true;
          iterate(c, (ck, cv) => {
            let ok = false;
            this.unifyValue(value, cv, f, () =>
              key
                ? this.unifyValue(key, ck, f, () => this.evalBody(body, 0, f, () => (ok = true)))
                : this.evalBody(body, 0, f, () => (ok = true)),
            );
            if (!ok) all = false;
            return !ok;
          });
          return all && k();
        });
      }
      case "not": {
        let found = false;
        this.evalExpr(expr.expr, f, () => (found = true));
        return !found && k();
      }
    }
  }

  private evalWith(expr: Expr, mods: WithModifier[], f: Frame, k: K): boolean {
    const values: Value[] = [];
    const collect = (i: number): boolean => {
      if (i === mods.length) {
        let input = this.input;
        const overrides = [...this.overrides];
        mods.forEach((m, j) => {
          const path = m.path ?? [];
          const v = values[j] as Value;
          if (path[0] === "input") input = patch(input, path.slice(1), v);
          else overrides.push({ path: path.slice(1), value: v });
        });
        const child = new Evaluator(this.root, this.data, input, this.shared, overrides);
        return child.evalPlainExpr(expr, f, k);
      }
      return this.evalTerm((mods[i] as WithModifier).value, f, (v) => {
        values[i] = v;
        return collect(i + 1);
      });
    };
    return collect(0);
  }

  unify(a: Term, b: Term, f: Frame, k: K): boolean {
    if (isUnboundVar(a, f)) {
      if (isUnboundVar(b, f)) throw new RegoError("rego_unsafe_var_error", `var ${a.name} is unsafe`);
      return this.evalTerm(b, f, (v) => this.unifyValue(a, v, f, k));
    }
    if (isUnboundVar(b, f)) return this.evalTerm(a, f, (v) => this.unifyValue(b, v, f, k));
    if (a.t === "array" && b.t === "array") {
      if (a.items.length !== b.items.length) return false;
      const go = (i: number): boolean =>
        i === a.items.length ? k() : this.unify(a.items[i] as Term, b.items[i] as Term, f, () => go(i + 1));
      return go(0);
    }
    if (a.t === "object" && b.t === "object" && a.entries.length === b.entries.length) {
      const pairs = pairObjectEntries(a.entries, b.entries);
      if (pairs === null) return false;
      if (pairs) {
        const go = (i: number): boolean =>
          i === pairs.length
            ? k()
            : this.unify(pairs[i]?.[0] as Term, pairs[i]?.[1] as Term, f, () => go(i + 1));
        return go(0);
      }
    }
    if (hasUnbound(a, f)) return this.evalTerm(b, f, (v) => this.unifyValue(a, v, f, k));
    if (hasUnbound(b, f)) return this.evalTerm(a, f, (v) => this.unifyValue(b, v, f, k));
    return this.evalTerm(a, f, (va) => this.evalTerm(b, f, (vb) => equalValues(va, vb) && k()));
  }

  /** Unifies a pattern term with a value, binding the pattern's free variables. */
  unifyValue(p: Term, v: Value, f: Frame, k: K): boolean {
    switch (p.t) {
      case "var": {
        if (p.slot === ROOT_SLOT) break;
        const cur = f[p.slot];
        if (cur !== undefined) return equalValues(cur, v) && k();
        f[p.slot] = v;
        const r = k();
        f[p.slot] = undefined;
        return r;
      }
      case "array": {
        if (!Array.isArray(v) || v.length !== p.items.length) return false;
        const go = (i: number): boolean =>
          i === v.length ? k() : this.unifyValue(p.items[i] as Term, v[i] as Value, f, () => go(i + 1));
        return go(0);
      }
      case "object": {
        if (!(v instanceof RegoObject) || v.size !== p.entries.length) return false;
        const go = (i: number): boolean => {
          if (i === p.entries.length) return k();
          const [kt, vt] = p.entries[i] as [Term, Term];
          return this.evalTerm(kt, f, (key) => {
            const x = v.get(key);
            return x !== undefined && this.unifyValue(vt, x, f, () => go(i + 1));
          });
        };
        return go(0);
      }
      case "value":
        return equalValues(p.v, v) && k();
    }
    return this.evalTerm(p, f, (pv) => equalValues(pv, v) && k());
  }

  evalTerm(t: Term, f: Frame, vk: VK): boolean {
    switch (t.t) {
      case "value":
        return vk(t.v);
      case "var": {
        if (t.slot === ROOT_SLOT) {
          if (t.name === "input") return this.input !== undefined && vk(this.input);
          return this.walkData(this.root, this.data, [], 0, f, vk, []);
        }
        const v = f[t.slot];
        if (v === undefined) throw new RegoError("rego_unsafe_var_error", `var ${t.name} is unsafe`);
        return vk(v);
      }
      case "ref":
        return this.evalRef(t, f, vk);
      case "array":
        return this.evalList(t.items, f, (items) => vk(items));
      case "set":
        return this.evalList(t.items, f, (items) => {
          const s = new RegoSet();
          for (const x of items) s.add(x);
          return vk(s);
        });
      case "object": {
        const flat: Term[] = [];
        for (const [a, b] of t.entries) flat.push(a, b);
        return this.evalList(flat, f, (items) => {
          const o = new RegoObject();
          for (let i = 0; i < items.length; i += 2) o.set(items[i] as Value, items[i + 1] as Value);
          return vk(o);
        });
      }
      case "call":
        return this.evalCall(t, f, vk);
      case "arraycomp": {
        const out: Value[] = [];
        this.eachValue(t.head, t.body, f, (v) => out.push(v));
        return vk(out);
      }
      case "setcomp": {
        const out = new RegoSet();
        this.eachValue(t.head, t.body, f, (v) => out.add(v));
        return vk(out);
      }
      case "objcomp": {
        const out = new RegoObject();
        this.evalBody(t.body, 0, f, () =>
          this.evalTerm(t.key, f, (key) =>
            this.evalTerm(t.value, f, (v) => {
              const prev = out.get(key);
              if (prev !== undefined && !equalValues(prev, v)) {
                throw new RegoError("eval_conflict_error", "object keys must be unique");
              }
              out.set(key, v);
              return false;
            }),
          ),
        );
        return vk(out);
      }
    }
  }

  /** Every value of `term` over all solutions of `body` (comprehensions, partial set rules). */
  private eachValue(term: Term, body: Expr[], f: Frame, each: (v: Value) => void): void {
    this.evalBody(body, 0, f, () =>
      this.evalTerm(term, f, (v) => {
        each(v);
        return false;
      }),
    );
  }

  private evalList(items: Term[], f: Frame, k: (vals: Value[]) => boolean): boolean {
    const n = items.length;
    const out: Value[] = new Array(n);
    const go = (i: number): boolean => {
      if (i === n) return k(out.slice());
      return this.evalTerm(items[i] as Term, f, (v) => {
        out[i] = v;
        return go(i + 1);
      });
    };
    return go(0);
  }

  private evalRef(t: Term & { t: "ref" }, f: Frame, vk: VK): boolean {
    const head = t.head;
    if (head.t === "var") {
      if (head.slot === ROOT_SLOT) {
        if (head.name === "input")
          return this.input !== undefined && this.walkValue(this.input, t.path, 0, f, vk);
        return this.walkData(this.root, this.data, t.path, 0, f, vk, []);
      }
      const v = f[head.slot];
      if (v === undefined) throw new RegoError("rego_unsafe_var_error", `var ${head.name} is unsafe`);
      return this.walkValue(v, t.path, 0, f, vk);
    }
    return this.evalTerm(head, f, (v) => this.walkValue(v, t.path, 0, f, vk));
  }

  private walkValue(v: Value, path: Term[], i: number, f: Frame, vk: VK, dataDoc = false): boolean {
    let cur = v;
    const get = dataDoc ? lookupData : lookup;
    for (; i < path.length; i++) {
      const p = path[i] as Term;
      if (p.t === "value") {
        const next = get(cur, p.v);
        if (next === undefined) return false;
        cur = next;
        continue;
      }
      if (isUnboundVar(p, f)) {
        const slot = p.slot;
        const rest = i + 1;
        return iterate(cur, (key, x) => {
          this.step(undefined);
          f[slot] = key;
          const r = this.walkValue(x, path, rest, f, vk, dataDoc);
          f[slot] = undefined;
          return r;
        });
      }
      const base = cur;
      const rest = i + 1;
      if (hasUnbound(p, f)) {
        return iterate(base, (key, x) =>
          this.unifyValue(p, key, f, () => this.walkValue(x, path, rest, f, vk, dataDoc)),
        );
      }
      return this.evalTerm(p, f, (key) => {
        const next = get(base, key);
        return next !== undefined && this.walkValue(next, path, rest, f, vk, dataDoc);
      });
    }
    return vk(cur);
  }

  /** Walks the virtual `data` document: packages, rules and base JSON merged. `at` is the path so far. */
  private walkData(
    node: PackageNode,
    base: Value | undefined,
    path: Term[],
    i: number,
    f: Frame,
    vk: VK,
    at: string[],
  ): boolean {
    if (i === path.length) return vk(this.nodeValue(node, base, at));
    const p = path[i] as Term;
    if (isUnboundVar(p, f)) {
      const slot = p.slot;
      const keys = new Set<Value>();
      for (const [name, rs] of node.rules) if (rs.kind !== "func") keys.add(name);
      for (const name of node.children.keys()) keys.add(name);
      if (base instanceof RegoObject) for (const [k] of base.entries.values()) keys.add(k);
      for (const key of keys) {
        f[slot] = key;
        const r = this.walkDataKey(node, base, key, path, i, f, vk, at);
        f[slot] = undefined;
        if (r) return true;
      }
      return false;
    }
    return this.evalTerm(p, f, (key) => this.walkDataKey(node, base, key, path, i, f, vk, at));
  }

  private walkDataKey(
    node: PackageNode,
    base: Value | undefined,
    key: Value,
    path: Term[],
    i: number,
    f: Frame,
    vk: VK,
    at: string[],
  ): boolean {
    const sub = base === undefined ? undefined : lookupData(base, key);
    if (typeof key !== "string") return sub !== undefined && this.walkValue(sub, path, i + 1, f, vk, true);
    const here = this.overrides.length > 0 ? [...at, key] : at;
    if (this.overrides.length > 0) {
      const exact = this.overrides.find(
        (o) => o.path.length === here.length && o.path.every((s, j) => s === here[j]),
      );
      if (exact) return this.walkValue(exact.value, path, i + 1, f, vk);
    }
    const rs = node.rules.get(key);
    if (rs) {
      if (rs.kind === "func") return false;
      const v = this.ruleValue(rs);
      return v !== undefined && this.walkValue(this.applyOverrides(v, here), path, i + 1, f, vk);
    }
    const child = node.children.get(key);
    if (child) return this.walkData(child, sub, path, i + 1, f, vk, here);
    const plain = this.applyOverrides(sub, here);
    return plain !== undefined && this.walkValue(plain, path, i + 1, f, vk, true);
  }

  /** Applies `with data…` overrides that lie strictly below `at` to a plain value. */
  private applyOverrides<T extends Value | undefined>(v: T, at: string[]): T | Value {
    let out: Value | undefined = v;
    for (const o of this.overrides) {
      if (o.path.length > at.length && at.every((s, j) => s === o.path[j]))
        out = patch(out, o.path.slice(at.length), o.value);
    }
    return out as T | Value;
  }

  /** The full value of a package: its rules (defined ones only), sub-packages and base data. */
  private nodeValue(node: PackageNode, base: Value | undefined, at: string[]): Value {
    const out = new RegoObject();
    if (base instanceof RegoObject) for (const [k, e] of base.entries) out.entries.set(k, e);
    for (const [name, child] of node.children) {
      const sub = base instanceof RegoObject ? base.get(name) : undefined;
      out.set(name, this.nodeValue(child, sub, this.overrides.length > 0 ? [...at, name] : at));
    }
    for (const [name, rs] of node.rules) {
      if (rs.kind === "func") continue;
      const v = this.ruleValue(rs);
      if (v !== undefined) out.set(name, v);
    }
    return this.applyOverrides(out, at) ?? out;
  }

  ruleValue(rs: RuleSet): Value | undefined {
    const cached = this.cache.get(rs);
    if (cached === IN_PROGRESS) {
      throw new RegoError("rego_recursion_error", `rule ${rs.path.join(".")} is recursive`);
    }
    if (cached === UNDEFINED) return undefined;
    if (cached !== undefined) return cached;
    this.cache.set(rs, IN_PROGRESS);
    let v: Value | undefined;
    try {
      switch (rs.kind) {
        case "complete":
          v = this.evalComplete(rs);
          break;
        case "set":
          v = this.evalSetRule(rs);
          break;
        case "object":
          v = this.evalObjectRule(rs);
          break;
        default:
          v = undefined;
      }
    } catch (e) {
      this.cache.delete(rs);
      throw e;
    }
    this.cache.set(rs, v === undefined ? UNDEFINED : v);
    return v;
  }

  /** Evaluates one definition's `else` chain; `onValue` sees each value of the first link that succeeds. */
  private evalChain(def: Rule, f: Frame, onValue: (v: Value, loc: Location) => boolean): boolean {
    for (const link of def.chain) {
      let found = false;
      const stop = this.evalBody(link.body, 0, f, () =>
        this.evalTerm(link.value, f, (v) => {
          found = true;
          return onValue(v, link.loc);
        }),
      );
      if (stop) return true;
      if (found) return false;
    }
    return false;
  }

  private evalDefault(rs: RuleSet): Value | undefined {
    const d = rs.defaultRule;
    if (!d) return undefined;
    let out: Value | undefined;
    const link = d.chain[0];
    if (!link) return undefined;
    this.evalTerm(link.value, new Array(d.slots), (v) => {
      out = v;
      return true;
    });
    return out;
  }

  private evalComplete(rs: RuleSet): Value | undefined {
    let result: Value | undefined;
    for (const def of rs.defs) {
      const f: Frame = new Array(def.slots);
      const stop = this.evalChain(def, f, (v, loc) => {
        if (result === undefined) result = v;
        else if (!equalValues(result, v))
          throw conflict("complete rules must not produce multiple outputs", loc);
        // With a constant value every further solution is the same value: the first one decides.
        return rs.constValue;
      });
      if (stop) break;
    }
    return result === undefined ? this.evalDefault(rs) : result;
  }

  private evalSetRule(rs: RuleSet): Value {
    const out = new RegoSet();
    for (const def of rs.defs) {
      const f: Frame = new Array(def.slots);
      const key = def.key as Term;
      for (const link of def.chain) this.eachValue(key, link.body, f, (v) => out.add(v));
    }
    return out;
  }

  private evalObjectRule(rs: RuleSet): Value {
    const out = new RegoObject();
    for (const def of rs.defs) {
      const f: Frame = new Array(def.slots);
      const keyTerm = def.key as Term;
      for (const link of def.chain) {
        this.evalBody(link.body, 0, f, () =>
          this.evalTerm(keyTerm, f, (key) =>
            this.evalTerm(link.value, f, (v) => {
              const prev = out.get(key);
              if (prev !== undefined && !equalValues(prev, v)) {
                throw conflict("object keys must be unique", link.loc);
              }
              out.set(key, v);
              return false;
            }),
          ),
        );
      }
    }
    return out;
  }

  callFunction(rs: RuleSet, args: Value[], loc: Location): Value | undefined {
    if (++this.shared.depth > MAX_CALL_DEPTH) {
      this.shared.depth = 0;
      throw new RegoError("eval_budget_error", "maximum function call depth exceeded", loc);
    }
    try {
      let result: Value | undefined;
      for (const def of rs.defs) {
        const params = def.args ?? [];
        const f: Frame = new Array(def.slots);
        const bindParams = (i: number): boolean => {
          if (i === params.length) {
            this.evalChain(def, f, (v, vloc) => {
              if (result === undefined) result = v;
              else if (!equalValues(result, v)) {
                throw conflict("functions must not produce multiple outputs for same inputs", vloc);
              }
              return false;
            });
            return true;
          }
          return this.unifyValue(params[i] as Term, args[i] as Value, f, () => bindParams(i + 1));
        };
        bindParams(0);
      }
      return result === undefined ? this.evalDefault(rs) : result;
    } finally {
      this.shared.depth--;
    }
  }

  private evalCall(t: Term & { t: "call" }, f: Frame, vk: VK): boolean {
    const rs = t.target;
    let arity: number;
    let builtin = undefined as ReturnType<typeof BUILTINS.get>;
    if (rs) {
      arity = rs.arity;
    } else {
      builtin = BUILTINS.get(t.name);
      if (!builtin) throw new RegoError("rego_type_error", `undefined function ${t.name}`, t.loc);
      arity = builtin.arity < 0 ? t.args.length : builtin.arity;
    }
    if (t.args.length !== arity && t.args.length !== arity + 1) {
      throw new RegoError(
        "rego_type_error",
        `${t.name}: arity mismatch: ${t.args.length} arguments given, ${arity} expected`,
        t.loc,
      );
    }
    const inputs = t.args.length === arity ? t.args : t.args.slice(0, arity);
    const output = t.args.length === arity ? undefined : (t.args[arity] as Term);
    return this.evalList(inputs, f, (vals) => {
      this.step(t.loc);
      let result: Value | undefined;
      if (rs) {
        result = this.callFunction(rs, vals, t.loc);
      } else if (builtin) {
        try {
          result = builtin.fn(vals, t.name);
        } catch (e) {
          if (e instanceof BuiltinError) {
            if (this.shared.strict) throw new RegoError(e.code, e.message, t.loc);
            return false;
          }
          throw e;
        }
      }
      if (result === undefined) return false;
      // Legacy form `count(xs, n)`: the extra argument receives the result; the call itself is true.
      if (output) return this.unifyValue(output, result, f, () => vk(true));
      return vk(result);
    });
  }
}

export function isCollectionValue(v: Value): boolean {
  return Array.isArray(v) || isObject(v) || isSet(v);
}
