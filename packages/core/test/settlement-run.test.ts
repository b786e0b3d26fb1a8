import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type DigitalTwin, type OidcIssuer, startDigitalTwin, startOidcIssuer } from "@celine/fakes";
import { createDigitalTwinClient, createTokenProvider } from "@celine/platform";
import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "../src/db/database.ts";
import { commitments, meterChunks, outbox, pointsLedger, settlements } from "../src/db/index.ts";
import {
  type Ctx,
  createLogger,
  DEFAULT_CORE_CONFIG,
  type DigitalTwin as DigitalTwinPort,
  getSettlement,
  type LogRecord,
  settleDueCommitments,
  UpstreamError,
  unconfiguredPlatform,
} from "../src/index.ts";
import { createMetrics } from "../src/metrics.ts";
import type { StoredSettlement } from "../src/schemas/settlement.ts";
import { createSystemTestCtx, createTestDatabase } from "../src/testing/index.ts";

// Settlement end to end: the verb over a real database, the real DT adapter, the DT contract fake.
// Europe/Rome is CEST (UTC+2) from 29 March 2026. The default method (config/flexibility.yaml):
// High 4 of 7 over 90 days, 15 points per shifted kWh, effort tiers 1 / 1.5 / 2 / 2.5.

let database: Database;
let issuer: OidcIssuer;
let fake: DigitalTwin;
let dt: DigitalTwinPort;
let logs: LogRecord[];

const COMMUNITY = "rec-a";
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Thursday 2026-04-09 05:00 CEST: the daily flow has run for Wednesday. */
const NOW = new Date("2026-04-09T03:00:00Z");
/** Wednesday 11:00–14:00 CEST. */
const WEDNESDAY = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };

beforeAll(async () => {
  database = await createTestDatabase();
  issuer = await startOidcIssuer();
  fake = await startDigitalTwin({ issuer });
  dt = createDigitalTwinClient({
    baseUrl: fake.url,
    tokens: createTokenProvider({
      issuerUrl: issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    }),
    metrics: createMetrics(),
    log: createLogger({ level: "silent" }),
    retries: 0,
  });
}, 60_000);
afterAll(async () => {
  await fake.close();
  await issuer.close();
  await database.close();
});
beforeEach(async () => {
  await database.db.execute(
    sql`truncate ${commitments}, ${outbox}, ${pointsLedger}, ${settlements}, ${meterChunks}`,
  );
  fake.reset();
  fake.clearCalls();
  fake.clearData();
  logs = [];
});

function ctxAt(now: Date, port: DigitalTwinPort = dt): Ctx {
  const ctx = createSystemTestCtx({
    db: database.db,
    now: () => now,
    platform: { ...unconfiguredPlatform, dt: port },
  });
  return { ...ctx, log: createLogger({ level: "debug", sink: (r) => logs.push(r) }) };
}

/** Hourly rows for a device: `kwh(hourStartMs)` per hour over [from, to). */
function seedHours(device: string, from: string, to: string, kwh: (at: number) => number | string) {
  const rows = [];
  for (let at = Date.parse(from); at < Date.parse(to); at += HOUR) {
    rows.push({ ts: new Date(at).toISOString().slice(0, 19), device_id: device, consumption_kwh: kwh(at) });
  }
  fake.addConsumption(COMMUNITY, rows);
}

/** 0.5 kWh every hour for 100 days before `until`, `inWindow` kWh per hour inside the window. */
function seedMember(device: string, window: { start: string; end: string }, inWindow: number, until = NOW) {
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  seedHours(device, new Date(until.getTime() - 100 * DAY).toISOString(), until.toISOString(), (at) =>
    at >= start && at < end ? inWindow : 0.5,
  );
}

