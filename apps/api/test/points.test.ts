import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  commitments,
  createLogger,
  createMetrics,
  type NewCommitmentRow,
  outbox,
  type Platform,
  preferences,
  settleDueCommitments,
  unconfiguredPlatform,
} from "@celine/core";
import { createTestCtx } from "@celine/core/testing";
import { type DigitalTwin, startDigitalTwin } from "@celine/fakes";
import { createDigitalTwinClient, createTokenProvider } from "@celine/platform";
import { sql } from "drizzle-orm";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// GET /api/points/me, GET /api/leaderboard, PUT /api/points/me/preferences and their tRPC twins:
// participant-facing, each caller sees only their own numbers; the board is anonymous.

/** Thursday 2026-04-09 12:00 CEST: season 2 of 2026 (April–June). */
const NOW = new Date("2026-04-09T10:00:00Z");
const SEASON = { start: "2026-03-31T22:00:00.000Z", end: "2026-06-30T22:00:00.000Z" };

let h: Harness;
let fake: DigitalTwin;
// The app reads deps.platform on every request: tests swap the DT in and out of this object.
const platform: Platform = { ...unconfiguredPlatform };

beforeAll(async () => {
  h = await createHarness({ now: () => NOW, platform });
  fake = await startDigitalTwin({ issuer: h.issuer });
}, HOOK_TIMEOUT);
afterAll(async () => {
  await fake.close();
  await h.close();
});
beforeEach(async () => {
  await h.database.db.execute(sql`truncate ${commitments}, ${preferences}, ${outbox}`);
  platform.dt = unconfiguredPlatform.dt;
  fake.reset();
  fake.clearData();
  fake.clearCalls();
});

function useFakeDt() {
  platform.dt = createDigitalTwinClient({
    baseUrl: fake.url,
    tokens: createTokenProvider({
      issuerUrl: h.issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    }),
    metrics: createMetrics(),
    log: createLogger({ level: "silent" }),
    retries: 0,
  });
}

let seq = 0;
/** A settled (or other) commitment as settlement would have left it. */
async function seed(userId: string, values: Partial<NewCommitmentRow> & { start: string; points?: number }) {
  seq += 1;
  const start = new Date(values.start);
  await h.database.db.insert(commitments).values({
    userId,
    suggestionId: `w-${seq}`,
    communityId: "rec-a",
    deviceId: `dev-${userId}`,
    periodStart: start,
    periodEnd: new Date(start.getTime() + 3_600_000),
    committedAt: new Date(start.getTime() - 86_400_000),
    status: "settled",
    rewardPointsEstimated: 10,
    rewardPointsActual: values.points ?? 0,
    settledAt: new Date(start.getTime() + 86_400_000),
    settlementOutcome: "delivered",
    settlementPointsPerKwh: 10,
    settlementBonusPct: 0,
    ...values,
  });
}

