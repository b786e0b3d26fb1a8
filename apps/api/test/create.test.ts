import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { commitments, offers } from "@celine/core/db";
import { and, eq } from "drizzle-orm";
import {
  commitmentBody,
  createClock,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  operatorBody,
  SCOPE,
  WIRE_KEYS,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// POST /api/commitments (PLATFORM §1; issue 12 item 1): a participant commits to a window the
// Digital Twin publishes for them, on its terms; an operator (flexibility.admin) records one for a
// member; a member's live commitments never overlap.

const NOW = "2026-07-01T08:30:00.000Z";
const clock = createClock(NOW);
let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
let alice: string;
let admin: string;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: clock.now };
  });
  windows = createWindowPublisher(fakes.dt, clock.now);
  alice = await h.participant("alice");
  admin = await h.service([SCOPE.admin], "svc-operator");
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});
afterEach(() => {
  clock.set(NOW);
  fakes.dt.reset();
  fakes.dt.clearCalls();
});

const create = (token: string | undefined, body: unknown, headers?: Record<string, string>) =>
  h.call("POST", "/api/commitments", { token, body, headers });

const rowOf = async (id: string) => {
  const [row] = await h.database.db.select().from(commitments).where(eq(commitments.id, id));
  return row;
};
const rowsOf = (userId: string) =>
  h.database.db.select().from(commitments).where(eq(commitments.userId, userId));

const hoursAfter = (iso: string, hours: number) =>
  new Date(Date.parse(iso) + hours * 3_600_000).toISOString();

