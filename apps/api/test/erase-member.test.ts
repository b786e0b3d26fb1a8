import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { COMMITTED_EVENT, commitmentEvent, committedTopic, DEFAULT_CORE_CONFIG } from "@celine/core";
import {
  calendarTokens,
  commitmentEntries,
  commitments,
  meterChunks,
  offers,
  outbox,
  outboxRowsOf,
  pointsLedger,
  preferences,
  settlements,
  webhooks,
} from "@celine/core/db";
import { and, eq, inArray, or, type SQL, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import { createClock, expectProblem, HOOK_TIMEOUT, SCOPE } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";

// DELETE /api/members/{user_id} and tRPC members.erase (issue 12 item 2: readings, like everything
// else we hold about a member, are deleted with the member's data). Operators only.

/** Thursday 2026-04-09 12:00 CEST: the season of 1 March – 1 May 2026 (config/flexibility.yaml). */
const NOW = "2026-04-09T10:00:00.000Z";
const HOUR = 3_600_000;
const DAY = 86_400_000;
const COMMUNITY = "rec-erase";

let h: Harness;
let operator: string;
const clock = createClock(NOW);

beforeAll(async () => {
  // No Digital Twin: the leaderboard falls back to the community of the member's latest commitment.
  h = await createHarness({ now: clock.now });
  operator = await h.service([SCOPE.admin], "svc-operator");
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await h.database.db.execute(
    sql`truncate ${commitments}, ${preferences}, ${outbox}, ${pointsLedger}, ${settlements}, ${meterChunks}, ${offers}, ${calendarTokens}, ${webhooks}`,
  );
});

const erase = (token: string | undefined, userId: string) =>
  h.call("DELETE", `/api/members/${encodeURIComponent(userId)}`, { token });
const eraseTrpc = (token: string | undefined, input: unknown) =>
  h.call("POST", "/trpc/members.erase", { token, body: input });

const ZERO = {
  commitments: 0,
  ledger_entries: 0,
  settlements: 0,
  readings: 0,
  offers: 0,
  preferences: 0,
  calendar_tokens: 0,
  webhooks: 0,
  outbox: 0,
};

/**
 * Every kind of row we hold about `userId`, as the verbs and jobs write them: a live commitment with
 * its outbox entries (MQTT event, confirmation nudge, held reminder), a settled one restated once
 * (two ledger entries, two settlement records, a nudge tied to it), a cancelled one, three chunks of
 * stored readings, an offer, preferences, an opportunity nudge and a committed event not tied to a
 * commitment, a webhook subscription with a delivery pending and one past, and a delivery about the
 * live commitment to their community's subscription (which is not theirs, and stays). Answers what
 * erasing them should count.
 */
async function seedMember(userId: string, settledPoints: number) {
  const db = h.database.db;
  const now = clock.now();
  const device = `meter-${userId}`;
  const live = await insertCommitment({
    userId,
    status: "committed",
    periodStart: new Date(now.getTime() + DAY),
  });
  const settled = await insertCommitment({
    userId,
    status: "settled",
    periodStart: new Date("2026-04-08T09:00:00Z"),
    settledAt: new Date("2026-04-09T04:00:00Z"),
    rewardPointsActual: settledPoints,
    settlementOutcome: "delivered",
    settlementRevision: 2,
  });
  const cancelled = await insertCommitment({
    userId,
    status: "cancelled",
    periodStart: new Date("2026-04-07T09:00:00Z"),
  });
  await db.insert(pointsLedger).values([
    {
      commitmentId: settled.id,
      userId,
      communityId: COMMUNITY,
      kind: "settlement",
      points: settledPoints - 5,
      revision: 1,
    },
    { commitmentId: settled.id, userId, communityId: COMMUNITY, kind: "restatement", points: 5, revision: 2 },
  ]);
  await db.insert(settlements).values(
    [1, 2].map((revision) => ({
      commitmentId: settled.id,
      revision,
      method: "reference-high-4-of-7/v1",
      outcome: "delivered" as const,
      points: revision === 1 ? settledPoints - 5 : settledPoints,
      explanation: { device, readings: [0.5, 0.7] },
    })),
  );
  await db.insert(meterChunks).values(
    [0, 1, 2].map((day) => ({
      deviceId: device,
      chunkStart: new Date(Date.parse("2026-04-05T00:00:00Z") + day * DAY),
      userId,
      intervalSeconds: 3600,
      microKwh: Array.from({ length: 24 }, () => 500_000),
      fetchedAt: now,
      final: false,
    })),
  );
  await db.insert(offers).values({
    userId,
    windowId: `w-${userId}`,
    communityId: COMMUNITY,
    deviceId: device,
    periodStart: live.periodStart,
    periodEnd: live.periodEnd,
    rewardPoints: 12,
  });
  await db.insert(preferences).values({ userId, leaderboardVisible: true });
  await db.insert(calendarTokens).values({ userId, tokenHash: `hash-of-${userId}` });
  const entries = [
    ...commitmentEntries(live, DEFAULT_CORE_CONFIG, now),
    {
      kind: "nudge" as const,
      event: commitmentEvent(settled, COMMITTED_EVENT, DEFAULT_CORE_CONFIG.communityTimezone, now),
      commitmentId: settled.id,
    },
    {
      kind: "nudge" as const,
      event: {
        event_type: "flexibility_opportunity",
        user_id: userId,
        community_id: COMMUNITY,
        facts: { facts_version: "1.0" as const, scenario: "flexibility_opportunity", period: "2026-04-10" },
      },
    },
    { kind: "mqtt" as const, topic: committedTopic(userId), payload: { user_id: userId } },
  ];
  const [hook] = await db
    .insert(webhooks)
    .values({
      userId,
      createdBy: userId,
      url: `https://hooks.example.org/${userId}`,
      secret: "whsec_c2VjcmV0",
      events: ["commitment.created"],
    })
    .returning({ id: webhooks.id });
  const [community] = await db
    .insert(webhooks)
    .values({
      communityId: COMMUNITY,
      createdBy: "service-account-id-svc-operator",
      url: `https://community.example.org/${userId}`,
      secret: "whsec_c2VjcmV0",
      events: ["commitment.created"],
    })
    .returning({ id: webhooks.id });
  if (!hook || !community) throw new Error("webhook seed returned no row");
  const message = (type: string) => ({ id: `msg_${type}`, type, body: JSON.stringify({ type }) });
  const deliveries = [
    { kind: "webhook" as const, webhookId: hook.id, message: message("webhook.test") },
    { kind: "webhook" as const, webhookId: hook.id, message: message("window.opportunity") },
    {
      kind: "webhook" as const,
      webhookId: community.id,
      message: message("commitment.created"),
      commitmentId: live.id,
    },
  ];
  await db.insert(outbox).values(outboxRowsOf([...entries, ...deliveries], now));
  await db
    .update(outbox)
    .set({ status: "delivered", deliveredAt: now })
    .where(sql`${outbox.payload} ->> 'type' = 'window.opportunity' and ${outbox.target} = ${hook.id}`);
  // One past delivery too: erasure is not only of what is pending.
  await db
    .update(outbox)
    .set({ status: "delivered", deliveredAt: now })
    .where(
      sql`${outbox.payload} ->> 'event_type' = 'flexibility_opportunity' and ${outbox.payload} ->> 'user_id' = ${userId}`,
    );
  const member = { userId, commitmentIds: [live.id, settled.id, cancelled.id], webhookIds: [hook.id] };
  const expected = {
    commitments: 3,
    ledger_entries: 2,
    settlements: 2,
    readings: 3,
    offers: 1,
    preferences: 1,
    calendar_tokens: 1,
    webhooks: 1,
    // 3 of the live commitment, the settled one's nudge, the opportunity, the loose MQTT event; two
    // deliveries to their webhook, one about the live commitment to their community's.
    outbox: entries.length + deliveries.length,
  };
  expect(await heldAbout(member)).toEqual(expected);
  return { member, expected };
}

type Member = { userId: string; commitmentIds: string[]; webhookIds: string[] };

async function insertCommitment(
  values: Partial<typeof commitments.$inferInsert> & { userId: string; periodStart: Date },
) {
  const [row] = await h.database.db
    .insert(commitments)
    .values({
      suggestionId: `w-${crypto.randomUUID().slice(0, 8)}`,
      communityId: COMMUNITY,
      deviceId: `meter-${values.userId}`,
      periodEnd: new Date(values.periodStart.getTime() + 2 * HOUR),
      rewardPointsEstimated: 10,
      ...values,
    })
    .returning();
  if (!row) throw new Error("seed insert returned no row");
  return row;
}

/**
 * Rows held about a member in every table, found by their id, their commitments' ids (seeded before
 * the erasure: a settlement or ledger entry left without its commitment still counts) and their device.
 */
async function heldAbout({ userId, commitmentIds: ids, webhookIds }: Member) {
  const count = async (table: PgTable, where: SQL | undefined) => {
    const [row] = await h.database.db.select({ n: sql<number>`count(*)::int` }).from(table).where(where);
    return row?.n ?? 0;
  };
  return {
    commitments: await count(commitments, or(eq(commitments.userId, userId), inArray(commitments.id, ids))),
    ledger_entries: await count(
      pointsLedger,
      or(eq(pointsLedger.userId, userId), inArray(pointsLedger.commitmentId, ids)),
    ),
    settlements: await count(settlements, inArray(settlements.commitmentId, ids)),
    readings: await count(
      meterChunks,
      or(eq(meterChunks.userId, userId), eq(meterChunks.deviceId, `meter-${userId}`)),
    ),
    offers: await count(offers, eq(offers.userId, userId)),
    preferences: await count(preferences, eq(preferences.userId, userId)),
    calendar_tokens: await count(calendarTokens, eq(calendarTokens.userId, userId)),
    webhooks: await count(webhooks, or(eq(webhooks.userId, userId), inArray(webhooks.id, webhookIds))),
    outbox: await count(
      outbox,
      or(
        inArray(outbox.commitmentId, ids),
        sql`${outbox.payload} ->> 'user_id' = ${userId}`,
        eq(outbox.target, committedTopic(userId)),
        and(eq(outbox.kind, "webhook"), inArray(outbox.target, webhookIds)),
      ),
    ),
  };
}

describe("happy", () => {
  test("an operator erases a member: counts per kind, nothing of theirs left, the other member untouched", async () => {
    const alice = await seedMember("alice", 30);
    // "alice2": same kinds of rows, and an id that only a prefix match would confuse with "alice".
    const other = await seedMember("alice2", 20);
    const alice2 = await h.participant("alice2");
    const boardBefore = await h.call("GET", "/api/leaderboard", { token: alice2 });
    expect(boardBefore.status, boardBefore.text).toBe(200);
    expect(boardBefore.json.entries, boardBefore.text).toHaveLength(2);
    expect(boardBefore.json.me).toMatchObject({ rank: 2, points: 20 });

    const res = await erase(operator, "alice");
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual(alice.expected);

    expect(await heldAbout(alice.member)).toEqual(ZERO);
    expect(await heldAbout(other.member)).toEqual(other.expected);
    // The community's subscriptions are a service's, not the member's: they stay.
    const communityHooks = await h.database.db
      .select({ id: webhooks.id })
      .from(webhooks)
      .where(eq(webhooks.communityId, COMMUNITY));
    expect(communityHooks).toHaveLength(2);

    const board = await h.call("GET", "/api/leaderboard", { token: alice2 });
    expect(board.status, board.text).toBe(200);
    expect(board.json.community_id).toBe(COMMUNITY);
    expect(board.json.entries).toEqual([{ rank: 1, points: 20, is_me: true }]);
    expect(board.json.me).toMatchObject({ rank: 1, points: 20, percentile: 50 });
    const mine = await h.call("GET", "/api/points/me", { token: alice2 });
    expect(mine.status, mine.text).toBe(200);
    expect(mine.json.total_points, mine.text).toBe(20);
    expect(mine.json.counts, mine.text).toMatchObject({ committed: 1, settled: 1, cancelled: 1 });
    const listed = await h.call("GET", "/api/commitments?limit=200", { token: alice2 });
    expect(listed.json.total, listed.text).toBe(3);
  });

  test("erasing again, or a member never seen, answers all zeros (idempotent)", async () => {
    await seedMember("alice", 30);
    expect((await erase(operator, "alice")).status).toBe(200);
    const again = await erase(operator, "alice");
    expect(again.status, again.text).toBe(200);
    expect(again.json).toEqual(ZERO);
    const never = await erase(operator, "nobody-we-know");
    expect(never.status, never.text).toBe(200);
    expect(never.json).toEqual(ZERO);
  });

  test("the member's calendar feed URL stops working (404), another member's keeps working", async () => {
    const mint = async (sub: string) => {
      const res = await h.call("POST", "/api/calendar/token", { token: await h.participant(sub) });
      expect(res.status, res.text).toBe(201);
      return new URL(res.json.url).pathname;
    };
    const [gone, kept] = [await mint("alice"), await mint("alice2")];
    expect((await h.call("GET", gone)).status).toBe(200);
    const res = await erase(operator, "alice");
    expect(res.json, res.text).toEqual({ ...ZERO, calendar_tokens: 1 });
    expectProblem(await h.call("GET", gone), 404);
    expect((await h.call("GET", kept)).status).toBe(200);
  });

  test("tRPC members.erase does the same", async () => {
    const { member, expected } = await seedMember("alice", 30);
    const res = await eraseTrpc(operator, { user_id: "alice" });
    expect(res.status, res.text).toBe(200);
    expect(res.json.result.data).toEqual(expected);
    expect(await heldAbout(member)).toEqual(ZERO);
  });

  test("one info line with the operator and the counts (nothing of the member's), one audit record", async () => {
    await seedMember("alice", 30);
    const before = h.logs.length;
    const res = await h.call("DELETE", "/api/members/alice", {
      token: operator,
      headers: { "x-request-id": "erase-1" },
    });
    expect(res.status, res.text).toBe(200);
    const logged = h.logs.slice(before);
    const info = logged.filter((l) => l.logger === "app" && l.msg === "member erased");
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({
      level: "info",
      operator: "service-account-id-svc-operator",
      client_id: "svc-operator",
      erased: res.json,
      // Ours, with the caller's own id beside it.
      request_id: res.headers.get("x-request-id"),
      client_request_id: "erase-1",
    });
    expect(JSON.stringify(info[0])).not.toContain("alice");
    const audits = logged.filter((l) => l.logger === "audit");
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      event: "erased",
      action: "erase",
      sub: "service-account-id-svc-operator",
      client_id: "svc-operator",
      member: "alice",
      erased: res.json,
      request_id: res.headers.get("x-request-id"),
      client_request_id: "erase-1",
    });
    expect(JSON.stringify(audits[0])).not.toContain(COMMUNITY);
    expect(JSON.stringify(audits[0])).not.toContain("meter-");
  });

  test("the id is matched exactly: not trimmed, any characters, up to 255", async () => {
    for (const id of ["alice", " alice", "team/alice", "ünïcødé ✓", "x".repeat(255)]) {
      await h.database.db.insert(preferences).values({ userId: id, leaderboardVisible: false });
    }
    const spaced = await erase(operator, " alice");
    expect(spaced.json, spaced.text).toEqual({ ...ZERO, preferences: 1 });
    for (const id of ["team/alice", "ünïcødé ✓", "x".repeat(255)]) {
      const res = await erase(operator, id);
      expect(res.status, res.text).toBe(200);
      expect(res.json, res.text).toEqual({ ...ZERO, preferences: 1 });
    }
    const left = await h.database.db.select({ userId: preferences.userId }).from(preferences);
    expect(left).toEqual([{ userId: "alice" }]);
  });
});