describe("GET /api/points/me", () => {
  test("a member with nothing: level 1, next at 100, no fulfilment rate, this season's bounds", async () => {
    const res = await h.call("GET", "/api/points/me", { token: await h.participant("nobody") });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      total_points: 0,
      season: { ...SEASON, points: 0 },
      level: 1,
      next_level_at: 100,
      streak: { current: 0, best: 0 },
      counts: { committed: 0, settled: 0, fulfilled: 0, cancelled: 0, rejected: 0 },
      fulfilment_rate: null,
      recent_settlements: [],
    });
  });

  test("totals, season, level, streak, counts and the latest settlements newest first", async () => {
    // Last season: a delivered 100. This season in window order: delivered 15, not delivered, delivered 16
    // (bonus 5 %), no baseline 20, manual 7, delivered 12 (bonus 5 %: the unjudged ones did not break it).
    await seed("alice", { start: "2026-02-02T10:00:00Z", points: 100, deliveredKwh: "10" });
    await seed("alice", {
      start: "2026-04-01T09:00:00Z",
      points: 15,
      actualKwh: "3",
      baselineKwh: "1.5",
      deliveredKwh: "1.5",
    });
    await seed("alice", {
      start: "2026-04-02T09:00:00Z",
      points: 0,
      settlementOutcome: "not_delivered",
      deliveredKwh: "0",
    });
    await seed("alice", {
      start: "2026-04-03T09:00:00Z",
      points: 16,
      deliveredKwh: "1.5",
      settlementBonusPct: 5,
    });
    await seed("alice", {
      start: "2026-04-06T09:00:00Z",
      points: 20,
      settlementOutcome: "no_baseline",
      actualKwh: "2.5",
    });
    await seed("alice", {
      start: "2026-04-07T09:00:00Z",
      points: 7,
      settlementOutcome: "manual",
      settlementPointsPerKwh: null,
      settlementBonusPct: null,
    });
    await seed("alice", {
      start: "2026-04-08T09:00:00Z",
      points: 12,
      deliveredKwh: "1.1",
      settlementBonusPct: 5,
    });
    await seed("alice", {
      start: "2026-04-10T09:00:00Z",
      status: "committed",
      rewardPointsActual: null,
      settledAt: null,
      settlementOutcome: null,
    });
    await seed("alice", {
      start: "2026-04-05T09:00:00Z",
      status: "cancelled",
      rewardPointsActual: null,
      settledAt: null,
      settlementOutcome: null,
    });
    await seed("alice", {
      start: "2026-04-04T09:00:00Z",
      status: "rejected",
      rewardPointsActual: null,
      settledAt: null,
      settlementOutcome: null,
    });
    await seed("bob", { start: "2026-04-01T09:00:00Z", points: 999, deliveredKwh: "99" });

    const res = await h.call("GET", "/api/points/me", { token: await h.participant("alice") });

    expect(res.status, res.text).toBe(200);
    // 100 + 15 + 0 + 16 + 20 + 7 + 12 = 170 → level 2, next level at 200; this season 70.
    expect(res.json).toMatchObject({
      total_points: 170,
      season: { ...SEASON, points: 70 },
      level: 2,
      next_level_at: 200,
      // Window order: D, D | N | D, (no_baseline), (manual), D → current 2, best 2.
      streak: { current: 2, best: 2 },
      counts: { committed: 1, settled: 7, fulfilled: 4, cancelled: 1, rejected: 1 },
      // 4 ÷ 7 = 0.571428… → 0.5714.
      fulfilment_rate: 0.5714,
    });
    expect(res.json.recent_settlements).toHaveLength(7);
    expect(res.json.recent_settlements[0]).toEqual({
      commitment_id: expect.any(String),
      period_start: "2026-04-08T09:00:00.000Z",
      period_end: "2026-04-08T10:00:00.000Z",
      actual_kwh: null,
      baseline_kwh: null,
      delivered_kwh: 1.1,
      points_per_kwh: 10,
      bonus: 0.05,
      points: 12,
      outcome: "delivered",
    });
    expect(res.json.recent_settlements[1]).toMatchObject({
      outcome: "manual",
      points_per_kwh: null,
      bonus: null,
    });
    expect(res.json.recent_settlements.at(-1).period_start).toBe("2026-02-02T10:00:00.000Z");
  });

  test("only the last 10 settlements are listed", async () => {
    for (let day = 1; day <= 12; day++) {
      await seed("carl", { start: `2026-04-${String(day).padStart(2, "0")}T09:00:00Z`, points: day });
    }
    const res = await h.call("GET", "/api/points/me", { token: await h.participant("carl") });
    expect(res.json.recent_settlements.map((s: { points: number }) => s.points)).toEqual([
      12, 11, 10, 9, 8, 7, 6, 5, 4, 3,
    ]);
  });

  test("after a settlement run the member reads what was settled", async () => {
    useFakeDt();
    const rows = [];
    for (let at = Date.parse("2026-03-10T00:00:00Z"); at < NOW.getTime(); at += 3_600_000) {
      const inWindow = at >= Date.parse("2026-04-08T09:00:00Z") && at < Date.parse("2026-04-08T12:00:00Z");
      rows.push({
        ts: new Date(at).toISOString().slice(0, 19),
        device_id: "dev-dora",
        consumption_kwh: inWindow ? 1.025 : 0.5,
      });
    }
    fake.addConsumption("rec-a", rows);
    const token = await h.participant("dora");
    // Yesterday's window: only an operator may record it now (a member commits to open windows only).
    const created = await h.call("POST", "/api/commitments", {
      token: await h.service(["flexibility.admin"], "svc-operator"),
      body: {
        user_id: "dora",
        suggestion_id: "w-dora",
        community_id: "rec-a",
        device_id: "dev-dora",
        period_start: "2026-04-08T09:00:00Z",
        period_end: "2026-04-08T12:00:00Z",
        reward_points_estimated: 10,
      },
    });
    expect(created.status, created.text).toBe(201);
    const ctx = createTestCtx({
      db: h.database.db,
      actor: { kind: "system", id: "system" },
      authorizer: h.deps.authorizer,
      now: () => NOW,
      platform,
    });
    await settleDueCommitments({ ctx });

    const res = await h.call("GET", "/api/points/me", { token });
    // 3 × 1.025 − 1.5 = 1.575 kWh → 15.75 → 16 points.
    expect(res.json.recent_settlements).toEqual([
      expect.objectContaining({
        actual_kwh: 3.075,
        baseline_kwh: 1.5,
        delivered_kwh: 1.575,
        points: 16,
        bonus: 0,
      }),
    ]);
    expect(res.json.total_points).toBe(16);
  });
});

