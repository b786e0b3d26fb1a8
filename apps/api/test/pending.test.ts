import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { commitments } from "@celine/core/db";
import { eq, sql } from "drizzle-orm";
import {
  createClock,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  seedCommitment,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// GET /api/commitments/pending (issue 2 item 4): live, window open now, not yet reminded; stamps
// reminded_at in the same transaction and never hands out a row twice.

const NOW = "2026-07-02T12:00:00.000Z";
const at = (iso: string) => new Date(iso);
const clock = createClock(NOW);
let h: Harness;
let reader: string;

beforeAll(async () => {
  h = await createHarness({ now: clock.now });
  reader = await h.service([SCOPE.read], "svc-reminders");
}, HOOK_TIMEOUT);
afterAll(() => h.close());
beforeEach(async () => {
  clock.set(NOW);
  await h.database.db.execute(sql`delete from flexibility_commitments`);
});

const pending = (token: string | undefined, query = "") =>
  h.call("GET", `/api/commitments/pending${query}`, { token });
const ids = (res: { json: { id: string }[] }) => res.json.map((c) => c.id);

describe("happy", () => {
  test("answers exactly the live commitments whose window is open now and not reminded", async () => {
    const open = await seedCommitment(h, {
      userId: "a",
      periodStart: at("2026-07-02T11:00:00Z"),
      periodEnd: at("2026-07-02T14:00:00Z"),
    });
    const startsNow = await seedCommitment(h, {
      userId: "b",
      periodStart: at(NOW),
      periodEnd: at("2026-07-02T13:00:00Z"),
    });
    const excluded = [
      // not started yet (by one millisecond)
      { userId: "c", periodStart: at("2026-07-02T12:00:00.001Z"), periodEnd: at("2026-07-02T13:00:00Z") },
      // ends exactly now: the window is [start, end)
      { userId: "d", periodStart: at("2026-07-02T11:00:00Z"), periodEnd: at(NOW) },
      // already over
      { userId: "e", periodStart: at("2026-07-02T09:00:00Z"), periodEnd: at("2026-07-02T10:00:00Z") },
      // already reminded
      { userId: "f", remindedAt: at("2026-07-02T11:30:00Z") },
      // open but not live
      { userId: "g", status: "cancelled" as const },
      { userId: "h", status: "settled" as const },
      { userId: "i", status: "rejected" as const },
    ];
    for (const row of excluded) {
      await seedCommitment(h, {
        periodStart: at("2026-07-02T11:00:00Z"),
        periodEnd: at("2026-07-02T14:00:00Z"),
        ...row,
      });
    }
    const res = await pending(reader);
    expect(res.status, res.text).toBe(200);
    expect(ids(res)).toEqual([open.id, startsNow.id]);
    for (const item of res.json) {
      expect(item.reminded_at).toBe(NOW);
      expect(item.status).toBe("committed");
    }
  });

  test("stamps reminded_at in the database", async () => {
    const { id } = await seedCommitment(h, { userId: "a" });
    expect(ids(await pending(reader))).toEqual([id]);
    const [row] = await h.database.db
      .select({ remindedAt: commitments.remindedAt })
      .from(commitments)
      .where(eq(commitments.id, id));
    expect(row?.remindedAt?.toISOString()).toBe(NOW);
  });

  test("never hands out the same row twice, even as time moves on inside the window", async () => {
    const seeded = new Set<string>();
    for (let i = 0; i < 5; i += 1) seeded.add((await seedCommitment(h, { userId: `u${i}` })).id);
    const seen: string[] = [];
    for (let minute = 0; minute < 4; minute += 1) {
      clock.advance(60_000);
      const res = await pending(reader, "?limit=2");
      expect(res.status, res.text).toBe(200);
      seen.push(...ids(res));
    }
    expect(seen.toSorted()).toEqual([...seeded].toSorted());
    expect(new Set(seen).size).toBe(seen.length);
    expect(ids(await pending(reader))).toEqual([]);
  });

  test("limit caps one claim; the rest wait for the next call", async () => {
    for (let i = 0; i < 3; i += 1) await seedCommitment(h, { userId: `u${i}` });
    expect((await pending(reader, "?limit=1")).json).toHaveLength(1);
    expect((await pending(reader)).json).toHaveLength(2);
  });

  test("nothing due → an empty array", async () => {
    const res = await pending(reader);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual([]);
  });

  test.each([
    ["legacy flexibility.read", SCOPE.legacyRead],
    ["flexibility.admin", SCOPE.admin],
  ])("a service with %s may claim", async (_, scope) => {
    await seedCommitment(h, { userId: "a" });
    const res = await pending(await h.service([scope]));
    expect(res.status, res.text).toBe(200);
    expect(res.json).toHaveLength(1);
  });
});

describe("errors", () => {
  test.each([
    ["limit=0", "?limit=0"],
    ["limit=1001", "?limit=1001"],
    ["limit not a number", "?limit=all"],
  ])("%s → 422 naming limit", async (_, query) => {
    expectFieldError(await pending(reader, query), "limit");
  });

  test("a refused claim stamps nothing", async () => {
    const { id } = await seedCommitment(h, { userId: "a" });
    expectFieldError(await pending(reader, "?limit=0"), "limit");
    expect(ids(await pending(reader))).toEqual([id]);
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    expectProblem(await pending(undefined), 401);
  });

  test("a participant → 403 with the policy's reason, and nothing is stamped", async () => {
    const { id } = await seedCommitment(h, { userId: "alice" });
    const res = await pending(await h.participant("alice"));
    const decision = await h.deps.authorizer({
      subject: {
        id: "alice",
        is_service: false,
        scopes: ["openid", "profile", "email"],
        roles: ["participant"],
      },
      action: { name: "service" },
      resource: { type: "commitment", attributes: {} },
    });
    expect(decision.allow).toBe(false);
    expectProblem(res, 403);
    expect(res.json.detail).toBe(decision.reason);
    expect(ids(await pending(reader))).toEqual([id]);
  });

  test.each([
    ["write scope only", [SCOPE.write]],
    ["export scope only", [SCOPE.export]],
  ])("a service with %s → 403 naming the read scope", async (_, scopes) => {
    expectProblem(await pending(await h.service(scopes)), 403, "missing scope flexibility.commitments.read");
  });
});
