import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  commitmentBody,
  createClock,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  WIRE_KEYS,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// POST /api/commitments (PLATFORM §1, issue 2 item 4).

const clock = createClock("2026-07-01T08:30:00.000Z");
let h: Harness;
let alice: string;
let writer: string;
beforeAll(async () => {
  h = await createHarness({ now: clock.now });
  alice = await h.participant("alice");
  writer = await h.service([SCOPE.write]);
}, HOOK_TIMEOUT);
afterAll(() => h.close());

const create = (token: string | undefined, body: unknown, headers?: Record<string, string>) =>
  h.call("POST", "/api/commitments", { token, body, headers });

describe("happy", () => {
  test("a participant creates a live commitment for themselves: 201 with every wire key", async () => {
    const body = commitmentBody({ community_id: "rec-1", device_id: "meter-7", reward_points_estimated: 25 });
    const res = await create(alice, body);
    expect(res.status, res.text).toBe(201);
    for (const key of WIRE_KEYS) expect(res.json, `missing ${key}`).toHaveProperty(key);
    expect(res.json).toMatchObject({
      user_id: "alice",
      suggestion_id: body.suggestion_id,
      suggestion_type: "shift-consumption",
      community_id: "rec-1",
      device_id: "meter-7",
      period_start: "2026-07-02T11:00:00.000Z",
      period_end: "2026-07-02T14:00:00.000Z",
      committed_at: "2026-07-01T08:30:00.000Z",
      settled_at: null,
      reminded_at: null,
      status: "committed",
      reward_points_estimated: 25,
      reward_points_actual: null,
    });
    expect(res.json.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  test("optional fields default: suggestion_type shift-consumption, community/device null", async () => {
    const res = await create(alice, commitmentBody());
    expect(res.status, res.text).toBe(201);
    expect(res.json.suggestion_type).toBe("shift-consumption");
    expect(res.json.community_id).toBeNull();
    expect(res.json.device_id).toBeNull();
    expect(Number.isInteger(res.json.reward_points_estimated), res.text).toBe(true);
  });

  test.each([
    ["another member's id", "mallory"],
    ["null", null],
  ])("a participant's body user_id (%s) is ignored: the commitment is theirs", async (_, userId) => {
    const res = await create(alice, commitmentBody({ user_id: userId }));
    expect(res.status, res.text).toBe(201);
    expect(res.json.user_id).toBe("alice");
  });

  test.each([
    ["flexibility.commitments.write", SCOPE.write],
    ["legacy flexibility.write", SCOPE.legacyWrite],
    ["flexibility.admin", SCOPE.admin],
  ])("a service with %s creates on behalf of the named user_id", async (_, scope) => {
    const token = await h.service([scope], "svc-operator");
    const res = await create(token, commitmentBody({ user_id: "bob" }));
    expect(res.status, res.text).toBe(201);
    expect(res.json.user_id).toBe("bob");
  });

  test.each([
    ["naive means UTC", "2026-07-02T11:00:00", "2026-07-02T11:00:00.000Z"],
    ["naive with a space separator", "2026-07-02 11:00", "2026-07-02T11:00:00.000Z"],
    ["Z", "2026-07-02T11:00:00Z", "2026-07-02T11:00:00.000Z"],
    ["+02:00 offset", "2026-07-02T13:00:00+02:00", "2026-07-02T11:00:00.000Z"],
    ["-0500 offset", "2026-07-02T06:00:00-0500", "2026-07-02T11:00:00.000Z"],
    ["fractional seconds", "2026-07-02T11:00:00.250", "2026-07-02T11:00:00.250Z"],
  ])("timestamps are normalised to UTC (%s)", async (_, start, expected) => {
    const res = await create(
      alice,
      commitmentBody({ period_start: start, period_end: "2026-07-02T23:00:00Z" }),
    );
    expect(res.status, res.text).toBe(201);
    expect(res.json.period_start).toBe(expected);
  });

  test("a cancelled commitment frees its window: the member may commit to it again", async () => {
    const body = commitmentBody();
    const first = await create(alice, body);
    expect(first.status, first.text).toBe(201);
    const cancelled = await h.call("DELETE", `/api/commitments/${first.json.id}`, { token: alice });
    expect(cancelled.status, cancelled.text).toBe(204);
    const again = await create(alice, body);
    expect(again.status, again.text).toBe(201);
    expect(again.json.id).not.toBe(first.json.id);
  });

  test("the same window may be committed by two different members", async () => {
    const body = commitmentBody();
    expect((await create(alice, body)).status).toBe(201);
    const res = await create(await h.participant("carol"), body);
    expect(res.status, res.text).toBe(201);
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

  test("a service with write scope must name user_id: 422 naming it", async () => {
    const res = await create(writer, commitmentBody());
    expectFieldError(res, "user_id");
  });

  test("a service naming an empty user_id → 422 naming it", async () => {
    const res = await create(writer, commitmentBody({ user_id: "" }));
    expectFieldError(res, "user_id");
  });

  test("a second live commitment for the same member and window → 409", async () => {
    const body = commitmentBody();
    expect((await create(alice, body)).status).toBe(201);
    const res = await create(alice, body);
    expectProblem(res, 409, body.suggestion_id as string);
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
    ["read scope only", [SCOPE.read]],
    ["export scope only", [SCOPE.export]],
    ["no scope", []],
  ])("a service with %s → 403 missing write scope", async (_, scopes) => {
    const token = await h.service(scopes);
    const res = await create(token, commitmentBody({ user_id: "bob" }));
    expectProblem(res, 403, "missing scope flexibility.commitments.write");
  });

  test("a participant cannot create for another member even by naming them", async () => {
    const res = await create(await h.participant("mallory"), commitmentBody({ user_id: "alice" }));
    expect(res.status, res.text).toBe(201);
    expect(res.json.user_id).toBe("mallory");
  });
});
