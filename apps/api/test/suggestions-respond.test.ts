import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { commitments, offers, outbox } from "@celine/core/db";
import { and, asc, eq } from "drizzle-orm";
import { createHarness, type Harness } from "./harness.ts";
import {
  communityRow,
  createTestClock,
  deviceRow,
  type PlatformFakes,
  seedMember,
  startPlatformFakes,
} from "./suggestions-fixtures.ts";

// POST /api/suggestions/{id}/respond at 08:00 in Rome (06:00 UTC, CEST).
const clock = createTestClock("2026-07-02T06:00:00Z");
let h: Harness;
let fakes: PlatformFakes;

beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: clock.now };
  });
}, 60_000);
afterAll(async () => {
  await h.close();
  await fakes.close();
});
beforeEach(() => {
  clock.set("2026-07-02T06:00:00Z");
  fakes.dt.reset();
  fakes.dt.clearCalls();
});

let n = 0;
async function member(device: string | null = "meter-1") {
  n += 1;
  const sub = `resp-${n}`;
  const community = `rec-r${n}`;
  seedMember(fakes.dt, sub, community, device);
  return { sub, community, token: await h.participant(sub) };
}

/** A member who was offered window `id` (11:00–14:00 Rome, 18 points) by GET /api/suggestions. */
async function offered(id = "w-offered", extra: { reward?: number | null; enriched?: boolean } = {}) {
  const m = await member();
  fakes.dt.setCommunityWindows(m.community, [
    communityRow(id, "2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z"),
  ]);
  fakes.dt.setDeviceWindows(
    m.sub,
    extra.enriched === false
      ? []
      : [
          deviceRow("2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z", {
            reward_points_estimated: extra.reward === undefined ? 18 : extra.reward,
          }),
        ],
  );
  const list = await h.call("GET", "/api/suggestions", { token: m.token });
  expect(list.status, list.text).toBe(200);
  expect(list.json.map((i: { id: string }) => i.id)).toEqual([id]);
  fakes.dt.clearCalls();
  return m;
}

/** The DT publishes window `id` for member `m` (not listed: no offer on record). */
function publish(
  m: { sub: string; community: string },
  id: string,
  start: string,
  end: string,
  { reward = 10, communityOnly = false }: { reward?: number; communityOnly?: boolean } = {},
) {
  fakes.dt.setCommunityWindows(m.community, [communityRow(id, start, end)]);
  fakes.dt.setDeviceWindows(
    m.sub,
    communityOnly ? [] : [deviceRow(start, end, { reward_points_estimated: reward })],
  );
}

const respond = (token: string, id: string, body: unknown) =>
  h.call("POST", `/api/suggestions/${encodeURIComponent(id)}/respond`, { token, body });

const rowsOf = (sub: string) =>
  h.database.db
    .select()
    .from(commitments)
    .where(eq(commitments.userId, sub))
    .orderBy(asc(commitments.createdAt));

async function outboxOf(commitmentId: string) {
  return h.database.db
    .select()
    .from(outbox)
    .where(eq(outbox.commitmentId, commitmentId))
    .orderBy(asc(outbox.id));
}

