import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { settleDueCommitments } from "@celine/core";
import { commitments, type NewCommitmentRow, pointsLedger, settlements } from "@celine/core/db";
import { createSystemTestCtx } from "@celine/core/testing";
import { coreConfigOf } from "@celine/platform/env";
import { asc, eq } from "drizzle-orm";
import { createApp } from "../src/app.ts";
import { parseApiEnv } from "../src/env.ts";
import { createClock, expectFieldError, expectProblem, HOOK_TIMEOUT, SCOPE, UNKNOWN_ID } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";
import { trpcClientOf, trpcFailure } from "./trpc-client.ts";

// GET /api/commitments/{id}/settlement (tRPC commitments.settlement) and GET /api/settlement/method
// (tRPC settlement.method): every point explained, with the numbers settlement stored. Commitments
// are settled by a real run (settleDueCommitments) reading the Digital Twin contract fake.
// Europe/Rome is CET (UTC+1) until 29 March 2026 and CEST (UTC+2) after; readings are hourly.

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Wednesday 2026-04-08 11:00–14:00 CEST. */
const WINDOW = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
/** Thursday 05:00 CEST: the daily flow has run for Wednesday. */
const RUN_AT = "2026-04-09T03:00:00.000Z";

/** config/flexibility.yaml as GET /api/settlement/method shows it (hourly readings, community time). */
const METHOD = {
  id: "reference-high-4-of-7/v1",
  time_zone: "Europe/Rome",
  reading_interval_minutes: 60,
  season: { anchor_date: "2025-09-01", months_per_season: 2 },
  baseline: { lookback_days: 90, winsorize_pct: 0.05, candidate_days: 7, select_days: 4, min_candidates: 3 },
  adjustment: {
    enabled: true,
    direction: "upward_only",
    max_cap_fraction: 0.2,
    window_hours: 2,
    earliest_notice_local: "02:00",
  },
  points: {
    rate_per_kwh: 15,
    min_shift_kw: 0.05,
    min_shift_fraction: 0.05,
    effort_tiers: [
      { min_fraction: 0.05, multiplier: 1 },
      { min_fraction: 0.25, multiplier: 1.5 },
      { min_fraction: 0.5, multiplier: 2 },
      { min_fraction: 1, multiplier: 2.5 },
    ],
    accuracy_floor: 0.5,
    event_multiplier: 1,
    no_baseline_factor: 0.5,
  },
  streak: { increment: 0.05, max_multiplier: 1.5, max_level: 10, decay_per_week: 1, floor_fraction: 0.5 },
  cap: { multiplier: 2, min_windows: 5, lookback_days: 30 },
  restatement_days: 7,
};

const clock = createClock(RUN_AT);
let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;

beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: clock.now };
  });
  windows = createWindowPublisher(fakes.dt, clock.now);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

// Every test has members of its own (the DT fake's data is kept: the window publisher needs it), and
// every live row a test leaves behind has a window in the future, so no run settles another test's rows.

/** Hourly readings of `sub`'s meter (`meter-<sub>` in `rec-<sub>`) for the 100 days before RUN_AT. */
function seedReadings(sub: string, kwhAt: (at: number) => number) {
  const rows = [];
  for (let at = Date.parse(RUN_AT) - 100 * DAY; at < Date.parse(RUN_AT); at += HOUR) {
    rows.push({
      ts: new Date(at).toISOString().slice(0, 19),
      device_id: `meter-${sub}`,
      consumption_kwh: kwhAt(at),
    });
  }
  fakes.dt.addConsumption(`rec-${sub}`, rows);
}

/** 0.5 kWh every hour, `inWindow` kWh in each hour of WINDOW. */
const flat = (inWindow: number) => (at: number) =>
  at >= Date.parse(WINDOW.start) && at < Date.parse(WINDOW.end) ? inWindow : 0.5;

/** The settlement run, as the listener starts it after the daily flow. */
async function runSettlement(at: string) {
  clock.set(at);
  const ctx = createSystemTestCtx({ db: h.database.db, now: clock.now, platform: fakes.platform });
  return settleDueCommitments({ ctx });
}

