import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { commitments, pointsLedger, settlements } from "@celine/core/db";
import { asc, eq } from "drizzle-orm";
import {
  createClock,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  seedCommitment,
  separateWindow,
  UNKNOWN_ID,
  WIRE_KEYS,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// PATCH /api/commitments/{id}/settle (PLATFORM §1 settle request, issue 2 item 4). A settlement by
// hand is a ledger entry like any other (kind manual) with a stored settlement record (revision 1).

const clock = createClock("2026-07-03T01:15:00.000Z");
let h: Harness;
let settler: string;
beforeAll(async () => {
  h = await createHarness({ now: clock.now });
  settler = await h.service([SCOPE.write], "svc-settlement");
}, HOOK_TIMEOUT);
afterAll(() => h.close());

const settle = (token: string | undefined, id: string, body: unknown) =>
  h.call("PATCH", `/api/commitments/${id}/settle`, { token, body });
// Each its own window: a member's live commitments never overlap.
const live = async () =>
  (await seedCommitment(h, { userId: "alice", rewardPointsEstimated: 30, ...separateWindow() })).id;

/** The commitment's ledger entries and stored settlement records, oldest first. */
async function recordsOf(id: string) {
  const ledger = await h.database.db
    .select()
    .from(pointsLedger)
    .where(eq(pointsLedger.commitmentId, id))
    .orderBy(asc(pointsLedger.id));
  const stored = await h.database.db
    .select()
    .from(settlements)
    .where(eq(settlements.commitmentId, id))
    .orderBy(asc(settlements.revision));
  return { ledger, stored };
}

describe("happy", () => {
  test("stores reward_points_actual, actual_kwh and settled_at; status settled, outcome manual", async () => {
    const id = await live();
    const res = await settle(settler, id, { reward_points_actual: 27, actual_kwh: 2.75 });
    expect(res.status, res.text).toBe(200);
    for (const key of WIRE_KEYS) expect(res.json, `missing ${key}`).toHaveProperty(key);
    expect(res.json).toMatchObject({
      id,
      user_id: "alice",
      status: "settled",
      reward_points_estimated: 30,
      reward_points_actual: 27,
      actual_kwh: 2.75,
      settled_at: "2026-07-03T01:15:00.000Z",
      settlement_outcome: "manual",
    });
    const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
    expect(row?.status).toBe("settled");
    expect(row?.rewardPointsActual).toBe(27);
    expect(Number(row?.actualKwh)).toBe(2.75);
    expect(row?.settledAt?.toISOString()).toBe("2026-07-03T01:15:00.000Z");
    expect(row?.settlementOutcome).toBe("manual");
    expect(row?.settlementRevision).toBe(1);
    expect(res.json.settlement_revision).toBe(1);
  });

  test("writes one manual ledger entry of the operator's points and a stored settlement record, revision 1", async () => {
    const id = await live();
    const res = await settle(settler, id, { reward_points_actual: 27, actual_kwh: 2.75 });
    expect(res.status, res.text).toBe(200);

    const { ledger, stored } = await recordsOf(id);
    expect(ledger).toEqual([
      expect.objectContaining({
        commitmentId: id,
        userId: "alice",
        kind: "manual",
        points: 27,
        revision: 1,
        createdAt: new Date("2026-07-03T01:15:00.000Z"),
      }),
    ]);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ revision: 1, method: "manual", outcome: "manual", points: 27 });
    expect(stored[0]?.explanation).toMatchObject({
      revision: 1,
      settled_at: "2026-07-03T01:15:00.000Z",
      method: "manual",
      outcome: "manual",
      points: 27,
      config: null,
      totals: null,
      intervals: [],
    });
    // reward_points_actual is the sum of the ledger's entries.
    expect(res.json.reward_points_actual).toBe(ledger.reduce((sum, e) => sum + e.points, 0));
  });

  test("zero points is still an entry: the ledger records that the commitment was settled", async () => {
    const id = await live();
    expect((await settle(settler, id, { reward_points_actual: 0 })).status).toBe(200);
    const { ledger, stored } = await recordsOf(id);
    expect(ledger.map((e) => [e.kind, e.points, e.revision])).toEqual([["manual", 0, 1]]);
    expect(stored.map((s) => [s.revision, s.points])).toEqual([[1, 0]]);
  });

  test.each([
    ["omitted", {}],
    ["null", { actual_kwh: null }],
  ])("actual_kwh %s → stored as null", async (_, extra) => {
    const res = await settle(settler, await live(), { reward_points_actual: 5, ...extra });
    expect(res.status, res.text).toBe(200);
    expect(res.json.actual_kwh).toBeNull();
  });

  test("zero points and zero kWh are valid settlements", async () => {
    const res = await settle(settler, await live(), { reward_points_actual: 0, actual_kwh: 0 });
    expect(res.status, res.text).toBe(200);
    expect(res.json.reward_points_actual).toBe(0);
    expect(res.json.actual_kwh).toBe(0);
  });

  test("a kWh value with many decimals round-trips exactly", async () => {
    const res = await settle(settler, await live(), { reward_points_actual: 1, actual_kwh: 0.123456789 });
    expect(res.status, res.text).toBe(200);
    expect(res.json.actual_kwh).toBe(0.123456789);
  });

  test.each([
    ["legacy flexibility.write", SCOPE.legacyWrite],
    ["flexibility.admin", SCOPE.admin],
  ])("a service with %s may settle", async (_, scope) => {
    const res = await settle(await h.service([scope]), await live(), { reward_points_actual: 3 });
    expect(res.status, res.text).toBe(200);
  });
});

