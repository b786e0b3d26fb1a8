import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { SUGGESTIONS_DEGRADED, type SuggestionItem, SuggestionList } from "@celine/core";
import { offers } from "@celine/core/db";
import { eq } from "drizzle-orm";
import { createHarness, type Harness } from "./harness.ts";
import {
  communityRow,
  createTestClock,
  deviceRow,
  type PlatformFakes,
  seedMember,
  startPlatformFakes,
} from "./suggestions-fixtures.ts";

// GET /api/suggestions against the Digital Twin fake, at 08:00 in Rome (06:00 UTC, CEST).
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
  fakes.dt.clearData();
  fakes.dt.clearCalls();
});

let n = 0;
/** A member of a fresh community (so seeded windows never leak between tests). */
async function member(device: string | null = "dev-1") {
  n += 1;
  const sub = `member-${n}`;
  const community = `rec-${n}`;
  seedMember(fakes.dt, sub, community, device);
  return { sub, community, token: await h.participant(sub) };
}

async function suggestions(token: string) {
  const res = await h.call("GET", "/api/suggestions", { token });
  expect(res.status, res.text).toBe(200);
  expect(SuggestionList.safeParse(res.json).success, res.text).toBe(true);
  return res.json as SuggestionItem[];
}

describe("happy", () => {
  test("an enriched window in full: aware UTC bounds, Rome labels, personal figures", async () => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w-late-morning", "2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z", {
        community_kwh: "42.5",
      }),
    ]);
    fakes.dt.setDeviceWindows(m.sub, [
      deviceRow("2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z", {
        estimated_kwh: "1.75",
        reward_points_estimated: "18",
        confidence: 0.81,
      }),
    ]);
    expect(await suggestions(m.token)).toEqual([
      {
        id: "w-late-morning",
        suggestion_type: "shift-consumption",
        period_start: "2026-07-02T09:00:00.000Z",
        period_end: "2026-07-02T12:00:00.000Z",
        from_period: "",
        clock_range: "11:00–14:00",
        to_is_tomorrow: false,
        to_period: "late_morning",
        to_time: "11:00",
        impact_kwh_estimated: 1.75,
        reward_points: 18,
        confidence: 0.81,
        community_kwh: 42.5,
        // No stored readings for this member's meter: no baseline, no target.
        target: null,
      },
    ]);
  });

  test("a window tomorrow is pitched against this evening", async () => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w-tomorrow", "2026-07-03T06:00:00Z", "2026-07-03T08:00:00Z"),
    ]);
    const [item] = await suggestions(m.token);
    expect(item).toMatchObject({
      from_period: "evening",
      clock_range: "17:00–21:00",
      to_is_tomorrow: true,
      to_time: "08:00",
      to_period: "morning",
    });
  });

  test("the DT is asked with the caller's own JWT, and the per-device call names the device", async () => {
    const m = await member("sensor-77");
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w1", "2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z"),
    ]);
    await suggestions(m.token);
    expect(fakes.dt.calls.length).toBe(4);
    for (const call of fakes.dt.calls) expect(call.authorization).toBe(`Bearer ${m.token}`);
    const perDevice = fakes.dt.calls.find(
      (c) => c.path === `/participants/${m.sub}/values/rec_flexibility_windows`,
    );
    expect(perDevice?.body).toEqual({ payload: { device_id: "sensor-77", offset: 0 } });
  });

  test("what was offered is recorded per member and window (bounds, estimate, community, device)", async () => {
    const m = await member("sensor-9");
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w-rec", "2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z", { community_kwh: 7 }),
    ]);
    fakes.dt.setDeviceWindows(m.sub, [
      deviceRow("2026-07-02T09:00:00Z", "2026-07-02T12:00:00Z", {
        reward_points_estimated: 23,
        estimated_kwh: 2,
      }),
    ]);
    await suggestions(m.token);
    clock.advance(15 * 60_000);
    await suggestions(m.token);
    const rows = await h.database.db.select().from(offers).where(eq(offers.userId, m.sub));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      windowId: "w-rec",
      communityId: m.community,
      deviceId: "sensor-9",
      periodStart: new Date("2026-07-02T09:00:00Z"),
      periodEnd: new Date("2026-07-02T12:00:00Z"),
      rewardPoints: 23,
      // The later listing moves offered_at; first_offered_at stays when the member first saw it.
      offeredAt: new Date("2026-07-02T06:15:00Z"),
      firstOfferedAt: new Date("2026-07-02T06:00:00Z"),
    });
    expect(Number(rows[0]?.impactKwh)).toBe(2);
  });
});