async function commit(values: {
  userId: string;
  start: string;
  end: string;
  deviceId?: string | null;
  communityId?: string | null;
  estimated?: number;
  status?: "committed" | "settled";
  outcome?: "delivered" | "not_delivered";
  raw?: number;
}) {
  const start = new Date(values.start);
  const [row] = await database.db
    .insert(commitments)
    .values({
      userId: values.userId,
      suggestionId: `w-${values.start}`,
      communityId: values.communityId === undefined ? COMMUNITY : values.communityId,
      deviceId: values.deviceId === undefined ? `dev-${values.userId}` : values.deviceId,
      periodStart: start,
      periodEnd: new Date(values.end),
      rewardPointsEstimated: values.estimated ?? 40,
      // Shown the day before: no same-day adjustment unless a test asks for one.
      noticeAt: new Date(start.getTime() - DAY),
      status: values.status ?? "committed",
      settlementOutcome: values.outcome ?? null,
      settlementRaw: values.raw ?? null,
      settlementRevision: values.status === "settled" ? 1 : 0,
      rewardPointsActual: values.status === "settled" ? Math.round(values.raw ?? 0) : null,
    })
    .returning();
  if (!row) throw new Error("insert failed");
  return row;
}

async function rowOf(id: string) {
  const [row] = await database.db.select().from(commitments).where(eq(commitments.id, id));
  if (!row) throw new Error(`no row ${id}`);
  return row;
}

const nudges = () => database.db.select().from(outbox).where(eq(outbox.kind, "nudge"));
const ledgerOf = (id: string) =>
  database.db
    .select({ kind: pointsLedger.kind, points: pointsLedger.points, revision: pointsLedger.revision })
    .from(pointsLedger)
    .where(eq(pointsLedger.commitmentId, id))
    .orderBy(asc(pointsLedger.id));
const readingCalls = () => fake.calls.filter((call) => call.path.endsWith("/rec_settlement_1h"));
/** The service reading the explanation as the API would (a system ctx sees every commitment). */
const explanationOf = (id: string) => getSettlement({ ctx: ctxAt(NOW), input: { id } });

