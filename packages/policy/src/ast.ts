// Syntax tree of the Rego subset. After compilation, variables carry a frame slot and refs to rules or
// imports are rewritten to absolute `data` refs, so evaluation never resolves names.
import type { Location } from "./errors.ts";
import type { Value } from "./values.ts";

export type Term =
  | { t: "value"; v: Value }
  | { t: "var"; name: string; slot: number }
  | { t: "ref"; head: Term; path: Term[] }
  | { t: "array"; items: Term[] }
  | { t: "object"; entries: [Term, Term][] }
  | { t: "set"; items: Term[] }
  | { t: "call"; fn: Term[]; name: string; args: Term[]; loc: Location; target?: RuleSet }
  | { t: "arraycomp"; head: Term; body: Expr[] }
  | { t: "setcomp"; head: Term; body: Expr[] }
  | { t: "objcomp"; key: Term; value: Term; body: Expr[] };

/** `path` is filled by the compiler: ["input", …] or ["data", …]. */
export type WithModifier = { target: Term; value: Term; path?: string[] };

export type Expr = (
  | { e: "term"; term: Term }
  | { e: "unify"; lhs: Term; rhs: Term }
  | { e: "assign"; lhs: Term; rhs: Term }
  | { e: "some"; vars: Term[] }
  | { e: "somein"; key: Term | undefined; value: Term; coll: Term }
  | { e: "every"; key: Term | undefined; value: Term; coll: Term; body: Expr[] }
  | { e: "not"; expr: Expr }
) & { loc: Location; with?: WithModifier[] };

export type RuleKind = "complete" | "set" | "object" | "func";

/** One link of an `else` chain: a body and the value it yields. */
export type RuleBody = { body: Expr[]; value: Term; loc: Location };

export type Rule = {
  kind: RuleKind;
  /** Path below the package: `p` → ["p"], ref heads `a.b.c := 1` → ["a", "b", "c"]. */
  path: string[];
  key: Term | undefined;
  args: Term[] | undefined;
  isDefault: boolean;
  chain: RuleBody[];
  /** Frame size, set by the compiler. */
  slots: number;
  loc: Location;
};

export type Import = { path: string[]; alias: string; loc: Location };

export type Module = { file: string; pkg: string[]; imports: Import[]; rules: Rule[] };

/** All definitions of one rule (same path), grouped by the compiler. */
export type RuleSet = {
  kind: RuleKind;
  path: string[];
  defs: Rule[];
  defaultRule: Rule | undefined;
  /** Every definition yields the same constant and has no `else`: the first solution decides. */
  constValue: boolean;
  arity: number;
};

/** A package level of the `data` tree: sub-packages and the rules defined at that level. */
export type PackageNode = { children: Map<string, PackageNode>; rules: Map<string, RuleSet> };
