// The access policy: its Rego tests, and the same matrix through decide() as a TypeScript table.
import { describe, expect, test } from "bun:test";
import { compilePolicies, createLocalDecider, runRegoTests } from "../src/index.ts";
import { decideAccessByHand } from "./access-oracle.ts";
import { ACCESS_ENTRYPOINT, loadAccessPolicy, readPolicyModule } from "./access-policy.ts";

describe("policies/flexibility_test.rego", () => {
  const policy = compilePolicies([
    readPolicyModule("flexibility.rego"),
    readPolicyModule("flexibility_test.rego"),
  ]);
  const results = runRegoTests(policy);

  test("defines Rego tests", () => {
    expect(results.length).toBeGreaterThanOrEqual(20);
  });
  for (const r of results) {
    test(r.name, () => {
      expect({ name: r.name, pass: r.pass, detail: r.detail }).toEqual({
        name: r.name,
        pass: true,
        detail: "ok",
      });
    });
  }
});

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
  "launch_rockets",
] as const;

type Who = {
  label: string;
  subject: Record<string, unknown>;
  owner: string;
  allowed: string[];
  denial: string;
};

const participant = (id: string) => ({ id, is_service: false, scopes: [], roles: ["participant"] });
const service = (scopes: string[]) => ({ id: "svc-optimizer", is_service: true, scopes, roles: [] });

const READ_DENIAL = "missing scope flexibility.commitments.read";

const MATRIX: Who[] = [
  {
    label: "participant owner",
    subject: participant("alice"),
    owner: "alice",
    allowed: ["read", "write", "delete", "respond", "calendar", "webhook"],
    denial: "action not permitted",
  },
  { label: "participant stranger", subject: participant("alice"), owner: "bob", allowed: [], denial: "" },
  {
    label: "service commitments.read",
    subject: service(["flexibility.commitments.read"]),
    owner: "bob",
    allowed: ["read", "service"],
    denial: "",
  },
  {
    label: "service legacy flexibility.read",
    subject: service(["flexibility.read"]),
    owner: "bob",
    allowed: ["read", "service"],
    denial: "",
  },
  {
    label: "service commitments.write",
    subject: service(["flexibility.commitments.write"]),
    owner: "bob",
    allowed: ["write", "delete", "settle"],
    denial: "",
  },
  {
    label: "service legacy flexibility.write",
    subject: service(["flexibility.write"]),
    owner: "bob",
    allowed: ["write", "delete", "settle"],
    denial: "",
  },
  {
    label: "service admin",
    subject: service(["flexibility.admin"]),
    owner: "bob",
    allowed: ["read", "service", "write", "delete", "settle", "record", "erase", "webhook"],
    denial: "",
  },
  {
    label: "service export only",
    subject: service(["flexibility.commitments.export"]),
    owner: "bob",
    allowed: ["export"],
    denial: "",
  },
  { label: "service without scopes", subject: service([]), owner: "bob", allowed: [], denial: READ_DENIAL },
];

/** The reason OPA-side rules give for a denial in the matrix (most specific first). */
function expectedDenial(who: Who, action: string): string {
  const isService = who.subject.is_service === true;
  if (!isService) {
    if (!["read", "write", "delete", "respond", "calendar", "webhook"].includes(action))
      return "action not permitted";
    return "not resource owner";
  }
  if (
    !["read", "service", "write", "delete", "settle", "export", "record", "erase", "webhook"].includes(action)
  )
    return "action not permitted";
  if (action === "export") return "missing scope flexibility.commitments.export";
  if (action === "record" || action === "erase" || action === "webhook")
    return "missing scope flexibility.admin";
  if (action === "read" || action === "service") return READ_DENIAL;
  return "missing scope flexibility.commitments.write";
}

describe("decide() over the action × subject matrix", () => {
  const policy = loadAccessPolicy();
  for (const who of MATRIX) {
    for (const action of ACTIONS) {
      const allow = who.allowed.includes(action);
      const reason = allow ? "allowed" : expectedDenial(who, action);
      test(`${who.label} ${action} → ${allow ? "allow" : `deny (${reason})`}`, () => {
        const input = {
          subject: who.subject,
          action: { name: action },
          resource: { type: "commitment", attributes: { owner_id: who.owner } },
        };
        expect(policy.decide(ACCESS_ENTRYPOINT, input)).toEqual({ allow, reason });
        expect(decideAccessByHand(input)).toEqual({ allow, reason });
      });
    }
  }

  test("anonymous (null or absent subject) is denied with 'authentication required'", () => {
    for (const input of [
      {
        subject: null,
        action: { name: "read" },
        resource: { type: "commitment", attributes: { owner_id: "a" } },
      },
      { action: { name: "read" }, resource: { type: "commitment", attributes: {} } },
      undefined,
      null,
    ]) {
      expect(policy.decide(ACCESS_ENTRYPOINT, input)).toEqual({
        allow: false,
        reason: "authentication required",
      });
    }
  });

  test("without a subject, only reading a calendar feed whose owner was resolved is allowed", () => {
    const feed = (subject: unknown, name: string, attributes: Record<string, unknown>) => ({
      ...(subject === undefined ? {} : { subject }),
      action: { name },
      resource: { type: "calendar_feed", attributes },
    });
    const cases: [input: unknown, allow: boolean][] = [
      [feed(null, "read", { owner_id: "alice" }), true],
      [feed(undefined, "read", { owner_id: "alice" }), false],
      [feed(null, "read", {}), false],
      [feed(null, "read", { owner_id: "" }), false],
      [feed(null, "calendar", { owner_id: "alice" }), false],
      [feed(null, "write", { owner_id: "alice" }), false],
      [
        {
          subject: null,
          action: { name: "read" },
          resource: { type: "commitment", attributes: { owner_id: "alice" } },
        },
        false,
      ],
    ];
    for (const [input, allow] of cases) {
      const expected = { allow, reason: allow ? "allowed" : "authentication required" };
      expect(policy.decide(ACCESS_ENTRYPOINT, input), JSON.stringify(input)).toEqual(expected);
      expect(decideAccessByHand(input), JSON.stringify(input)).toEqual(expected);
    }
  });

  test("a participant without owner_id on the resource is not its owner", () => {
    const input = {
      subject: participant("alice"),
      action: { name: "read" },
      resource: { type: "commitment", attributes: {} },
    };
    expect(policy.decide(ACCESS_ENTRYPOINT, input)).toEqual({ allow: false, reason: "not resource owner" });
  });

  test("createLocalDecider answers asynchronously with the same decision (dotted or slash entrypoint)", async () => {
    const input = {
      subject: service(["flexibility.admin"]),
      action: { name: "settle" },
      resource: { type: "commitment", attributes: {} },
    };
    for (const entry of [ACCESS_ENTRYPOINT, "celine/flexibility/access"]) {
      await expect(createLocalDecider(policy, entry).decide(input)).resolves.toEqual({
        allow: true,
        reason: "allowed",
      });
    }
  });
});
