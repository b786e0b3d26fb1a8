import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import {
  type EmbeddedBroker,
  type NudgingTool,
  type OidcIssuer,
  startEmbeddedBroker,
  startNudgingTool,
  startOidcIssuer,
} from "@celine/fakes";
import {
  createMqttPublisher,
  createNudgingClient,
  createTokenProvider,
  type MqttPublisher,
} from "@celine/platform";
import { asc, eq } from "drizzle-orm";
import type { Database } from "../src/db/database.ts";
import {
  type CommitmentRow,
  commitmentEntries,
  commitments,
  enqueue,
  outbox,
  wakeOutbox,
} from "../src/db/index.ts";
import {
  createLogger,
  createMetrics,
  DEFAULT_CORE_CONFIG,
  type LogRecord,
  type Metrics,
  type Platform,
  type RelayOptions,
  relayOutboxOnce,
  sendDueReminders,
  startOutboxRelay,
  unconfiguredPlatform,
} from "../src/index.ts";
import { OUTBOX_DROPPED, OUTBOX_FAILED } from "../src/outbox/relay.ts";
import { createSystemTestCtx, createTestDatabase } from "../src/testing/index.ts";

// The relay against the real adapters, the nudging fake and an embedded broker (observed from the
// broker side, so no MQTT client lives in core's tests). Time is a hand-moved clock.

let database: Database;
let issuer: OidcIssuer;
let nudging: NudgingTool;
let broker: EmbeddedBroker;
let publisher: MqttPublisher;
let platform: Pick<Platform, "publisher" | "nudging" | "webhooks">;
let metrics: Metrics;
const logs: LogRecord[] = [];
const log = createLogger({ level: "debug", sink: (r) => logs.push(r) });
const published: { topic: string; payload: Record<string, unknown> }[] = [];
const prefix = `t${crypto.randomUUID().slice(0, 8)}`;

let current = new Date("2026-07-02T06:00:00Z").getTime();
const clock = {
  now: () => new Date(current),
  set: (iso: string) => {
    current = new Date(iso).getTime();
  },
  advance: (ms: number) => {
    current += ms;
  },
};

beforeAll(async () => {
  database = await createTestDatabase();
  issuer = await startOidcIssuer();
  nudging = await startNudgingTool({ issuer });
  broker = await startEmbeddedBroker();
  broker.aedes.on("publish", (packet, client) => {
    if (client) published.push({ topic: packet.topic, payload: JSON.parse(packet.payload.toString()) });
  });
  const quiet = createLogger({ level: "silent" });
  metrics = createMetrics();
  const tokens = createTokenProvider({
    issuerUrl: issuer.url,
    clientId: "svc-flexibility",
    clientSecret: "svc-flexibility-secret",
    metrics,
    log: quiet,
  });
  publisher = createMqttPublisher({
    url: broker.url,
    topicPrefix: prefix,
    log: quiet,
    metrics,
    publishTimeoutMs: 1_000,
  });
  expect(await publisher.waitConnected(5_000)).toBe(true);
  platform = {
    publisher,
    nudging: createNudgingClient({ baseUrl: nudging.url, tokens, metrics, log: quiet, timeoutMs: 2_000 }),
    webhooks: unconfiguredPlatform.webhooks,
  };
}, 60_000);

afterAll(async () => {
  await publisher.close();
  await Promise.all([broker.close(), nudging.close(), issuer.close()]);
  await database.close();
});

beforeEach(() => {
  clock.set("2026-07-02T06:00:00Z");
  nudging.reset();
});

afterEach(async () => {
  // Each test starts from an empty queue and no live commitments.
  await database.db.update(outbox).set({ status: "dropped" }).where(eq(outbox.status, "pending"));
  await database.db
    .update(commitments)
    .set({ status: "cancelled" })
    .where(eq(commitments.status, "committed"));
});

const relayOpts = (over: Partial<RelayOptions> = {}): RelayOptions => ({
  db: database.db,
  platform,
  log,
  metrics,
  now: clock.now,
  backoff: { baseMs: 1_000, maxMs: 8_000 },
  timeoutMs: 2_000,
  ...over,
});

const systemCtx = () =>
  createSystemTestCtx({
    db: database.db,
    now: clock.now,
    platform: { ...unconfiguredPlatform, ...platform },
    metrics,
  });