describe("concurrency", () => {
  // On PostgreSQL the two transactions really overlap; on PGlite they serialise. Either way nothing a
  // settlement commits while the erasure waits may outlive the member.
  test("a restatement committing while the erasure waits is erased with the rest", async () => {
    const { member, expected } = await seedMember("alice", 30);
    const [settled] = await h.database.db
      .select({ id: commitments.id })
      .from(commitments)
      .where(sql`${commitments.userId} = 'alice' and ${commitments.status} = 'settled'`);
    if (!settled) throw new Error("no settled commitment seeded");
    const locked = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const restating = h.database.db.transaction(async (tx) => {
      await tx.select().from(commitments).where(eq(commitments.id, settled.id)).for("update");
      await tx.insert(pointsLedger).values({
        commitmentId: settled.id,
        userId: "alice",
        communityId: COMMUNITY,
        kind: "restatement",
        points: 2,
        revision: 3,
      });
      await tx.insert(settlements).values({
        commitmentId: settled.id,
        revision: 3,
        method: "reference-high-4-of-7/v1",
        outcome: "delivered",
        points: 32,
        explanation: {},
      });
      locked.resolve();
      await release.promise;
    });
    await locked.promise;
    const erasing = erase(operator, "alice");
    await Bun.sleep(200);
    release.resolve();
    await restating;
    const res = await erasing;
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ ...expected, ledger_entries: 3, settlements: 3 });
    expect(await heldAbout(member)).toEqual(ZERO);
  });
});