describe("GET /api/leaderboard", () => {
  test("top 10 anonymous, equal points share a rank (1-1-3), my rank, points and percentile", async () => {
    const points = [50, 50, 30, 20, 20, 10, 9, 8, 7, 6, 5, 4];
    for (const [i, p] of points.entries()) await seed(`m${i}`, { start: "2026-04-02T09:00:00Z", points: p });
    await seed("me", { start: "2026-04-03T09:00:00Z", points: 20 });
    await seed("other-community", { start: "2026-04-03T09:00:00Z", points: 500, communityId: "rec-b" });
    await seed("last-season", { start: "2026-03-02T09:00:00Z", points: 500 });

    const res = await h.call("GET", "/api/leaderboard", { token: await h.participant("me") });

    expect(res.status, res.text).toBe(200);
    expect(res.json.community_id).toBe("rec-a");
    expect(res.json.season).toEqual(SEASON);
    expect(res.json.entries).toHaveLength(10);
    expect(res.json.entries.slice(0, 6)).toEqual([
      { rank: 1, points: 50, is_me: false },
      { rank: 1, points: 50, is_me: false },
      { rank: 3, points: 30, is_me: false },
      { rank: 4, points: 20, is_me: true },
      { rank: 4, points: 20, is_me: false },
      { rank: 4, points: 20, is_me: false },
    ]);
    expect(res.json.entries.at(-1)).toEqual({ rank: 10, points: 7, is_me: false });
    // 13 members: 7 below me, 3 level (me included) → 100 × (7 + 1.5) / 13 = 65.38 → 65.
    expect(res.json.me).toEqual({ rank: 4, points: 20, percentile: 65 });
    expect(JSON.stringify(res.json)).not.toContain("m0");
  });

  test("opting out removes me from everyone's board and nulls my rank; opting in puts me back", async () => {
    await seed("me", { start: "2026-04-03T09:00:00Z", points: 40 });
    await seed("ann", { start: "2026-04-03T09:00:00Z", points: 30 });
    const me = await h.participant("me");
    const ann = await h.participant("ann");

    const out = await h.call("PUT", "/api/points/me/preferences", {
      token: me,
      body: { leaderboard_visible: false },
    });
    expect(out.status, out.text).toBe(200);
    expect(out.json).toEqual({ leaderboard_visible: false });

    const mine = await h.call("GET", "/api/leaderboard", { token: me });
    expect(mine.json.me).toEqual({ rank: null, points: 40, percentile: null });
    expect(mine.json.entries).toEqual([{ rank: 1, points: 30, is_me: false }]);
    const theirs = await h.call("GET", "/api/leaderboard", { token: ann });
    expect(theirs.json.entries).toEqual([{ rank: 1, points: 30, is_me: true }]);
    expect(theirs.json.me).toEqual({ rank: 1, points: 30, percentile: 50 });

    const back = await h.call("PUT", "/api/points/me/preferences", {
      token: me,
      body: { leaderboard_visible: true },
    });
    expect(back.json).toEqual({ leaderboard_visible: true });
    const again = await h.call("GET", "/api/leaderboard", { token: ann });
    expect(again.json.entries).toEqual([
      { rank: 1, points: 40, is_me: false },
      { rank: 2, points: 30, is_me: true },
    ]);
  });

  test("the community comes from the caller's DT membership, asked with the caller's own token", async () => {
    useFakeDt();
    fake.setProfile("me", { sub: "me" });
    fake.setMembership("me", {
      community: { key: "rec-b", name: "REC B" },
      member: { key: "m", name: "Me", role: "consumer", area: "north", status: "active" },
    });
    await seed("me", { start: "2026-04-03T09:00:00Z", points: 5, communityId: "rec-a" });
    await seed("bea", { start: "2026-04-03T09:00:00Z", points: 9, communityId: "rec-b" });
    const token = await h.participant("me");

    const res = await h.call("GET", "/api/leaderboard", { token });

    expect(res.status, res.text).toBe(200);
    expect(res.json.community_id).toBe("rec-b");
    expect(res.json.entries).toEqual([
      { rank: 1, points: 9, is_me: false },
      { rank: 2, points: 0, is_me: true },
    ]);
    expect(fake.calls[0]?.authorization).toBe(`Bearer ${token}`);
  });

  test("when the DT cannot answer, the community of the latest commitment stands in", async () => {
    useFakeDt();
    fake.failNext(503, Number.POSITIVE_INFINITY);
    await seed("me", { start: "2026-04-03T09:00:00Z", points: 5, communityId: "rec-a" });
    await seed("me", {
      start: "2026-04-04T09:00:00Z",
      points: 6,
      communityId: "rec-c",
      committedAt: new Date("2026-04-05T00:00:00Z"),
    });
    const res = await h.call("GET", "/api/leaderboard", { token: await h.participant("me") });
    expect(res.status, res.text).toBe(200);
    expect(res.json.community_id).toBe("rec-c");
    expect(res.json.me).toEqual({ rank: 1, points: 6, percentile: 50 });
  });

  test("a member the DT places in no community → 404", async () => {
    useFakeDt();
    fake.setProfile("loner", { sub: "loner" });
    const res = await h.call("GET", "/api/leaderboard", { token: await h.participant("loner") });
    expect(res.status, res.text).toBe(404);
    expect(res.json.detail).toContain("not a member of a community");
  });

  test("no DT answer and no commitment → the DT failure, 502", async () => {
    const res = await h.call("GET", "/api/leaderboard", { token: await h.participant("newcomer") });
    expect(res.status, res.text).toBe(502);
  });
});

