import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { backfillReadings, PROGRESS_STALE, settleDueCommitments } from "@celine/core";
import { commitments } from "@celine/core/db";
import { createSystemTestCtx } from "@celine/core/testing";
import type { DtConsumptionRow } from "@celine/fakes";
import { eq } from "drizzle-orm";
import { createClock, expectProblem, HOOK_TIMEOUT, SCOPE, seedCommitment, UNKNOWN_ID } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";
import { trpcClientOf, trpcFailure } from "./trpc-client.ts";

// Issue 13, items 1 and 2, through the served app: the target on every suggestion (GET
// /api/suggestions) and the progress of a commitment (GET /api/commitments/{id}/progress, tRPC
// commitments.progress) before, during and after its window, with the readings coming from the
// Digital Twin contract fake as time passes, the back-fill and settlement run as the listener runs
// them. One simulated day, in order: Wednesday 2026-04-08, the window 11:00–14:00 in Rome (CEST,
// UTC+2: 09:00–12:00 UTC), readings hourly.

const HOUR = 3_600_000;
const DAY = 86_400_000;
const WINDOW = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
/** 08:15 in Rome: the members open the app (and are first shown the window). */
const LIST_AT = "2026-04-08T06:15:00.000Z";
/** 10:00 in Rome: before the window. */
const BEFORE = "2026-04-08T08:00:00.000Z";
/** 12:30 in Rome: 11:00–12:00 has ended. */
const DURING = "2026-04-08T10:30:00.000Z";
/** 13:30 in Rome: 12:00–13:00 has ended too. */
const LATER = "2026-04-08T11:30:00.000Z";
/** Thursday 05:00 in Rome: the daily flow has run for Wednesday. */
const RUN_AT = "2026-04-09T03:00:00.000Z";

const clock = createClock(LIST_AT);
let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;

/** Giulia: 0.5 kWh every hour before, 1.0 / 1.2 / 1.4 in the window, delivered three weeks running. */
const FLAT = "giulia-target";
/** Marco: readings that differ every day and hour (the target must still be settlement's baseline). */
const VARIED = "marco-target";
const ids: Record<string, { window: string; commitment: string; target: Json }> = {};

beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: clock.now };
  });
  windows = createWindowPublisher(fakes.dt, clock.now);
  for (const sub of [FLAT, VARIED]) {
    const published = windows.publish(sub, { id: `w-${sub}`, start: WINDOW.start, end: WINDOW.end });
    ids[sub] = { window: published.suggestion_id, commitment: "", target: null };
  }
  // History up to 08:00 in Rome on the day (07:00–08:00 is the same-day adjustment's hour).
  readings(FLAT, Date.parse(WINDOW.start) - 100 * DAY, Date.parse("2026-04-08T06:00:00Z"), () => 0.5);
  readings(VARIED, Date.parse(WINDOW.start) - 100 * DAY, Date.parse("2026-04-08T06:00:00Z"), varied);
  readings(VARIED, Date.parse(WINDOW.start), Date.parse(WINDOW.end), () => 1.0);
  // Giulia delivered in the weeks of 16, 23 and 30 March (17:00–18:00 in Rome, outside the window's
  // clock hours): streak level 3 in the week of 6 April, ×1.15.
  for (const start of ["2026-03-17T16:00:00Z", "2026-03-24T16:00:00Z", "2026-03-31T15:00:00Z"]) {
    await seedCommitment(h, {
      userId: FLAT,
      communityId: `rec-${FLAT}`,
      deviceId: `meter-${FLAT}`,
      periodStart: new Date(start),
      periodEnd: new Date(Date.parse(start) + HOUR),
      committedAt: new Date(Date.parse(start) - DAY),
      status: "settled",
      settledAt: new Date(Date.parse(start) + DAY),
      settlementOutcome: "delivered",
      settlementRaw: 10,
      settlementRevision: 1,
      rewardPointsActual: 10,
    });
  }
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

/** Hourly readings of `sub`'s meter with `ts` in [from, to). */
function readings(sub: string, from: number, to: number, kwhAt: (at: number) => number) {
  const rows: DtConsumptionRow[] = [];
  for (let at = from; at < to; at += HOUR) {
    rows.push({
      ts: new Date(at).toISOString().slice(0, 19),
      device_id: `meter-${sub}`,
      consumption_kwh: kwhAt(at),
    });
  }
  fakes.dt.addConsumption(`rec-${sub}`, rows);
}

