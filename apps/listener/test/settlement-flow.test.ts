import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createMetrics, type Metrics } from "@celine/core";
import { commitments, pointsLedger } from "@celine/core/db";
import { testBrokerUrl } from "@celine/fakes";
import { asc, eq } from "drizzle-orm";
import type { Listener } from "../src/listener.ts";
import {
  completed,
  createWorld,
  ingests,
  publishRuns,
  startWorldListener,
  type World,
  waitFor,
} from "./fixtures.ts";

setDefaultTimeout(60_000);

// The daily flexibility flow through the listener: two replicas (no shared subscription, so both
// handle every run — two concurrent settlement runs) over one database, the DT fake holding 90 days
// of hourly readings per member, nudges observed at the nudging tool's fake.

const HOUR = 3_600_000;
const DAY = 86_400_000;
const COMMUNITY = "rec-a";
/** Wednesday 11:00–14:00 in Rome (CEST). */
const WINDOW = { start: Date.parse("2026-07-01T09:00:00Z"), end: Date.parse("2026-07-01T12:00:00Z") };
const MEMBERS = ["ada", "ben", "cyd", "dee", "eli", "fay"];

let world: World;
let broker: { url: string; close(): Promise<void> };
let replicas: Listener[];
let metrics: Metrics[];
let now = new Date("2026-07-02T01:00:00Z");

beforeAll(async () => {
  world = await createWorld();
  broker = await testBrokerUrl();
  metrics = [createMetrics(), createMetrics()];
  replicas = await Promise.all(
    metrics.map((m) => startWorldListener(world, broker.url, { metrics: m, now: () => now })),
  );
  for (const replica of replicas)
    await waitFor("a replica to subscribe", () => replica.broker.ready(), Boolean);
  // 90+ days of 0.5 kWh an hour; the first four members move 1 kWh an hour into the window.
  for (const [i, member] of MEMBERS.entries()) {
    const rows = [];
    for (let at = WINDOW.start - 95 * DAY; at < WINDOW.end + DAY; at += HOUR) {
      const shifting = i < 4 && at >= WINDOW.start && at < WINDOW.end;
      rows.push({
        ts: new Date(at).toISOString().slice(0, 19),
        device_id: `dev-${member}`,
        consumption_kwh: shifting ? 1.5 : 0.5,
      });
    }
    world.dt.addConsumption(COMMUNITY, rows);
  }
  await world.database.db.insert(commitments).values(
    MEMBERS.map((member) => ({
      userId: member,
      suggestionId: "w-2026-07-01-1100",
      communityId: COMMUNITY,
      deviceId: `dev-${member}`,
      periodStart: new Date(WINDOW.start),
      periodEnd: new Date(WINDOW.end),
      rewardPointsEstimated: 40,
      noticeAt: new Date(WINDOW.start - DAY),
    })),
  );
});
afterAll(async () => {
  await Promise.all((replicas ?? []).map((r) => r.stop()));
  await broker?.close();
  await world?.close();
});

const handled = () =>
  metrics.reduce(
    (n, m) =>
      n + m.value("flexibility_listener_messages_total", { outcome: "handled", handler: "settlement" }),
    0,
  );
const rows = () => world.database.db.select().from(commitments).orderBy(asc(commitments.userId));
const ledger = () => world.database.db.select().from(pointsLedger).orderBy(asc(pointsLedger.id));

async function runFlow(): Promise<void> {
  const before = handled();
  await publishRuns(broker.url, world.prefix, [completed("rec-flexibility-flow")]);
  await waitFor("both replicas to handle the run", handled, (n) => n === before + 2, 30_000);
}

describe("the daily flexibility flow, through two listener replicas", () => {
  test("both replicas run settlement at once; each commitment is settled once, with one ledger entry and one nudge", async () => {
    await runFlow();

    const settled = await rows();
    expect(settled.map((r) => [r.userId, r.status, r.settlementOutcome, r.rewardPointsActual])).toEqual([
      // 3 × 1.5 actual against 3 × 0.5 → 3 kWh shifted (fraction 2 → 2.5) × 15 = 112.5 → 113.
      ["ada", "settled", "delivered", 113],
      ["ben", "settled", "delivered", 113],
      ["cyd", "settled", "delivered", 113],
      ["dee", "settled", "delivered", 113],
      ["eli", "settled", "not_delivered", 0],
      ["fay", "settled", "not_delivered", 0],
    ]);
    const entries = await ledger();
    expect(entries.map((e) => [e.userId, e.kind, e.points, e.revision])).toHaveLength(6);
    expect(new Set(entries.map((e) => e.commitmentId)).size).toBe(6);
    const sent = await waitFor(
      "six commitment_settled nudges",
      () => ingests(world.nudging, "commitment_settled"),
      (calls) => calls.length >= 6,
    );
    expect(new Set(sent.map((c) => (c.body as { user_id: string }).user_id)).size).toBe(6);
  });

  test("the next day a late-corrected reading is restated by the next run: revision 2 and a ledger delta, once", async () => {
    world.dt.addConsumption(COMMUNITY, [
      { ts: "2026-07-01T10:00:00", device_id: "dev-eli", consumption_kwh: 2.0 },
    ]);
    now = new Date(now.getTime() + DAY);

    await runFlow();

    const [eli] = (await rows()).filter((r) => r.userId === "eli");
    // 0.5 + 2.0 + 0.5 = 3.0 against 1.5 → 1.5 shifted (fraction 1 → 2.5) × 15 = 56.25 → 56.
    expect(eli).toMatchObject({
      settlementOutcome: "delivered",
      rewardPointsActual: 56,
      settlementRevision: 2,
    });
    const entries = (await ledger()).filter((e) => e.userId === "eli");
    expect(entries.map((e) => [e.kind, e.points, e.revision])).toEqual([
      ["settlement", 0, 1],
      ["restatement", 56, 2],
    ]);
    expect((await ledger()).filter((e) => e.kind === "restatement")).toHaveLength(1);
    const [other] = await world.database.db.select().from(commitments).where(eq(commitments.userId, "ada"));
    expect(other?.settlementRevision).toBe(1);
  });
});