describe("happy", () => {
  test("a participant commits to a window published to them: 201, the DT's bounds, estimate, community and device", async () => {
    const body = windows.publish("alice", { reward: 25 });
    const res = await create(alice, body);
    expect(res.status, res.text).toBe(201);
    for (const key of [...WIRE_KEYS, "origin", "settlement_revision"]) {
      expect(res.json, `missing ${key}`).toHaveProperty(key);
    }
    expect(res.json).toMatchObject({
      user_id: "alice",
      suggestion_id: body.suggestion_id,
      suggestion_type: "shift-consumption",
      community_id: "rec-alice",
      device_id: "meter-alice",
      period_start: body.period_start,
      period_end: body.period_end,
      committed_at: NOW,
      settled_at: null,
      reminded_at: null,
      status: "committed",
      reward_points_estimated: 25,
      reward_points_actual: null,
      origin: "member",
      settlement_revision: 0,
    });
    expect(res.json.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // Shown for the first time by this very request: notice is now.
    expect((await rowOf(res.json.id))?.noticeAt).toEqual(new Date(NOW));
    for (const call of fakes.dt.calls) expect(call.authorization).toBe(`Bearer ${alice}`);
  });

  test("a window without a personal estimate → the default 10 points", async () => {
    const res = await create(alice, windows.publish("alice", { communityOnly: true }));
    expect(res.status, res.text).toBe(201);
    expect(res.json.reward_points_estimated).toBe(10);
  });

  test("a window found in the DT is recorded as an offer: committing to it again asks the DT nothing", async () => {
    const body = windows.publish("alice");
    const first = await create(alice, body);
    expect(first.status, first.text).toBe(201);
    const [offer] = await h.database.db
      .select()
      .from(offers)
      .where(and(eq(offers.userId, "alice"), eq(offers.windowId, body.suggestion_id)));
    expect(offer?.firstOfferedAt).toEqual(new Date(NOW));
    expect((await h.call("DELETE", `/api/commitments/${first.json.id}`, { token: alice })).status).toBe(204);
    fakes.dt.clearCalls();
    const again = await create(alice, body);
    expect(again.status, again.text).toBe(201);
    expect(fakes.dt.calls).toHaveLength(0);
  });

  test("a window listed by GET /api/suggestions: the offer's estimate, notice when it was first shown, no DT call", async () => {
    const lena = await h.participant("lena");
    const body = windows.publish("lena", { reward: 18 });
    expect((await h.call("GET", "/api/suggestions", { token: lena })).status).toBe(200);
    clock.advance(20 * 60_000);
    // A later listing moves offered_at, never first_offered_at.
    expect((await h.call("GET", "/api/suggestions", { token: lena })).status).toBe(200);
    fakes.dt.clearCalls();
    const res = await create(lena, body);
    expect(res.status, res.text).toBe(201);
    expect(res.json.reward_points_estimated).toBe(18);
    expect(res.json.committed_at).toBe("2026-07-01T08:50:00.000Z");
    expect((await rowOf(res.json.id))?.noticeAt).toEqual(new Date(NOW));
    expect(fakes.dt.calls).toHaveLength(0);
  });

  test("a window whose id is not on record is found by its bounds, and stored under the DT's id", async () => {
    const body = windows.publish("alice");
    const res = await create(alice, { ...body, suggestion_id: "what-the-app-called-it" });
    expect(res.status, res.text).toBe(201);
    expect(res.json.suggestion_id).toBe(body.suggestion_id);
  });

  test.each([
    ["naive means UTC", (iso: string) => iso.slice(0, 19)],
    ["naive with a space separator", (iso: string) => iso.slice(0, 16).replace("T", " ")],
    ["Z", (iso: string) => iso],
    ["+02:00 offset", (iso: string) => `${hoursAfter(iso, 2).slice(0, 19)}+02:00`],
    ["-0500 offset", (iso: string) => `${hoursAfter(iso, -5).slice(0, 19)}-0500`],
  ])("bounds that find a window are normalised to UTC first (%s)", async (_, written) => {
    const body = windows.publish("alice");
    const res = await create(alice, {
      suggestion_id: "by-bounds",
      period_start: written(body.period_start),
      period_end: written(body.period_end),
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.period_start).toBe(body.period_start);
    expect(res.json.suggestion_id).toBe(body.suggestion_id);
  });

  test.each([
    ["another member's id", "mallory"],
    ["null", null],
  ])("a participant's body user_id (%s) is ignored: the commitment is theirs", async (_, userId) => {
    const res = await create(alice, { ...windows.publish("alice"), user_id: userId });
    expect(res.status, res.text).toBe(201);
    expect(res.json.user_id).toBe("alice");
  });

  test("a cancelled commitment frees its window: the member may commit to it again", async () => {
    const body = windows.publish("alice");
    const first = await create(alice, body);
    expect(first.status, first.text).toBe(201);
    const cancelled = await h.call("DELETE", `/api/commitments/${first.json.id}`, { token: alice });
    expect(cancelled.status, cancelled.text).toBe(204);
    const again = await create(alice, body);
    expect(again.status, again.text).toBe(201);
    expect(again.json.id).not.toBe(first.json.id);
  });

  test("the same window may be committed by two members of one community", async () => {
    const body = windows.publish("mia", { community: "rec-shared" });
    windows.publish("noah", {
      community: "rec-shared",
      id: body.suggestion_id,
      start: body.period_start,
      end: body.period_end,
    });
    expect((await create(await h.participant("mia"), body)).status).toBe(201);
    const res = await create(await h.participant("noah"), body);
    expect(res.status, res.text).toBe(201);
    expect(res.json.community_id).toBe("rec-shared");
  });

  test("an operator (flexibility.admin) records a commitment for the named member: origin operator, notice now, the body's estimate", async () => {
    const body = operatorBody("bob", clock.now(), { reward_points_estimated: 25 });
    const res = await create(admin, body);
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      user_id: "bob",
      suggestion_id: body.suggestion_id,
      community_id: "rec-bob",
      device_id: "meter-bob",
      period_start: body.period_start,
      period_end: body.period_end,
      reward_points_estimated: 25,
      origin: "operator",
      settlement_revision: 0,
    });
    expect((await rowOf(res.json.id))?.noticeAt).toEqual(new Date(NOW));
    expect(fakes.dt.calls).toHaveLength(0);
  });

  test.each([
    ["a window of exactly 24 h", "2026-07-03T00:00:00.000Z", "2026-07-04T00:00:00.000Z"],
    ["a window that ended exactly 7 days ago", "2026-06-24T07:30:00.000Z", "2026-06-24T08:30:00.000Z"],
  ])("an operator may record %s", async (_, start, end) => {
    const res = await create(
      admin,
      operatorBody("olga", clock.now(), { period_start: start, period_end: end }),
    );
    expect(res.status, res.text).toBe(201);
    expect(res.json.origin).toBe("operator");
  });
});