describe("rules (table-driven)", () => {
  type Case = {
    name: string;
    windows: ReturnType<typeof communityRow>[];
    device?: ReturnType<typeof deviceRow>[];
    expectIds: string[];
  };
  const W = communityRow;
  const cases: Case[] = [
    {
      name: "ending at exactly 21:00 local is offered; 21:30 and one crossing midnight are not",
      windows: [
        W("ends-2100", "2026-07-02T17:00:00Z", "2026-07-02T19:00:00Z"),
        W("ends-2130", "2026-07-02T17:00:00Z", "2026-07-02T19:30:00Z"),
        W("midnight", "2026-07-02T21:00:00Z", "2026-07-02T23:00:00Z"),
      ],
      expectIds: ["ends-2100"],
    },
    {
      name: "a window that already ended is not offered; one in progress is",
      windows: [
        W("ended", "2026-07-02T03:00:00Z", "2026-07-02T05:00:00Z"),
        W("ends-now", "2026-07-02T04:00:00Z", "2026-07-02T06:00:00Z"),
        W("running", "2026-07-02T05:00:00Z", "2026-07-02T07:00:00Z"),
      ],
      expectIds: ["running"],
    },
    {
      name: "enriched by personal impact first, then the rest by community kWh",
      windows: [
        W("big-community", "2026-07-02T07:00:00Z", "2026-07-02T08:00:00Z", { community_kwh: 99 }),
        W("small-community", "2026-07-02T08:00:00Z", "2026-07-02T09:00:00Z", { community_kwh: 5 }),
        W("low-impact", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { community_kwh: 1 }),
        W("high-impact", "2026-07-02T10:00:00Z", "2026-07-02T11:00:00Z", { community_kwh: 1 }),
      ],
      device: [
        deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { estimated_kwh: 0.5 }),
        deviceRow("2026-07-02T10:00:00Z", "2026-07-02T11:00:00Z", { estimated_kwh: "2.5" }),
      ],
      expectIds: ["high-impact", "low-impact", "big-community", "small-community"],
    },
    {
      name: "at most eight windows",
      windows: Array.from({ length: 11 }, (_, i) =>
        W(
          `w${i}`,
          `2026-07-02T${String(7 + i).padStart(2, "0")}:00:00Z`,
          `2026-07-02T${String(7 + i).padStart(2, "0")}:30:00Z`,
          {
            community_kwh: i,
          },
        ),
      ),
      expectIds: ["w10", "w9", "w8", "w7", "w6", "w5", "w4", "w3"],
    },
    {
      name: "malformed rows (no id, no start, bad timestamp) are skipped; the rest is served",
      windows: [
        { ...W("x", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"), _id: undefined },
        { ...W("no-start", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"), window_start: undefined },
        { ...W("bad-ts", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"), window_end: "2026-07-02T25:00:00" },
        W("good", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
      ],
      expectIds: ["good"],
    },
    {
      name: "a per-device row is matched by UTC bounds, whatever offset it was written with",
      windows: [
        W("matched", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { community_kwh: 1 }),
        W("other", "2026-07-02T10:00:00Z", "2026-07-02T11:00:00Z", { community_kwh: 50 }),
      ],
      device: [
        {
          ...deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
          window_start: "2026-07-02T11:00:00+02:00",
          window_end: "2026-07-02T10:00:00Z",
        },
      ],
      expectIds: ["matched", "other"],
    },
  ];
  test.each(cases)("$name", async ({ windows, device, expectIds }) => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, windows);
    if (device) fakes.dt.setDeviceWindows(m.sub, device);
    const items = await suggestions(m.token);
    expect(items.map((i) => i.id)).toEqual(expectIds);
  });

  test("malformed rows are logged with the reason", async () => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      { ...communityRow("bad", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"), window_start: "soon" },
    ]);
    const before = h.logs.length;
    expect(await suggestions(m.token)).toEqual([]);
    const warning = h.logs
      .slice(before)
      .find((l) => l.msg === "suggestions: skipped a malformed digital twin row");
    expect(warning?.reason).toContain("bad window_start");
  });

  test.each([
    {
      name: "no per-device row → personal figures null (never 0), community confidence kept",
      device: [],
      expected: { impact_kwh_estimated: null, reward_points: null, confidence: 0.7 },
    },
    {
      name: "enriched with a null reward → 0 points",
      device: [deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { reward_points_estimated: null })],
      expected: { impact_kwh_estimated: 1, reward_points: 0, confidence: 0.9 },
    },
    {
      name: "enriched with a junk reward → 0 points",
      device: [
        deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { reward_points_estimated: "lots" }),
      ],
      expected: { impact_kwh_estimated: 1, reward_points: 0, confidence: 0.9 },
    },
    {
      name: "a null confidence stays null",
      device: [deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { confidence: null })],
      expected: { impact_kwh_estimated: 1, reward_points: 10, confidence: null },
    },
    {
      name: "numbers as strings are coerced",
      device: [
        deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", {
          estimated_kwh: "0.25",
          reward_points_estimated: "3",
          confidence: "0.5",
        }),
      ],
      expected: { impact_kwh_estimated: 0.25, reward_points: 3, confidence: 0.5 },
    },
    {
      name: "a junk personal kWh is no enrichment",
      device: [deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { estimated_kwh: "n/a" })],
      expected: { impact_kwh_estimated: null, reward_points: null, confidence: 0.7 },
    },
  ])("$name", async ({ device, expected }) => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", { confidence: 0.7 }),
    ]);
    fakes.dt.setDeviceWindows(m.sub, [...device]);
    const [item] = await suggestions(m.token);
    expect(item).toMatchObject(expected);
  });

  test("junk community_kwh shows as 0 and confidence junk as null", async () => {
    const m = await member(null);
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z", {
        community_kwh: "?",
        confidence: "x",
      }),
    ]);
    const [item] = await suggestions(m.token);
    expect(item).toMatchObject({ community_kwh: 0, confidence: null, impact_kwh_estimated: null });
  });

  test("a window held by a live commitment is not offered; once cancelled it comes back", async () => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("held", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
      communityRow("free", "2026-07-02T10:00:00Z", "2026-07-02T11:00:00Z"),
    ]);
    expect((await suggestions(m.token)).map((i) => i.id).sort()).toEqual(["free", "held"]);
    const accepted = await h.call("POST", "/api/suggestions/held/respond", {
      token: m.token,
      body: { response: "accepted" },
    });
    expect(accepted.status, accepted.text).toBe(200);
    expect((await suggestions(m.token)).map((i) => i.id)).toEqual(["free"]);
    const cancelled = await h.call("DELETE", `/api/commitments/${accepted.json.commitment_id}`, {
      token: m.token,
    });
    expect(cancelled.status, cancelled.text).toBe(204);
    expect((await suggestions(m.token)).map((i) => i.id).sort()).toEqual(["free", "held"]);
  });
});