describe("settling against the reference baseline", () => {
  test("a Wednesday window with 90 days of history: 1.5 kWh shifted on a 1.5 kWh baseline → effort 2.5, 56 points, every number stored", async () => {
    seedMember("dev-alice", WEDNESDAY, 1.0);
    const row = await commit({ userId: "alice", ...WEDNESDAY, estimated: 12 });

    const summary = await settleDueCommitments({ ctx: ctxAt(NOW) });

    expect(summary).toMatchObject({ claimed: 1, settled: { delivered: 1 }, waiting: 0, restated: 0 });
    const settled = await rowOf(row.id);
    // 3 × 1.0 actual, 3 × 0.5 baseline → shifted 1.5 (fraction 1.0 → 2.5) × 15 × 1 (accuracy unknown) × 1 (no streak).
    expect(settled).toMatchObject({
      status: "settled",
      settlementOutcome: "delivered",
      rewardPointsActual: 56,
      rewardPointsEstimated: 12,
      settlementRevision: 1,
      settlementRaw: 56.25,
      settlementPointsPerKwh: 15,
      settlementBonusPct: 0,
      baselineDays: 4,
      settledAt: NOW,
    });
    expect([settled.actualKwh, settled.baselineKwh, settled.deliveredKwh].map(Number)).toEqual([3, 1.5, 1.5]);
    expect(await ledgerOf(row.id)).toEqual([{ kind: "settlement", points: 56, revision: 1 }]);

    const explained = await explanationOf(row.id);
    expect(explained).toMatchObject({
      outcome: "delivered",
      points: 56,
      revision: 1,
      raw: 56.25,
      reward_points_actual: 56,
      multipliers: { effort: 2.5, event: 1, accuracy: 1, streak: 1 },
      accuracy: { known: false, intervals: 0, surplus_intervals: 0 },
      cap: { kind: "none", value: null },
      totals: {
        actual_kwh: 3,
        baseline_kwh: 1.5,
        adjusted_baseline_kwh: 1.5,
        shifted_kwh: 1.5,
        qualifies: true,
      },
    });
    expect(explained.intervals.map((i) => [i.start, i.actual_kwh, i.baseline_kwh])).toEqual([
      ["2026-04-08T09:00:00.000Z", 1, 0.5],
      ["2026-04-08T10:00:00.000Z", 1, 0.5],
      ["2026-04-08T11:00:00.000Z", 1, 0.5],
    ]);
    // Weekdays within 90 days before Wednesday 2026-04-08 with a reading: the newest first.
    const first = explained.intervals[0];
    expect(first?.candidates[0]).toEqual({ date: "2026-04-07", kwh: 0.5, used: true, why: "selected" });
    expect(first?.candidates.filter((c) => c.used)).toHaveLength(4);
    expect(first?.candidates.filter((c) => c.why === "not_highest")).toHaveLength(3);

    const [nudge] = await nudges();
    expect(nudge?.payload).toMatchObject({
      event_type: "commitment_settled",
      user_id: "alice",
      community_id: COMMUNITY,
      facts: {
        commitment_id: row.id,
        actual_kwh: "3",
        reward_points_actual: "56",
        period: "2026-04-08",
        outcome: "delivered",
      },
    });
  });

  test("the look-back is read from the DT once per device: one call per needed day (same-type days only), and a later run asks only for the needed days inside the restatement horizon", async () => {
    seedMember("dev-bea", WEDNESDAY, 1.0, new Date(NOW.getTime() + 2 * DAY));
    await commit({ userId: "bea", ...WEDNESDAY });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    const first = readingCalls().map(
      (c) => (c.body as { payload: { window_start: string } }).payload.window_start,
    );
    // The 64 weekdays of the 90 before Wednesday (the pool of a weekday window) and the window's own
    // day: one call per UTC day, each asked once; weekends are never asked for.
    expect(first).toHaveLength(65);
    expect(new Set(first).size).toBe(65);
    expect(first.filter((d) => [0, 6].includes(new Date(`${d}Z`).getUTCDay()))).toEqual([]);
    fake.clearCalls();

    const thursday = { start: "2026-04-09T09:00:00Z", end: "2026-04-09T12:00:00Z" };
    await commit({ userId: "bea", ...thursday });
    await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + DAY)) });

    const later = readingCalls().map(
      (c) => (c.body as { payload: { window_start: string } }).payload.window_start,
    );
    // The weekdays fetched when they were younger than 7 days (2026-04-02 … 04-08) and the new day: not 64 again.
    expect(later.sort()).toEqual([
      "2026-04-02T00:00:00",
      "2026-04-03T00:00:00",
      "2026-04-06T00:00:00",
      "2026-04-07T00:00:00",
      "2026-04-08T00:00:00",
      "2026-04-09T00:00:00",
    ]);
  });

  test("a day on which the member held another commitment at that clock time is not in the pool (event_day)", async () => {
    seedMember("dev-cleo", WEDNESDAY, 1.0);
    // Last Friday the member committed 11:00–14:00 and consumed 3 kWh an hour: not their habit.
    const friday = { start: "2026-04-03T09:00:00Z", end: "2026-04-03T12:00:00Z" };
    seedHours("dev-cleo", friday.start, friday.end, () => 3);
    await commit({ userId: "cleo", ...friday, status: "settled", outcome: "delivered", raw: 10 });
    const row = await commit({ userId: "cleo", ...WEDNESDAY });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const explained = await explanationOf(row.id);
    const friday3 = explained.intervals[0]?.candidates.find((c) => c.date === "2026-04-03");
    expect(friday3).toEqual({ date: "2026-04-03", kwh: 3, used: false, why: "event_day" });
    expect(explained.intervals.map((i) => i.baseline_kwh)).toEqual([0.5, 0.5, 0.5]);
  });

  test("same-day adjustment: notice at 09:40 after an unusual morning raises the baseline, at most 20 %", async () => {
    seedMember("dev-dana", WEDNESDAY, 1.0);
    // 07:00–09:00 local on the day (05:00–07:00Z): 1.5 kWh instead of 0.5.
    seedHours("dev-dana", "2026-04-08T05:00:00Z", "2026-04-08T07:00:00Z", () => 1.5);
    const row = await commit({ userId: "dana", ...WEDNESDAY });
    await database.db
      .update(commitments)
      .set({ noticeAt: new Date("2026-04-08T07:40:00Z") })
      .where(eq(commitments.id, row.id));

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const explained = await explanationOf(row.id);
    // Intervals wholly within 07:40–09:40 local: 08:00–09:00 only. A = 1.5 − 0.5 = 1.0, capped at 0.1 (20 % of 0.5).
    expect(explained.adjustment).toMatchObject({
      applies: true,
      intervals: [{ start: "2026-04-08T06:00:00.000Z", actual_kwh: 1.5, baseline_kwh: 0.5 }],
      per_interval_kwh: 1,
    });
    expect(explained.intervals.map((i) => i.adjusted_kwh)).toEqual([0.6, 0.6, 0.6]);
    // 3.0 − 1.8 = 1.2 shifted, fraction 0.667 → effort 2.0: 1.2 × 15 × 2 = 36.
    expect(explained.totals).toMatchObject({ adjusted_baseline_kwh: 1.8, shifted_kwh: 1.2 });
    expect(explained.points).toBe(36);
  });

  test("the forecast's measured hours set the accuracy: 1 of 3 with a surplus → the 0.5 floor", async () => {
    seedMember("dev-emil", WEDNESDAY, 1.0);
    fake.setForecast(COMMUNITY, [
      { datetime: "2026-04-08T09:00:00", prediction: 1.2, period: "actual" },
      { datetime: "2026-04-08T10:00:00", prediction: -0.3, period: "actual" },
      { datetime: "2026-04-08T11:00:00", prediction: 0, period: "actual" },
      { datetime: "2026-04-08T12:00:00", prediction: 2, period: "actual" },
    ]);
    const row = await commit({ userId: "emil", ...WEDNESDAY });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const explained = await explanationOf(row.id);
    expect(explained.accuracy).toEqual({ known: true, intervals: 3, surplus_intervals: 1 });
    expect(explained.multipliers?.accuracy).toBe(0.5);
    // 1.5 × 15 × 2.5 × 0.5 = 28.125 → 28.
    expect(explained.points).toBe(28);
  });

  test("a small shift is not delivered: 0.01 kWh over the baseline earns 0 points", async () => {
    seedMember("dev-finn", WEDNESDAY, 0.5);
    seedHours("dev-finn", "2026-04-08T09:00:00Z", "2026-04-08T10:00:00Z", () => 0.51);
    const row = await commit({ userId: "finn", ...WEDNESDAY });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    expect(await rowOf(row.id)).toMatchObject({ settlementOutcome: "not_delivered", rewardPointsActual: 0 });
    const explained = await explanationOf(row.id);
    expect(explained.totals).toMatchObject({ shifted_kwh: 0.01, qualifies: false });
    expect(explained.reason).toContain("below");
  });

  test("the weekly streak: a delivered window in each of the two weeks before lifts this week's multiplier to 1.10", async () => {
    seedMember("dev-gus", WEDNESDAY, 1.0);
    await commit({
      userId: "gus",
      start: "2026-03-25T10:00:00Z",
      end: "2026-03-25T11:00:00Z",
      status: "settled",
      outcome: "delivered",
      raw: 5,
    });
    await commit({
      userId: "gus",
      start: "2026-04-01T10:00:00Z",
      end: "2026-04-01T11:00:00Z",
      status: "settled",
      outcome: "delivered",
      raw: 5,
    });
    const row = await commit({ userId: "gus", ...WEDNESDAY });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const explained = await explanationOf(row.id);
    expect(explained.streak).toEqual({ level: 2, best: 2, week: "2026-04-06" });
    expect(explained.multipliers?.streak).toBe(1.1);
    // 1.5 × 15 × 2.5 × 1.1 = 61.875 → 62.
    expect(explained.points).toBe(62);
    expect((await rowOf(row.id)).settlementBonusPct).toBe(10);
  });

  test("the cap: with 5 qualifying windows in the 30 days before, points are at most 2 × their mean raw", async () => {
    seedMember("dev-hana", WEDNESDAY, 1.0);
    for (let d = 1; d <= 5; d++) {
      const start = new Date(Date.parse("2026-03-20T16:00:00Z") + d * DAY).toISOString();
      const end = new Date(Date.parse(start) + HOUR).toISOString();
      await commit({ userId: "hana", start, end, status: "settled", outcome: "delivered", raw: 10 + d });
    }
    const row = await commit({ userId: "hana", ...WEDNESDAY });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const explained = await explanationOf(row.id);
    // Mean raw of 11…15 = 13 → cap 26; raw 56.25 (one delivered week → streak 1.05: 59.0625).
    expect(explained.cap).toEqual({ kind: "device", value: 26, windows: 5 });
    expect(explained.points).toBe(26);
  });

  test("too few candidates (two earlier weekdays) → no_baseline: min(round_half_up(actual × 15 × 0.5), estimate)", async () => {
    seedHours("dev-ivo", "2026-04-06T00:00:00Z", "2026-04-09T00:00:00Z", (at) =>
      at >= Date.parse(WEDNESDAY.start) && at < Date.parse(WEDNESDAY.end) ? 1 : 0.5,
    );
    const capped = await commit({ userId: "ivo", ...WEDNESDAY, estimated: 12 });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    // 3.0 × 15 × 0.5 = 22.5 → 23, at most the estimate 12.
    expect(await rowOf(capped.id)).toMatchObject({
      settlementOutcome: "no_baseline",
      rewardPointsActual: 12,
    });
    const explained = await explanationOf(capped.id);
    expect(explained.intervals[0]?.baseline_kwh).toBeNull();
    expect(explained.intervals[0]?.candidates).toHaveLength(2);
  });
});

