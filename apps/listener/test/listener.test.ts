import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createLogger, createMetrics, type LogRecord, type Metrics } from "@celine/core";
import { broadcasts, commitments, meterChunks, offers, processedRuns } from "@celine/core/db";
import { testBrokerUrl } from "@celine/fakes";
import { eq, sql } from "drizzle-orm";
import { serveProbes } from "../src/http.ts";
import type { Listener } from "../src/listener.ts";
import {
  community,
  completed,
  createWorld,
  forecastRows,
  ingests,
  membersOf,
  publishRuns,
  startWorldListener,
  type World,
  waitFor,
} from "./fixtures.ts";

// Starting servers and databases on a busy 2-core machine takes seconds; never let one hang CI.
setDefaultTimeout(30_000);

// The listener end to end: pipeline events published on a real broker (CI's Mosquitto, or the
// embedded one), handled by the real verbs over a fresh database, nudges observed at the fake.

const NOW = new Date("2026-07-02T06:20:00Z");
const FORECAST = forecastRows(new Date("2026-07-02T07:00:00Z"), [0.3, 0.8, "1.5", 2, 0.2]);
const MESSAGES = "flexibility_listener_messages_total";

let world: World;
let broker: { url: string; close(): Promise<void> };
let listener: Listener;
let metrics: Metrics;

beforeAll(async () => {
  world = await createWorld();
  broker = await testBrokerUrl();
  metrics = createMetrics();
  listener = await startWorldListener(world, broker.url, { metrics, now: () => NOW });
  await waitFor("the listener to subscribe", () => listener.broker.ready(), Boolean);
});
afterAll(async () => {
  await listener?.stop();
  await broker?.close();
  await world?.close();
});
beforeEach(() => {
  world.dt.reset();
  world.nudging.reset();
  world.nudging.clearEvents();
  world.nudging.clearCalls();
  world.registry.seed([
    community("rec-a", membersOf("rec-a", 4)),
    community("rec-b", membersOf("rec-b", 3, 3)),
  ]);
  world.dt.setForecast("rec-a", FORECAST);
  world.dt.setForecast("rec-b", FORECAST);
});

const count = (outcome: string, handler?: string) =>
  metrics.value(MESSAGES, handler ? { outcome, handler } : { outcome });
const publish = (...events: (Record<string, unknown> | string)[]) =>
  publishRuns(broker.url, world.prefix, events);