describe("errors", () => {
  test("unknown id → 404", async () => {
    expectProblem(await settle(settler, UNKNOWN_ID, { reward_points_actual: 1 }), 404);
  });

  test("settling twice → 409, and the first settlement stands: one ledger entry, one record", async () => {
    const id = await live();
    expect((await settle(settler, id, { reward_points_actual: 9 })).status).toBe(200);
    expectProblem(await settle(settler, id, { reward_points_actual: 99 }), 409, "settled");
    const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
    expect(row?.rewardPointsActual).toBe(9);
    expect(row?.settlementRevision).toBe(1);
    const { ledger, stored } = await recordsOf(id);
    expect(ledger.map((e) => e.points)).toEqual([9]);
    expect(stored.map((s) => s.points)).toEqual([9]);
  });

  test("two concurrent settles of one commitment: one 200, one 409, one ledger entry", async () => {
    const id = await live();
    const answers = await Promise.all([
      settle(settler, id, { reward_points_actual: 4 }),
      settle(settler, id, { reward_points_actual: 5 }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)?.json.reward_points_actual;
    const { ledger, stored } = await recordsOf(id);
    expect(ledger.map((e) => e.points)).toEqual([winner]);
    expect(stored).toHaveLength(1);
  });

  test.each(["cancelled", "rejected"] as const)(
    "a %s commitment → 409, and nothing is written",
    async (status) => {
      const { id } = await seedCommitment(h, { userId: "alice", status });
      expectProblem(await settle(settler, id, { reward_points_actual: 1 }), 409, status);
      expect(await recordsOf(id)).toEqual({ ledger: [], stored: [] });
    },
  );

  test.each([
    ["reward_points_actual missing", {}, "reward_points_actual"],
    ["reward_points_actual negative", { reward_points_actual: -1 }, "reward_points_actual"],
    ["reward_points_actual fractional", { reward_points_actual: 2.5 }, "reward_points_actual"],
    ["reward_points_actual a string", { reward_points_actual: "5" }, "reward_points_actual"],
    ["reward_points_actual null", { reward_points_actual: null }, "reward_points_actual"],
    ["actual_kwh negative", { reward_points_actual: 1, actual_kwh: -0.5 }, "actual_kwh"],
    ["actual_kwh a string", { reward_points_actual: 1, actual_kwh: "1.2" }, "actual_kwh"],
  ])("%s → 422 naming the field", async (_, body, field) => {
    const id = await live();
    expectFieldError(await settle(settler, id, body), field);
    const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
    expect(row?.status).toBe("committed");
    expect(await recordsOf(id)).toEqual({ ledger: [], stored: [] });
  });

  test("malformed id → 422 naming id", async () => {
    expectFieldError(await settle(settler, "not-a-uuid", { reward_points_actual: 1 }), "id");
  });

  test("a body that is not JSON → 415", async () => {
    const res = await h.call("PATCH", `/api/commitments/${UNKNOWN_ID}/settle`, {
      token: settler,
      body: "reward_points_actual=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expectProblem(res, 415);
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    expectProblem(await settle(undefined, await live(), { reward_points_actual: 1 }), 401);
  });

  test("a participant → 403 with the policy's reason, even on their own commitment", async () => {
    const id = await live();
    const res = await settle(await h.participant("alice"), id, { reward_points_actual: 1000 });
    const decision = await h.deps.authorizer({
      subject: { id: "alice", is_service: false, scopes: [], roles: ["participant"] },
      action: { name: "settle" },
      resource: { type: "commitment", attributes: {} },
    });
    expectProblem(res, 403);
    expect(res.json.detail).toBe(decision.reason);
    const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
    expect(row?.status).toBe("committed");
    expect(await recordsOf(id)).toEqual({ ledger: [], stored: [] });
  });

  test.each([
    ["read scope only", [SCOPE.read]],
    ["export scope only", [SCOPE.export]],
  ])("a service with %s → 403 naming the write scope", async (_, scopes) => {
    const res = await settle(await h.service(scopes), await live(), { reward_points_actual: 1 });
    expectProblem(res, 403, "missing scope flexibility.commitments.write");
  });
});