describe("errors", () => {
  test.each([
    ["suggestion_id missing", { suggestion_id: undefined }, "suggestion_id"],
    ["suggestion_id empty", { suggestion_id: "" }, "suggestion_id"],
    ["suggestion_id blank", { suggestion_id: "   " }, "suggestion_id"],
    ["suggestion_id too long", { suggestion_id: "x".repeat(201) }, "suggestion_id"],
    ["suggestion_id with a NUL", { suggestion_id: "w\u0000x" }, "suggestion_id"],
    ["suggestion_id a number", { suggestion_id: 7 }, "suggestion_id"],
    ["period_start missing", { period_start: undefined }, "period_start"],
    ["period_start not a date", { period_start: "tomorrow" }, "period_start"],
    ["period_start impossible date", { period_start: "2026-02-30T10:00:00Z" }, "period_start"],
    ["period_end missing", { period_end: undefined }, "period_end"],
    ["period_end equal to period_start", { period_end: "2026-07-02T11:00:00Z" }, "period_end"],
    ["period_end before period_start", { period_end: "2026-07-02T10:00:00Z" }, "period_end"],
    [
      "period_end before period_start once offsets apply",
      { period_start: "2026-07-02T11:00:00Z", period_end: "2026-07-02T12:30:00+02:00" },
      "period_end",
    ],
    ["reward_points_estimated negative", { reward_points_estimated: -1 }, "reward_points_estimated"],
    ["reward_points_estimated fractional", { reward_points_estimated: 1.5 }, "reward_points_estimated"],
    ["reward_points_estimated a string", { reward_points_estimated: "10" }, "reward_points_estimated"],
    [
      "reward_points_estimated over 1,000,000",
      { reward_points_estimated: 1_000_001 },
      "reward_points_estimated",
    ],
    ["suggestion_type not the one value", { suggestion_type: "peak-shaving" }, "suggestion_type"],
    ["community_id with a NUL", { community_id: "rec\u0000" }, "community_id"],
    ["device_id a number", { device_id: 12 }, "device_id"],
  ])("%s → 422 naming the field", async (_, patch, field) => {
    const res = await create(alice, commitmentBody(patch));
    expectFieldError(res, field);
  });

  test.each([
    ["an array", []],
    ["null", null],
    ["a string", "commit"],
    ["a number", 42],
  ])("a body that is %s → 422", async (_, body) => {
    const res = await create(alice, JSON.stringify(body));
    expectProblem(res, 422);
  });

  test("a window never published to the member → 404 'window not found', nothing stored", async () => {
    windows.member("paul");
    const res = await create(await h.participant("paul"), commitmentBody());
    expectProblem(res, 404, "window not found");
    expect(await rowsOf("paul")).toHaveLength(0);
  });

  test("a window that has ended → 409, nothing stored", async () => {
    const body = windows.publish("quinn", { start: "2026-07-01T06:00:00Z", end: "2026-07-01T07:00:00Z" });
    const res = await create(await h.participant("quinn"), body);
    expectProblem(res, 409, "ended");
    expect(await rowsOf("quinn")).toHaveLength(0);
  });

  test("a published window the app never offers (ends after 21:00 community time) → 409 saying so", async () => {
    // 19:30–20:30 UTC is 21:30–22:30 in Rome.
    const body = windows.publish("sofia", { start: "2026-07-02T19:30:00Z", end: "2026-07-02T20:30:00Z" });
    const res = await create(await h.participant("sofia"), body);
    expectProblem(res, 409, "ends after 21:00 community time");
    expect(await rowsOf("sofia")).toHaveLength(0);
  });

  test("a window overlapping another live commitment of the member's → 409 naming it and its window", async () => {
    const first = windows.publish("alice");
    const later = windows.publish("alice", {
      start: hoursAfter(first.period_start, 0.5),
      end: hoursAfter(first.period_end, 0.5),
    });
    const held = await create(alice, first);
    expect(held.status, held.text).toBe(201);
    const res = await create(alice, later);
    expectProblem(res, 409, `overlaps your live commitment ${held.json.id}`);
    expect(res.json.detail).toContain(`${first.period_start}–${first.period_end}`);
  });

  test("a second live commitment for the same member and window → 409 naming both", async () => {
    const body = windows.publish("alice");
    const first = await create(alice, body);
    expect(first.status, first.text).toBe(201);
    const res = await create(alice, body);
    expectProblem(res, 409, body.suggestion_id);
    expect(res.json.detail).toContain(first.json.id);
  });

  test("the DT failing while the window is not on record → 502 naming it, nothing stored", async () => {
    const body = windows.publish("rita");
    fakes.dt.failNext(503, Number.POSITIVE_INFINITY);
    const res = await create(await h.participant("rita"), body);
    expectProblem(res, 502, "digital-twin");
    expect(await rowsOf("rita")).toHaveLength(0);
  });

  test.each([
    ["user_id", { user_id: undefined }],
    ["device_id", { device_id: undefined }],
    ["community_id", { community_id: null }],
  ])("an operator who does not name %s → 422 naming it", async (field, patch) => {
    const res = await create(admin, operatorBody("sam", clock.now(), patch));
    expectFieldError(res, field);
  });

  test("an operator naming nobody and nothing → 422 naming user_id, device_id and community_id at once", async () => {
    const res = await create(admin, commitmentBody({ period_start: NOW, period_end: hoursAfter(NOW, 1) }));
    expectFieldError(res, "user_id");
    expectFieldError(res, "device_id");
    expectFieldError(res, "community_id");
  });

  test.each([
    ["a window over 24 h (25 h)", "2026-07-03T00:00:00Z", "2026-07-04T01:00:00Z", "24 hours"],
    ["a window that ended 8 days ago", "2026-06-23T07:30:00Z", "2026-06-23T08:30:00Z", "7 days"],
  ])("an operator recording %s → 422 naming period_end", async (_, start, end, detail) => {
    const res = await create(
      admin,
      operatorBody("tom", clock.now(), { period_start: start, period_end: end }),
    );
    expectFieldError(res, "period_end");
    expect(res.json.detail).toContain(detail);
    expect(await rowsOf("tom")).toHaveLength(0);
  });

  test("an operator's commitment overlapping the member's live one → 409 naming it", async () => {
    const first = await create(admin, operatorBody("uma", clock.now()));
    expect(first.status, first.text).toBe(201);
    const res = await create(
      admin,
      operatorBody("uma", clock.now(), {
        period_start: hoursAfter(first.json.period_start, -0.5),
        period_end: hoursAfter(first.json.period_end, -0.5),
      }),
    );
    expectProblem(res, 409, `overlaps uma's live commitment ${first.json.id}`);
  });

  test("malformed JSON → 422 problem", async () => {
    const res = await create(alice, '{"suggestion_id": ');
    expectProblem(res, 422, /JSON/);
  });

  test("a non-JSON content type → 415", async () => {
    const res = await create(alice, JSON.stringify(commitmentBody()), { "content-type": "text/plain" });
    expectProblem(res, 415);
  });

  test("a body over 64 KiB → 413", async () => {
    const res = await create(alice, commitmentBody({ community_id: "x".repeat(70 * 1024) }));
    expectProblem(res, 413);
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    const res = await create(undefined, commitmentBody());
    expectProblem(res, 401, "missing");
  });

  test.each([
    ["flexibility.commitments.write only", [SCOPE.write]],
    ["legacy flexibility.write only", [SCOPE.legacyWrite]],
    ["read scope only", [SCOPE.read]],
    ["export scope only", [SCOPE.export]],
    ["no scope", []],
  ])("a service with %s → 403 naming the missing flexibility.admin", async (_, scopes) => {
    const token = await h.service(scopes);
    const res = await create(token, operatorBody("vera", clock.now()));
    expectProblem(res, 403, "missing scope flexibility.admin");
    expect(await rowsOf("vera")).toHaveLength(0);
  });

  test("a participant cannot create for another member even by naming them", async () => {
    const res = await create(await h.participant("mallory"), {
      ...windows.publish("mallory"),
      user_id: "alice",
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json.user_id).toBe("mallory");
  });
});
