import { afterAll, beforeAll, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { broadcastOpportunities, relayOutboxOnce } from "@celine/core";
import { broadcasts, outbox, webhooks } from "@celine/core/db";
import { startWebhookReceiver, type WebhookReceiver } from "@celine/fakes";
import { sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { community, createWorld, forecastRows, membersOf, silent, type World } from "./fixtures.ts";

setDefaultTimeout(30_000);

// window.opportunity: the opportunity broadcast (the forecasting flow's handler) writes one event to
// the community's webhook subscriptions and its members' own, in the transaction that records the
// announcement; the relay delivers it, signed, to a real receiver on loopback.

let world: World;
let receiver: WebhookReceiver;
// 06:20 UTC; the earliest window is 08:00–11:00 UTC, 0.8 + 1.5 + 2 = 4.3 kWh, 65 points (× 15).
const NOW = new Date("2026-07-02T06:20:00Z");
const FROM = new Date("2026-07-02T07:00:00Z");
const FORECAST = forecastRows(FROM, [0.3, 0.8, "1.5", 2, 0.2, 1, 1]);
const SECRET = `whsec_${btoa("a-secret-of-this-test-32-bytes!!")}`;

beforeAll(async () => {
  world = await createWorld();
  receiver = startWebhookReceiver();
});
afterAll(async () => {
  await Promise.all([world?.close(), receiver?.close()]);
});
beforeEach(async () => {
  world.registry.reset();
  world.dt.clearData();
  receiver.clear();
  for (const table of [outbox, broadcasts, webhooks])
    await world.database.db.execute(sql`delete from ${table}`);
});

async function subscribe(
  path: string,
  owner: { userId: string } | { communityId: string },
  events?: string[],
) {
  await world.database.db.insert(webhooks).values({
    userId: "userId" in owner ? owner.userId : null,
    communityId: "communityId" in owner ? owner.communityId : null,
    createdBy: "userId" in owner ? owner.userId : "svc-integrations",
    url: `${receiver.url}${path}`,
    secret: SECRET,
    events: events ?? ["window.opportunity"],
  });
}

async function deliverAll(): Promise<void> {
  for (let round = 0; round < 50; round += 1) {
    const done = await relayOutboxOnce({
      db: world.database.db,
      platform: world.platform,
      log: silent,
      metrics: world.metrics,
      now: () => NOW,
      batch: 200,
      // The receiver is on loopback: CELINE_ENV=dev's rule.
      allowPrivateWebhookTargets: true,
    });
    if (done.claimed === 0) return;
  }
}

test("an announced window → window.opportunity to the community's subscriptions and its members' own, with what the broadcast announces", async () => {
  world.registry.seed([community("rec-a", membersOf("rec-a", 3)), community("rec-b", membersOf("rec-b", 2))]);
  world.dt.setForecast("rec-a", FORECAST);
  await subscribe("/rec-a", { communityId: "rec-a" });
  await subscribe("/u0", { userId: "rec-a-u0" });
  await subscribe("/u1-commitments-only", { userId: "rec-a-u1" }, ["commitment.created"]);
  // rec-b has no window today; a stranger to rec-a hears nothing of it.
  await subscribe("/rec-b", { communityId: "rec-b" });
  await subscribe("/stranger", { userId: "rec-b-u0" });

  const summary = await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
  expect(summary.communities.map((c) => c.kind)).toEqual(["announced", "no_window"]);
  await deliverAll();

  const expected = {
    type: "window.opportunity",
    timestamp: NOW.toISOString(),
    data: {
      community_id: "rec-a",
      window_start: "2026-07-02T08:00:00.000Z",
      window_end: "2026-07-02T11:00:00.000Z",
      estimated_kwh: 4.3,
      reward_points: 65,
    },
  };
  const paths = receiver.received.map((r) => r.path).sort();
  expect(paths).toEqual(["/rec-a", "/u0"]);
  for (const delivery of receiver.received) {
    expect(new Webhook(SECRET).verify(delivery.body, delivery.headers)).toEqual(expected);
  }

  // A rerun announces nothing new: no second event either.
  await broadcastOpportunities({ ctx: world.ctx(() => NOW) });
  await deliverAll();
  expect(receiver.received).toHaveLength(2);
});
