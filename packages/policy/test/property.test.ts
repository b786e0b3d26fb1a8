// Property tests of decide(): it never throws, and it grants only when `allow` is exactly true.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compilePolicies } from "../src/index.ts";
import { decideAccessByHand } from "./access-oracle.ts";
import { ACCESS_ENTRYPOINT, loadAccessPolicy } from "./access-policy.ts";

const policy = loadAccessPolicy();

const ACTIONS = [
  "read",
  "write",
  "delete",
  "respond",
  "calendar",
  "webhook",
  "service",
  "settle",
  "export",
  "record",
  "erase",
  "READ",
  "",
  "admin",
];
const SCOPES = [
  "flexibility.commitments.read",
  "flexibility.commitments.write",
  "flexibility.commitments.export",
  "flexibility.admin",
  "flexibility.read",
  "flexibility.write",
  "flexibility",
  "openid",
];
const IDS = ["alice", "bob", "", "svc"];

/** Arbitrary JSON plus values JSON cannot carry (undefined, NaN, bigint-free odd objects). */
const odd = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, true, 1, "true", [], {}),
  fc.anything({ maxDepth: 2 }),
);

/** Inputs shaped like real requests, with any field possibly replaced by an odd value. */
const requestLike = fc.record(
  {
    subject: fc.oneof(
      fc.constant(null),
      odd,
      fc.record(
        {
          id: fc.oneof(fc.constantFrom(...IDS), odd),
          is_service: fc.oneof(fc.boolean(), odd),
          scopes: fc.oneof(fc.array(fc.oneof(fc.constantFrom(...SCOPES), odd), { maxLength: 4 }), odd),
          roles: fc.oneof(fc.array(fc.string(), { maxLength: 2 }), odd),
        },
        { requiredKeys: [] },
      ),
    ),
    action: fc.oneof(fc.record({ name: fc.oneof(fc.constantFrom(...ACTIONS), odd) }), odd),
    resource: fc.oneof(
      fc.record({
        type: fc.oneof(fc.constantFrom("commitment", "calendar_feed", "webhook"), odd),
        attributes: fc.oneof(
          fc.record({ owner_id: fc.oneof(fc.constantFrom(...IDS), odd) }, { requiredKeys: [] }),
          odd,
        ),
      }),
      odd,
    ),
  },
  { requiredKeys: [] },
);

describe("access policy decide()", () => {
  test("matches the hand-written TypeScript oracle on request-like and arbitrary inputs", () => {
    fc.assert(
      fc.property(fc.oneof(requestLike, odd), (input) => {
        expect(policy.decide(ACCESS_ENTRYPOINT, input)).toEqual(decideAccessByHand(input));
      }),
      { numRuns: 3000 },
    );
  });
});

// Small generated policies: `allow` is one of these values, reached through rules that may be undefined,
// conflict, error or recurse. The expected grant is computed independently by query().
const allowValue = fc.constantFrom(
  "true",
  "false",
  "1",
  '"true"',
  "null",
  "[true]",
  "{true}",
  "input.flag",
  "input",
);
const body = fc.constantFrom(
  "true",
  "false",
  "input.flag",
  "input.flag == true",
  "input.n > 1",
  "1 / input.n > 0",
  "count(input.xs) > 0",
  "some x in input.xs",
  "not input.flag",
  "helper",
);
const generatedPolicy = fc
  .tuple(fc.array(fc.tuple(allowValue, body), { minLength: 0, maxLength: 3 }), fc.boolean(), body)
  .map(([rules, withDefault, helperBody]) => {
    const lines = ["package gen"];
    if (withDefault) lines.push("default allow := false");
    for (const [v, b] of rules) lines.push(`allow := ${v} if { ${b} }`);
    lines.push(`helper if { ${helperBody} }`);
    return lines.join("\n");
  });

describe("generated policies decide()", () => {
  test("never throws and grants only when allow evaluates to exactly true", () => {
    fc.assert(
      fc.property(
        generatedPolicy,
        fc.oneof(requestLike, odd, fc.record({ flag: odd, n: odd, xs: odd })),
        (src, input) => {
          const compiled = compilePolicies([{ path: "gen.rego", source: src }]);
          const decision = compiled.decide("gen", input);
          expect(typeof decision.reason).toBe("string");
          let exactlyTrue = false;
          try {
            const rows = compiled.query("x := data.gen.allow", { input });
            exactlyTrue = rows.length === 1 && rows[0]?.x === true;
          } catch {
            exactlyTrue = false;
          }
          if (decision.allow) expect(exactlyTrue).toBe(true);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