describe("accepted", () => {
  test("an offered window: our bounds and estimate, whatever the client sends", async () => {
    const m = await offered("w-a");
    const res = await respond(m.token, "w-a", {
      response: "accepted",
      reward_points: 5000,
      period_start: "2026-07-02T00:00:00Z",
      period_end: "2026-07-03T00:00:00Z",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      commitment_id: expect.any(String),
      status: "committed",
      reward_points_estimated: 18,
    });
    const [row] = await rowsOf(m.sub);
    expect(row).toMatchObject({
      id: res.json.commitment_id,
      suggestionId: "w-a",
      status: "committed",
      periodStart: new Date("2026-07-02T09:00:00Z"),
      periodEnd: new Date("2026-07-02T12:00:00Z"),
      rewardPointsEstimated: 18,
      communityId: m.community,
      deviceId: "meter-1",
    });
  });

  test.each([
    { name: "offered without a personal estimate → 10 points", extra: { enriched: false }, points: 10 },
    {
      name: "offered enriched with a null reward (shown as 0) → 0 points",
      extra: { reward: null },
      points: 0,
    },
  ])("$name", async ({ extra, points }) => {
    const m = await offered("w-est", extra);
    const res = await respond(m.token, "w-est", { response: "accepted", reward_points: 99 });
    expect(res.status, res.text).toBe(200);
    expect(res.json.reward_points_estimated).toBe(points);
  });

  test("a window not on record but published by the DT: its bounds, estimate, community and device; recorded as offered now", async () => {
    const m = await member("meter-x");
    publish(m, "w-unknown", "2026-07-02T15:00:00Z", "2026-07-02T16:00:00Z", { reward: 25 });
    const res = await respond(m.token, "w-unknown", {
      response: "accepted",
      reward_points: 900,
      period_start: "2026-07-02T14:00:00",
      period_end: "2026-07-02T18:00:00+00:00",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.reward_points_estimated).toBe(25);
    const [row] = await rowsOf(m.sub);
    expect(row).toMatchObject({
      suggestionId: "w-unknown",
      periodStart: new Date("2026-07-02T15:00:00Z"),
      periodEnd: new Date("2026-07-02T16:00:00Z"),
      communityId: m.community,
      deviceId: "meter-x",
      origin: "member",
      noticeAt: new Date("2026-07-02T06:00:00Z"),
    });
    for (const call of fakes.dt.calls) expect(call.authorization).toBe(`Bearer ${m.token}`);
    const [offer] = await h.database.db
      .select()
      .from(offers)
      .where(and(eq(offers.userId, m.sub), eq(offers.windowId, "w-unknown")));
    expect(offer).toMatchObject({ rewardPoints: 25, firstOfferedAt: new Date("2026-07-02T06:00:00Z") });
  });

  test("found by its bounds when the id is not one on record: committed under the DT's id", async () => {
    const m = await member();
    publish(m, "w-dt-id", "2026-07-02T15:00:00Z", "2026-07-02T16:00:00Z");
    const res = await respond(m.token, "w-app-id", {
      response: "accepted",
      period_start: "2026-07-02T17:00:00+02:00",
      period_end: "2026-07-02T16:00:00Z",
    });
    expect(res.status, res.text).toBe(200);
    const [row] = await rowsOf(m.sub);
    expect(row?.suggestionId).toBe("w-dt-id");
  });

  test("a window published without a personal estimate → 10", async () => {
    const m = await member();
    publish(m, "w-u10", "2026-07-02T15:00:00Z", "2026-07-02T16:00:00Z", { communityOnly: true });
    const res = await respond(m.token, "w-u10", { response: "accepted", reward_points: 500 });
    expect(res.status, res.text).toBe(200);
    expect(res.json.reward_points_estimated).toBe(10);
  });

  test("the DT failing while the window is not on record → 502, nothing stored (never the client's word)", async () => {
    const m = await member();
    publish(m, "w-dt-down", "2026-07-02T15:00:00Z", "2026-07-02T16:00:00Z");
    fakes.dt.failNext(503, Number.POSITIVE_INFINITY);
    const res = await respond(m.token, "w-dt-down", {
      response: "accepted",
      period_start: "2026-07-02T15:00:00Z",
      period_end: "2026-07-02T16:00:00Z",
    });
    expect(res.status, res.text).toBe(502);
    expect(res.json.detail).toContain("digital-twin");
    expect(await rowsOf(m.sub)).toHaveLength(0);
  });

  test.each([
    { name: "no period at all", body: {}, status: 404, detail: "window not found" },
    {
      name: "bounds no window has",
      body: { period_start: "2026-07-02T15:00:00Z", period_end: "2026-07-02T16:00:00Z" },
      status: 404,
      detail: "window not found",
    },
    {
      name: "unparseable start",
      body: { period_start: "next tuesday", period_end: "2026-07-02T16:00:00Z" },
      status: 422,
      detail: "period_start",
    },
    {
      name: "unparseable end",
      body: { period_start: "2026-07-02T15:00:00Z", period_end: "2026-07-02T16:61:00Z" },
      status: 422,
      detail: "period_end",
    },
    {
      name: "end before start",
      body: { period_start: "2026-07-02T16:00:00Z", period_end: "2026-07-02T15:00:00Z" },
      status: 422,
      detail: "period_end",
    },
    {
      name: "end equal to start",
      body: { period_start: "2026-07-02T16:00:00Z", period_end: "2026-07-02T16:00:00Z" },
      status: 422,
      detail: "period_end",
    },
  ])("a window that is not published, $name → $status (nothing stored)", async ({ body, status, detail }) => {
    const m = await member();
    const res = await respond(m.token, "w-bad", { response: "accepted", ...body });
    expect(res.status, res.text).toBe(status);
    expect(res.json.detail).toContain(detail);
    expect(await rowsOf(m.sub)).toHaveLength(0);
  });

  test("a published window that has already ended → 409 (nothing stored)", async () => {
    const m = await member();
    publish(m, "w-ended", "2026-07-02T03:00:00Z", "2026-07-02T05:59:59Z");
    const res = await respond(m.token, "w-ended", { response: "accepted" });
    expect(res.status, res.text).toBe(409);
    expect(res.json.detail).toContain("ended");
    expect(await rowsOf(m.sub)).toHaveLength(0);
  });

  test("an offered window that has ended since → 409", async () => {
    const m = await offered("w-gone");
    clock.set("2026-07-02T12:00:00Z");
    const res = await respond(m.token, "w-gone", { response: "accepted" });
    expect(res.status, res.text).toBe(409);
  });

  test("one transaction: the commitment and its three outbox entries (MQTT, confirmation, held reminder)", async () => {
    const m = await offered("w-ob");
    const res = await respond(m.token, "w-ob", { response: "accepted" });
    expect(res.status, res.text).toBe(200);
    const id = res.json.commitment_id;
    const entries = await outboxOf(id);
    expect(entries.map((e) => [e.kind, e.target, e.status, e.requiresLive])).toEqual([
      ["mqtt", `celine/flexibility/committed/${m.sub}`, "pending", false],
      ["nudge", "flexibility_committed", "pending", false],
      ["nudge", "flexibility_reminder", "pending", true],
    ]);
    const [mqtt, confirmation, reminder] = entries;
    expect(mqtt?.payload).toEqual({
      user_id: m.sub,
      community_id: m.community,
      commitment_id: id,
      device_id: "meter-1",
      window_start: "2026-07-02T09:00:00.000Z",
      window_end: "2026-07-02T12:00:00.000Z",
      reward_points_estimated: 18,
    });
    // Facts in community time: 09:00–12:00 UTC is 11:00–14:00 in Rome.
    expect(confirmation?.payload).toEqual({
      event_type: "flexibility_committed",
      user_id: m.sub,
      community_id: m.community,
      timestamp: "2026-07-02T06:00:00.000Z",
      facts: {
        facts_version: "1.0",
        scenario: "flexibility_committed",
        window_start: "11:00",
        window_end: "14:00",
        reward_points_estimated: "18",
        period: "2026-07-02",
        commitment_id: id,
        suggestion_id: "w-ob",
      },
    });
    expect(reminder?.dueAt).toEqual(new Date("2026-07-02T08:30:00Z"));
    expect(reminder?.payload).toMatchObject({
      event_type: "flexibility_reminder",
      facts: {
        scenario: "flexibility_reminder",
        window_start: "11:00",
        window_end: "14:00",
        period: "2026-07-02",
      },
    });
  });

  test("the reminder's moment has passed but the window is open: due at once", async () => {
    const m = await offered("w-soon");
    clock.set("2026-07-02T09:10:00Z");
    const res = await respond(m.token, "w-soon", { response: "accepted" });
    expect(res.status, res.text).toBe(200);
    const reminder = (await outboxOf(res.json.commitment_id)).find(
      (e) => e.target === "flexibility_reminder",
    );
    expect(reminder?.dueAt).toEqual(new Date("2026-07-02T09:10:00Z"));
  });

  test("facts use the local date: a window starting 00:30 Rome is on the next day", async () => {
    const m = await member();
    publish(m, "w-night", "2026-07-02T22:30:00Z", "2026-07-02T23:30:00Z");
    const res = await respond(m.token, "w-night", { response: "accepted" });
    const confirmation = (await outboxOf(res.json.commitment_id)).find(
      (e) => e.target === "flexibility_committed",
    );
    expect(confirmation?.payload).toMatchObject({
      facts: { window_start: "00:30", window_end: "01:30", period: "2026-07-03" },
    });
  });
});

describe("idempotent", () => {
  test("accepting again returns the same commitment, 200, no new events", async () => {
    const m = await offered("w-twice");
    const first = await respond(m.token, "w-twice", { response: "accepted" });
    const second = await respond(m.token, "w-twice", { response: "accepted", reward_points: 3 });
    expect(first.status, first.text).toBe(200);
    expect(second.status, second.text).toBe(200);
    expect(second.json).toEqual(first.json);
    expect(await rowsOf(m.sub)).toHaveLength(1);
    expect(await outboxOf(first.json.commitment_id)).toHaveLength(3);
  });

  test("50 concurrent identical accepts → one commitment, all 200, one set of events", async () => {
    const m = await offered("w-herd");
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => respond(m.token, "w-herd", { response: "accepted" })),
    );
    for (const a of answers) expect(a.status, a.text).toBe(200);
    const ids = new Set(answers.map((a) => a.json.commitment_id));
    expect(ids.size).toBe(1);
    expect(await rowsOf(m.sub)).toHaveLength(1);
    expect(await outboxOf([...ids][0])).toHaveLength(3);
  });

  test("after a cancel, accepting again makes a new commitment", async () => {
    const m = await offered("w-again");
    const first = await respond(m.token, "w-again", { response: "accepted" });
    const cancel = await h.call("DELETE", `/api/commitments/${first.json.commitment_id}`, { token: m.token });
    expect(cancel.status, cancel.text).toBe(204);
    const second = await respond(m.token, "w-again", { response: "accepted" });
    expect(second.status, second.text).toBe(200);
    expect(second.json.commitment_id).not.toBe(first.json.commitment_id);
  });
});

