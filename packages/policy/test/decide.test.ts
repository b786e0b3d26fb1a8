// decide() semantics: only `allow == true` grants; everything else denies with a reason; never throws.
import { describe, expect, test } from "bun:test";
import { compilePolicies, RegoError } from "../src/index.ts";

function decideWith(source: string, input: unknown = {}, stepBudget?: number) {
  return compilePolicies([{ path: "p.rego", source }], { stepBudget }).decide("t", input);
}

describe("decide()", () => {
  test("allow true grants, with the policy's reason", () => {
    expect(decideWith('package t\nallow := true\nreason := "ok"')).toEqual({ allow: true, reason: "ok" });
  });

  test("undefined allow denies with 'allow is undefined'", () => {
    expect(decideWith("package t\nallow if input.x == 1")).toEqual({
      allow: false,
      reason: "allow is undefined",
    });
  });

  test("a package without allow denies", () => {
    expect(decideWith("package t\nq := 1")).toEqual({ allow: false, reason: "allow is undefined" });
  });

  test("non-boolean truthy allow values deny, whatever reason says", () => {
    for (const v of ['"yes"', "1", "[true]", '{"a": true}', "{true}"]) {
      expect(decideWith(`package t\nallow := ${v}\nreason := "allowed"`)).toEqual({
        allow: false,
        reason: "allow is not a boolean",
      });
    }
  });

  test("a missing package denies with 'no such package'", () => {
    const p = compilePolicies([{ path: "p.rego", source: "package t\nallow := true" }]);
    expect(p.decide("other.pkg", {})).toEqual({
      allow: false,
      reason: "no such package other.pkg",
      failed: true,
    });
  });

  test("an evaluation error in allow denies with 'policy error'", () => {
    const d = decideWith("package t\nallow if input.x\nallow := false if input.y", { x: true, y: true });
    expect(d.allow).toBe(false);
    expect(d.reason).toContain("policy error");
    expect(d.reason).toContain("complete rules must not produce multiple outputs");
    expect(d.failed).toBe(true);
  });

  test("an exhausted step budget denies", () => {
    const src = "package t\nallow if {\n  some i in numbers.range(1, 100000)\n  i < 0\n}";
    const d = decideWith(src, {}, 1000);
    expect(d).toEqual({
      allow: false,
      reason: expect.stringContaining("step budget of 1000 exhausted"),
      failed: true,
    });
    expect(decideWith(src, {}, 1_000_000).reason).toBe("allow is undefined");
  });

  test("unbounded recursion through a function denies instead of throwing", () => {
    const d = decideWith("package t\nf(x) := f(x + 1)\nallow if f(1)");
    expect(d.allow).toBe(false);
    expect(d.reason).toStartWith("policy error");
  });

  test("a conflicting reason costs only the message, never the decision", () => {
    const src = 'package t\nallow := true\nreason := "a"\nreason := "b"';
    expect(decideWith(src)).toEqual({ allow: true, reason: "allowed" });
    const denySrc = 'package t\ndefault allow := false\nreason := "a"\nreason := "b"';
    expect(decideWith(denySrc)).toEqual({ allow: false, reason: "denied" });
  });

  test("a non-string reason falls back to a generic one", () => {
    expect(decideWith("package t\nallow := true\nreason := 42")).toEqual({ allow: true, reason: "allowed" });
  });

  test("inputs JSON cannot express, or that throw on access, deny without throwing", () => {
    const p = compilePolicies([{ path: "p.rego", source: "package t\nallow if input.a == 1" }]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const hostile = {
      get a() {
        throw new Error("boom");
      },
    };
    for (const input of [cyclic, hostile, () => 1, Symbol("s"), 10n, new Date(0), new Map([["a", 1]])]) {
      const d = p.decide("t", input);
      expect(d.allow).toBe(false);
      expect(typeof d.reason).toBe("string");
    }
  });
});

describe("compilePolicies()", () => {
  test("parse errors carry file and line", () => {
    try {
      compilePolicies([{ path: "policies/bad.rego", source: "package t\n\nallow if {\n  input.x ==\n}" }]);
      throw new Error("expected a parse error");
    } catch (e) {
      expect(e).toBeInstanceOf(RegoError);
      expect((e as RegoError).code).toBe("rego_parse_error");
      expect((e as RegoError).message).toStartWith("policies/bad.rego:5:");
    }
  });

  test("calls to unknown functions are compile errors with file and line", () => {
    expect(() => compilePolicies([{ path: "x.rego", source: "package t\n\nallow if nope(1)" }])).toThrow(
      "x.rego:3: rego_type_error: undefined function nope",
    );
  });
});