/** An operator records yesterday's WINDOW for `sub` (a member may commit to open windows only). */
async function recordWindow(sub: string): Promise<string> {
  const res = await h.call("POST", "/api/commitments", {
    token: await h.service([SCOPE.admin], "svc-operator"),
    body: {
      user_id: sub,
      suggestion_id: `w-${sub}`,
      community_id: `rec-${sub}`,
      device_id: `meter-${sub}`,
      period_start: WINDOW.start,
      period_end: WINDOW.end,
      reward_points_estimated: 10,
    },
  });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

/** Flat history, 1.0 kWh an hour in WINDOW, settled by a run: 1.5 kWh over 1.5 → effort 2.5, 56 points. */
async function settledWindow(sub: string): Promise<string> {
  seedReadings(sub, flat(1.0));
  clock.set(RUN_AT);
  const id = await recordWindow(sub);
  await runSettlement(RUN_AT);
  return id;
}

let seq = 0;
/** A row settlement left behind earlier (history for streak and cap), with its ledger entry. */
async function seedSettled(
  values: Partial<NewCommitmentRow> & { userId: string; start: string; raw: number },
) {
  seq += 1;
  const start = new Date(values.start);
  const points = Math.round(values.raw);
  const [row] = await h.database.db
    .insert(commitments)
    .values({
      suggestionId: `history-${seq}`,
      communityId: `rec-${values.userId}`,
      deviceId: `meter-${values.userId}`,
      periodStart: start,
      periodEnd: new Date(start.getTime() + HOUR),
      committedAt: new Date(start.getTime() - DAY),
      status: "settled",
      settledAt: new Date(start.getTime() + DAY),
      settlementOutcome: "delivered",
      settlementRaw: values.raw,
      settlementRevision: 1,
      rewardPointsActual: points,
      ...values,
    })
    .returning();
  if (!row) throw new Error("seed insert returned no row");
  await h.database.db.insert(pointsLedger).values({
    commitmentId: row.id,
    userId: row.userId,
    communityId: row.communityId,
    kind: "settlement",
    points,
    revision: 1,
    createdAt: row.settledAt ?? start,
  });
  return row;
}

const settlementOf = (token: string | undefined, id: string) =>
  h.call("GET", `/api/commitments/${id}/settlement`, { token });

const trpcFor = (token?: string) => trpcClientOf(h, { token });

/** What the database holds for a commitment: its latest stored settlement, its ledger, its row. */
async function storedFor(id: string) {
  const revisions = await h.database.db
    .select()
    .from(settlements)
    .where(eq(settlements.commitmentId, id))
    .orderBy(asc(settlements.revision));
  const ledger = await h.database.db
    .select()
    .from(pointsLedger)
    .where(eq(pointsLedger.commitmentId, id))
    .orderBy(asc(pointsLedger.revision), asc(pointsLedger.id));
  const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
  return { revisions, latest: revisions.at(-1), ledger, row };
}

/** kWh as whole µkWh: stored energy is exact in µkWh, so sums compare exactly. */
const micro = (kwh: number | null) => Math.round((kwh ?? 0) * 1_000_000);

describe("happy", () => {
  test("a member's window settled on 90 days of history: every number shown is the one settlement stored, and the intervals add up to the totals", async () => {
    // Readings per weekday (hours 06–12 UTC lie on the same local day in CET and CEST): Mon 0.4,
    // Tue 0.5, Wed 0.6, Thu 0.7, Fri 0.3, weekend 0.5; Thursday 2 April a 3.0 spike, Friday 3 April 0.1.
    const byWeekday = [0.5, 0.4, 0.5, 0.6, 0.7, 0.3, 0.5];
    const special: Record<string, number> = { "2026-04-02": 3, "2026-04-03": 0.1 };
    const inWindow: Record<string, number> = {
      "2026-04-08T09": 1.0,
      "2026-04-08T10": 1.2,
      "2026-04-08T11": 1.4,
      // 08:00–09:00 local on the day, before she was told: an unusual morning.
      "2026-04-08T06": 1.5,
      // Her delivered window of Tuesday 31 March (11:00–14:00 local).
      "2026-03-31T09": 1.0,
      "2026-03-31T10": 1.0,
      "2026-03-31T11": 1.0,
    };
    seedReadings("alice", (at) => {
      const iso = new Date(at).toISOString();
      return (
        inWindow[iso.slice(0, 13)] ?? special[iso.slice(0, 10)] ?? byWeekday[new Date(at).getUTCDay()] ?? 0
      );
    });
    // Her history: delivered in the weeks of 23 and 30 March (streak level 2) and, with five other
    // members of rec-alice, seven qualifying windows in the 30 days before (raw 20, 22, 8…12).
    await seedSettled({ userId: "alice", start: "2026-03-24T16:00:00Z", raw: 20 });
    await seedSettled({
      userId: "alice",
      start: "2026-03-31T09:00:00Z",
      periodEnd: new Date("2026-03-31T12:00:00Z"),
      raw: 22,
    });
    for (const [i, raw] of [8, 9, 10, 11, 12].entries()) {
      await seedSettled({
        userId: `neighbour-${i}`,
        communityId: "rec-alice",
        start: `2026-04-0${i + 1}T15:00:00Z`,
        raw,
      });
    }
    fakes.dt.setForecast("rec-alice", [
      { datetime: "2026-04-08T08:00:00", prediction: 1, period: "actual" },
      { datetime: "2026-04-08T09:00:00", prediction: 1.2, period: "actual" },
      { datetime: "2026-04-08T10:00:00", prediction: 0.8, period: "actual" },
      { datetime: "2026-04-08T11:00:00", prediction: -0.2, period: "actual" },
      { datetime: "2026-04-08T12:00:00", prediction: 2, period: "actual" },
    ]);
    // 09:40 local on the day the DT publishes the window; she commits to it then.
    clock.set("2026-04-08T07:40:00Z");
    const alice = await h.participant("alice");
    const created = await h.call("POST", "/api/commitments", {
      token: alice,
      body: windows.publish("alice", { start: WINDOW.start, end: WINDOW.end }),
    });
    expect(created.status, created.text).toBe(201);
    const id: string = created.json.id;

    const summary = await runSettlement(RUN_AT);
    expect(summary).toMatchObject({ claimed: 1, settled: { delivered: 1 } });

    const res = await settlementOf(alice, id);
    expect(res.status, res.text).toBe(200);
    const body: Json = res.json;
    // Each interval's pool: the 64 weekdays of 8 January … 7 April but 31 March (she held a window
    // then): 0.1, 12 × 0.3, 13 × 0.4, 12 × 0.5, 12 × 0.6, 12 × 0.7, 3.0. Sorted, p5 sits at position
    // 62 × 0.05 = 3.1 (0.3) and p95 at 58.9 (0.7), so 0.1 and 3.0 are dropped; the 7 most recent
    // that remain are 0.5, 0.4, 0.6, 0.4, 0.3, 0.7, 0.6 → the top 4 (0.7, 0.6, 0.6, 0.5) average 0.6.
    // Same-day adjustment: notice 09:40 → the hour 08:00–09:00 local (06:00Z), whose pool keeps 31
    // March (0.5): top 4 of 0.5, 0.4, 0.6, 0.5, 0.4, 0.3, 0.7 = 0.575; A = 1.5 − 0.575 = 0.925,
    // at most 20 % of 0.6 = 0.12 → adjusted 0.72 per interval.
    expect(body).toMatchObject({
      commitment_id: id,
      revision: 1,
      settled_at: RUN_AT,
      method: "reference-high-4-of-7/v1",
      outcome: "delivered",
      config: METHOD,
      window: {
        start: "2026-04-08T09:00:00.000Z",
        end: "2026-04-08T12:00:00.000Z",
        hours: 3,
        local_date: "2026-04-08",
        interval_minutes: 60,
      },
      adjustment: {
        notice_at: "2026-04-08T07:40:00.000Z",
        applies: true,
        intervals: [{ start: "2026-04-08T06:00:00.000Z", actual_kwh: 1.5, baseline_kwh: 0.575 }],
        actual_kwh: 1.5,
        baseline_kwh: 0.575,
        per_interval_kwh: 0.925,
      },
    });
    expect(
      body.intervals.map((i: Json) => [i.start, i.end, i.actual_kwh, i.baseline_kwh, i.adjusted_kwh]),
    ).toEqual([
      ["2026-04-08T09:00:00.000Z", "2026-04-08T10:00:00.000Z", 1, 0.6, 0.72],
      ["2026-04-08T10:00:00.000Z", "2026-04-08T11:00:00.000Z", 1.2, 0.6, 0.72],
      ["2026-04-08T11:00:00.000Z", "2026-04-08T12:00:00.000Z", 1.4, 0.6, 0.72],
    ]);
    // Newest first: every same-type day with a reading, and why it was or was not averaged.
    const candidates = body.intervals[0].candidates;
    expect(candidates.slice(0, 11)).toEqual([
      { date: "2026-04-07", kwh: 0.5, used: true, why: "selected" },
      { date: "2026-04-06", kwh: 0.4, used: false, why: "not_highest" },
      { date: "2026-04-03", kwh: 0.1, used: false, why: "below_p5" },
      { date: "2026-04-02", kwh: 3, used: false, why: "above_p95" },
      { date: "2026-04-01", kwh: 0.6, used: true, why: "selected" },
      { date: "2026-03-31", kwh: 1, used: false, why: "event_day" },
      { date: "2026-03-30", kwh: 0.4, used: false, why: "not_highest" },
      { date: "2026-03-27", kwh: 0.3, used: false, why: "not_highest" },
      { date: "2026-03-26", kwh: 0.7, used: true, why: "selected" },
      { date: "2026-03-25", kwh: 0.6, used: true, why: "selected" },
      { date: "2026-03-24", kwh: 0.5, used: false, why: "older" },
    ]);
    // 8 January … 7 April: 64 weekdays.
    expect(candidates).toHaveLength(64);
    expect(candidates.at(-1)).toEqual({ date: "2026-01-08", kwh: 0.7, used: false, why: "older" });

    // 3.6 actual − 2.16 adjusted = 1.44 shifted (2/3 of the baseline → effort 2, 0.48 kW); 2 of the
    // 3 measured hours had a surplus → accuracy 2/3; streak level 2 → 1.10.
    // raw = 1.44 × 15 × 2 × 1 × 2/3 × 1.1 = 31.68; own qualifying windows 2 (< 5) → community cap:
    // 2 × median(8, 9, 10, 11, 12, 20, 22) = 22 → 22 points.
    expect(body.totals).toEqual({
      actual_kwh: 3.6,
      baseline_kwh: 1.8,
      adjusted_baseline_kwh: 2.16,
      shifted_kwh: 1.44,
      shift_fraction: expect.closeTo(2 / 3, 12),
      average_shift_kw: expect.closeTo(0.48, 12),
      qualifies: true,
      intervals_counted: 3,
      intervals_missing: 0,
    });
    expect(body.multipliers).toEqual({
      effort: 2,
      event: 1,
      accuracy: expect.closeTo(2 / 3, 12),
      streak: 1.1,
    });
    expect(body.accuracy).toEqual({ known: true, intervals: 3, surplus_intervals: 2 });
    expect(body.streak).toEqual({ level: 2, best: 2, week: "2026-04-06" });
    expect(body.raw).toBeCloseTo(31.68, 9);
    expect(body.cap).toEqual({ kind: "community", value: 22, windows: 7 });
    expect(body.points).toBe(22);
    expect(body.reason).toBe("qualified; 31.680 points capped at 22.000 (community cap)");
    expect(body.ledger).toEqual([{ kind: "settlement", points: 22, revision: 1, at: RUN_AT }]);
    expect(body.reward_points_actual).toBe(22);

    // The intervals add up to the totals, exactly (in µkWh).
    const sum = (pick: (i: Json) => number | null) =>
      body.intervals.reduce((s: number, i: Json) => s + micro(pick(i)), 0);
    expect(sum((i) => i.actual_kwh)).toBe(micro(body.totals.actual_kwh));
    expect(sum((i) => i.baseline_kwh)).toBe(micro(body.totals.baseline_kwh));
    expect(sum((i) => i.adjusted_kwh)).toBe(micro(body.totals.adjusted_baseline_kwh));
    expect(micro(body.totals.actual_kwh) - micro(body.totals.adjusted_baseline_kwh)).toBe(
      micro(body.totals.shifted_kwh),
    );

    // Shown as stored, not recomputed: the settlement record, the ledger and the commitment agree.
    const stored = await storedFor(id);
    const { commitment_id, reward_points_actual, ledger, ...explanation } = body;
    expect(explanation).toEqual(stored.latest?.explanation);
    expect(stored.latest).toMatchObject({ revision: 1, method: "reference-high-4-of-7/v1", points: 22 });
    expect(ledger).toEqual(
      stored.ledger.map((e) => ({ kind: e.kind, points: e.points, revision: e.revision, at: RUN_AT })),
    );
    expect(stored.row).toMatchObject({
      rewardPointsActual: 22,
      settlementRevision: 1,
      settlementRaw: body.raw,
    });
    // The configuration it used is the method in force.
    expect(body.config).toEqual((await h.call("GET", "/api/settlement/method", { token: alice })).json);

    // tRPC answers the same document; the commitment's wire row carries the same points.
    expect(await trpcFor(alice).commitments.settlement.query({ id })).toEqual(body);
    const listed = await h.call("GET", "/api/commitments?limit=5", { token: alice });
    expect(listed.json.items.find((c: Json) => c.id === id)).toMatchObject({
      status: "settled",
      reward_points_actual: 22,
      settlement_revision: 1,
    });
  });

  test("a restated settlement shows its latest revision, and the ledger's entries sum to reward_points_actual", async () => {
    const id = await settledWindow("pia");
    // The meter operator corrects Wednesday 13:00–14:00 local from 1.0 to 1.6 kWh.
    fakes.dt.addConsumption("rec-pia", [
      { ts: "2026-04-08T11:00:00", device_id: "meter-pia", consumption_kwh: 1.6 },
    ]);
    const nextDay = "2026-04-10T03:00:00.000Z";

    const summary = await runSettlement(nextDay);

    expect(summary.restated).toBe(1);
    const res = await settlementOf(await h.participant("pia"), id);
    expect(res.status, res.text).toBe(200);
    // 3.6 − 1.5 = 2.1 shifted (fraction 1.4 → effort 2.5) × 15 = 78.75 → 79 points: 56 + 23.
    expect(res.json).toMatchObject({
      revision: 2,
      settled_at: nextDay,
      outcome: "delivered",
      points: 79,
      raw: 78.75,
      totals: { actual_kwh: 3.6, adjusted_baseline_kwh: 1.5, shifted_kwh: 2.1 },
      multipliers: { effort: 2.5 },
      reward_points_actual: 79,
      ledger: [
        { kind: "settlement", points: 56, revision: 1, at: RUN_AT },
        { kind: "restatement", points: 23, revision: 2, at: nextDay },
      ],
    });
    expect(res.json.intervals.map((i: Json) => i.actual_kwh)).toEqual([1, 1, 1.6]);
    const stored = await storedFor(id);
    expect(stored.revisions.map((r) => [r.revision, r.points])).toEqual([
      [1, 56],
      [2, 79],
    ]);
    const { commitment_id, reward_points_actual, ledger, ...explanation } = res.json;
    expect(explanation).toEqual(stored.latest?.explanation);
    expect(stored.row).toMatchObject({ rewardPointsActual: 79, settlementRevision: 2 });
  });

  test("shown as stored, not recomputed: after a restart with another rate the settlement still shows the rate and points it used", async () => {
    const id = await settledWindow("rita");
    const restarted = createApp({
      ...h.deps,
      core: {
        ...h.deps.core,
        method: { ...h.deps.core.method, points: { ...h.deps.core.method.points, ratePerKwh: 40 } },
      },
    });
    const token = await h.participant("rita");
    const read = async (path: string) =>
      (
        await restarted.request(path, { headers: { authorization: `Bearer ${token}` } })
      ).json() as Promise<Json>;

    expect((await read("/api/settlement/method")).points.rate_per_kwh).toBe(40);
    const shown = await read(`/api/commitments/${id}/settlement`);
    expect(shown).toMatchObject({ points: 56, raw: 56.25, config: { points: { rate_per_kwh: 15 } } });
    expect(shown).toEqual((await settlementOf(token, id)).json);
  });

  test("a commitment settled by hand: outcome and method manual, the operator's points, one manual ledger entry", async () => {
    clock.set("2026-04-11T08:00:00.000Z");
    const [live] = await h.database.db
      .insert(commitments)
      .values({
        userId: "hugo",
        suggestionId: "w-hugo",
        communityId: "rec-hugo",
        deviceId: "meter-hugo",
        periodStart: new Date("2026-04-10T16:00:00Z"),
        periodEnd: new Date("2026-04-10T18:00:00Z"),
        rewardPointsEstimated: 30,
      })
      .returning();
    if (!live) throw new Error("seed insert returned no row");
    const settled = await h.call("PATCH", `/api/commitments/${live.id}/settle`, {
      token: await h.service([SCOPE.write], "svc-settlement"),
      body: { reward_points_actual: 27, actual_kwh: 2.75 },
    });
    expect(settled.status, settled.text).toBe(200);

    const res = await settlementOf(await h.participant("hugo"), live.id);

    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      commitment_id: live.id,
      revision: 1,
      settled_at: "2026-04-11T08:00:00.000Z",
      method: "manual",
      outcome: "manual",
      points: 27,
      reason: "settled by hand by an operator",
      config: null,
      window: {
        start: "2026-04-10T16:00:00.000Z",
        end: "2026-04-10T18:00:00.000Z",
        hours: 2,
        local_date: "2026-04-10",
        interval_minutes: 60,
      },
      intervals: [],
      adjustment: null,
      totals: null,
      multipliers: null,
      accuracy: null,
      streak: null,
      raw: null,
      cap: null,
      reward_points_actual: 27,
      ledger: [{ kind: "manual", points: 27, revision: 1, at: "2026-04-11T08:00:00.000Z" }],
    });
  });
});