describe("declined", () => {
  test("a rejected row with estimate 0, no DT call, no events", async () => {
    const m = await offered("w-no");
    const res = await respond(m.token, "w-no", { response: "declined" });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ commitment_id: null, status: "declined", reward_points_estimated: 0 });
    const [row] = await rowsOf(m.sub);
    expect(row).toMatchObject({
      status: "rejected",
      rewardPointsEstimated: 0,
      periodStart: new Date("2026-07-02T09:00:00Z"),
      communityId: m.community,
    });
    expect(fakes.dt.calls).toHaveLength(0);
    if (!row) throw new Error("no row");
    expect(await outboxOf(row.id)).toHaveLength(0);
  });

  test("declining twice records one answer", async () => {
    const m = await offered("w-no2");
    await respond(m.token, "w-no2", { response: "declined" });
    const again = await respond(m.token, "w-no2", { response: "declined" });
    expect(again.status, again.text).toBe(200);
    expect(await rowsOf(m.sub)).toHaveLength(1);
  });

  test("declining a window not on record: found in the DT, its bounds, community and device (the client's ignored)", async () => {
    const m = await member();
    publish(m, "w-n", "2026-07-02T15:00:00Z", "2026-07-02T16:00:00Z");
    const res = await respond(m.token, "w-n", {
      response: "declined",
      period_start: "2026-07-01T00:00:00Z",
      period_end: "2026-07-09T00:00:00Z",
    });
    expect(res.status, res.text).toBe(200);
    const [row] = await rowsOf(m.sub);
    expect(row).toMatchObject({
      suggestionId: "w-n",
      status: "rejected",
      periodStart: new Date("2026-07-02T15:00:00Z"),
      periodEnd: new Date("2026-07-02T16:00:00Z"),
      communityId: m.community,
      deviceId: "meter-1",
      rewardPointsEstimated: 0,
    });
  });

  test("declining a window never published to the member → 404 'window not found', nothing stored", async () => {
    const m = await member();
    const res = await respond(m.token, "w-never", {
      response: "declined",
      period_start: "2026-07-02T15:00:00Z",
      period_end: "2026-07-02T16:00:00Z",
    });
    expect(res.status, res.text).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.json.detail).toContain("window not found");
    expect(await rowsOf(m.sub)).toHaveLength(0);
  });

  test("declining a window the member is committed to → 409 (cancel it instead)", async () => {
    const m = await offered("w-held");
    const accepted = await respond(m.token, "w-held", { response: "accepted" });
    expect(accepted.status, accepted.text).toBe(200);
    const res = await respond(m.token, "w-held", { response: "declined" });
    expect(res.status, res.text).toBe(409);
    expect(res.json.detail).toContain("cancel");
    expect((await rowsOf(m.sub)).map((r) => r.status)).toEqual(["committed"]);
  });
});