let n = 0;
/** A live commitment of a fresh member (the nudging tool deduplicates per member and day), with its outbox entries. */
async function commit({
  start = "2026-07-02T09:00:00Z",
  end = "2026-07-02T12:00:00Z",
  entries = true,
}: {
  start?: string;
  end?: string;
  entries?: boolean;
} = {}): Promise<CommitmentRow> {
  n += 1;
  const [row] = await database.db
    .insert(commitments)
    .values({
      userId: `relay-user-${n}-${crypto.randomUUID().slice(0, 4)}`,
      suggestionId: `w-${n}`,
      communityId: "rec-1",
      deviceId: "meter-1",
      periodStart: new Date(start),
      periodEnd: new Date(end),
      rewardPointsEstimated: 12,
      committedAt: clock.now(),
    })
    .returning();
  if (!row) throw new Error("no row");
  if (entries) await enqueue(systemCtx(), commitmentEntries(row, DEFAULT_CORE_CONFIG, clock.now()));
  return row;
}

const entriesOf = (commitmentId: string) =>
  database.db.select().from(outbox).where(eq(outbox.commitmentId, commitmentId)).orderBy(asc(outbox.id));
const statusesOf = async (commitmentId: string) => (await entriesOf(commitmentId)).map((e) => e.status);
const commitmentRow = async (id: string) =>
  (await database.db.select().from(commitments).where(eq(commitments.id, id)))[0];
const remindersFor = (userId: string) =>
  nudging
    .received()
    .filter((r) => r.event.event_type === "flexibility_reminder" && r.event.user_id === userId);

/** Rounds until one finds nothing due. */
async function drain(opts = relayOpts()) {
  for (let i = 0; i < 20; i += 1) if ((await relayOutboxOnce(opts)).claimed === 0) return;
  throw new Error("relay did not drain");
}

