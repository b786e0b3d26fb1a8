// Recursive-descent parser for Rego v1. Operator precedence follows OPA's parser (lowest first):
// `in`, relations (== != < <= > >=), `|`, `&`, `+ -`, `* / %`.
import type { Expr, Import, Module, Rule, RuleBody, RuleKind, Term, WithModifier } from "./ast.ts";
import { type Location, RegoError } from "./errors.ts";
import { type Token, tokenize } from "./lexer.ts";

/** Variables start unresolved; the compiler assigns frame slots (>= 0) or marks roots (-1). */
export const UNRESOLVED_SLOT = -2;

const TRUE_TERM: Term = { t: "value", v: true };

const INFIX: Record<string, string> = {
  "==": "equal",
  "!=": "neq",
  "<": "lt",
  "<=": "lte",
  ">": "gt",
  ">=": "gte",
  "|": "or",
  "&": "and",
  "+": "plus",
  "-": "minus",
  "*": "mul",
  "/": "div",
  "%": "rem",
};

const RELATIONS = ["==", "!=", "<", "<=", ">", ">="];

export function parseModule(src: string, file: string): Module {
  return new Parser(src, file).parseModule();
}

export function parseQuery(src: string, file = "query"): Expr[] {
  const p = new Parser(src, file);
  const body = p.parseBodyUntil("eof");
  return body;
}

export function parseTermSource(src: string, file = "term"): Term {
  const p = new Parser(src, file);
  const t = p.parseTermIn(false);
  p.expectEof();
  return t;
}

export function makeVar(name: string): Term {
  return { t: "var", name, slot: UNRESOLVED_SLOT };
}

class Parser {
  private readonly toks: Token[];
  private pos = 0;
  /** Inside (), [] or {} literals newlines do not end an expression. */
  private depth = 0;
  /** While parsing the head of a comprehension `|` belongs to the comprehension, not set union. */
  private noOr = false;

  constructor(
    src: string,
    private readonly file: string,
  ) {
    this.toks = tokenize(src, file);
  }

  private get tok(): Token {
    return this.toks[this.pos] as Token;
  }

  private peek(n = 1): Token {
    return (this.toks[this.pos + n] ?? this.toks[this.toks.length - 1]) as Token;
  }

  private loc(tok: Token = this.tok): Location {
    return { file: this.file, line: tok.line, col: tok.col };
  }

  private fail(msg: string, tok: Token = this.tok): never {
    throw new RegoError("rego_parse_error", msg, this.loc(tok));
  }

  private is(text: string): boolean {
    const t = this.tok;
    return (t.kind === "punct" || t.kind === "ident") && t.text === text;
  }

  /** A token continues the current expression only if it is on the same line or inside brackets. */
  private isCont(text: string): boolean {
    return this.is(text) && (this.depth > 0 || !this.tok.nl);
  }

  private accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(text: string): Token {
    if (!this.is(text)) this.fail(`expected ${text} but found ${this.tok.text || "end of input"}`);
    return this.toks[this.pos++] as Token;
  }

  expectEof(): void {
    if (this.tok.kind !== "eof") this.fail(`unexpected ${this.tok.text}`);
  }

  parseModule(): Module {
    if (!this.is("package")) this.fail("expected package declaration");
    this.pos++;
    const pkg = this.parseDottedPath();
    const imports: Import[] = [];
    while (this.is("import")) {
      const loc = this.loc();
      this.pos++;
      const path = this.parseDottedPath();
      let alias = path[path.length - 1] as string;
      if (this.accept("as")) alias = this.expectIdent();
      if (path[0] === "data" || path[0] === "input") imports.push({ path, alias, loc });
      else if (path[0] !== "rego" && path[0] !== "future") this.fail(`invalid import ${path.join(".")}`);
    }
    const rules: Rule[] = [];
    while (this.tok.kind !== "eof") rules.push(...this.parseRule());
    return { file: this.file, pkg, imports, rules };
  }

  private expectIdent(): string {
    if (this.tok.kind !== "ident") this.fail(`expected identifier but found ${this.tok.text}`);
    return (this.toks[this.pos++] as Token).text;
  }

  /** `a.b["c"].d` as used by package and import paths. */
  private parseDottedPath(): string[] {
    const path = [this.expectIdent()];
    for (;;) {
      if (this.is(".") && !this.tok.nl) {
        this.pos++;
        path.push(this.expectIdent());
      } else if (this.is("[") && !this.tok.nl && this.peek().kind === "string") {
        this.pos++;
        path.push((this.toks[this.pos++] as Token).value);
        this.expect("]");
      } else {
        return path;
      }
    }
  }