/** 0.30–0.79 kWh, different on every day and hour. */
function varied(at: number): number {
  const day = Math.floor(at / DAY);
  const hour = new Date(at).getUTCHours();
  return 0.3 + ((day * 37 + hour * 11) % 50) / 100;
}

/** Giulia's reading of the hour starting at `iso` arrives at the DT. */
const arrives = (iso: string, kwh: number) =>
  readings(FLAT, Date.parse(iso), Date.parse(iso) + HOUR, () => kwh);

async function suggestionsOf(sub: string) {
  const res = await h.call("GET", "/api/suggestions", { token: await h.participant(sub) });
  expect(res.status, res.text).toBe(200);
  return res.json as Json[];
}

async function progressOf(sub: string, id: string) {
  const res = await h.call("GET", `/api/commitments/${id}/progress`, { token: await h.participant(sub) });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

const settlementCalls = () => fakes.dt.calls.filter((c) => c.path.endsWith("/rec_settlement_1h"));

const trpcFor = (token?: string) => trpcClientOf(h, { token });

const system = () => createSystemTestCtx({ db: h.database.db, now: clock.now, platform: fakes.platform });

describe("happy: the target", () => {
  test("without stored readings a suggestion's target is null, and listing asks the DT for no reading", async () => {
    clock.set(LIST_AT);
    fakes.dt.clearCalls();
    for (const sub of [FLAT, VARIED]) {
      const [item] = await suggestionsOf(sub);
      expect(item?.id).toBe(`w-${sub}`);
      expect(item?.target, JSON.stringify(item)).toBeNull();
    }
    expect(settlementCalls()).toHaveLength(0);
  });

  test("the back-fill stores the days the targets read (the listed members, once); then the target digit by digit, with the streak", async () => {
    const first = await backfillReadings({ ctx: system() });
    // Both members listed a weekday window: their weekdays of the 90-day look-back that have ended
    // (2026-01-08 … 2026-04-07: 64 weekdays, one UTC day a chunk) — no weekend, not the running day.
    expect(first).toEqual({ devices: 2, chunks: 128, failed: 0, dtCalls: 128 });
    expect(await backfillReadings({ ctx: system() })).toEqual({
      devices: 0,
      chunks: 0,
      failed: 0,
      dtCalls: 0,
    });

    const [item] = await suggestionsOf(FLAT);
    // Baseline: 0.5 kWh in each of 3 hours = 1.5; qualifying 1.5 + max(0.05 × 1.5, 0.05 kW × 3 h)
    // = 1.65; points per extra kWh 15 × 1 (lowest tier) × 1.15 (level 3) = 17.25.
    expect(item?.target).toEqual({
      baseline_kwh: 1.5,
      qualifying_kwh: 1.65,
      points_per_extra_kwh: 17.25,
      streak_multiplier: 1.15,
    });
    const me = await h.call("GET", "/api/points/me", { token: await h.participant(FLAT) });
    expect(me.json.streak, me.text).toEqual({ current: 3, best: 3, multiplier: 1.15 });
    ids[FLAT] = { ...(ids[FLAT] ?? { window: "", commitment: "" }), target: item?.target };

    const [other] = await suggestionsOf(VARIED);
    expect(other?.target, JSON.stringify(other)).not.toBeNull();
    ids[VARIED] = { ...(ids[VARIED] ?? { window: "", commitment: "" }), target: other?.target };
  });

  test("both accept (notice 08:15 on the day)", async () => {
    for (const sub of [FLAT, VARIED]) {
      const res = await h.call("POST", `/api/suggestions/w-${sub}/respond`, {
        token: await h.participant(sub),
        body: { response: "accepted" },
      });
      expect(res.status, res.text).toBe(200);
      const entry = ids[sub];
      if (entry) entry.commitment = res.json.commitment_id;
    }
  });
});

describe("happy: progress", () => {
  test("before the window: nothing done, the window's qualifying kWh, no projection, no DT call", async () => {
    clock.set(BEFORE);
    fakes.dt.clearCalls();
    expect(await progressOf(FLAT, ids[FLAT]?.commitment ?? "")).toEqual({
      commitment_id: ids[FLAT]?.commitment,
      settled: false,
      as_of: BEFORE,
      intervals_total: 3,
      intervals_done: 0,
      actual_kwh_so_far: 0,
      baseline_kwh_so_far: 0,
      qualifying_kwh: 1.65,
      on_track: null,
      projected_points: null,
    });
    expect(settlementCalls()).toHaveLength(0);
  });

  test("during: the hour that ended, read from the DT; on track; what settlement would pay at this pace; the same over tRPC", async () => {
    arrives("2026-04-08T09:00:00Z", 1.0);
    clock.set(DURING);
    fakes.dt.clearCalls();
    const id = ids[FLAT]?.commitment ?? "";
    const body = await progressOf(FLAT, id);
    // 11:00–12:00: 1.0 kWh against 0.5 (the 07:00 hour before notice was at its baseline: no
    // adjustment) → shifted 0.5 kWh, 100 %, 0.5 kW → on track. At this pace: 3.0 against 1.5 →
    // 1.5 kWh shifted, 100 % → effort 2.5; 1.5 × 15 × 2.5 × 1 × 1 × 1.15 = 64.6875 → 65.
    expect(body).toEqual({
      commitment_id: id,
      settled: false,
      as_of: "2026-04-08T10:00:00.000Z",
      intervals_total: 3,
      intervals_done: 1,
      actual_kwh_so_far: 1,
      baseline_kwh_so_far: 0.5,
      qualifying_kwh: 1.65,
      on_track: true,
      projected_points: 65,
    });
    expect(settlementCalls()).toHaveLength(1);
    expect(settlementCalls()[0]?.body).toEqual({
      payload: {
        device_id: `meter-${FLAT}`,
        window_start: "2026-04-08T00:00:00",
        window_end: "2026-04-09T00:00:00",
      },
    });
    expect(await trpcFor(await h.participant(FLAT)).commitments.progress.query({ id })).toEqual(body);
  });

  test("polling ten times within a minute costs no further DT call; a minute after the last call, one more", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    fakes.dt.clearCalls();
    for (let poll = 0; poll < 10; poll++) {
      clock.advance(5_000);
      expect((await progressOf(FLAT, id)).intervals_done).toBe(1);
    }
    // The call of the previous test was at 12:30:00; these polls run 12:30:05–12:30:50.
    expect(settlementCalls()).toHaveLength(0);
    clock.set(new Date(Date.parse(DURING) + 60_000));
    await progressOf(FLAT, id);
    expect(settlementCalls()).toHaveLength(1);
  });

  test("ten polls from a fresh start within a minute: exactly one DT call", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    clock.set(new Date(Date.parse(DURING) + 5 * 60_000));
    fakes.dt.clearCalls();
    for (let poll = 0; poll < 10; poll++) {
      await progressOf(FLAT, id);
      clock.advance(5_000);
    }
    expect(settlementCalls()).toHaveLength(1);
  });

  test("the DT down: the stored answer with an old as_of, never an error; asked again only a minute later", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    arrives("2026-04-08T10:00:00Z", 1.2);
    clock.set(LATER);
    fakes.dt.clearCalls();
    fakes.dt.failNext(503, Number.POSITIVE_INFINITY, { path: /rec_settlement_1h/ });
    const stale = h.deps.metrics.value(PROGRESS_STALE);
    try {
      const body = await progressOf(FLAT, id);
      // 13:30 in Rome, but the readings we hold end at 12:00.
      expect(body).toMatchObject({
        as_of: "2026-04-08T10:00:00.000Z",
        intervals_done: 1,
        actual_kwh_so_far: 1,
        on_track: true,
        projected_points: 65,
      });
      expect(h.deps.metrics.value(PROGRESS_STALE)).toBe(stale + 1);
      clock.advance(30_000);
      await progressOf(FLAT, id);
      expect(settlementCalls()).toHaveLength(1);
    } finally {
      fakes.dt.reset();
    }
  });

  test("the DT back a minute later: two hours done, projected at the new pace", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    clock.set(new Date(Date.parse(LATER) + 61_000));
    // 2.2 kWh against 1.0 (shifted 1.2 over 2 h). At 1.1 an hour: 3.3 against 1.5 → 1.8 shifted,
    // 120 % → effort 2.5; 1.8 × 15 × 2.5 × 1.15 = 77.625 → 78.
    expect(await progressOf(FLAT, id)).toMatchObject({
      as_of: "2026-04-08T11:00:00.000Z",
      intervals_done: 2,
      actual_kwh_so_far: 2.2,
      baseline_kwh_so_far: 1,
      qualifying_kwh: 1.65,
      on_track: true,
      projected_points: 78,
    });
  });

  test("after settlement: the settlement's stored actual, adjusted baseline and points; the targets were settlement's baselines", async () => {
    arrives("2026-04-08T11:00:00Z", 1.4);
    clock.set(RUN_AT);
    const summary = await settleDueCommitments({ ctx: system() });
    expect(summary.settled.delivered).toBeGreaterThanOrEqual(2);
    for (const sub of [FLAT, VARIED]) {
      const id = ids[sub]?.commitment ?? "";
      const token = await h.participant(sub);
      const settlement = await h.call("GET", `/api/commitments/${id}/settlement`, { token });
      expect(settlement.status, settlement.text).toBe(200);
      const totals = settlement.json.totals;
      // No reading changed since the listing: the target's baseline is the one settlement used.
      expect(ids[sub]?.target?.baseline_kwh).toBe(totals.baseline_kwh);
      const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
      const progress = await progressOf(sub, id);
      expect(progress).toEqual({
        commitment_id: id,
        settled: true,
        as_of: settlement.json.settled_at,
        intervals_total: 3,
        intervals_done: totals.intervals_counted,
        actual_kwh_so_far: totals.actual_kwh,
        baseline_kwh_so_far: totals.adjusted_baseline_kwh,
        qualifying_kwh: expect.any(Number),
        on_track: totals.qualifies,
        projected_points: settlement.json.reward_points_actual,
      });
      expect(progress.actual_kwh_so_far).toBe(Number(row?.actualKwh));
      expect(progress.baseline_kwh_so_far).toBe(Number(row?.baselineKwh));
    }
    // Giulia: 3.6 kWh against 1.5 → 2.1 shifted, 140 % → effort 2.5; 2.1 × 15 × 2.5 × 1.15 = 90.5625 → 91.
    expect(await progressOf(FLAT, ids[FLAT]?.commitment ?? "")).toMatchObject({
      actual_kwh_so_far: 3.6,
      baseline_kwh_so_far: 1.5,
      qualifying_kwh: 1.65,
      projected_points: 91,
    });
  });
});