describe("errors", () => {
  test.each([
    ["a NUL character", "ali\u0000ce"],
    ["256 characters", "x".repeat(256)],
  ])("REST: a user_id with %s → 422 naming user_id", async (_, id) => {
    const res = await erase(operator, id);
    expectProblem(res, 422, "user_id");
    expect(res.json.errors.map((e: Json) => e.path)).toContain("user_id");
  });

  test.each([
    ["a NUL character", { user_id: "ali\u0000ce" }],
    ["256 characters", { user_id: "x".repeat(256) }],
    ["an empty id", { user_id: "" }],
    ["a lone surrogate", { user_id: "ali\ud800ce" }],
    ["no id", {}],
    ["a number", { user_id: 42 }],
  ])("tRPC: %s → UNPROCESSABLE_CONTENT naming user_id", async (_, input) => {
    const res = await eraseTrpc(operator, input);
    expect(res.status, res.text).toBe(422);
    expect(res.json.error.data.code, res.text).toBe("UNPROCESSABLE_CONTENT");
    expect(res.json.error.message, res.text).toContain("user_id");
  });

  test("a refused id erases nothing", async () => {
    const { member, expected } = await seedMember("alice", 30);
    await erase(operator, "alice\u0000");
    expect(await heldAbout(member)).toEqual(expected);
  });
});