describe("rows that cannot be settled yet", () => {
  test("a device resolved late: without one the row stays live; once the DT lists it, it is settled and recorded", async () => {
    fake.setProfile("jan", { sub: "jan" });
    fake.setMembership("jan", {
      community: { key: COMMUNITY, name: "A" },
      member: { key: "m-jan", name: "Jan", role: "consumer", area: "x", status: "active" },
    });
    const row = await commit({ userId: "jan", ...WEDNESDAY, deviceId: null, communityId: null });

    expect(await settleDueCommitments({ ctx: ctxAt(NOW) })).toMatchObject({ waiting: 1, settled: {} });
    expect(await rowOf(row.id)).toMatchObject({
      status: "committed",
      communityId: COMMUNITY,
      deviceId: null,
    });

    fake.setAssets("jan", [{ asset_type: "meter", key: "m1", name: "Meter", sensor_id: "dev-jan" }]);
    seedMember("dev-jan", WEDNESDAY, 1.0);
    await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + HOUR)) });
    expect(await rowOf(row.id)).toMatchObject({
      status: "settled",
      deviceId: "dev-jan",
      settlementOutcome: "delivered",
    });
  });

  test("readings not in yet → stays live and is retried; at the deadline (7 days) it closes with 0 points and outcome no_data", async () => {
    const row = await commit({ userId: "kim", ...WEDNESDAY });
    expect(await settleDueCommitments({ ctx: ctxAt(NOW) })).toMatchObject({ waiting: 1 });
    expect((await rowOf(row.id)).status).toBe("committed");

    await settleDueCommitments({ ctx: ctxAt(new Date(Date.parse(WEDNESDAY.end) + 7 * DAY)) });
    expect(await rowOf(row.id)).toMatchObject({
      status: "settled",
      settlementOutcome: "no_data",
      rewardPointsActual: 0,
    });
    expect(await ledgerOf(row.id)).toEqual([{ kind: "settlement", points: 0, revision: 1 }]);
  });

  test("no device even at the deadline → outcome no_device", async () => {
    const row = await commit({ userId: "lou", ...WEDNESDAY, deviceId: null });
    await settleDueCommitments({ ctx: ctxAt(new Date(Date.parse(WEDNESDAY.end) + 7 * DAY)) });
    expect(await rowOf(row.id)).toMatchObject({ settlementOutcome: "no_device", rewardPointsActual: 0 });
    expect((await explanationOf(row.id)).reason).toContain("no metering device");
  });

  test("an hour still missing at the deadline: a qualifying shift is paid on what came; a non-qualifying one is not judged", async () => {
    const deadline = new Date(Date.parse(WEDNESDAY.end) + 7 * DAY);
    const gap = Date.parse("2026-04-08T11:00:00Z");
    seedHours("dev-mo", "2026-01-01T00:00:00Z", deadline.toISOString(), (at) =>
      at === gap ? "n/a" : at >= Date.parse(WEDNESDAY.start) && at < gap ? 1.5 : 0.5,
    );
    const paid = await commit({ userId: "mo", ...WEDNESDAY, deviceId: "dev-mo" });
    const tuesday = { start: "2026-04-07T09:00:00Z", end: "2026-04-07T12:00:00Z" };
    seedHours("dev-nel", "2026-01-01T00:00:00Z", deadline.toISOString(), (at) =>
      at === Date.parse("2026-04-07T11:00:00Z") ? "n/a" : 0.5,
    );
    const unjudged = await commit({ userId: "nel", ...tuesday, deviceId: "dev-nel" });

    await settleDueCommitments({ ctx: ctxAt(deadline) });

    // Two hours of 1.5 against 2 × 0.5: 2.0 shifted (fraction 2.0 → 2.5) × 15 = 75.
    const explained = await explanationOf(paid.id);
    expect(explained).toMatchObject({
      outcome: "delivered",
      points: 75,
      totals: { actual_kwh: 3, baseline_kwh: 1, intervals_counted: 2, intervals_missing: 1 },
    });
    expect(explained.intervals[2]).toMatchObject({ actual_kwh: null });
    expect(await rowOf(unjudged.id)).toMatchObject({ settlementOutcome: "no_data", rewardPointsActual: 0 });
  });

  test("a window that has not ended is not due", async () => {
    const row = await commit({ userId: "ola", start: "2026-04-09T02:00:00Z", end: "2026-04-09T04:00:00Z" });
    expect(await settleDueCommitments({ ctx: ctxAt(NOW) })).toMatchObject({ claimed: 0 });
    expect((await rowOf(row.id)).status).toBe("committed");
  });
});