describe("errors", () => {
  test("an unknown commitment → 404; a malformed id → 422", async () => {
    const token = await h.participant(FLAT);
    expectProblem(await h.call("GET", `/api/commitments/${UNKNOWN_ID}/progress`, { token }), 404);
    expectProblem(await h.call("GET", "/api/commitments/not-a-uuid/progress", { token }), 422, "id");
  });

  test("a cancelled commitment has no progress → 404", async () => {
    clock.set(RUN_AT);
    const body = windows.publish(FLAT);
    const token = await h.participant(FLAT);
    const created = await h.call("POST", "/api/commitments", { token, body });
    expect(created.status, created.text).toBe(201);
    expect((await h.call("DELETE", `/api/commitments/${created.json.id}`, { token })).status).toBe(204);
    expectProblem(
      await h.call("GET", `/api/commitments/${created.json.id}/progress`, { token }),
      404,
      "cancelled",
    );
  });
});

describe("security", () => {
  test("another member's progress → 404 over REST and tRPC, as if it did not exist", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    const stranger = await h.participant(VARIED);
    expectProblem(await h.call("GET", `/api/commitments/${id}/progress`, { token: stranger }), 404);
    const error = await trpcFailure(trpcFor(stranger).commitments.progress.query({ id }));
    expect(error.data?.code).toBe("NOT_FOUND");
  });

  test("a service with read scope sees it; one without is refused; no token is 401", async () => {
    const id = ids[FLAT]?.commitment ?? "";
    const reader = await h.service([SCOPE.read]);
    const res = await h.call("GET", `/api/commitments/${id}/progress`, { token: reader });
    expect(res.status, res.text).toBe(200);
    expect(res.json.settled).toBe(true);
    expectProblem(
      await h.call("GET", `/api/commitments/${id}/progress`, { token: await h.service([SCOPE.export]) }),
      403,
    );
    expectProblem(await h.call("GET", `/api/commitments/${id}/progress`), 401);
  });
});
