import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  createLogger,
  createMetrics,
  type Platform,
  settleDueCommitments,
  unconfiguredPlatform,
} from "@celine/core";
import {
  commitments,
  meterChunks,
  type NewCommitmentRow,
  outbox,
  pointsLedger,
  preferences,
  settlements,
} from "@celine/core/db";
import { createSystemTestCtx } from "@celine/core/testing";
import { type DigitalTwin, startDigitalTwin } from "@celine/fakes";
import { createDigitalTwinClient, createTokenProvider } from "@celine/platform";
import { eq, sql } from "drizzle-orm";
import { createClock, HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// GET /api/points/me, GET /api/leaderboard, PUT /api/points/me/preferences and their tRPC twins:
// participant-facing, each caller sees only their own numbers; the board is anonymous.
// Points are the ledger's (flexibility_points_ledger: a settlement, restatement or manual entry per
// commitment); seasons and weeks are community time (Europe/Rome: CET, UTC+1, until 29 March 2026,
// CEST, UTC+2, after). The method is config/flexibility.yaml's: 2-month seasons from 2025-09-01,
// a weekly streak (+1 a week with a delivered window, −1 a week without, never below
// round(best × 0.5) half to even; multiplier min(1 + 0.05 × level, 1.5)).

/** Thursday 2026-04-09 12:00 CEST, in the ISO week of Monday 6 April. */
const NOW = new Date("2026-04-09T10:00:00Z");
/** The season of 1 March – 1 May 2026 (the fourth from 2025-09-01), local midnights. */
const SEASON = { start: "2026-02-28T23:00:00.000Z", end: "2026-04-30T22:00:00.000Z" };
const HOUR = 3_600_000;
const DAY = 86_400_000;

let h: Harness;
let fake: DigitalTwin;
// The app reads deps.platform on every request: tests swap the DT in and out of this object.
const platform: Platform = { ...unconfiguredPlatform };
const clock = createClock(NOW.toISOString());

beforeAll(async () => {
  h = await createHarness({ now: clock.now, platform });
  fake = await startDigitalTwin({ issuer: h.issuer });
}, HOOK_TIMEOUT);
afterAll(async () => {
  await fake.close();
  await h.close();
});
beforeEach(async () => {
  await h.database.db.execute(
    sql`truncate ${commitments}, ${preferences}, ${outbox}, ${pointsLedger}, ${settlements}, ${meterChunks}`,
  );
  clock.set(NOW);
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
/**
 * A commitment as settlement would have left it (settled, delivered, unless told otherwise). A
 * settled row gets its ledger entry (manual for a hand settlement), so reward_points_actual is the
 * sum of its entries as settlement keeps it.
 */
async function seed(userId: string, values: Partial<NewCommitmentRow> & { start: string; points?: number }) {
  seq += 1;
  const start = new Date(values.start);
  const [row] = await h.database.db
    .insert(commitments)
    .values({
      userId,
      suggestionId: `w-${seq}`,
      communityId: "rec-a",
      deviceId: `dev-${userId}`,
      periodStart: start,
      periodEnd: new Date(start.getTime() + HOUR),
      committedAt: new Date(start.getTime() - DAY),
      status: "settled",
      rewardPointsEstimated: 10,
      rewardPointsActual: values.points ?? 0,
      settledAt: new Date(start.getTime() + DAY),
      settlementOutcome: "delivered",
      settlementPointsPerKwh: 15,
      settlementBonusPct: 0,
      settlementRevision: values.status === undefined || values.status === "settled" ? 1 : 0,
      ...values,
    })
    .returning();
  if (!row) throw new Error("seed insert returned no row");
  if (row.status === "settled") {
    await h.database.db.insert(pointsLedger).values({
      commitmentId: row.id,
      userId,
      communityId: row.communityId,
      kind: row.settlementOutcome === "manual" ? "manual" : "settlement",
      points: row.rewardPointsActual ?? 0,
      revision: 1,
      createdAt: row.settledAt ?? start,
    });
  }
  return row;
}

/** The settlement run, as the listener starts it after the daily flow. */
async function runSettlement(at: string) {
  clock.set(at);
  const ctx = createSystemTestCtx({ db: h.database.db, now: clock.now, platform });
  return settleDueCommitments({ ctx });
}

/** Hourly readings of `dev-<sub>` in rec-a from 2026-03-10 to NOW: 0.5 kWh, `inWindow(hour)` in 2026-04-08 09:00–12:00Z. */
function seedReadings(sub: string, inWindow: (at: number) => number) {
  const rows = [];
  for (let at = Date.parse("2026-03-10T00:00:00Z"); at < NOW.getTime(); at += HOUR) {
    const window = at >= Date.parse("2026-04-08T09:00:00Z") && at < Date.parse("2026-04-08T12:00:00Z");
    rows.push({
      ts: new Date(at).toISOString().slice(0, 19),
      device_id: `dev-${sub}`,
      consumption_kwh: window ? inWindow(at) : 0.5,
    });
  }
  fake.addConsumption("rec-a", rows);
}

/** An operator records yesterday's window (2026-04-08 11:00–14:00 CEST) for `sub`: a member may commit to open windows only. */
async function recordYesterday(sub: string): Promise<string> {
  const created = await h.call("POST", "/api/commitments", {
    token: await h.service(["flexibility.admin"], "svc-operator"),
    body: {
      user_id: sub,
      suggestion_id: `w-${sub}`,
      community_id: "rec-a",
      device_id: `dev-${sub}`,
      period_start: "2026-04-08T09:00:00Z",
      period_end: "2026-04-08T12:00:00Z",
      reward_points_estimated: 10,
    },
  });
  expect(created.status, created.text).toBe(201);
  return created.json.id;
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
      streak: { current: 0, best: 0, multiplier: 1 },
      counts: { committed: 0, settled: 0, fulfilled: 0, cancelled: 0, rejected: 0 },
      fulfilment_rate: null,
      recent_settlements: [],
    });
  });

  test("totals from the ledger, this season's points, level, the weekly streak in force this week, counts and the latest settlements", async () => {
    // Alice's ISO weeks (community time), what settlement made of each, and the streak level after it.
    await seed("alice", { start: "2026-01-12T09:00:00Z", points: 40 }); // wk 12 Jan: D → level 1
    await seed("alice", { start: "2026-01-20T09:00:00Z", points: 11 }); // wk 19 Jan: D → 2
    await seed("alice", { start: "2026-01-27T09:00:00Z", points: 12 }); // wk 26 Jan: D and N → 3
    await seed("alice", { start: "2026-01-29T09:00:00Z", settlementOutcome: "not_delivered" });
    await seed("alice", { start: "2026-02-03T09:00:00Z", points: 13 }); // wk 2 Feb: D → 4
    await seed("alice", { start: "2026-02-10T09:00:00Z", points: 14 }); // wk 9 Feb: D → 5 (best 5)
    // wk 16 Feb: N only → max(5 − 1, round(5 × 0.5) = 2, half to even) = 4.
    await seed("alice", { start: "2026-02-17T09:00:00Z", settlementOutcome: "not_delivered" });
    // wk 23 Feb: two hand settlements (unjudged) → unchanged 4. Saturday 23:30 local is last
    // season; Sunday 1 March 00:30 local (still 28 February in UTC) is this season.
    const manual = {
      settlementOutcome: "manual",
      settlementPointsPerKwh: null,
      settlementBonusPct: null,
    } as const;
    await seed("alice", { start: "2026-02-28T22:30:00Z", points: 5, ...manual });
    await seed("alice", { start: "2026-02-28T23:30:00Z", points: 7, ...manual });
    // wk 2 Mar: no commitment → 3. wk 9 Mar: N only → max(2, 2) = 2. wk 16 Mar: none → max(1, 2) = 2.
    await seed("alice", { start: "2026-03-10T09:00:00Z", settlementOutcome: "not_delivered" });
    // wk 23 Mar: D on Monday 00:30 local (Sunday 22 March in UTC) → 3.
    await seed("alice", { start: "2026-03-22T23:30:00Z", points: 20 });
    // wk 30 Mar: a window still waiting for its readings, and a no_baseline: unjudged → unchanged 3.
    await seed("alice", {
      start: "2026-03-31T09:00:00Z",
      status: "committed",
      rewardPointsActual: null,
      settledAt: null,
      settlementOutcome: null,
    });
    await seed("alice", {
      start: "2026-04-01T09:00:00Z",
      points: 6,
      settlementOutcome: "no_baseline",
      actualKwh: "0.8",
    });
    // This week (6 April) counts from next week on: its miss does not lower the streak in force.
    await seed("alice", {
      start: "2026-04-07T09:00:00Z",
      settlementOutcome: "not_delivered",
      actualKwh: "0.52",
      baselineKwh: "0.5",
      deliveredKwh: "0.02",
      settlementBonusPct: 15,
    });
    await seed("alice", {
      start: "2026-04-10T09:00:00Z",
      status: "committed",
      rewardPointsActual: null,
      settledAt: null,
      settlementOutcome: null,
    });
    for (const status of ["cancelled", "rejected"] as const) {
      await seed("alice", {
        start: status === "cancelled" ? "2026-04-05T09:00:00Z" : "2026-04-04T09:00:00Z",
        status,
        rewardPointsActual: null,
        settledAt: null,
        settlementOutcome: null,
      });
    }
    await seed("bob", { start: "2026-04-01T09:00:00Z", points: 999, deliveredKwh: "99" });

    const res = await h.call("GET", "/api/points/me", { token: await h.participant("alice") });

    expect(res.status, res.text).toBe(200);
    // 40 + 11 + 12 + 13 + 14 + 5 + 7 + 20 + 6 = 128 → level 2, next at 200. This season (from
    // 1 March local): 7 + 0 + 20 + 6 + 0 = 33.
    expect(res.json).toMatchObject({
      total_points: 128,
      season: { ...SEASON, points: 33 },
      level: 2,
      next_level_at: 200,
      streak: { current: 3, best: 5, multiplier: 1.15 },
      counts: { committed: 2, settled: 13, fulfilled: 6, cancelled: 1, rejected: 1 },
      // 6 delivered of 13 settled = 0.461538… → 0.4615.
      fulfilment_rate: 0.4615,
    });
    // The latest 10 by settlement time.
    expect(
      res.json.recent_settlements.map((r: { outcome: string; points: number }) => [r.outcome, r.points]),
    ).toEqual([
      ["not_delivered", 0],
      ["no_baseline", 6],
      ["delivered", 20],
      ["not_delivered", 0],
      ["manual", 7],
      ["manual", 5],
      ["not_delivered", 0],
      ["delivered", 14],
      ["delivered", 13],
      ["not_delivered", 0],
    ]);
    expect(res.json.recent_settlements[0]).toEqual({
      commitment_id: expect.any(String),
      period_start: "2026-04-07T09:00:00.000Z",
      period_end: "2026-04-07T10:00:00.000Z",
      actual_kwh: 0.52,
      baseline_kwh: 0.5,
      delivered_kwh: 0.02,
      points_per_kwh: 15,
      bonus: 0.15,
      points: 0,
      outcome: "not_delivered",
    });
    expect(res.json.recent_settlements[4]).toMatchObject({
      outcome: "manual",
      points_per_kwh: null,
      bonus: null,
    });
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
    seedReadings("dora", () => 1.025);
    const id = await recordYesterday("dora");
    await runSettlement(NOW.toISOString());

    const res = await h.call("GET", "/api/points/me", { token: await h.participant("dora") });
    // 3 × 1.025 = 3.075 against a baseline of 3 × 0.5: 1.575 kWh shifted, fraction 1.05 → effort
    // 2.5; 1.575 × 15 × 2.5 = 59.0625 → 59 points.
    expect(res.json.recent_settlements).toEqual([
      {
        commitment_id: id,
        period_start: "2026-04-08T09:00:00.000Z",
        period_end: "2026-04-08T12:00:00.000Z",
        actual_kwh: 3.075,
        baseline_kwh: 1.5,
        delivered_kwh: 1.575,
        points_per_kwh: 15,
        bonus: 0,
        points: 59,
        outcome: "delivered",
      },
    ]);
    expect(res.json).toMatchObject({
      total_points: 59,
      season: { points: 59 },
      counts: { settled: 1, fulfilled: 1 },
      // Delivered this week: it lifts the streak from next week on.
      streak: { current: 0, best: 0, multiplier: 1 },
    });
  });

  test("a restatement's delta entry moves total_points: a reading corrected down the next day costs 17 points", async () => {
    useFakeDt();
    seedReadings("ezra", () => 1.0);
    await recordYesterday("ezra");
    await runSettlement(NOW.toISOString());
    const token = await h.participant("ezra");
    // 3.0 − 1.5 = 1.5 shifted (fraction 1.0 → effort 2.5) × 15 = 56.25 → 56.
    expect((await h.call("GET", "/api/points/me", { token })).json.total_points).toBe(56);

    // The meter operator corrects Wednesday 13:00–14:00 local from 1.0 to 0.8 kWh.
    fake.clearData();
    seedReadings("ezra", (at) => (at === Date.parse("2026-04-08T11:00:00Z") ? 0.8 : 1.0));
    const summary = await runSettlement("2026-04-10T10:00:00.000Z");

    expect(summary.restated).toBe(1);
    const res = await h.call("GET", "/api/points/me", { token });
    // 2.8 − 1.5 = 1.3 shifted (fraction 0.867 → effort 2) × 15 = 39: a delta of −17 on the ledger.
    expect(res.json).toMatchObject({ total_points: 39, season: { points: 39 }, level: 1 });
    expect(res.json.recent_settlements).toEqual([
      expect.objectContaining({ actual_kwh: 2.8, delivered_kwh: 1.3, points: 39 }),
    ]);
    const ledger = await h.database.db.select().from(pointsLedger).where(eq(pointsLedger.userId, "ezra"));
    expect(ledger.map((e) => [e.kind, e.points, e.revision])).toEqual([
      ["settlement", 56, 1],
      ["restatement", -17, 2],
    ]);
  });
});

describe("GET /api/leaderboard", () => {
  test("top 10 anonymous, equal points share a rank (1-1-3), my rank, points and percentile", async () => {
    const points = [50, 50, 30, 20, 20, 10, 9, 8, 7, 6, 5, 4];
    for (const [i, p] of points.entries()) await seed(`m${i}`, { start: "2026-04-02T09:00:00Z", points: p });
    // Seasons start at community-local midnight: 1 March 00:30 local (28 February in UTC) is this
    // season's, 28 February 23:30 local is the last one's.
    await seed("me", { start: "2026-02-28T23:30:00Z", points: 20 });
    await seed("other-community", { start: "2026-04-03T09:00:00Z", points: 500, communityId: "rec-b" });
    await seed("last-season", { start: "2026-02-28T22:30:00Z", points: 500 });

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
