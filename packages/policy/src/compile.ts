// Compilation: group rules into the package tree, then resolve every variable to a frame slot or to an
// absolute ref (rules of the same package, imports, input, data) so evaluation does no name lookups.
import type { Expr, Module, PackageNode, Rule, Term, WithModifier } from "./ast.ts";
import { BUILTINS } from "./builtins/index.ts";
import { type Location, RegoError } from "./errors.ts";
import { equalValues } from "./values.ts";

export const ROOT_SLOT = -1;

type Scope = { vars: Map<string, number>; parent: Scope | undefined };

export function createPackageNode(): PackageNode {
  return { children: new Map(), rules: new Map() };
}

export function ensureNode(root: PackageNode, path: string[]): PackageNode {
  let node = root;
  for (const seg of path) {
    let next = node.children.get(seg);
    if (!next) {
      next = createPackageNode();
      node.children.set(seg, next);
    }
    node = next;
  }
  return node;
}

export function findNode(root: PackageNode, path: string[]): PackageNode | undefined {
  let node: PackageNode | undefined = root;
  for (const seg of path) {
    node = node?.children.get(seg);
    if (!node) return undefined;
  }
  return node;
}

function compileError(msg: string, loc: Location): RegoError {
  return new RegoError("rego_compile_error", msg, loc);
}

/** Builds the package tree from parsed modules and resolves their rules in place. */
export function buildTree(modules: Module[]): PackageNode {
  const root = createPackageNode();
  const namesByPackage = new Map<string, Set<string>>();
  for (const m of modules) {
    const pkgNode = ensureNode(root, m.pkg);
    const key = m.pkg.join(".");
    const names = namesByPackage.get(key) ?? new Set<string>();
    namesByPackage.set(key, names);
    for (const rule of m.rules) {
      names.add(rule.path[0] as string);
      const node = ensureNode(pkgNode, rule.path.slice(0, -1));
      const name = rule.path[rule.path.length - 1] as string;
      let rs = node.rules.get(name);
      if (!rs) {
        rs = {
          kind: rule.kind,
          path: ["data", ...m.pkg, ...rule.path],
          defs: [],
          defaultRule: undefined,
          constValue: true,
          arity: rule.args?.length ?? 0,
        };
        node.rules.set(name, rs);
      }
      if (rs.kind !== rule.kind) {
        throw compileError(`conflicting rules data.${[...m.pkg, ...rule.path].join(".")} found`, rule.loc);
      }
      if (rule.kind === "func" && (rule.args?.length ?? 0) !== rs.arity) {
        throw compileError(`conflicting rules data.${[...m.pkg, ...rule.path].join(".")} found`, rule.loc);
      }
      if (rule.isDefault) {
        if (rs.defaultRule) throw compileError(`multiple default rules ${rs.path.join(".")} found`, rule.loc);
        rs.defaultRule = rule;
      } else {
        rs.defs.push(rule);
      }
    }
  }
  for (const m of modules) {
    const names = namesByPackage.get(m.pkg.join(".")) ?? new Set<string>();
    const imports = new Map<string, string[]>();
    for (const imp of m.imports) imports.set(imp.alias, imp.path);
    for (const rule of m.rules) new Resolver(root, m.pkg, names, imports).resolveRule(rule);
  }
  markConstantRules(root);
  return root;
}

function markConstantRules(node: PackageNode): void {
  for (const rs of node.rules.values()) {
    const first = rs.defs[0]?.chain[0]?.value;
    rs.constValue =
      rs.kind === "complete" &&
      first?.t === "value" &&
      rs.defs.every((d) => {
        const link = d.chain[0];
        return d.chain.length === 1 && link?.value.t === "value" && equalValues(link.value.v, first.v);
      });
  }
  for (const child of node.children.values()) markConstantRules(child);
}

/** Resolves a query body; returns the named query variables with their slots. */
export function resolveQuery(
  root: PackageNode,
  body: Expr[],
): { body: Expr[]; vars: { name: string; slot: number }[]; slots: number } {
  const r = new Resolver(root, [], new Set(), new Map());
  const scope: Scope = { vars: new Map(), parent: undefined };
  const resolved = r.resolveBody(body, scope);
  const vars = [...scope.vars.entries()]
    .filter(([name]) => name !== "_" && !name.startsWith("__"))
    .map(([name, slot]) => ({ name, slot }));
  return { body: resolved, vars, slots: r.slots };
}

export function resolveStandalone(root: PackageNode, term: Term): Term {
  return new Resolver(root, [], new Set(), new Map()).resolveTerm(term, {
    vars: new Map(),
    parent: undefined,
  });
}

class Resolver {
  slots = 0;

  constructor(
    private readonly root: PackageNode,
    private readonly pkg: string[],
    private readonly globals: Set<string>,
    private readonly imports: Map<string, string[]>,
  ) {}