describe("restatement", () => {
  test("a reading corrected the next day restates the settlement: revision 2, a ledger delta, the explanation of both revisions stored; later commitments untouched", async () => {
    seedMember("dev-pia", WEDNESDAY, 1.0, new Date(NOW.getTime() + 2 * DAY));
    const row = await commit({ userId: "pia", ...WEDNESDAY });
    const thursday = { start: "2026-04-09T09:00:00Z", end: "2026-04-09T12:00:00Z" };
    const later = await commit({ userId: "pia", ...thursday });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    expect((await rowOf(row.id)).rewardPointsActual).toBe(56);

    // The meter operator corrects 11:00–12:00 on Wednesday from 1.0 to 1.6 kWh.
    fake.addConsumption(COMMUNITY, [
      { ts: "2026-04-08T09:00:00", device_id: "dev-pia", consumption_kwh: 1.6 },
    ]);
    const nextDay = new Date(NOW.getTime() + DAY);
    const summary = await settleDueCommitments({ ctx: ctxAt(nextDay) });

    expect(summary).toMatchObject({ restated: 1, settled: { not_delivered: 1 } });
    // 3.6 − 1.5 = 2.1 shifted (fraction 1.4 → 2.5) × 15 = 78.75 → 79: +23.
    expect(await rowOf(row.id)).toMatchObject({
      rewardPointsActual: 79,
      settlementRevision: 2,
      settledAt: NOW,
    });
    expect(await ledgerOf(row.id)).toEqual([
      { kind: "settlement", points: 56, revision: 1 },
      { kind: "restatement", points: 23, revision: 2 },
    ]);
    const explained = await explanationOf(row.id);
    expect(explained).toMatchObject({ revision: 2, points: 79, reward_points_actual: 79 });
    expect(explained.intervals[0]?.actual_kwh).toBe(1.6);
    const stored = await database.db.select().from(settlements).where(eq(settlements.commitmentId, row.id));
    expect(stored.map((s) => [s.revision, s.points])).toEqual([
      [1, 56],
      [2, 79],
    ]);
    // Thursday's settlement (in the same run as the restatement) is its own first revision.
    expect(await rowOf(later.id)).toMatchObject({ settlementRevision: 1 });
    // No second nudge for the restated commitment.
    expect((await nudges()).filter((n) => n.commitmentId === row.id)).toHaveLength(1);
  });

  test("nothing changed → nothing restated: no revision, no ledger entry, no nudge", async () => {
    seedMember("dev-quin", WEDNESDAY, 1.0);
    const row = await commit({ userId: "quin", ...WEDNESDAY });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    const before = await rowOf(row.id);

    const again = await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + DAY)) });

    expect(again).toMatchObject({ claimed: 0, restated: 0 });
    expect(await rowOf(row.id)).toEqual(before);
    expect(await ledgerOf(row.id)).toHaveLength(1);
    expect(await nudges()).toHaveLength(1);
  });

  test("a reading, once seen, is kept when a later answer lacks it", async () => {
    seedMember("dev-rui", WEDNESDAY, 1.0);
    const row = await commit({ userId: "rui", ...WEDNESDAY });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    fake.clearData();

    const summary = await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + DAY)) });

    expect(summary.restated).toBe(0);
    expect((await rowOf(row.id)).rewardPointsActual).toBe(56);
  });

  test("settlements older than 7 days, and windows whose readings are all final, are not re-read", async () => {
    seedMember("dev-sol", WEDNESDAY, 1.0);
    await commit({ userId: "sol", ...WEDNESDAY });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    fake.clearCalls();

    await settleDueCommitments({ ctx: ctxAt(new Date(Date.parse(WEDNESDAY.end) + 7 * DAY + HOUR)) });

    expect(readingCalls()).toHaveLength(0);
  });
});

