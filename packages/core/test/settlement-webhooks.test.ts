import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  type DigitalTwin,
  type OidcIssuer,
  startDigitalTwin,
  startOidcIssuer,
  startWebhookReceiver,
  type WebhookReceiver,
} from "@celine/fakes";
import { createDigitalTwinClient, createTokenProvider, createWebhookSender } from "@celine/platform";
import { asc, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { toCommitmentOut } from "../src/commitments/out.ts";
import type { Database } from "../src/db/database.ts";
import { commitments, meterChunks, outbox, pointsLedger, settlements, webhooks } from "../src/db/index.ts";
import {
  type Ctx,
  createLogger,
  relayOutboxOnce,
  settleDueCommitments,
  unconfiguredPlatform,
} from "../src/index.ts";
import { createMetrics } from "../src/metrics.ts";
import { createSystemTestCtx, createTestDatabase } from "../src/testing/index.ts";
import { queuedMessageOf } from "../src/webhooks/message.ts";

// commitment.settled and commitment.restated from the settlement run (the daily flow), written in the
// transaction of each batch and delivered by the relay: the real DT adapter against the DT contract
// fake, a real receiver on loopback, signatures checked with the `standardwebhooks` package.

const COMMUNITY = "rec-a";
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Thursday 2026-04-09 05:00 CEST: the daily flow has run for Wednesday. */
const NOW = new Date("2026-04-09T03:00:00Z");
/** Wednesday 11:00–14:00 CEST. */
const WEDNESDAY = { start: "2026-04-08T09:00:00Z", end: "2026-04-08T12:00:00Z" };

let database: Database;
let issuer: OidcIssuer;
let fake: DigitalTwin;
let receiver: WebhookReceiver;
const metrics = createMetrics();
const quiet = createLogger({ level: "silent" });

beforeAll(async () => {
  database = await createTestDatabase();
  issuer = await startOidcIssuer();
  fake = await startDigitalTwin({ issuer });
  receiver = startWebhookReceiver();
}, 60_000);
afterAll(async () => {
  await Promise.all([fake.close(), issuer.close(), receiver.close()]);
  await database.close();
});
beforeEach(async () => {
  await database.db.execute(
    sql`truncate ${commitments}, ${outbox}, ${pointsLedger}, ${settlements}, ${meterChunks}, ${webhooks}`,
  );
  fake.clearData();
  receiver.clear();
});

function ctxAt(now: Date): Ctx {
  const dt = createDigitalTwinClient({
    baseUrl: fake.url,
    tokens: createTokenProvider({
      issuerUrl: issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    }),
    metrics,
    log: quiet,
    retries: 0,
  });
  return createSystemTestCtx({ db: database.db, now: () => now, platform: { ...unconfiguredPlatform, dt } });
}

/** 0.5 kWh every hour for 100 days before `until`, `inWindow` kWh per hour inside the window. */
function seedReadings(device: string, inWindow: number, until: Date) {
  const start = Date.parse(WEDNESDAY.start);
  const end = Date.parse(WEDNESDAY.end);
  const rows = [];
  for (let at = until.getTime() - 100 * DAY; at < until.getTime(); at += HOUR) {
    const kwh = at >= start && at < end ? inWindow : 0.5;
    rows.push({ ts: new Date(at).toISOString().slice(0, 19), device_id: device, consumption_kwh: kwh });
  }
  fake.addConsumption(COMMUNITY, rows);
}

async function commit(userId: string) {
  const start = new Date(WEDNESDAY.start);
  const [row] = await database.db
    .insert(commitments)
    .values({
      userId,
      suggestionId: `w-${userId}`,
      communityId: COMMUNITY,
      deviceId: `dev-${userId}`,
      periodStart: start,
      periodEnd: new Date(WEDNESDAY.end),
      rewardPointsEstimated: 40,
      noticeAt: new Date(start.getTime() - DAY),
    })
    .returning();
  if (!row) throw new Error("insert failed");
  return row;
}

async function subscribe(values: { userId?: string; communityId?: string; path: string; events?: string[] }) {
  const secret = `whsec_${btoa("a-secret-of-this-test-32-bytes!!")}`;
  const [hook] = await database.db
    .insert(webhooks)
    .values({
      userId: values.userId ?? null,
      communityId: values.communityId ?? null,
      createdBy: values.userId ?? "svc-integrations",
      url: `${receiver.url}${values.path}`,
      secret,
      events: values.events ?? ["commitment.settled", "commitment.restated"],
    })
    .returning();
  if (!hook) throw new Error("insert failed");
  return hook;
}

async function rowOf(id: string) {
  const [row] = await database.db.select().from(commitments).where(eq(commitments.id, id));
  if (!row) throw new Error(`no row ${id}`);
  return row;
}

const webhookEntries = () =>
  database.db.select().from(outbox).where(eq(outbox.kind, "webhook")).orderBy(asc(outbox.id));

async function deliver(now: Date) {
  for (let i = 0; i < 20; i += 1) {
    const round = await relayOutboxOnce({
      db: database.db,
      platform: {
        ...unconfiguredPlatform,
        webhooks: createWebhookSender({ metrics, log: quiet }),
      },
      log: quiet,
      metrics,
      now: () => now,
      allowPrivateWebhookTargets: true,
    });
    if (round.claimed === 0) return;
  }
}

describe("settlement run", () => {
  test("commitment.settled for each settled commitment, to the member's own subscription and the community's, as CommitmentOut after settling", async () => {
    seedReadings("dev-pia", 1.0, NOW);
    seedReadings("dev-ugo", 0.5, NOW);
    const pia = await commit("pia");
    const ugo = await commit("ugo");
    const own = await subscribe({ userId: "pia", path: "/pia" });
    const community = await subscribe({ communityId: COMMUNITY, path: "/community" });
    await subscribe({ communityId: "rec-elsewhere", path: "/elsewhere" });
    await subscribe({ userId: "pia", path: "/created-only", events: ["commitment.created"] });

    const summary = await settleDueCommitments({ ctx: ctxAt(NOW) });
    expect(summary).toMatchObject({ settled: { delivered: 1, not_delivered: 1 } });

    const entries = await webhookEntries();
    const sent = entries.map((e) => [e.target, e.commitmentId, queuedMessageOf(e.payload)?.type]);
    expect(sent.sort()).toEqual(
      [
        [own.id, pia.id, "commitment.settled"],
        [community.id, pia.id, "commitment.settled"],
        [community.id, ugo.id, "commitment.settled"],
      ].sort(),
    );
    await deliver(NOW);
    const verify = (secret: string, path: string) =>
      receiver.received
        .filter((r) => r.path === path)
        .map(
          (r) =>
            new Webhook(secret).verify(r.body, r.headers) as {
              type: string;
              timestamp: string;
              data: unknown;
            },
        );
    const settledPia = toCommitmentOut(await rowOf(pia.id));
    expect(settledPia).toMatchObject({ status: "settled", reward_points_actual: 56, settlement_revision: 1 });
    expect(verify(own.secret, "/pia")).toEqual([
      { type: "commitment.settled", timestamp: NOW.toISOString(), data: settledPia },
    ]);
    expect(verify(community.secret, "/community").map((m) => m.data)).toEqual(
      expect.arrayContaining([settledPia, toCommitmentOut(await rowOf(ugo.id))]),
    );
    expect(receiver.received.filter((r) => r.path === "/elsewhere" || r.path === "/created-only")).toEqual(
      [],
    );
  });

  test("a restatement → commitment.restated with the new revision and points; nothing when nothing changed", async () => {
    const later = new Date(NOW.getTime() + 2 * DAY);
    seedReadings("dev-pia", 1.0, later);
    const pia = await commit("pia");
    const own = await subscribe({ userId: "pia", path: "/pia" });
    await settleDueCommitments({ ctx: ctxAt(NOW) });
    // Nothing changed the next day: no restatement, no event.
    await settleDueCommitments({ ctx: ctxAt(new Date(NOW.getTime() + DAY / 2)) });
    expect((await webhookEntries()).map((e) => queuedMessageOf(e.payload)?.type)).toEqual([
      "commitment.settled",
    ]);

    // The meter operator corrects 11:00–12:00 on Wednesday from 1.0 to 1.6 kWh.
    fake.addConsumption(COMMUNITY, [
      { ts: "2026-04-08T09:00:00", device_id: "dev-pia", consumption_kwh: 1.6 },
    ]);
    const nextDay = new Date(NOW.getTime() + DAY);
    expect(await settleDueCommitments({ ctx: ctxAt(nextDay) })).toMatchObject({ restated: 1 });

    await deliver(nextDay);
    const messages = receiver.received
      .filter((r) => r.path === "/pia")
      .map((r) => new Webhook(own.secret).verify(r.body, r.headers) as { type: string; data: unknown });
    expect(messages.map((m) => m.type)).toEqual(["commitment.settled", "commitment.restated"]);
    const restated = toCommitmentOut(await rowOf(pia.id));
    expect(messages[1]?.data).toEqual(restated);
    expect(restated).toMatchObject({ settlement_revision: 2, reward_points_actual: 79 });
  });
});