describe("PUT /api/points/me/preferences", () => {
  test.each([
    [{}, "leaderboard_visible"],
    [{ leaderboard_visible: "no" }, "leaderboard_visible"],
    [{ leaderboard_visible: null }, "leaderboard_visible"],
  ])("%j → 422 naming the field", async (body, field) => {
    const res = await h.call("PUT", "/api/points/me/preferences", { token: await h.participant("me"), body });
    expect(res.status, res.text).toBe(422);
    expect(res.json.detail).toContain(field);
  });

  test("setting the same value twice is harmless", async () => {
    const token = await h.participant("me");
    for (let i = 0; i < 2; i++) {
      const res = await h.call("PUT", "/api/points/me/preferences", {
        token,
        body: { leaderboard_visible: false },
      });
      expect(res.json).toEqual({ leaderboard_visible: false });
    }
  });
});

describe("security", () => {
  // Three entries each: bun passes a done callback to a test function with more parameters than values.
  const routes: [string, string, unknown][] = [
    ["GET", "/api/points/me", undefined],
    ["GET", "/api/leaderboard", undefined],
    ["PUT", "/api/points/me/preferences", { leaderboard_visible: false }],
  ];

  test.each(routes)("%s %s without a token → 401", async (method, path, body) => {
    const res = await h.call(method, path, { body });
    expect(res.status, res.text).toBe(401);
  });

  test.each(routes)("%s %s with a forged token → 401", async (method, path, body) => {
    const res = await h.call(method, path, { body, token: await h.issuer.mintForged("wrong-issuer") });
    expect(res.status, res.text).toBe(401);
  });

  test.each(routes)(
    "%s %s with a service token (even admin) → 403: points belong to participants",
    async (method, path, body) => {
      const res = await h.call(method, path, { body, token: await h.service(["flexibility.admin"]) });
      expect(res.status, res.text).toBe(403);
      expect(res.json.detail).toContain("participants");
    },
  );
});

describe("tRPC", () => {
  test("points.me, points.setPreferences and points.leaderboard answer what REST answers", async () => {
    await seed("me", { start: "2026-04-03T09:00:00Z", points: 40 });
    const token = await h.participant("me");
    const me = await h.call("GET", "/trpc/points.me", { token });
    expect(me.status, me.text).toBe(200);
    expect(me.json.result.data).toEqual((await h.call("GET", "/api/points/me", { token })).json);

    const set = await h.call("POST", "/trpc/points.setPreferences", {
      token,
      body: { leaderboard_visible: false },
    });
    expect(set.status, set.text).toBe(200);
    expect(set.json.result.data).toEqual({ leaderboard_visible: false });

    const board = await h.call("GET", "/trpc/points.leaderboard", { token });
    expect(board.status, board.text).toBe(200);
    expect(board.json.result.data.me).toEqual({ rank: null, points: 40, percentile: null });
  });

  test("a service token → FORBIDDEN", async () => {
    const res = await h.call("GET", "/trpc/points.me", { token: await h.service(["flexibility.admin"]) });
    expect(res.status, res.text).toBe(403);
  });
});