  private parseRule(): Rule[] {
    const loc = this.loc();
    const isDefault = this.accept("default");
    const path = [this.expectIdent()];
    let key: Term | undefined;
    let args: Term[] | undefined;
    // Ref heads: `a.b.c`, `p["x"]`, `p[k]` (the last variable segment makes a partial object).
    for (;;) {
      if (this.is(".") && !this.tok.nl) {
        this.pos++;
        path.push(this.expectIdent());
      } else if (this.is("[") && !this.tok.nl && key === undefined) {
        this.pos++;
        this.depth++;
        const t = this.parseTermIn(false);
        this.depth--;
        this.expect("]");
        if (t.t === "value" && typeof t.v === "string" && !this.is("[")) {
          // `p["a"] := 1` is an object rule with a constant key, as OPA treats it.
          key = t;
        } else if (t.t === "value" && typeof t.v === "string") {
          path.push(t.v);
        } else {
          key = t;
        }
      } else {
        break;
      }
    }
    if (this.is("(") && !this.tok.nl) {
      this.pos++;
      this.depth++;
      args = [];
      if (!this.is(")")) {
        do args.push(this.parseTermIn(false));
        while (this.accept(","));
      }
      this.depth--;
      this.expect(")");
    }
    let kind: RuleKind = args ? "func" : key ? "object" : "complete";
    let value: Term | undefined;
    if (this.is("contains") && !this.tok.nl) {
      if (args || key) this.fail("contains rule cannot have arguments or a key");
      this.pos++;
      kind = "set";
      key = this.parseTermIn(false);
      value = TRUE_TERM;
    } else if ((this.is(":=") || this.is("=")) && !this.tok.nl) {
      this.pos++;
      value = this.parseTermIn(false);
    }
    if (isDefault) {
      if (!value) this.fail("default rule must have a value");
      return [{ kind, path, key, args, isDefault, chain: [{ body: [], value, loc }], slots: 0, loc }];
    }
    const chain: RuleBody[] = [];
    const bodies = this.parseRuleBodies();
    if (!value && kind !== "func" && bodies.length === 0)
      this.fail("rule must have a value or a body", this.toks[this.pos - 1]);
    if (bodies.length === 0) bodies.push([]);
    const first = bodies[0] as Expr[];
    chain.push({ body: first, value: value ?? TRUE_TERM, loc });
    while (this.is("else")) {
      const eloc = this.loc();
      this.pos++;
      let evalue: Term = TRUE_TERM;
      if (this.accept(":=") || this.accept("=")) evalue = this.parseTermIn(false);
      const eb = this.parseRuleBodies();
      chain.push({ body: eb[0] ?? [], value: evalue, loc: eloc });
    }
    const rule: Rule = { kind, path, key, args, isDefault: false, chain, slots: 0, loc };
    // Extra `{ … }` blocks after the first body are further definitions of the same rule (disjunction).
    const out = [rule];
    for (const extra of bodies.slice(1))
      out.push({ ...rule, chain: [{ body: extra, value: value ?? TRUE_TERM, loc }] });
    return out;
  }

  private parseRuleBodies(): Expr[][] {
    const bodies: Expr[][] = [];
    if (this.accept("if")) {
      if (this.is("{")) {
        bodies.push(this.parseBlock());
      } else {
        bodies.push([this.parseExpr()]);
      }
    } else if (this.is("{") && !this.tok.nl) {
      bodies.push(this.parseBlock());
    }
    while (this.is("{") && !this.tok.nl) bodies.push(this.parseBlock());
    return bodies;
  }

  private parseBlock(): Expr[] {
    this.expect("{");
    const body = this.parseBodyUntil("}");
    this.expect("}");
    return body;
  }

  parseBodyUntil(end: string): Expr[] {
    const saveDepth = this.depth;
    const saveNoOr = this.noOr;
    this.depth = 0;
    this.noOr = false;
    const body: Expr[] = [];
    for (;;) {
      while (this.accept(";")) {}
      if (end === "eof" ? this.tok.kind === "eof" : this.is(end)) break;
      if (body.length > 0 && !this.tok.nl && this.toks[this.pos - 1]?.text !== ";") {
        this.fail(`unexpected ${this.tok.text}: expressions must be separated by newline or ;`);
      }
      body.push(this.parseExpr());
    }
    this.depth = saveDepth;
    this.noOr = saveNoOr;
    if (body.length === 0 && end !== "eof") this.fail("found empty body");
    return body;
  }