describe("delivery", () => {
  test("the MQTT event goes first, then the confirmation; the reminder waits for its time", async () => {
    const c = await commit();
    const first = await relayOutboxOnce(relayOpts());
    expect(first.delivered).toBe(1);
    // The confirmation is queued behind its commitment's MQTT event, even though both are due.
    expect(await statusesOf(c.id)).toEqual(["delivered", "pending", "pending"]);
    await drain();
    expect(await statusesOf(c.id)).toEqual(["delivered", "delivered", "pending"]);
    const message = published.find((p) => p.payload.commitment_id === c.id);
    expect(message?.topic).toBe(`${prefix}/celine/flexibility/committed/${c.userId}`);
    expect(message?.payload).toEqual({
      user_id: c.userId,
      community_id: "rec-1",
      commitment_id: c.id,
      device_id: "meter-1",
      window_start: "2026-07-02T09:00:00.000Z",
      window_end: "2026-07-02T12:00:00.000Z",
      reward_points_estimated: 12,
    });
    const confirmations = nudging.received().filter((r) => r.event.user_id === c.userId);
    expect(confirmations.map((r) => r.event.event_type)).toEqual(["flexibility_committed"]);
  });

  test("a thrown failure (broker unreachable) retries with exponential backoff and holds the commitment's later entries", async () => {
    const away = await startEmbeddedBroker();
    const port = away.port;
    await away.close();
    const quiet = createLogger({ level: "silent" });
    const dead = createMqttPublisher({
      url: `mqtt://127.0.0.1:${port}`,
      log: quiet,
      metrics,
      publishTimeoutMs: 300,
    });
    try {
      const opts = relayOpts({ platform: { ...platform, publisher: dead } });
      const c = await commit();
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 5; attempt += 1) {
        const round = await relayOutboxOnce(opts);
        expect(round.retried).toBe(1);
        const [mqtt, confirmation] = await entriesOf(c.id);
        expect(mqtt?.attempts).toBe(attempt);
        expect(mqtt?.lastError).toBeTruthy();
        expect(confirmation?.attempts).toBe(0);
        const delay = (mqtt?.nextAttemptAt.getTime() ?? 0) - clock.now().getTime();
        delays.push(delay);
        // Nothing is due before the backoff has passed.
        clock.advance(delay - 1);
        expect((await relayOutboxOnce(opts)).claimed).toBe(0);
        clock.advance(1);
      }
      expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
      expect(nudging.received().some((r) => r.event.user_id === c.userId)).toBe(false);
    } finally {
      await dead.close();
    }
  });

  test("the database lost between a delivery and its mark: the mark is written before the next claim, and the event is not sent again", async () => {
    const c = await commit();
    const unrecorded = new Set<number>();
    // The database answers the claim, then fails the writes that follow it in this round.
    let failWrites = false;
    const flaky = new Proxy(database.db, {
      get(target, key, receiver) {
        if (key === "update" && failWrites) throw new Error("connection refused (the database is away)");
        const value = Reflect.get(target, key, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failingAfterClaim: Platform["publisher"] = {
      ...platform.publisher,
      publish: async (...args) => {
        const result = await platform.publisher.publish(...args);
        failWrites = true;
        return result;
      },
    };
    const round = relayOutboxOnce(
      relayOpts({ db: flaky, platform: { ...platform, publisher: failingAfterClaim }, unrecorded }),
    );
    await expect(round).rejects.toThrow("the database is away");
    const [mqtt] = await entriesOf(c.id);
    expect(unrecorded).toEqual(new Set([mqtt?.id ?? -1]));
    expect(mqtt?.status).toBe("pending");
    failWrites = false;
    // Back: the next round writes the mark first, then claims the confirmation behind it.
    await drain(relayOpts({ unrecorded }));
    expect(unrecorded.size).toBe(0);
    expect(await statusesOf(c.id)).toEqual(["delivered", "delivered", "pending"]);
    expect(published.filter((p) => p.payload.commitment_id === c.id)).toHaveLength(1);
  });

  test("nudging 5xx is retried and then delivered exactly once", async () => {
    const c = await commit();
    await relayOutboxOnce(relayOpts()); // the MQTT event
    nudging.failNext(503, 2);
    expect((await relayOutboxOnce(relayOpts())).retried).toBe(1);
    clock.advance(1_000);
    expect((await relayOutboxOnce(relayOpts())).retried).toBe(1);
    clock.advance(2_000);
    expect((await relayOutboxOnce(relayOpts())).delivered).toBe(1);
    clock.advance(60_000);
    await drain();
    expect(nudging.received().filter((r) => r.event.user_id === c.userId)).toHaveLength(1);
    expect(await statusesOf(c.id)).toEqual(["delivered", "delivered", "pending"]);
  });

  test("a nudging timeout is retried (the relay's deadline, not a hang)", async () => {
    const c = await commit();
    await relayOutboxOnce(relayOpts());
    nudging.hang(true);
    const round = await relayOutboxOnce(relayOpts({ timeoutMs: 300 }));
    nudging.hang(false);
    expect(round.retried).toBe(1);
    const [, confirmation] = await entriesOf(c.id);
    expect(confirmation?.lastError).toMatch(/time/i);
  });

  test("a 422 (our bug) is parked as failed with the reason, logged and counted, not retried", async () => {
    const c = await commit({ entries: false });
    await enqueue(systemCtx(), [
      {
        kind: "nudge",
        commitmentId: c.id,
        event: {
          event_type: "flexibility_committed",
          user_id: c.userId,
          community_id: "",
          facts: { facts_version: "1.0", scenario: "flexibility_committed" },
        },
      },
      {
        kind: "mqtt",
        topic: "celine/flexibility/committed/x",
        payload: { after: "the failed one" },
        commitmentId: c.id,
      },
    ]);
    const before = metrics.value(OUTBOX_FAILED, { kind: "nudge", target: "flexibility_committed" });
    const logged = logs.length;
    await drain();
    const [failed, after] = await entriesOf(c.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.lastError).toContain("422");
    expect(failed?.attempts).toBe(1);
    // A parked entry does not block the rest of its commitment.
    expect(after?.status).toBe("delivered");
    expect(metrics.value(OUTBOX_FAILED, { kind: "nudge", target: "flexibility_committed" })).toBe(before + 1);
    expect(logs.slice(logged).some((l) => l.level === "error" && l.outbox_id === failed?.id)).toBe(true);
  });

  test("two relays at once deliver every entry once (claims skip each other's rows)", async () => {
    const made = await Promise.all(
      Array.from({ length: 30 }, () =>
        commit({ start: "2026-07-03T09:00:00Z", end: "2026-07-03T10:00:00Z" }),
      ),
    );
    const ids = new Set(made.map((c) => c.id));
    const before = published.filter((p) => ids.has(String(p.payload.commitment_id))).length;
    const replica = (batch: number) => async () => {
      for (let i = 0; i < 30; i += 1) {
        const round = await relayOutboxOnce(relayOpts({ batch }));
        if (round.claimed === 0) return;
      }
    };
    await Promise.all([replica(7)(), replica(11)()]);
    expect(before).toBe(0);
    const seen = published
      .filter((p) => ids.has(String(p.payload.commitment_id)))
      .map((p) => p.payload.commitment_id);
    expect(seen.length).toBe(30);
    expect(new Set(seen).size).toBe(30);
    const confirmations = nudging
      .received()
      .filter(
        (r) => r.event.event_type === "flexibility_committed" && ids.has(String(r.event.facts.commitment_id)),
      );
    expect(confirmations).toHaveLength(30);
  });
});

describe("reminders: exactly one per commitment, none after cancelling", () => {
  test("held until window_start − 30 min, then sent once and stamped", async () => {
    const c = await commit();
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(0);
    clock.set("2026-07-02T08:29:59Z");
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(0);
    clock.set("2026-07-02T08:30:00Z");
    await drain();
    const [reminder] = remindersFor(c.userId);
    expect(reminder?.event.facts).toMatchObject({
      scenario: "flexibility_reminder",
      window_start: "11:00",
      window_end: "14:00",
      reward_points_estimated: "12",
      period: "2026-07-02",
      commitment_id: c.id,
      suggestion_id: c.suggestionId,
    });
    expect((await commitmentRow(c.id))?.remindedAt).toEqual(new Date("2026-07-02T08:30:00Z"));
    expect(await statusesOf(c.id)).toEqual(["delivered", "delivered", "delivered"]);
    // The meter tick finds nothing left to remind.
    clock.set("2026-07-02T09:05:00Z");
    expect(await sendDueReminders({ ctx: systemCtx() })).toEqual({ sent: 0, failed: 0, skipped: 0 });
    expect(remindersFor(c.userId)).toHaveLength(1);
  });

  test("a commitment cancelled before its reminder falls due gets no reminder", async () => {
    const c = await commit();
    await drain();
    await database.db.update(commitments).set({ status: "cancelled" }).where(eq(commitments.id, c.id));
    const before = metrics.value(OUTBOX_DROPPED, {
      kind: "nudge",
      target: "flexibility_reminder",
      reason: "commitment cancelled",
    });
    clock.set("2026-07-02T08:30:00Z");
    await drain();
    clock.set("2026-07-02T09:05:00Z");
    await sendDueReminders({ ctx: systemCtx() });
    expect(remindersFor(c.userId)).toHaveLength(0);
    const [, , reminder] = await entriesOf(c.id);
    expect(reminder?.status).toBe("dropped");
    expect(reminder?.lastError).toBe("commitment cancelled");
    expect(
      metrics.value(OUTBOX_DROPPED, {
        kind: "nudge",
        target: "flexibility_reminder",
        reason: "commitment cancelled",
      }),
    ).toBe(before + 1);
  });

  test("already reminded by the meter tick → the held reminder is dropped", async () => {
    const c = await commit();
    await drain();
    // The relay was away past the window start; the tick got there first.
    clock.set("2026-07-02T09:05:00Z");
    expect(await sendDueReminders({ ctx: systemCtx() })).toMatchObject({ sent: 1 });
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(1);
    const [, , reminder] = await entriesOf(c.id);
    expect([reminder?.status, reminder?.lastError]).toEqual(["dropped", "already reminded"]);
  });

  test("the window closed before the reminder could go → dropped, nothing sent", async () => {
    const c = await commit();
    await drain();
    clock.set("2026-07-02T12:00:00Z");
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(0);
    expect((await entriesOf(c.id))[2]?.lastError).toBe("window closed");
  });

  test("a failed reminder is not stamped and goes out on a later attempt, once", async () => {
    const c = await commit();
    await drain();
    clock.set("2026-07-02T08:30:00Z");
    nudging.failNext(500, 1);
    expect((await relayOutboxOnce(relayOpts())).retried).toBe(1);
    expect((await commitmentRow(c.id))?.remindedAt).toBeNull();
    clock.advance(1_000);
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(1);
    expect((await commitmentRow(c.id))?.remindedAt).toEqual(new Date("2026-07-02T08:30:01Z"));
  });

  test("a reminder whose moment has passed goes at once while the window is open", async () => {
    clock.set("2026-07-02T09:30:00Z");
    const c = await commit();
    await drain();
    expect(remindersFor(c.userId)).toHaveLength(1);
  });
});

describe("sendDueReminders: the meter tick's catch-up", () => {
  test("open windows not yet reminded get one reminder; closed, future and cancelled ones none", async () => {
    const open = await commit({ entries: false, start: "2026-07-02T05:00:00Z", end: "2026-07-02T07:00:00Z" });
    const future = await commit({
      entries: false,
      start: "2026-07-02T07:00:00Z",
      end: "2026-07-02T08:00:00Z",
    });
    const closed = await commit({
      entries: false,
      start: "2026-07-02T04:00:00Z",
      end: "2026-07-02T06:00:00Z",
    });
    const cancelled = await commit({
      entries: false,
      start: "2026-07-02T05:00:00Z",
      end: "2026-07-02T07:00:00Z",
    });
    await database.db
      .update(commitments)
      .set({ status: "cancelled" })
      .where(eq(commitments.id, cancelled.id));
    const result = await sendDueReminders({ ctx: systemCtx() });
    expect(result.sent).toBeGreaterThanOrEqual(1);
    expect(remindersFor(open.userId)).toHaveLength(1);
    for (const c of [future, closed, cancelled]) expect(remindersFor(c.userId)).toHaveLength(0);
    expect((await commitmentRow(open.id))?.remindedAt).toEqual(clock.now());
    await sendDueReminders({ ctx: systemCtx() });
    expect(remindersFor(open.userId)).toHaveLength(1);
  });

  test("a failure stays unstamped and is retried on the next tick", async () => {
    const c = await commit({ entries: false, start: "2026-07-02T05:00:00Z", end: "2026-07-02T07:00:00Z" });
    nudging.failNext(503, Number.POSITIVE_INFINITY);
    expect((await sendDueReminders({ ctx: systemCtx() })).failed).toBeGreaterThanOrEqual(1);
    expect((await commitmentRow(c.id))?.remindedAt).toBeNull();
    nudging.reset();
    clock.advance(5 * 60_000);
    await sendDueReminders({ ctx: systemCtx() });
    expect(remindersFor(c.userId)).toHaveLength(1);
    expect((await commitmentRow(c.id))?.remindedAt).not.toBeNull();
  });

  test("the tick and the relay at the same moment: still exactly one reminder", async () => {
    const made = await Promise.all(Array.from({ length: 10 }, () => commit()));
    await drain();
    clock.set("2026-07-02T09:00:00Z");
    await Promise.all([
      drain(),
      sendDueReminders({ ctx: systemCtx() }),
      drain(),
      sendDueReminders({ ctx: systemCtx() }),
    ]);
    for (const c of made) {
      expect(remindersFor(c.userId)).toHaveLength(1);
      expect((await commitmentRow(c.id))?.remindedAt).not.toBeNull();
    }
  });
});

describe("startOutboxRelay", () => {
  test("wakes at once on NOTIFY (polling every minute would be too late) and stops cleanly", async () => {
    const relay = await startOutboxRelay({
      database,
      platform,
      log,
      metrics,
      now: clock.now,
      pollMs: 60_000,
    });
    try {
      // Let the first (empty) round finish so the relay is asleep on its minute-long poll.
      await Bun.sleep(200);
      const c = await commit();
      const deadline = Date.now() + 10_000;
      while ((await statusesOf(c.id))[1] !== "delivered" && Date.now() < deadline) await Bun.sleep(20);
      expect(await statusesOf(c.id)).toEqual(["delivered", "delivered", "pending"]);
    } finally {
      await relay.stop();
    }
    const late = await commit();
    await Bun.sleep(300);
    expect(await statusesOf(late.id)).toEqual(["pending", "pending", "pending"]);
  });

  test("an enqueue without NOTIFY is woken by wakeOutbox after the commit (the accept path)", async () => {
    const relay = await startOutboxRelay({
      database,
      platform,
      log,
      metrics,
      now: clock.now,
      pollMs: 60_000,
    });
    try {
      await Bun.sleep(200);
      const c = await commit({ entries: false });
      await enqueue(systemCtx(), commitmentEntries(c, DEFAULT_CORE_CONFIG, clock.now()), { notify: false });
      await Bun.sleep(300);
      // Nothing told the relay yet: it is asleep for a minute.
      expect(await statusesOf(c.id)).toEqual(["pending", "pending", "pending"]);
      for (let i = 0; i < 5; i += 1) wakeOutbox(database.db);
      const deadline = Date.now() + 10_000;
      while ((await statusesOf(c.id))[1] !== "delivered" && Date.now() < deadline) await Bun.sleep(20);
      expect((await statusesOf(c.id)).slice(0, 2)).toEqual(["delivered", "delivered"]);
    } finally {
      await relay.stop();
    }
  });

  test("without LISTEN it still delivers, by polling", async () => {
    const relay = await startOutboxRelay({
      database: {
        db: database.db,
        listen: async () => {
          throw new Error("LISTEN unavailable");
        },
      },
      platform,
      log,
      metrics,
      now: clock.now,
      pollMs: 100,
    });
    try {
      const c = await commit();
      const deadline = Date.now() + 10_000;
      while ((await statusesOf(c.id))[1] !== "delivered" && Date.now() < deadline) await Bun.sleep(20);
      expect((await statusesOf(c.id)).slice(0, 2)).toEqual(["delivered", "delivered"]);
    } finally {
      await relay.stop();
    }
  });
});