describe("errors and security", () => {
  test.each([
    { name: "an unknown response", body: { response: "maybe" } },
    { name: "no response", body: {} },
    { name: "points not an integer", body: { response: "accepted", reward_points: 1.5 } },
    { name: "points a string", body: { response: "accepted", reward_points: "10" } },
  ])("$name → 422", async ({ body }) => {
    const m = await member();
    const res = await respond(m.token, "w-x", body);
    expect(res.status, res.text).toBe(422);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });

  test("no token → 401", async () => {
    const res = await h.call("POST", "/api/suggestions/w/respond", { body: { response: "accepted" } });
    expect(res.status, res.text).toBe(401);
  });

  test("a service token → 403 (a member answers for themselves)", async () => {
    const token = await h.service(["flexibility.admin", "flexibility.commitments.write"]);
    const res = await respond(token, "w", {
      response: "declined",
      period_start: "2026-07-02T15:00:00Z",
      period_end: "2026-07-02T16:00:00Z",
    });
    expect(res.status, res.text).toBe(403);
  });

  test("one member's accept never touches another's window", async () => {
    const a = await offered("w-shared");
    const b = await member();
    const res = await respond(b.token, "w-shared", { response: "accepted" });
    // Not on record for b, and not in b's community: not found, not a's offer.
    expect(res.status, res.text).toBe(404);
    expect(await rowsOf(a.sub)).toHaveLength(0);
    expect(await rowsOf(b.sub)).toHaveLength(0);
  });

  test("tRPC suggestions.respond: same shapes", async () => {
    const m = await offered("w-trpc");
    const res = await h.call("POST", "/trpc/suggestions.respond", {
      token: m.token,
      body: { id: "w-trpc", response: "accepted" },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.result.data).toMatchObject({ status: "committed", reward_points_estimated: 18 });
    const bad = await h.call("POST", "/trpc/suggestions.respond", {
      token: m.token,
      body: { id: "w-t2", response: "accepted", period_start: "x", period_end: "y" },
    });
    expect(bad.status, bad.text).toBe(422);
  });
});