  private parseExpr(): Expr {
    const loc = this.loc();
    let expr: Expr;
    if (this.is("some")) {
      this.pos++;
      expr = this.parseSome(loc);
    } else if (this.is("every")) {
      this.pos++;
      expr = this.parseEvery(loc);
    } else if (this.is("not")) {
      this.pos++;
      const inner = this.parseExpr();
      // `with` modifiers written after `not x` apply to the whole negated expression.
      const w = inner.with;
      delete inner.with;
      expr = { e: "not", expr: inner, loc };
      if (w) expr.with = w;
      return expr;
    } else {
      const lhs = this.parseTermIn(true);
      if (this.isCont(":=")) {
        this.pos++;
        expr = { e: "assign", lhs, rhs: this.parseTermIn(true), loc };
      } else if (this.isCont("=")) {
        this.pos++;
        expr = { e: "unify", lhs, rhs: this.parseTermIn(true), loc };
      } else {
        expr = { e: "term", term: lhs, loc };
      }
    }
    const mods: WithModifier[] = [];
    while (this.isCont("with")) {
      this.pos++;
      const target = this.parseTermFactorLevel();
      this.expect("as");
      mods.push({ target, value: this.parseTermIn(false) });
    }
    if (mods.length > 0) expr.with = mods;
    return expr;
  }

  private parseSome(loc: Location): Expr {
    const first = this.parseTermIn(true);
    if (first.t === "call" && first.name === "internal.member_2") {
      return { e: "somein", key: undefined, value: first.args[0] as Term, coll: first.args[1] as Term, loc };
    }
    if (first.t === "call" && first.name === "internal.member_3") {
      const [key, value, coll] = first.args as [Term, Term, Term];
      return { e: "somein", key, value, coll, loc };
    }
    const vars = [first];
    while (this.isCont(",")) {
      this.pos++;
      vars.push(this.parseTermIn(false));
    }
    for (const v of vars) if (v.t !== "var") this.fail("some: expected variables");
    return { e: "some", vars, loc };
  }

  private parseEvery(loc: Location): Expr {
    const first = this.parseTermIn(true);
    let key: Term | undefined;
    let value: Term;
    let coll: Term;
    if (first.t === "call" && first.name === "internal.member_2") {
      [value, coll] = first.args as [Term, Term];
    } else if (first.t === "call" && first.name === "internal.member_3") {
      [key, value, coll] = first.args as [Term, Term, Term];
    } else {
      this.fail("every: expected `x in xs` or `k, v in xs`");
    }
    const body = this.parseBlock();
    return { e: "every", key, value, coll, body, loc };
  }

  parseTermIn(keyVal: boolean): Term {
    let lhs = this.parseTermRelation();
    for (;;) {
      if (keyVal && this.isCont(",")) {
        const save = this.pos;
        this.pos++;
        const mhs = this.parseTermRelation();
        if (this.isCont("in")) {
          const loc = this.loc();
          this.pos++;
          const rhs = this.parseTermRelation();
          lhs = this.makeCall("internal.member_3", [lhs, mhs, rhs], loc);
          continue;
        }
        this.pos = save;
        return lhs;
      }
      if (this.isCont("in")) {
        const loc = this.loc();
        this.pos++;
        const rhs = this.parseTermRelation();
        lhs = this.makeCall("internal.member_2", [lhs, rhs], loc);
        continue;
      }
      return lhs;
    }
  }

  private makeCall(name: string, args: Term[], loc: Location): Term {
    return { t: "call", fn: name.split(".").map((s) => ({ t: "value", v: s })), name, args, loc };
  }

  private parseBinary(ops: string[], next: () => Term): Term {
    let lhs = next();
    for (;;) {
      const op = ops.find((o) => this.isCont(o));
      if (!op || (op === "|" && this.noOr)) return lhs;
      const loc = this.loc();
      this.pos++;
      const rhs = next();
      lhs = this.makeCall(INFIX[op] as string, [lhs, rhs], loc);
    }
  }

  private parseTermRelation(): Term {
    return this.parseBinary(RELATIONS, () => this.parseTermOr());
  }

  private parseTermOr(): Term {
    return this.parseBinary(["|"], () => this.parseTermAnd());
  }

  private parseTermAnd(): Term {
    return this.parseBinary(["&"], () => this.parseTermArith());
  }

  private parseTermArith(): Term {
    return this.parseBinary(["+", "-"], () => this.parseTermFactorLevel());
  }

  private parseTermFactorLevel(): Term {
    return this.parseBinary(["*", "/", "%"], () => this.parseUnary());
  }