describe("degraded: never a 5xx because of the DT", () => {
  test("not in a community → []", async () => {
    const sub = `loner-${crypto.randomUUID().slice(0, 6)}`;
    fakes.dt.setProfile(sub, { sub });
    expect(await suggestions(await h.participant(sub))).toEqual([]);
    expect(fakes.dt.calls.some((c) => c.path.includes("/values/"))).toBe(false);
  });

  test.each([
    { name: "profile (membership) answers 503", path: /\/profile$/, stage: "membership" },
    { name: "community windows answer 500", path: /^\/communities\//, stage: "windows" },
    { name: "community windows answer 401", path: /^\/communities\//, stage: "windows", status: 401 },
  ])("$name → [] with a warning and a metric", async ({ path, stage, status = 503 }) => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
    ]);
    fakes.dt.failNext(status, Number.POSITIVE_INFINITY, { path });
    const before = h.deps.metrics.value(SUGGESTIONS_DEGRADED, { stage });
    const logged = h.logs.length;
    expect(await suggestions(m.token)).toEqual([]);
    expect(h.deps.metrics.value(SUGGESTIONS_DEGRADED, { stage })).toBe(before + 1);
    expect(h.logs.slice(logged).some((l) => l.level === "warn" && l.stage === stage)).toBe(true);
  });

  test("the DT timing out → [] (the adapter's deadline, not a hang)", async () => {
    const m = await member();
    fakes.dt.hang(true, { path: /^\/communities\// });
    expect(await suggestions(m.token)).toEqual([]);
  });

  test.each([
    { name: "assets fail", path: /\/assets$/ },
    { name: "per-device windows fail", path: /^\/participants\/.*\/values\// },
  ])("$name → windows still served, without personal figures", async ({ path }) => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
    ]);
    fakes.dt.setDeviceWindows(m.sub, [deviceRow("2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z")]);
    fakes.dt.failNext(500, Number.POSITIVE_INFINITY, { path });
    const items = await suggestions(m.token);
    expect(items.map((i) => [i.id, i.impact_kwh_estimated, i.reward_points])).toEqual([["w", null, null]]);
  });
});

describe("security", () => {
  test("no token → 401", async () => {
    const res = await h.call("GET", "/api/suggestions");
    expect(res.status, res.text).toBe(401);
  });

  test("a service token → 403 (suggestions are personal)", async () => {
    const res = await h.call("GET", "/api/suggestions", {
      token: await h.service(["flexibility.commitments.read"]),
    });
    expect(res.status, res.text).toBe(403);
  });

  test("tRPC suggestions.list answers the same items", async () => {
    const m = await member();
    fakes.dt.setCommunityWindows(m.community, [
      communityRow("w", "2026-07-02T09:00:00Z", "2026-07-02T10:00:00Z"),
    ]);
    const res = await h.call("GET", "/trpc/suggestions.list", { token: m.token });
    expect(res.status, res.text).toBe(200);
    expect(res.json.result.data).toEqual(await suggestions(m.token));
  });
});