describe("errors", () => {
  test("a live commitment → 404 'not settled yet' (REST and tRPC)", async () => {
    clock.set(RUN_AT);
    const [live] = await h.database.db
      .insert(commitments)
      .values({
        userId: "lena",
        suggestionId: "w-lena",
        periodStart: new Date("2026-05-04T09:00:00Z"),
        periodEnd: new Date("2026-05-04T10:00:00Z"),
      })
      .returning();
    if (!live) throw new Error("seed insert returned no row");
    const lena = await h.participant("lena");

    expectProblem(await settlementOf(lena, live.id), 404, "not settled yet");
    const error = await trpcFailure(trpcFor(lena).commitments.settlement.query({ id: live.id }));
    expect(error.data?.code).toBe("NOT_FOUND");
    expect(error.message).toContain("not settled yet");
  });

  test.each(["cancelled", "rejected"] as const)("a %s commitment was never settled → 404", async (status) => {
    const [row] = await h.database.db
      .insert(commitments)
      .values({
        userId: "lena",
        suggestionId: `w-lena-${status}`,
        periodStart: new Date("2026-04-01T09:00:00Z"),
        periodEnd: new Date("2026-04-01T10:00:00Z"),
        status,
      })
      .returning();
    if (!row) throw new Error("seed insert returned no row");
    expectProblem(await settlementOf(await h.participant("lena"), row.id), 404, "not settled yet");
  });

  test("an unknown id → 404", async () => {
    expectProblem(await settlementOf(await h.participant("lena"), UNKNOWN_ID), 404, "not found");
  });

  test("a malformed id → 422 naming id (REST and tRPC)", async () => {
    const lena = await h.participant("lena");
    expectFieldError(await settlementOf(lena, "not-a-uuid"), "id");
    const error = await trpcFailure(trpcFor(lena).commitments.settlement.query({ id: "not-a-uuid" }));
    expect(error.data?.code).toBe("UNPROCESSABLE_CONTENT");
    expect(error.data?.httpStatus).toBe(422);
    expect(error.message).toContain("id");
  });
});

