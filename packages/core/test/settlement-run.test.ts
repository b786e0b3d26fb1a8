import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type DigitalTwin, type OidcIssuer, startDigitalTwin, startOidcIssuer } from "@celine/fakes";
import { createDigitalTwinClient, createTokenProvider } from "@celine/platform";
import { eq, sql } from "drizzle-orm";
import type { Database } from "../src/db/database.ts";
import {
  type Ctx,
  commitments,
  createLogger,
  DEFAULT_CORE_CONFIG,
  type DigitalTwin as DigitalTwinPort,
  type LogRecord,
  outbox,
  settleDueCommitments,
  UpstreamError,
  unconfiguredPlatform,
} from "../src/index.ts";
import { createMetrics } from "../src/metrics.ts";
import { createTestCtx, createTestDatabase } from "../src/testing/index.ts";

// Settlement end to end: the verb over a real database, the real DT adapter, the DT contract fake.
// Europe/Rome is CEST (UTC+2) throughout April 2026 after the 29 March change.

let database: Database;
let issuer: OidcIssuer;
let fake: DigitalTwin;
let dt: DigitalTwinPort;
let logs: LogRecord[];

const COMMUNITY = "rec-a";
const HOUR = 3_600_000;
/** Thursday 2026-04-09 05:00 CEST: the daily flow has run for Wednesday. */
const NOW = new Date("2026-04-09T03:00:00Z");

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
  await database.db.execute(sql`truncate ${commitments}, ${outbox}`);
  fake.reset();
  fake.clearCalls();
  fake.clearData();
  logs = [];
});