  private parseUnary(): Term {
    if (this.is("-")) {
      const loc = this.loc();
      this.pos++;
      if (this.tok.kind === "number" && this.toks[this.pos - 1]?.col === this.tok.col - 1) {
        const n = -Number(this.tok.text);
        this.pos++;
        return this.parsePostfix({ t: "value", v: n });
      }
      return this.makeCall("minus", [{ t: "value", v: 0 }, this.parseUnary()], loc);
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private withDepth<T>(f: () => T): T {
    this.depth++;
    const saveNoOr = this.noOr;
    this.noOr = false;
    try {
      return f();
    } finally {
      this.depth--;
      this.noOr = saveNoOr;
    }
  }

  private parsePrimary(): Term {
    const tok = this.tok;
    if (tok.kind === "number") {
      this.pos++;
      return { t: "value", v: Number(tok.text) };
    }
    if (tok.kind === "string") {
      this.pos++;
      return { t: "value", v: tok.value };
    }
    if (tok.kind === "ident") {
      this.pos++;
      switch (tok.text) {
        case "true":
          return { t: "value", v: true };
        case "false":
          return { t: "value", v: false };
        case "null":
          return { t: "value", v: null };
        case "set":
          if (this.is("(") && this.peek().text === ")") {
            this.pos += 2;
            return { t: "set", items: [] };
          }
          break;
      }
      return makeVar(tok.text);
    }
    if (this.is("(")) {
      this.pos++;
      const t = this.withDepth(() => this.parseTermIn(true));
      this.expect(")");
      return t;
    }
    if (this.is("[")) {
      this.pos++;
      return this.withDepth(() => this.parseArray());
    }
    if (this.is("{")) {
      this.pos++;
      return this.withDepth(() => this.parseBrace());
    }
    return this.fail(`unexpected ${tok.text || "end of input"}`);
  }

  private parseCompHead(): Term {
    this.noOr = true;
    const t = this.parseTermIn(false);
    this.noOr = false;
    return t;
  }

  private parseArray(): Term {
    if (this.accept("]")) return { t: "array", items: [] };
    const head = this.parseCompHead();
    if (this.accept("|")) {
      const body = this.parseBodyUntil("]");
      this.expect("]");
      return { t: "arraycomp", head, body };
    }
    const items = [head];
    while (this.accept(",")) {
      if (this.is("]")) break;
      items.push(this.parseTermIn(false));
    }
    this.expect("]");
    return { t: "array", items };
  }

  private parseBrace(): Term {
    if (this.accept("}")) return { t: "object", entries: [] };
    const first = this.parseCompHead();
    if (this.accept(":")) {
      const value = this.parseCompHead();
      if (this.accept("|")) {
        const body = this.parseBodyUntil("}");
        this.expect("}");
        return { t: "objcomp", key: first, value, body };
      }
      const entries: [Term, Term][] = [[first, value]];
      while (this.accept(",")) {
        if (this.is("}")) break;
        const k = this.parseTermIn(false);
        this.expect(":");
        entries.push([k, this.parseTermIn(false)]);
      }
      this.expect("}");
      return { t: "object", entries };
    }
    if (this.accept("|")) {
      const body = this.parseBodyUntil("}");
      this.expect("}");
      return { t: "setcomp", head: first, body };
    }
    const items = [first];
    while (this.accept(",")) {
      if (this.is("}")) break;
      items.push(this.parseTermIn(false));
    }
    this.expect("}");
    return { t: "set", items };
  }

  /** Refs (`x.y`, `x[i]`) and calls (`f(x)`, `a.b.f(x)`) after a primary term. */
  private parsePostfix(head: Term): Term {
    let term = head;
    for (;;) {
      if (this.is(".") && !this.tok.nl && this.peek().kind === "ident") {
        this.pos++;
        const name = this.expectIdent();
        term = appendRef(term, { t: "value", v: name });
      } else if (this.is("[") && !this.tok.nl) {
        this.pos++;
        const idx = this.withDepth(() => this.parseTermIn(false));
        this.expect("]");
        term = appendRef(term, idx);
      } else if (this.is("(") && !this.tok.nl && (term.t === "var" || term.t === "ref")) {
        const loc = this.loc();
        this.pos++;
        const args: Term[] = [];
        this.withDepth(() => {
          if (!this.is(")")) {
            do args.push(this.parseTermIn(false));
            while (this.accept(","));
          }
        });
        this.expect(")");
        const fn = term.t === "var" ? [{ t: "value", v: term.name } as Term] : refToPath(term);
        const name = fn.map((p) => (p.t === "value" ? String(p.v) : "?")).join(".");
        term = { t: "call", fn, name, args, loc };
      } else {
        return term;
      }
    }
  }
}

function appendRef(term: Term, elem: Term): Term {
  if (term.t === "ref") return { t: "ref", head: term.head, path: [...term.path, elem] };
  return { t: "ref", head: term, path: [elem] };
}

function refToPath(term: Term & { t: "ref" }): Term[] {
  const head = term.head;
  if (head.t !== "var") return [head, ...term.path];
  return [{ t: "value", v: head.name }, ...term.path];
}