describe("security", () => {
  let owned: Promise<string> | undefined;
  /** Olga's settled WINDOW (settled once, for the whole block). */
  const olgasSettlement = () => {
    owned ??= settledWindow("olga");
    return owned;
  };

  test("another member's settled commitment → 404 exactly as an unknown one, never 403 (REST and tRPC)", async () => {
    const id = await olgasSettlement();
    const mallory = await h.participant("mallory");

    const res = await settlementOf(mallory, id);
    const unknown = await settlementOf(mallory, UNKNOWN_ID);

    expectProblem(res, 404, `commitment ${id} not found`);
    expect(res.json.detail.replace(id, "ID")).toBe(unknown.json.detail.replace(UNKNOWN_ID, "ID"));
    expect(res.text).not.toContain("points");
    const error = await trpcFailure(trpcFor(mallory).commitments.settlement.query({ id }));
    expect(error.data?.code).toBe("NOT_FOUND");
    expect(error.data?.httpStatus).toBe(404);
  });

  test("another member's live commitment → 404 'not found', not 'not settled yet' (its existence is not told)", async () => {
    const [live] = await h.database.db
      .insert(commitments)
      .values({
        userId: "olga",
        suggestionId: "w-olga-live",
        periodStart: new Date("2026-05-05T09:00:00Z"),
        periodEnd: new Date("2026-05-05T10:00:00Z"),
      })
      .returning();
    if (!live) throw new Error("seed insert returned no row");
    const res = await settlementOf(await h.participant("mallory"), live.id);
    expectProblem(res, 404, `commitment ${live.id} not found`);
    expect(res.json.detail).not.toContain("settled");
  });

  test.each([
    ["flexibility.commitments.read", SCOPE.read],
    ["flexibility.admin", SCOPE.admin],
    ["legacy flexibility.read", SCOPE.legacyRead],
  ])("a service with %s reads any member's settlement (REST and tRPC)", async (_, scope) => {
    const id = await olgasSettlement();
    const token = await h.service([scope]);

    const res = await settlementOf(token, id);

    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ commitment_id: id, outcome: "delivered", points: 56 });
    expect(res.json).toEqual((await settlementOf(await h.participant("olga"), id)).json);
    expect(await trpcFor(token).commitments.settlement.query({ id })).toEqual(res.json);
  });

  test("a service with only flexibility.commitments.export → 403 naming the read scope (REST and tRPC)", async () => {
    const id = await olgasSettlement();
    const token = await h.service([SCOPE.export]);
    expectProblem(await settlementOf(token, id), 403, "missing scope flexibility.commitments.read");
    const error = await trpcFailure(trpcFor(token).commitments.settlement.query({ id }));
    expect(error.data?.code).toBe("FORBIDDEN");
  });

  test("no token → 401; a forged token → 401 (REST and tRPC)", async () => {
    const id = await olgasSettlement();
    expectProblem(await settlementOf(undefined, id), 401, "missing");
    expectProblem(await settlementOf(await h.issuer.mintForged("wrong-issuer"), id), 401);
    const error = await trpcFailure(trpcFor().commitments.settlement.query({ id }));
    expect(error.data?.code).toBe("UNAUTHORIZED");
    expect(error.data?.httpStatus).toBe(401);
  });
});