describe("security", () => {
  test("a participant → 403 'action not permitted', even erasing themself; nothing erased", async () => {
    const { member, expected } = await seedMember("alice", 30);
    const alice = await h.participant("alice");
    expectProblem(await erase(alice, "alice"), 403, "action not permitted");
    expectProblem(await erase(alice, "alice2"), 403, "action not permitted");
    const trpc = await eraseTrpc(alice, { user_id: "alice" });
    expect(trpc.status, trpc.text).toBe(403);
    expect(trpc.json.error.message).toBe("action not permitted");
    expect(await heldAbout(member)).toEqual(expected);
  });

  test.each([
    ["commitments.write", [SCOPE.write]],
    ["the legacy flexibility.write", [SCOPE.legacyWrite]],
    ["read, write and export together", [SCOPE.read, SCOPE.write, SCOPE.export]],
  ])("a service with %s only → 403 'missing scope flexibility.admin'; nothing erased", async (_, scopes) => {
    const { member, expected } = await seedMember("alice", 30);
    const token = await h.service(scopes, "svc-writer");
    expectProblem(await erase(token, "alice"), 403, "missing scope flexibility.admin");
    const trpc = await eraseTrpc(token, { user_id: "alice" });
    expect(trpc.status, trpc.text).toBe(403);
    expect(trpc.json.error.message).toBe("missing scope flexibility.admin");
    expect(await heldAbout(member)).toEqual(expected);
  });

  test("no token → 401; nothing erased", async () => {
    const { member, expected } = await seedMember("alice", 30);
    expectProblem(await erase(undefined, "alice"), 401, /missing/);
    expect((await eraseTrpc(undefined, { user_id: "alice" })).status).toBe(401);
    expect(await heldAbout(member)).toEqual(expected);
  });

  test("a refusal is audited as denied, not as an erasure", async () => {
    const before = h.audits().length;
    await erase(await h.participant("alice"), "alice");
    const audits = h.audits().slice(before);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ event: "denied", action: "erase", sub: "alice" });
  });
});