describe("safety", () => {
  test("two concurrent runs settle each commitment once, with one ledger entry and one nudge each", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      seedMember(`dev-m${i}`, WEDNESDAY, 1.0);
      ids.push((await commit({ userId: `m${i}`, ...WEDNESDAY })).id);
    }

    const runs = await Promise.all([
      settleDueCommitments({ ctx: ctxAt(NOW), input: { batchSize: 3 } }),
      settleDueCommitments({ ctx: ctxAt(NOW), input: { batchSize: 3 } }),
    ]);

    expect(runs.reduce((n, r) => n + (r.settled.delivered ?? 0), 0)).toBe(12);
    expect(runs.reduce((n, r) => n + r.claimed, 0)).toBe(12);
    const entries = await database.db.select().from(pointsLedger);
    expect(entries).toHaveLength(12);
    expect(new Set(entries.map((e) => e.commitmentId)).size).toBe(12);
    const sent = await nudges();
    expect(new Set(sent.map((n) => n.commitmentId)).size).toBe(12);
    expect(sent).toHaveLength(12);
  });

  test("two concurrent restating runs append one delta, not two", async () => {
    seedMember("dev-tea", WEDNESDAY, 1.0, new Date(NOW.getTime() + DAY));
    const row = await commit({ userId: "tea", ...WEDNESDAY });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    fake.addConsumption(COMMUNITY, [
      { ts: "2026-04-08T10:00:00", device_id: "dev-tea", consumption_kwh: 1.6 },
    ]);

    const later = new Date(NOW.getTime() + DAY);
    await Promise.all([
      settleDueCommitments({ ctx: ctxAt(later) }),
      settleDueCommitments({ ctx: ctxAt(later) }),
    ]);

    expect(await ledgerOf(row.id)).toEqual([
      { kind: "settlement", points: 56, revision: 1 },
      { kind: "restatement", points: 23, revision: 2 },
    ]);
  });

  test("one failing device costs only its own rows, a handful of attempts per run, one warning", async () => {
    seedMember("dev-ok", WEDNESDAY, 1.0);
    const ok = await commit({ userId: "uma", ...WEDNESDAY, deviceId: "dev-ok" });
    const broken = await commit({ userId: "vic", ...WEDNESDAY, deviceId: "dev-broken" });
    const broken2 = await commit({
      userId: "vic",
      start: "2026-04-07T09:00:00Z",
      end: "2026-04-07T12:00:00Z",
      deviceId: "dev-broken",
    });
    let brokenCalls = 0;
    const flaky: DigitalTwinPort = {
      ...dt,
      settlementHours(community, device, start, end) {
        if (device !== "dev-broken") return dt.settlementHours(community, device, start, end);
        brokenCalls++;
        return Promise.reject(new UpstreamError("digital-twin", "503 Service Unavailable", 503));
      },
    };

    const summary = await settleDueCommitments({ ctx: ctxAt(NOW, flaky) });

    expect(summary).toMatchObject({ settled: { delivered: 1 }, waiting: 2, failed: 2 });
    expect((await rowOf(ok.id)).status).toBe("settled");
    expect((await rowOf(broken.id)).status).toBe("committed");
    expect((await rowOf(broken2.id)).status).toBe("committed");
    expect(brokenCalls).toBeGreaterThan(0);
    expect(brokenCalls).toBeLessThanOrEqual(4);
    expect(logs.filter((l) => l.msg === "settlement could not read the meter")).toHaveLength(1);
  });

  test("at most SETTLEMENT_CONCURRENCY DT calls are in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const counting: DigitalTwinPort = {
      ...dt,
      async settlementHours(community, device, start, end) {
        peak = Math.max(peak, ++inFlight);
        try {
          return await dt.settlementHours(community, device, start, end);
        } finally {
          inFlight--;
        }
      },
    };
    for (let i = 0; i < 3; i++) {
      seedMember(`dev-r${i}`, WEDNESDAY, 1.0);
      await commit({ userId: `r${i}`, ...WEDNESDAY });
    }
    fake.setLatency(2);
    const ctx = ctxAt(NOW, counting);
    await settleDueCommitments({
      ctx: { ...ctx, config: { ...DEFAULT_CORE_CONFIG, settlementConcurrency: 3 } },
    });
    expect(peak).toBe(3);
  });

  test("readings older than 100 days are deleted by the run", async () => {
    await database.db.insert(meterChunks).values([
      {
        deviceId: "d",
        chunkStart: new Date(NOW.getTime() - 101 * DAY),
        userId: "u",
        intervalSeconds: 3600,
        microKwh: [1],
        fetchedAt: NOW,
        final: true,
      },
      {
        deviceId: "d",
        chunkStart: new Date(NOW.getTime() - 99 * DAY),
        userId: "u",
        intervalSeconds: 3600,
        microKwh: [1],
        fetchedAt: NOW,
        final: true,
      },
    ]);

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const left = await database.db.select({ start: meterChunks.chunkStart }).from(meterChunks);
    expect(left.map((c) => c.start.getTime())).toEqual([NOW.getTime() - 99 * DAY]);
  });
});

export type { StoredSettlement };