describe("GET /api/settlement/method", () => {
  let fromYaml: Harness;
  let overridden: Harness;
  beforeAll(async () => {
    // The app as `bun run start` builds it: the method read from FLEXIBILITY_CONFIG (the default file).
    fromYaml = await createHarness({ core: coreConfigOf(parseApiEnv({})) });
    overridden = await createHarness({ core: coreConfigOf(parseApiEnv({ POINTS_PER_KWH: "20" })) });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await Promise.all([fromYaml?.close(), overridden?.close()]);
  });

  test("a participant gets the configuration of config/flexibility.yaml", async () => {
    const res = await fromYaml.call("GET", "/api/settlement/method", {
      token: await fromYaml.participant("alice"),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual(METHOD);
  });

  test("a service with read scope gets the same, over REST and tRPC", async () => {
    const token = await fromYaml.service([SCOPE.read]);
    const res = await fromYaml.call("GET", "/api/settlement/method", { token });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual(METHOD);
    const trpc = await fromYaml.call("GET", "/trpc/settlement.method", { token });
    expect(trpc.status, trpc.text).toBe(200);
    expect(trpc.json.result.data).toEqual(METHOD);
  });

  test("tRPC settlement.method answers a participant what REST answers", async () => {
    const alice = await h.participant("alice");
    expect(await trpcFor(alice).settlement.method.query()).toEqual(
      (await h.call("GET", "/api/settlement/method", { token: alice })).json,
    );
  });

  test("POINTS_PER_KWH=20 → rate_per_kwh 20, every other value from the file", async () => {
    const res = await overridden.call("GET", "/api/settlement/method", {
      token: await overridden.participant("alice"),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ ...METHOD, points: { ...METHOD.points, rate_per_kwh: 20 } });
  });

  test("no token → 401", async () => {
    expectProblem(await fromYaml.call("GET", "/api/settlement/method"), 401, "missing");
    const trpc = await fromYaml.call("GET", "/trpc/settlement.method");
    expect(trpc.status, trpc.text).toBe(401);
  });

  test("a service with only flexibility.commitments.export → 403 naming the read scope", async () => {
    const token = await fromYaml.service([SCOPE.export]);
    expectProblem(
      await fromYaml.call("GET", "/api/settlement/method", { token }),
      403,
      "missing scope flexibility.commitments.read",
    );
  });
});