function ctxAt(now: Date, port: DigitalTwinPort = dt): Ctx {
  const ctx = createTestCtx({
    db: database.db,
    actor: { kind: "system", id: "system" },
    authorizer: async () => ({ allow: false, reason: "system only" }),
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

/** 0.5 kWh every hour for three weeks before `until`, then `inWindow` kWh per hour inside [start, end). */
function seedMember(device: string, window: { start: string; end: string }, inWindow: number, until = NOW) {
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  seedHours(device, "2026-03-10T00:00:00Z", until.toISOString(), (at) =>
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
  suggestionId?: string;
}) {
  const [row] = await database.db
    .insert(commitments)
    .values({
      userId: values.userId,
      suggestionId: values.suggestionId ?? `w-${values.start}`,
      communityId: values.communityId === undefined ? COMMUNITY : values.communityId,
      deviceId: values.deviceId === undefined ? `dev-${values.userId}` : values.deviceId,
      periodStart: new Date(values.start),
      periodEnd: new Date(values.end),
      rewardPointsEstimated: values.estimated ?? 40,
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

/** The [start, end) each rec_settlement_1h call asked for, per device. */
function settlementRanges(): { device: string; start: number; end: number }[] {
  return fake.calls
    .filter((call) => call.path.endsWith("/rec_settlement_1h"))
    .map((call) => {
      const payload = (
        call.body as { payload: { device_id: string; window_start: string; window_end: string } }
      ).payload;
      return {
        device: payload.device_id,
        start: Date.parse(`${payload.window_start}Z`),
        end: Date.parse(`${payload.window_end}Z`),
      };
    });
}

describe("settling against the member's own baseline", () => {
  test("Wednesday 11:00–14:00: 3.0 kWh against a 1.5 kWh baseline → 1.5 kWh delivered, 15 points, every field recorded", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    seedMember("dev-alice", window, 1.0);
    const row = await commit({ userId: "alice", ...window, estimated: 12 });

    const summary = await settleDueCommitments({ ctx: ctxAt(NOW) });

    expect(summary).toMatchObject({ claimed: 1, settled: { delivered: 1 }, waiting: 0, dtCalls: 11 });
    const settled = await rowOf(row.id);
    expect(settled).toMatchObject({
      status: "settled",
      settlementOutcome: "delivered",
      rewardPointsActual: 15,
      rewardPointsEstimated: 12,
      baselineDays: 10,
      settlementPointsPerKwh: 10,
      settlementBonusPct: 0,
      settledAt: NOW,
    });
    expect([settled.actualKwh, settled.baselineKwh, settled.deliveredKwh].map(Number)).toEqual([3, 1.5, 1.5]);
    const [nudge] = await nudges();
    expect(nudge?.target).toBe("commitment_settled");
    expect(nudge?.commitmentId).toBe(row.id);
    expect(nudge?.payload).toMatchObject({
      event_type: "commitment_settled",
      user_id: "alice",
      community_id: COMMUNITY,
      facts: {
        facts_version: "1.0",
        scenario: "commitment_settled",
        commitment_id: row.id,
        actual_kwh: "3",
        reward_points_actual: "15",
        period: "2026-04-08",
        outcome: "delivered",
      },
    });
  });

  test("a window across midnight (Tue 22:00 → Wed 02:00) is settled on its four hours against four-hour baselines", async () => {
    const window = { start: "2026-04-07T20:00:00Z", end: "2026-04-08T00:00:00Z" };
    seedMember("dev-bruno", window, 1.25);
    const row = await commit({ userId: "bruno", ...window });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const settled = await rowOf(row.id);
    // 4 × 1.25 = 5 kWh against 4 × 0.5 = 2 kWh → 3 kWh → 30 points.
    expect([settled.actualKwh, settled.baselineKwh, settled.deliveredKwh].map(Number)).toEqual([5, 2, 3]);
    expect(settled.rewardPointsActual).toBe(30);
    const baselineCall = settlementRanges().find((r) => r.start === Date.parse("2026-04-06T20:00:00Z"));
    expect(baselineCall?.end).toBe(Date.parse("2026-04-07T00:00:00Z"));
  });

  test("a day a previous run missed is caught up, and its delivery extends the streak of the next day", async () => {
    const monday = { start: "2026-04-06T09:00:00Z", end: "2026-04-06T12:00:00Z" };
    const wednesday = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    seedHours("dev-carla", "2026-03-10T00:00:00Z", NOW.toISOString(), (at) =>
      (at >= Date.parse(monday.start) && at < Date.parse(monday.end)) ||
      (at >= Date.parse(wednesday.start) && at < Date.parse(wednesday.end))
        ? 1.0
        : 0.5,
    );
    const mon = await commit({ userId: "carla", ...monday });
    const wed = await commit({ userId: "carla", ...wednesday });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const [first, second] = [await rowOf(mon.id), await rowOf(wed.id)];
    expect(first).toMatchObject({
      settlementOutcome: "delivered",
      rewardPointsActual: 15,
      settlementBonusPct: 0,
    });
    // Wednesday's baseline skips Monday (she held a commitment then): still 10 days of 1.5 kWh.
    expect(second).toMatchObject({ settlementOutcome: "delivered", baselineDays: 10, settlementBonusPct: 5 });
    expect(Number(second.baselineKwh)).toBe(1.5);
    // 1.5 kWh × 10 × 1.05 = 15.75 → 16.
    expect(second.rewardPointsActual).toBe(16);
  });

  test("the streak carries across runs: earlier settled rows raise the bonus; unjudged ones do not break it", async () => {
    const window = (day: string) => ({ start: `${day}T09:00:00Z`, end: `${day}T12:00:00Z` });
    const days = ["2026-04-06", "2026-04-07", "2026-04-08"];
    seedHours("dev-sara", "2026-03-10T00:00:00Z", NOW.toISOString(), (at) =>
      days.some((d) => at >= Date.parse(window(d).start) && at < Date.parse(window(d).end)) ? 1.0 : 0.5,
    );
    // Two earlier deliveries, then a manual settlement between them and today's window.
    const mon = await commit({ userId: "sara", ...window(days[0] ?? "") });
    const tue = await commit({ userId: "sara", ...window(days[1] ?? "") });
    await settleDueCommitments({ ctx: ctxAt(new Date("2026-04-08T03:00:00Z")) });
    await database.db.insert(commitments).values({
      userId: "sara",
      suggestionId: "manual",
      periodStart: new Date("2026-04-07T15:00:00Z"),
      periodEnd: new Date("2026-04-07T16:00:00Z"),
      status: "settled",
      settlementOutcome: "manual",
      rewardPointsActual: 3,
    });
    const wed = await commit({ userId: "sara", ...window(days[2] ?? "") });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    expect((await rowOf(mon.id)).settlementBonusPct).toBe(0);
    expect((await rowOf(tue.id)).settlementBonusPct).toBe(5);
    // Prior streak 2 (the manual one neither counts nor breaks): 1.5 kWh × 10 × 1.10 = 16.5 → 17.
    expect(await rowOf(wed.id)).toMatchObject({ settlementBonusPct: 10, rewardPointsActual: 17 });
  });

  test("fewer than 3 baseline days with data → no_baseline: min(round_half_up(actual × 10), estimate), no bonus", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    // Data only from Monday on: two baseline days (Mon, Tue) have it.
    seedHours("dev-dario", "2026-04-06T00:00:00Z", NOW.toISOString(), (at) =>
      at >= Date.parse(window.start) && at < Date.parse(window.end) ? 0.75 : 0.5,
    );
    const row = await commit({ userId: "dario", ...window, estimated: 20 });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    // 2.25 kWh × 10 = 22.5 → 23, capped at the estimate 20.
    expect(await rowOf(row.id)).toMatchObject({
      settlementOutcome: "no_baseline",
      rewardPointsActual: 20,
      baselineDays: 2,
      baselineKwh: null,
      deliveredKwh: null,
    });
  });

  test("an hour that will not parse counts 0 and is logged", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    const junkHour = Date.parse("2026-04-08T10:00:00Z");
    seedHours("dev-elena", "2026-03-10T00:00:00Z", NOW.toISOString(), (at) =>
      at === junkHour ? "n/a" : at >= Date.parse(window.start) && at < Date.parse(window.end) ? 1.0 : 0.5,
    );
    fake.addConsumption(COMMUNITY, [{ ts: "not a time", device_id: "dev-elena", consumption_kwh: 9 }]);
    const row = await commit({ userId: "elena", ...window });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    // 1.0 + 0 + 1.0 = 2.0 kWh against 1.5 → 0.5 kWh → 5 points.
    expect(await rowOf(row.id)).toMatchObject({ settlementOutcome: "delivered", rewardPointsActual: 5 });
    expect(Number((await rowOf(row.id)).actualKwh)).toBe(2);
    expect(logs.some((l) => l.msg.includes("unparseable ts counts 0"))).toBe(true);
    expect(logs.some((l) => l.msg.includes("will not parse counts 0") && l.commitment_id === row.id)).toBe(
      true,
    );
  });
});

describe("rows that cannot be settled yet", () => {
  test("a device resolved late: without one the row stays live; once the DT lists it, it is settled and recorded", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    seedMember("sensor-9", window, 1.0);
    fake.setProfile("fabio", { sub: "fabio" });
    fake.setMembership("fabio", {
      community: { key: COMMUNITY, name: "REC A" },
      member: { key: "m-9", name: "Fabio", role: "consumer", area: "north", status: "active" },
    });
    fake.setAssets("fabio", [{ asset_type: "meter", key: "a1", name: "Meter", sensor_id: "" }]);
    const row = await commit({ userId: "fabio", ...window, deviceId: null, communityId: null });

    const first = await settleDueCommitments({ ctx: ctxAt(NOW) });
    expect(first).toMatchObject({ claimed: 1, waiting: 1, settled: {} });
    expect(await rowOf(row.id)).toMatchObject({
      status: "committed",
      communityId: COMMUNITY,
      deviceId: null,
    });

    fake.setAssets("fabio", [{ asset_type: "meter", key: "a1", name: "Meter", sensor_id: "sensor-9" }]);
    await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + HOUR)) });
    expect(await rowOf(row.id)).toMatchObject({
      status: "settled",
      settlementOutcome: "delivered",
      deviceId: "sensor-9",
      communityId: COMMUNITY,
      rewardPointsActual: 15,
    });
  });

  test("no data yet → stays live and is retried; at the deadline (7 days) it closes with 0 points and outcome no_data", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    const row = await commit({ userId: "gina", ...window });

    const early = await settleDueCommitments({ ctx: ctxAt(NOW) });
    expect(early).toMatchObject({ claimed: 1, waiting: 1 });
    expect((await rowOf(row.id)).status).toBe("committed");

    const justBefore = new Date(Date.parse(window.end) + 7 * 86_400_000 - 1);
    await settleDueCommitments({ ctx: ctxAt(justBefore) });
    expect((await rowOf(row.id)).status).toBe("committed");

    const deadline = new Date(Date.parse(window.end) + 7 * 86_400_000);
    const late = await settleDueCommitments({ ctx: ctxAt(deadline) });
    expect(late.settled).toEqual({ no_data: 1 });
    expect(await rowOf(row.id)).toMatchObject({
      status: "settled",
      settlementOutcome: "no_data",
      rewardPointsActual: 0,
      settledAt: deadline,
    });
    expect((await nudges())[0]?.payload).toMatchObject({
      facts: { outcome: "no_data", reward_points_actual: "0" },
    });
  });

  test("no device even at the deadline → outcome no_device", async () => {
    fake.setProfile("hugo", { sub: "hugo" });
    const row = await commit({
      userId: "hugo",
      start: "2026-04-01T09:00:00Z",
      end: "2026-04-01T10:00:00Z",
      deviceId: null,
    });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    expect(await rowOf(row.id)).toMatchObject({
      status: "settled",
      settlementOutcome: "no_device",
      rewardPointsActual: 0,
    });
  });

  test("hours still missing at the deadline: what the data proves is paid; nothing is judged not delivered", async () => {
    const window = { start: "2026-04-01T09:00:00Z", end: "2026-04-01T12:00:00Z" };
    seedHours("dev-ivo", "2026-03-10T00:00:00Z", "2026-04-01T10:00:00Z", (at) =>
      at >= Date.parse(window.start) ? 3.0 : 0.5,
    );
    const paid = await commit({ userId: "ivo", ...window });
    seedHours("dev-jana", "2026-03-10T00:00:00Z", "2026-04-01T10:00:00Z", () => 0.5);
    const unjudged = await commit({ userId: "jana", ...window });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    // One hour of 3 kWh against a three-hour baseline of 1.5 kWh → 1.5 kWh delivered.
    expect(await rowOf(paid.id)).toMatchObject({ settlementOutcome: "delivered", rewardPointsActual: 15 });
    expect(await rowOf(unjudged.id)).toMatchObject({ settlementOutcome: "no_data", rewardPointsActual: 0 });
  });

  test("a window that has not ended is not due", async () => {
    const row = await commit({ userId: "kai", start: "2026-04-09T02:00:00Z", end: "2026-04-09T04:00:00Z" });
    expect(await settleDueCommitments({ ctx: ctxAt(NOW) })).toMatchObject({ claimed: 0 });
    expect((await rowOf(row.id)).status).toBe("committed");
  });
});