  resolveRule(rule: Rule): void {
    this.slots = 0;
    const scope: Scope = { vars: new Map(), parent: undefined };
    if (rule.args) rule.args = rule.args.map((a) => this.declarePattern(a, scope));
    rule.chain = rule.chain.map((link) => {
      const inner: Scope = { vars: new Map(), parent: scope };
      const body = this.resolveBody(link.body, inner);
      const value = this.resolveTerm(link.value, inner);
      return { body, value, loc: link.loc };
    });
    // Keys of partial rules are resolved in the first body's scope: they are bound by that body.
    if (rule.key) {
      const link = rule.chain[0];
      const inner: Scope = { vars: new Map(), parent: scope };
      if (link) this.collectScope(link.body, inner);
      rule.key = this.resolveTerm(rule.key, inner);
    }
    rule.slots = this.slots;
  }

  /** Re-resolving a body only to recover its variable names would allocate new slots; instead keep a map. */
  private bodyScopes = new Map<Expr[], Scope>();

  private collectScope(body: Expr[], into: Scope): void {
    const s = this.bodyScopes.get(body);
    if (s) for (const [k, v] of s.vars) into.vars.set(k, v);
  }

  private newSlot(): number {
    return this.slots++;
  }

  private lookup(name: string, scope: Scope | undefined): number | undefined {
    for (let s = scope; s; s = s.parent) {
      const slot = s.vars.get(name);
      if (slot !== undefined) return slot;
    }
    return undefined;
  }

  private declare(name: string, scope: Scope): Term {
    if (name === "_") return { t: "var", name, slot: this.newSlot() };
    const slot = this.newSlot();
    scope.vars.set(name, slot);
    return { t: "var", name, slot };
  }

  /** Declares every variable of a pattern (`x`, `[a, b]`, `{"k": v}`) as new in `scope`. */
  private declarePattern(term: Term, scope: Scope): Term {
    switch (term.t) {
      case "var":
        if (term.name === "input" || term.name === "data") return this.resolveTerm(term, scope);
        return this.declare(term.name, scope);
      case "array":
        return { t: "array", items: term.items.map((i) => this.declarePattern(i, scope)) };
      case "object":
        return {
          t: "object",
          entries: term.entries.map(([k, v]) => [this.resolveTerm(k, scope), this.declarePattern(v, scope)]),
        };
      default:
        return this.resolveTerm(term, scope);
    }
  }

  resolveBody(body: Expr[], scope: Scope): Expr[] {
    const out = body.map((e) => this.resolveExpr(e, scope));
    this.bodyScopes.set(out, scope);
    return out;
  }

  private resolveWith(mods: WithModifier[] | undefined, scope: Scope): WithModifier[] | undefined {
    if (!mods) return undefined;
    return mods.map((m) => {
      const path = refPath(m.target);
      if (!path || (path[0] !== "input" && path[0] !== "data")) {
        throw compileError("with: only input and data targets are supported", {
          file: "",
          line: 0,
          col: 0,
        });
      }
      return { target: m.target, value: this.resolveTerm(m.value, scope), path };
    });
  }

  private resolveExpr(expr: Expr, scope: Scope): Expr {
    const loc = expr.loc;
    const w = this.resolveWith(expr.with, scope);
    let out: Expr;
    switch (expr.e) {
      case "term":
        out = { e: "term", term: this.resolveTerm(expr.term, scope), loc };
        break;
      case "unify":
        out = {
          e: "unify",
          lhs: this.resolveTerm(expr.lhs, scope),
          rhs: this.resolveTerm(expr.rhs, scope),
          loc,
        };
        break;
      case "assign": {
        const rhs = this.resolveTerm(expr.rhs, scope);
        if (expr.lhs.t !== "var" && expr.lhs.t !== "array" && expr.lhs.t !== "object") {
          throw compileError("cannot assign to non-variable", loc);
        }
        out = { e: "assign", lhs: this.declarePattern(expr.lhs, scope), rhs, loc };
        break;
      }
      case "some":
        out = { e: "some", vars: expr.vars.map((v) => this.declarePattern(v, scope)), loc };
        break;
      case "somein": {
        const coll = this.resolveTerm(expr.coll, scope);
        const key = expr.key ? this.declarePattern(expr.key, scope) : undefined;
        out = { e: "somein", key, value: this.declarePattern(expr.value, scope), coll, loc };
        break;
      }
      case "every": {
        const coll = this.resolveTerm(expr.coll, scope);
        const inner: Scope = { vars: new Map(), parent: scope };
        const key = expr.key ? this.declarePattern(expr.key, inner) : undefined;
        const value = this.declarePattern(expr.value, inner);
        out = { e: "every", key, value, coll, body: this.resolveBody(expr.body, inner), loc };
        break;
      }
      case "not":
        out = { e: "not", expr: this.resolveExpr(expr.expr, scope), loc };
        break;
    }
    if (w) out.with = w;
    return out;
  }

