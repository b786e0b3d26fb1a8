import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { broadcastOpportunities, parseInstant, relayOutboxOnce } from "@celine/core";
import { broadcasts, outbox } from "@celine/core/db";
import { sql } from "drizzle-orm";
import { community, createWorld, forecastRows, ingests, membersOf, type World } from "./fixtures.ts";

// Starting servers and databases on a busy 2-core machine takes seconds; never let one hang CI.
setDefaultTimeout(30_000);

// The opportunity broadcast verb against the contract fakes, through the real platform adapters,
// the outbox and the relay.

let world: World;
// 06:20 UTC = 08:20 in Rome (CEST): the horizon starts at the next whole hour, 07:00 UTC.
const NOW = new Date("2026-07-02T06:20:00Z");
const FROM = new Date("2026-07-02T07:00:00Z");
// 07:00 0.3 | 08:00 0.8 | 09:00 "1.5" | 10:00 2 | 11:00 0.2 | 12:00 1 | 13:00 1   (UTC)
// → earliest window 08:00–11:00 UTC = 10:00–13:00 Rome, 0.8 + 1.5 + 2 = 4.3 kWh, 65 points (× 15, half up).
const FORECAST = forecastRows(FROM, [0.3, 0.8, "1.5", 2, 0.2, 1, 1]);

beforeAll(async () => {
  world = await createWorld();
});
afterAll(async () => {
  await world?.close();
});
beforeEach(async () => {
  world.dt.reset();
  world.dt.clearData();
  world.dt.clearCalls();
  world.nudging.reset();
  world.nudging.clearEvents();
  world.nudging.clearCalls();
  world.registry.reset();
  await world.database.db.execute(sql`delete from ${outbox}`);
  await world.database.db.execute(sql`delete from ${broadcasts}`);
});

async function deliverAll(): Promise<void> {
  for (let round = 0; round < 100; round += 1) {
    const done = await relayOutboxOnce({
      db: world.database.db,
      platform: world.platform,
      log: world.ctx().log,
      metrics: world.metrics,
      now: () => new Date(),
      batch: 200,
    });
    if (done.claimed === 0) return;
  }
}

describe("happy", () => {
  test("every member with an account (all registry pages) gets one opportunity nudge with facts in community time", async () => {
    // 120 members → three registry pages of 50; every 10th has no account.
    world.registry.seed([
      community("rec-a", membersOf("rec-a", 120, 10)),
      community("rec-b", membersOf("rec-b", 3)),
    ]);
    world.dt.setForecast("rec-a", FORECAST);
    world.dt.setForecast("rec-b", FORECAST);

    const summary = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(summary.communities.map((c) => [c.communityId, c.kind])).toEqual([
      ["rec-a", "announced"],
      ["rec-b", "announced"],
    ]);
    expect(summary.nudges).toBe(108 + 3);
    await deliverAll();

    const received = world.nudging.received().map((n) => n.event);
    expect(received).toHaveLength(111);
    expect(new Set(received.map((e) => e.user_id)).size).toBe(111);
    expect(received.some((e) => e.user_id === "rec-a-u9")).toBe(false);
    const alice = received.find((e) => e.user_id === "rec-a-u0");
    expect(alice, JSON.stringify(received.slice(0, 2))).toMatchObject({
      event_type: "flexibility_opportunity",
      community_id: "rec-a",
      facts: {
        facts_version: "1.0",
        scenario: "flexibility_opportunity",
        window_start: "10:00",
        window_end: "13:00",
        estimated_kwh: "4.3",
        reward_points: "65",
        period: "2026-07-02",
      },
    });
    // The forecast was asked for the next 24 whole hours.
    const forecastCall = world.dt.calls.find((c) => c.path.endsWith("/rec_forecast"));
    const payload = (forecastCall?.body as { payload?: { start: string; end: string } } | undefined)?.payload;
    expect([
      parseInstant(payload?.start ?? "")?.toISOString(),
      parseInstant(payload?.end ?? "")?.toISOString(),
    ]).toEqual(["2026-07-02T07:00:00.000Z", "2026-07-03T07:00:00.000Z"]);
  });

  test("reward points are round_half_up(estimated_kwh × the settlement's points per kWh)", async () => {
    world.registry.seed([community("rec-a", membersOf("rec-a", 1))]);
    // 0.7 + 0.8 = 1.5 kWh × 15 = 22.5 → 23 points (half up, not to even).
    world.dt.setForecast("rec-a", forecastRows(FROM, [0.7, "0.8"]));
    const summary = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(summary.communities[0]).toMatchObject({ kind: "announced", estimatedKwh: 1.5, rewardPoints: 23 });
  });
});