describe("happy", () => {
  test("a completed rec-forecasting-flow run announces each community's opportunity to its members", async () => {
    await world.database.db.execute(sql`delete from ${broadcasts}`);
    await publish(completed("rec-forecasting-flow"));
    const got = await waitFor(
      "opportunity nudges",
      () => world.nudging.received(),
      (r) => r.length >= 6,
    );
    expect(got.map((n) => n.event.user_id).sort()).toEqual(
      ["rec-a-u0", "rec-a-u1", "rec-a-u2", "rec-a-u3", "rec-b-u0", "rec-b-u1"].sort(),
    );
    expect(got[0]?.event.facts).toMatchObject({
      window_start: "10:00",
      window_end: "13:00",
      reward_points: "65",
    });
  });

  test("a meter tick stores the readings the targets of windows listed in the last hour read (once)", async () => {
    // Listed 10 minutes ago: Thursday 2026-07-02 12:00–13:00 in Rome. Its target reads the 64
    // weekdays of the 90 days before (2026-04-03 … 2026-07-01), one UTC day a chunk.
    await world.database.db.insert(offers).values({
      userId: "rec-a-u2",
      windowId: "w-target",
      communityId: "rec-a",
      deviceId: "meter-target",
      periodStart: new Date("2026-07-02T10:00:00Z"),
      periodEnd: new Date("2026-07-02T11:00:00Z"),
      offeredAt: new Date(NOW.getTime() - 10 * 60_000),
      firstOfferedAt: new Date(NOW.getTime() - 10 * 60_000),
    });
    world.dt.addConsumption("rec-a", [
      { ts: "2026-07-01T10:00:00", device_id: "meter-target", consumption_kwh: 0.5 },
    ]);
    world.dt.clearCalls();
    const stored = () => world.database.db.$count(meterChunks, eq(meterChunks.deviceId, "meter-target"));
    await publish(completed("meters-flow"));
    await waitFor("the chunks stored", stored, (n) => n === 64);
    const asked = () => world.dt.calls.filter((c) => c.path.endsWith("/rec_settlement_1h")).length;
    expect(asked()).toBe(64);
    // The next tick finds nothing missing: no DT call.
    const ticks = count("handled", "meter-tick");
    await publish(completed("meters-flow"));
    await waitFor(
      "the next tick",
      () => count("handled", "meter-tick"),
      (n) => n > ticks,
    );
    expect(asked()).toBe(64);
  });

  test("a meter tick (meters-flow and rec-metering-flow) sends the reminder of a commitment whose window is open", async () => {
    const open = {
      periodStart: new Date("2026-07-02T06:00:00Z"),
      periodEnd: new Date("2026-07-02T08:00:00Z"),
    };
    const [first, second] = await world.database.db
      .insert(commitments)
      .values([
        { userId: "rec-a-u0", suggestionId: "w-1", communityId: "rec-a", rewardPointsEstimated: 12, ...open },
        { userId: "rec-a-u1", suggestionId: "w-2", communityId: "rec-a", rewardPointsEstimated: 7, ...open },
      ])
      .returning();
    await world.database.db
      .update(commitments)
      .set({ remindedAt: NOW })
      .where(eq(commitments.id, second?.id ?? ""));

    await publish(completed("meters-flow"));
    const reminders = await waitFor(
      "one reminder",
      () => ingests(world.nudging, "flexibility_reminder"),
      (calls) => calls.length >= 1,
    );
    expect(reminders.map((c) => (c.body as { user_id: string }).user_id)).toEqual(["rec-a-u0"]);
    // Stamped once the tool has answered, so just after the call arrived.
    await waitFor(
      "reminded_at stamped",
      async () =>
        (
          await world.database.db
            .select()
            .from(commitments)
            .where(eq(commitments.id, first?.id ?? ""))
        )[0],
      (row) => row?.remindedAt instanceof Date,
    );

    // The platform's own metering flow is a meter tick too.
    await world.database.db
      .update(commitments)
      .set({ remindedAt: null })
      .where(eq(commitments.id, second?.id ?? ""));
    await publish(completed("rec-metering-flow"));
    await waitFor(
      "the second reminder",
      () => ingests(world.nudging, "flexibility_reminder"),
      (calls) => calls.length >= 2,
    );
    await waitFor(
      "both ticks counted",
      () => count("handled", "meter-tick"),
      (n) => n >= 2,
    );
  });

  test("a completed rec-flexibility-flow run settles the commitments whose window ended", async () => {
    // Ended long past SETTLEMENT_DEADLINE_DAYS and the member has no metering device: settlement
    // closes it (0 points, an outcome that says why) instead of waiting for data forever.
    const [due] = await world.database.db
      .insert(commitments)
      .values({
        userId: "rec-a-u3",
        suggestionId: "w-old",
        communityId: "rec-a",
        periodStart: new Date("2026-06-01T09:00:00Z"),
        periodEnd: new Date("2026-06-01T10:00:00Z"),
        rewardPointsEstimated: 5,
      })
      .returning();
    const before = count("handled", "settlement");
    await publish(completed("rec-flexibility-flow"));
    await waitFor(
      "settlement handled",
      () => count("handled", "settlement"),
      (n) => n === before + 1,
    );
    const [row] = await world.database.db
      .select()
      .from(commitments)
      .where(eq(commitments.id, due?.id ?? ""));
    expect(row?.status, JSON.stringify(row)).not.toBe("committed");
    expect(row?.settlementOutcome, JSON.stringify(row)).not.toBeNull();
  });
});

describe("ignored events", () => {
  test("malformed, started, failed and unknown-flow events are counted and ignored; the next event still works", async () => {
    const base = {
      malformed: count("malformed"),
      not_completed: count("not_completed"),
      unhandled_flow: count("unhandled_flow"),
    };
    const started = completed("rec-forecasting-flow");
    await publish(
      "{not json",
      JSON.stringify([1, 2]),
      { flow: "rec-forecasting-flow", status: "completed" }, // no run_id
      { ...started, status: "started" },
      { ...started, status: "failed", error: "boom" },
      completed("some-other-flow"),
      completed("meters-flow"),
    );
    await waitFor(
      "every event counted",
      () => [count("malformed"), count("not_completed"), count("unhandled_flow")],
      ([m, n, u]) =>
        m === base.malformed + 3 && n === base.not_completed + 2 && u === base.unhandled_flow + 1,
    );
    expect(ingests(world.nudging, "flexibility_opportunity")).toHaveLength(0);
    // The subscription is alive: a valid event after the junk is handled.
    const handledTicks = count("handled", "meter-tick");
    await publish(completed("meters-flow"));
    await waitFor(
      "a later tick",
      () => count("handled", "meter-tick"),
      (n) => n >= handledTicks + 1,
    );
    expect(listener.broker.ready()).toBe(true);
  });
});