  private rootRef(path: string[], rest: Term[]): Term {
    const [head, ...tail] = path as [string, ...string[]];
    return {
      t: "ref",
      head: { t: "var", name: head, slot: ROOT_SLOT },
      path: [...tail.map((s): Term => ({ t: "value", v: s })), ...rest],
    };
  }

  /** An identifier that is not a local: an import alias, a rule of this package, or input/data. */
  private globalPath(name: string): string[] | undefined {
    if (name === "input" || name === "data") return [name];
    const imp = this.imports.get(name);
    if (imp) return imp;
    if (this.globals.has(name)) return ["data", ...this.pkg, name];
    return undefined;
  }

  resolveTerm(term: Term, scope: Scope): Term {
    switch (term.t) {
      case "value":
        return term;
      case "var": {
        if (term.slot === ROOT_SLOT) return term;
        if (term.name === "_") return { t: "var", name: "_", slot: this.newSlot() };
        const slot = this.lookup(term.name, scope);
        if (slot !== undefined) return { t: "var", name: term.name, slot };
        const g = this.globalPath(term.name);
        if (g) return g.length === 1 ? { t: "var", name: term.name, slot: ROOT_SLOT } : this.rootRef(g, []);
        return this.declare(term.name, scope);
      }
      case "ref": {
        const head = term.head;
        const path = term.path.map((p) => this.resolveTerm(p, scope));
        if (head.t === "var" && head.slot !== ROOT_SLOT && this.lookup(head.name, scope) === undefined) {
          const g = this.globalPath(head.name);
          if (g) return this.rootRef(g, path);
        }
        const h = this.resolveTerm(head, scope);
        if (h.t === "ref") return { t: "ref", head: h.head, path: [...h.path, ...path] };
        return { t: "ref", head: h, path };
      }
      case "array":
        return { t: "array", items: term.items.map((i) => this.resolveTerm(i, scope)) };
      case "set":
        return { t: "set", items: term.items.map((i) => this.resolveTerm(i, scope)) };
      case "object":
        return {
          t: "object",
          entries: term.entries.map(([k, v]) => [this.resolveTerm(k, scope), this.resolveTerm(v, scope)]),
        };
      case "call":
        return this.resolveCall(term, scope);
      case "arraycomp":
      case "setcomp": {
        const inner: Scope = { vars: new Map(), parent: scope };
        const body = this.resolveBody(term.body, inner);
        return { t: term.t, head: this.resolveTerm(term.head, inner), body };
      }
      case "objcomp": {
        const inner: Scope = { vars: new Map(), parent: scope };
        const body = this.resolveBody(term.body, inner);
        return {
          t: "objcomp",
          key: this.resolveTerm(term.key, inner),
          value: this.resolveTerm(term.value, inner),
          body,
        };
      }
    }
  }

  private resolveCall(term: Term & { t: "call" }, scope: Scope): Term {
    const args = term.args.map((a) => this.resolveTerm(a, scope));
    const parts = term.fn.map((p) => (p.t === "value" && typeof p.v === "string" ? p.v : undefined));
    if (parts.some((p) => p === undefined))
      throw compileError(`invalid function name ${term.name}`, term.loc);
    const names = parts as string[];
    const first = names[0] as string;
    let abs: string[] | undefined;
    if (first === "data") abs = names;
    else if (this.imports.has(first)) abs = [...(this.imports.get(first) as string[]), ...names.slice(1)];
    else if (this.globals.has(first)) abs = ["data", ...this.pkg, ...names];
    if (abs && abs[0] === "data") {
      const node = findNode(this.root, abs.slice(1, -1));
      const rs = node?.rules.get(abs[abs.length - 1] as string);
      if (!rs) throw new RegoError("rego_type_error", `undefined function ${abs.join(".")}`, term.loc);
      if (rs.kind !== "func") {
        throw new RegoError("rego_type_error", `${abs.join(".")} is not a function`, term.loc);
      }
      return { ...term, name: abs.join("."), args, target: rs };
    }
    const name = names.join(".");
    if (!BUILTINS.has(name)) throw new RegoError("rego_type_error", `undefined function ${name}`, term.loc);
    return { ...term, name, args };
  }
}

/** `input.a.b` / `data.x` as a list of names, or undefined when the ref is not constant. */
function refPath(term: Term): string[] | undefined {
  if (term.t === "var") return [term.name];
  if (term.t !== "ref" || term.head.t !== "var") return undefined;
  const out = [term.head.name];
  for (const p of term.path) {
    if (p.t !== "value" || typeof p.v !== "string") return undefined;
    out.push(p.v);
  }
  return out;
}