describe("idempotence", () => {
  test("a rerun for the same forecast sends nothing again, even where the nudging tool would not deduplicate", async () => {
    world.registry.seed([community("rec-a", membersOf("rec-a", 5))]);
    world.dt.setForecast("rec-a", FORECAST);
    await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    await deliverAll();
    world.nudging.clearEvents(); // forget the tool's own dedup memory: only our record may stop a resend

    const again = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(again.communities.map((c) => c.kind)).toEqual(["already_announced"]);
    expect(again.nudges).toBe(0);
    await deliverAll();
    expect(ingests(world.nudging, "flexibility_opportunity")).toHaveLength(5);
  });

  test("a later run inside the announced window does not announce its remaining hours again", async () => {
    world.registry.seed([community("rec-a", membersOf("rec-a", 2))]);
    world.dt.setForecast("rec-a", FORECAST);
    await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    // 09:10 UTC: the horizon starts at 10:00, inside the 08:00–11:00 window already announced.
    const later = await broadcastOpportunities({ ctx: world.ctx(() => new Date("2026-07-02T09:10:00Z")) });
    expect(later.communities.map((c) => c.kind)).toEqual(["already_announced"]);
  });
});

describe("robustness", () => {
  test("one community's failure never stops the others, and is reported", async () => {
    world.registry.seed([
      community("rec-a", membersOf("rec-a", 2)),
      community("rec-b", membersOf("rec-b", 2)),
      community("rec-c", membersOf("rec-c", 2)),
    ]);
    for (const key of ["rec-a", "rec-b", "rec-c"]) world.dt.setForecast(key, FORECAST);
    world.dt.failNext(503, Number.POSITIVE_INFINITY, { path: "/communities/it/rec-b/values/rec_forecast" });

    const summary = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(summary.communities.map((c) => [c.communityId, c.kind])).toEqual([
      ["rec-a", "announced"],
      ["rec-b", "failed"],
      ["rec-c", "announced"],
    ]);

    // Once the DT answers, a rerun serves the one that failed and only it.
    world.dt.reset();
    const retry = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(retry.communities.map((c) => c.kind)).toEqual([
      "already_announced",
      "announced",
      "already_announced",
    ]);
    await deliverAll();
    expect(ingests(world.nudging, "flexibility_opportunity")).toHaveLength(6);
  });

  test("junk forecast rows are skipped; nothing above 0.5 kW or only night hours → no window, no nudge", async () => {
    world.registry.seed([
      community("rec-a", membersOf("rec-a", 2)),
      community("rec-b", membersOf("rec-b", 2)),
    ]);
    world.dt.setForecast("rec-a", [
      ...forecastRows(FROM, [0.5, "0.5", "n/a", null]),
      { datetime: "not a time", prediction: 9 },
      { prediction: 9 },
    ]);
    // 00:00–03:00 UTC = 02:00–05:00 Rome: strong export, but before 05:00 local.
    world.dt.setForecast("rec-b", forecastRows(new Date("2026-07-03T00:00:00Z"), [5, 5, 5]));
    const summary = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
    expect(summary.communities.map((c) => c.kind)).toEqual(["no_window", "no_window"]);
    const rows = await world.database.db.select().from(outbox);
    expect(rows).toHaveLength(0);
  });

  test("a registry that fails while listing communities fails the run (the communities served stay served)", async () => {
    world.registry.seed([community("rec-a", membersOf("rec-a", 1))]);
    world.dt.setForecast("rec-a", FORECAST);
    world.registry.failNext(503, Number.POSITIVE_INFINITY, { path: "/admin/communities" });
    const error = await broadcastOpportunities({ ctx: world.ctx(() => NOW) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toContain("rec-registry");
  });
});
