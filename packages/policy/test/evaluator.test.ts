// Evaluator features beyond the OPA case files: with, imports, else, partial objects, comprehensions.
import { describe, expect, test } from "bun:test";
import { compilePolicies, toJson } from "../src/index.ts";

function run(modules: string[], query: string, input?: unknown, data?: unknown) {
  const p = compilePolicies(modules.map((source, i) => ({ path: `m${i}.rego`, source })));
  return p
    .query(query, { input, data })
    .map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, toJson(v)])));
}

describe("with", () => {
  test("`with input as` replaces the input for one expression only", () => {
    const m = 'package t\np := input.x\nq := [a, b] if {\n  a := p with input as {"x": 1}\n  b := p\n}';
    expect(run([m], "data.t.q = x", { x: 2 })).toEqual([{ x: [1, 2] }]);
  });

  test("`with input.path as` patches part of the input", () => {
    const m = "package t\np := [input.a, input.b.c] if true\nq := v if v := p with input.b.c as 9";
    expect(run([m], "data.t.q = x", { a: 1, b: { c: 2 } })).toEqual([{ x: [1, 9] }]);
  });

  test("`with data.x as` overrides base data and rules", () => {
    const m =
      "package t\nlimit := 3\np := data.cfg.max + limit\nq := v if v := p with data.cfg.max as 10 with data.t.limit as 0";
    expect(run([m], "data.t.q = x", undefined, { cfg: { max: 1 } })).toEqual([{ x: 10 }]);
    expect(run([m], "data.t.p = x", undefined, { cfg: { max: 1 } })).toEqual([{ x: 4 }]);
  });

  test("`not … with` negates the modified expression", () => {
    const m = 'package t\nallow if input.ok\np if not allow with input as {"ok": false}';
    expect(run([m], "data.t.p = x", { ok: true })).toEqual([{ x: true }]);
  });
});

describe("rules", () => {
  test("imports with aliases resolve to other packages", () => {
    const a = "package lib.util\ndouble(x) := x * 2\nlimit := 5";
    const b = "package app\nimport data.lib.util as u\nimport data.lib.util.limit\np := u.double(limit)";
    expect(run([a, b], "data.app.p = x")).toEqual([{ x: 10 }]);
  });

  test("else chains take the first body that succeeds", () => {
    const m = 'package t\ngrade := "a" if input.n > 90 else := "b" if input.n > 50 else := "c"';
    expect(run([m], "data.t.grade = x", { n: 95 })).toEqual([{ x: "a" }]);
    expect(run([m], "data.t.grade = x", { n: 60 })).toEqual([{ x: "b" }]);
    expect(run([m], "data.t.grade = x", { n: 1 })).toEqual([{ x: "c" }]);
  });

  test("partial object rules build objects and reject conflicting keys", () => {
    const m = "package t\nby_id[u.id] := u.name if some u in input.users";
    expect(
      run([m], "data.t.by_id = x", {
        users: [
          { id: "a", name: "A" },
          { id: "b", name: "B" },
        ],
      }),
    ).toEqual([{ x: { a: "A", b: "B" } }]);
    expect(() =>
      run([m], "data.t.by_id = x", {
        users: [
          { id: "a", name: "A" },
          { id: "a", name: "Z" },
        ],
      }),
    ).toThrow("object keys must be unique");
  });

  test("comprehensions, every and destructuring assignment", () => {
    const m = [
      "package t",
      "pairs := [[k, v] | some k, v in input.o]",
      "evens := {n | some n in input.xs; n % 2 == 0}",
      "all_pos if every x in input.xs { x > 0 }",
      "first := a if [a, _] := input.xs",
    ].join("\n");
    const input = { o: { b: 2, a: 1 }, xs: [1, 2, 4, 4] };
    expect(run([m], "data.t.pairs = x", input)[0]?.x).toEqual(
      expect.arrayContaining([
        ["a", 1],
        ["b", 2],
      ]),
    );
    expect(run([m], "data.t.evens = x", input)).toEqual([{ x: [2, 4] }]);
    expect(run([m], "data.t.all_pos = x", input)).toEqual([{ x: true }]);
    expect(run([m], "data.t.first = x", { xs: [7, 8] })).toEqual([{ x: 7 }]);
    expect(run([m], "data.t.first = x", { xs: [7, 8, 9] })).toEqual([]);
  });

  test("int and float compare equal", () => {
    expect(
      run(["package t\np if 1 == 1.0\nq if ({1: 1} == {1.0: 1.0})"], "x := [data.t.p, data.t.q]"),
    ).toEqual([{ x: [true, true] }]);
  });
});