describe("safety", () => {
  test("a second run changes nothing: no row, no nudge, no DT call", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    seedMember("dev-lia", window, 1.0);
    const row = await commit({ userId: "lia", ...window });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    const before = await rowOf(row.id);
    fake.clearCalls();

    const again = await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + 86_400_000)) });

    expect(again).toMatchObject({ claimed: 0, dtCalls: 0 });
    expect(await rowOf(row.id)).toEqual(before);
    expect(await nudges()).toHaveLength(1);
  });

  test("two concurrent runs settle each commitment once", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
      seedMember(`dev-m${i}`, window, 1.0);
      ids.push((await commit({ userId: `m${i}`, ...window })).id);
    }

    const runs = await Promise.all([
      settleDueCommitments({ ctx: ctxAt(NOW), input: { batchSize: 5 } }),
      settleDueCommitments({ ctx: ctxAt(NOW), input: { batchSize: 5 } }),
    ]);

    expect(runs.reduce((n, r) => n + (r.settled.delivered ?? 0), 0)).toBe(24);
    expect(runs.reduce((n, r) => n + r.claimed, 0)).toBe(24);
    const sent = await nudges();
    expect(sent).toHaveLength(24);
    expect(new Set(sent.map((n) => n.commitmentId)).size).toBe(24);
  });

  test("one failing device costs only its own rows, with one attempt per run", async () => {
    const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
    seedMember("dev-ok", window, 1.0);
    const ok = await commit({ userId: "olga", ...window, deviceId: "dev-ok" });
    const broken = await commit({ userId: "pia", ...window, deviceId: "dev-broken" });
    const broken2 = await commit({
      userId: "pia",
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
    // Each window's hours were asked for once; the failure is remembered for the rest of the run.
    expect(brokenCalls).toBe(2);
    expect(logs.filter((l) => l.msg === "settlement could not read the meter")).toHaveLength(1);
  });

  test("an hour fetched once in a run is not fetched again (overlapping baselines of one member)", async () => {
    const days = ["2026-04-06", "2026-04-07", "2026-04-08"];
    seedHours("dev-quinn", "2026-03-10T00:00:00Z", NOW.toISOString(), () => 0.5);
    for (const day of days)
      await commit({ userId: "quinn", start: `${day}T09:00:00Z`, end: `${day}T12:00:00Z` });

    await settleDueCommitments({ ctx: ctxAt(NOW) });

    const hours = settlementRanges().flatMap((r) => {
      const out: string[] = [];
      for (let at = r.start; at < r.end; at += HOUR) out.push(`${r.device}@${at}`);
      return out;
    });
    expect(hours.length).toBeGreaterThan(0);
    expect(new Set(hours).size).toBe(hours.length);
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
    for (let i = 0; i < 6; i++) {
      const window = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };
      seedMember(`dev-r${i}`, window, 1.0);
      await commit({ userId: `r${i}`, ...window });
    }
    fake.setLatency(5);
    const ctx = ctxAt(NOW, counting);
    await settleDueCommitments({
      ctx: { ...ctx, config: { ...DEFAULT_CORE_CONFIG, settlementConcurrency: 3 } },
    });
    expect(peak).toBe(3);
  });
});