describe("idempotence", () => {
  test("a redelivered run_id has no second effect", async () => {
    await world.database.db.execute(sql`delete from ${broadcasts}`);
    const run = completed("rec-forecasting-flow", `dup-${crypto.randomUUID()}`);
    await publish(run);
    await waitFor(
      "first delivery",
      () => world.nudging.received().length,
      (n) => n >= 6,
    );
    // Without the run record, a second handling would announce again: forget the broadcasts and
    // the tool's own dedup so that only the per-run record can stop it.
    await world.database.db.execute(sql`delete from ${broadcasts}`);
    world.nudging.clearEvents();
    const duplicates = count("duplicate", "opportunities");
    await publish(run);
    await waitFor(
      "the redelivery",
      () => count("duplicate", "opportunities"),
      (n) => n === duplicates + 1,
    );
    await Bun.sleep(300);
    expect(ingests(world.nudging, "flexibility_opportunity")).toHaveLength(6);
    const recorded = await world.database.db
      .select()
      .from(processedRuns)
      .where(eq(processedRuns.runId, String(run.run_id)));
    expect(recorded.map((r) => r.flow)).toEqual(["rec-forecasting-flow"]);
  });

  test("a run whose handling failed is not recorded, and its redelivery is handled", async () => {
    await world.database.db.execute(sql`delete from ${broadcasts}`);
    const run = completed("rec-forecasting-flow", `retry-${crypto.randomUUID()}`);
    world.dt.failNext(503, Number.POSITIVE_INFINITY, { path: /rec_forecast$/ });
    const failed = count("failed", "opportunities");
    await publish(run);
    await waitFor(
      "the failure",
      () => count("failed", "opportunities"),
      (n) => n === failed + 1,
    );
    expect(
      await world.database.db
        .select()
        .from(processedRuns)
        .where(eq(processedRuns.runId, String(run.run_id))),
    ).toEqual([]);

    world.dt.reset();
    await publish(run);
    await waitFor(
      "the retried broadcast",
      () => world.nudging.received().length,
      (n) => n >= 6,
    );
    expect(listener.broker.ready()).toBe(true);
  });
});

describe("probes", () => {
  test("/health, /ready and /metrics answer on the listener's port", async () => {
    const base = `http://127.0.0.1:${listener.port}`;
    const health = await fetch(`${base}/health`);
    expect(health.status, await health.clone().text()).toBe(200);
    const ready = await fetch(`${base}/ready`);
    const body = await ready.text();
    expect(ready.status, body).toBe(200);
    expect(JSON.parse(body)).toEqual({ status: "ready", checks: { broker: "ok", database: "ok" } });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain("# TYPE flexibility_listener_messages_total counter");
    expect(text).toContain("flexibility_listener_broker_connects_total");
  });

  test("/ready with the database unreachable: 503 'unreachable', the driver's message (a host) only in the log", async () => {
    const logged: LogRecord[] = [];
    const broken = await startWorldListener(
      {
        ...world,
        database: {
          ...world.database,
          ping: () => Promise.reject(new Error("connect ECONNREFUSED 10.9.8.7:5432")),
        },
      },
      broker.url,
      { log: createLogger({ sink: (r) => logged.push(r) }) },
    );
    try {
      const ready = await fetch(`http://127.0.0.1:${broken.port}/ready`);
      const body = await ready.text();
      expect(ready.status, body).toBe(503);
      expect(JSON.parse(body).checks.database).toBe("unreachable");
      expect(body).not.toContain("10.9.8.7");
      const line = logged.find((l) => l.msg === "readiness: database unreachable");
      expect(JSON.stringify(line)).toContain("connect ECONNREFUSED 10.9.8.7:5432");
    } finally {
      await broken.stop();
    }
  });

  test("METRICS_TOKEN closes /metrics to callers without it; /health and /ready stay open", async () => {
    const token = "listener-metrics-0123456789";
    const probes = serveProbes({
      port: 0,
      hostname: "127.0.0.1",
      readiness: async () => ({ ready: true, checks: {} }),
      metrics: createMetrics(),
      metricsToken: token,
    });
    try {
      const base = `http://127.0.0.1:${probes.port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const wrong = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer nope" } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
    } finally {
      await probes.stop();
    }
  });
});
