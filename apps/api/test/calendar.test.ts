import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { PolicyInput } from "@celine/core";
import { calendarTokens } from "@celine/core/db";
import { eq } from "drizzle-orm";
import ICAL from "ical.js";
import { createApp } from "../src/app.ts";
import { DEFAULT_PER_MINUTE, type RateLimits } from "../src/lib/rate-limit.ts";
import { expectProblem, HOOK_TIMEOUT, SCOPE, seedCommitment } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// The calendar feed (issue 13 item 3): POST /api/calendar/token, tRPC calendar.createToken and
// GET /api/calendar/{secret}.ics, read back with an independent parser (ical.js).

const DAY_MS = 86_400_000;
const FEED_URL = /^http:\/\/localhost:8017\/api\/calendar\/([A-Za-z0-9_-]{43})\.ics$/;

let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
/** Every policy question the app asked, in order. */
const asked: PolicyInput[] = [];
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  const decide = h.deps.authorizer;
  h.deps.authorizer = async (input) => {
    asked.push(input);
    return decide(input);
  };
  windows = createWindowPublisher(fakes.dt);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

type FeedEvent = {
  uid: string;
  sequence: number;
  status: string;
  summary: string;
  description: string;
  start: Date;
  end: Date;
  tzid: string | null;
  transparency: string;
  alarms: { action: string; trigger: string }[];
};

/** The feed as ical.js reads it: events with their times resolved through the feed's own VTIMEZONE. */
function parseFeed(text: string) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  const timezones = calendar.getAllSubcomponents("vtimezone").map((vtz) => new ICAL.Timezone(vtz));
  for (const zone of timezones) ICAL.TimezoneService.register(zone, zone.tzid);
  const events: FeedEvent[] = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const start = vevent.getFirstProperty("dtstart");
    return {
      uid: event.uid,
      sequence: event.sequence,
      status: String(vevent.getFirstPropertyValue("status")),
      summary: event.summary,
      description: event.description,
      start: event.startDate.toJSDate(),
      end: event.endDate.toJSDate(),
      tzid: start?.getParameter("tzid")?.toString() ?? null,
      transparency: String(vevent.getFirstPropertyValue("transp")),
      alarms: vevent.getAllSubcomponents("valarm").map((alarm) => ({
        action: String(alarm.getFirstPropertyValue("action")),
        trigger: String(alarm.getFirstPropertyValue("trigger")),
      })),
    };
  });
  return { calendar, timezones: timezones.map((z) => z.tzid), events };
}

/** A participant's fresh feed: their bearer token, the URL handed out and the path to fetch. */
async function feedOf(sub: string) {
  const token = await h.participant(sub);
  const res = await h.call("POST", "/api/calendar/token", { token });
  expect(res.status, res.text).toBe(201);
  const url: string = res.json.url;
  expect(url).toMatch(FEED_URL);
  return { token, url, path: new URL(url).pathname, secret: FEED_URL.exec(url)?.[1] ?? "" };
}

async function fetchFeed(path: string, headers: Record<string, string> = {}) {
  const res = await h.call("GET", path, { headers });
  expect(res.status, res.text).toBe(200);
  return { res, ...parseFeed(res.text) };
}

/** List suggestions (the windows become offers on record), then answer `window`. */
async function respond(token: string, window: { suggestion_id: string }, response: "accepted" | "declined") {
  const listed = await h.call("GET", "/api/suggestions", { token });
  expect(listed.status, listed.text).toBe(200);
  const res = await h.call("POST", `/api/suggestions/${window.suggestion_id}/respond`, {
    token,
    body: { response },
  });
  expect(res.status, res.text).toBe(200);
  return res;
}

/** Accept `window` as a member would (listed first): the commitment's id. */
async function accept(token: string, window: { suggestion_id: string }): Promise<string> {
  return (await respond(token, window, "accepted")).json.commitment_id;
}

const rome = (instant: Date) =>
  new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Rome", hour: "2-digit", minute: "2-digit" }).format(
    instant,
  );

describe("happy", () => {
  test("POST /api/calendar/token answers a URL with a 256-bit secret; only its SHA-256 is stored", async () => {
    const { secret } = await feedOf("cal-alice");
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    const [row] = await h.database.db
      .select()
      .from(calendarTokens)
      .where(eq(calendarTokens.userId, "cal-alice"));
    const sha = new Bun.CryptoHasher("sha256").update(secret).digest("hex");
    expect(row?.tokenHash).toBe(sha);
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  test("the feed: text/calendar, an ETag, private caching, and a VCALENDAR ical.js reads", async () => {
    const { path } = await feedOf("cal-empty");
    const { res, calendar, events } = await fetchFeed(path);
    expect(res.headers.get("content-type")).toBe("text/calendar; charset=utf-8");
    expect(res.headers.get("etag")).toMatch(/^"[^"]+"$/);
    expect(res.headers.get("cache-control")).toBe("private, max-age=300");
    expect(res.headers.get("x-robots-tag")).toContain("noindex");
    expect(calendar.getFirstPropertyValue("version")).toBe("2.0");
    expect(String(calendar.getFirstPropertyValue("prodid"))).toContain("CELINE");
    expect(events).toEqual([]);
  });

  test("an accepted window: UID <id>@host, SEQUENCE 0, CONFIRMED, TZID Europe/Rome with its VTIMEZONE, a VALARM 30 minutes before, a readable summary", async () => {
    const { token, path } = await feedOf("cal-bea");
    const window = windows.publish("cal-bea", { reward: 15 });
    const id = await accept(token, window);
    const { events, timezones, res } = await fetchFeed(path);
    expect(timezones).toEqual(["Europe/Rome"]);
    const event = events.find((e) => e.uid === `${id}@localhost`);
    expect(event, res.text).toBeDefined();
    const start = new Date(window.period_start);
    const end = new Date(window.period_end);
    expect(event).toMatchObject({
      sequence: 0,
      status: "CONFIRMED",
      tzid: "Europe/Rome",
      transparency: "TRANSPARENT",
      summary: `Use more energy ${rome(start)}–${rome(end)} · up to 15 points`,
      alarms: [{ action: "DISPLAY", trigger: "-PT30M" }],
    });
    // Wall-clock times in Rome, read back through the feed's own VTIMEZONE, are the window's instants.
    expect(event?.start.getTime()).toBe(start.getTime());
    expect(event?.end.getTime()).toBe(end.getTime());
    expect(res.text).toContain(`DTSTART;TZID=Europe/Rome:`);
    // The offer the member answered is no longer TENTATIVE in the feed.
    expect(events.filter((e) => e.status === "TENTATIVE" && e.start.getTime() === start.getTime())).toEqual(
      [],
    );
  });

  test("a cancel keeps the UID, raises SEQUENCE and marks it STATUS:CANCELLED (no alarm)", async () => {
    const { token, path } = await feedOf("cal-carl");
    const id = await accept(token, windows.publish("cal-carl", { reward: 12 }));
    const before = (await fetchFeed(path)).events.find((e) => e.uid === `${id}@localhost`);
    expect(before).toMatchObject({ sequence: 0, status: "CONFIRMED" });

    const cancelled = await h.call("DELETE", `/api/commitments/${id}`, { token });
    expect(cancelled.status, cancelled.text).toBe(204);
    const after = (await fetchFeed(path)).events.filter((e) => e.uid === `${id}@localhost`);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ sequence: 1, status: "CANCELLED", alarms: [] });
    expect(after[0]?.summary).toStartWith("Cancelled: Use more energy");
    expect(after[0]?.start.getTime()).toBe(before?.start.getTime() ?? Number.NaN);
  });

  test("settled: SEQUENCE is the settlement revision (1, then 2 after a restatement), points earned in the summary", async () => {
    const { path } = await feedOf("cal-dora");
    const periodStart = new Date(Date.now() - 3 * DAY_MS);
    const periodEnd = new Date(periodStart.getTime() + 3_600_000);
    const settled = await seedCommitment(h, {
      userId: "cal-dora",
      periodStart,
      periodEnd,
      status: "settled",
      settledAt: new Date(periodEnd.getTime() + DAY_MS),
      rewardPointsEstimated: 15,
      rewardPointsActual: 18,
      settlementRevision: 1,
    });
    const uid = `${settled.id}@localhost`;
    const first = (await fetchFeed(path)).events.find((e) => e.uid === uid);
    expect(first).toMatchObject({ sequence: 1, status: "CONFIRMED", alarms: [] });
    expect(first?.summary).toBe(`Use more energy ${rome(periodStart)}–${rome(periodEnd)} · 18 points earned`);

    const { commitments } = await import("@celine/core/db");
    await h.database.db
      .update(commitments)
      .set({ settlementRevision: 2, rewardPointsActual: 1 })
      .where(eq(commitments.id, settled.id));
    const restated = (await fetchFeed(path)).events.find((e) => e.uid === uid);
    expect(restated).toMatchObject({ sequence: 2, status: "CONFIRMED" });
    expect(restated?.summary).toEndWith("· 1 point earned");
  });

  test("a hand settlement through PATCH /settle shows as settled with SEQUENCE 1", async () => {
    const { token, path } = await feedOf("cal-ezra");
    const id = await accept(token, windows.publish("cal-ezra", { reward: 9 }));
    const settle = await h.call("PATCH", `/api/commitments/${id}/settle`, {
      token: await h.service([SCOPE.write]),
      body: { reward_points_actual: 7 },
    });
    expect(settle.status, settle.text).toBe(200);
    const event = (await fetchFeed(path)).events.find((e) => e.uid === `${id}@localhost`);
    expect(event).toMatchObject({ sequence: 1, status: "CONFIRMED", alarms: [] });
    expect(event?.summary).toEndWith("· 7 points earned");
  });

  test("open offered windows are TENTATIVE with a stable UID; answered ones are not offered", async () => {
    const { token, path } = await feedOf("cal-fay");
    const open = windows.publish("cal-fay", { reward: 11 });
    const declined = windows.publish("cal-fay", { reward: 4 });
    await respond(token, declined, "declined");

    const { events } = await fetchFeed(path);
    const tentative = events.filter((e) => e.status === "TENTATIVE");
    expect(tentative.map((e) => e.start.toISOString())).toEqual([new Date(open.period_start).toISOString()]);
    const [offer] = tentative;
    expect(offer?.uid).toMatch(/^offer-[0-9a-f]{32}@localhost$/);
    // Neither the member's id nor the DT's window id is in it (feeds get shared).
    expect(offer?.uid).not.toContain("cal-fay");
    expect(offer?.uid).not.toContain(open.suggestion_id);
    expect(offer).toMatchObject({ sequence: 0, tzid: "Europe/Rome", alarms: [] });
    expect(offer?.summary).toBe(
      `Offer: Use more energy ${rome(new Date(open.period_start))}–${rome(new Date(open.period_end))} · up to 11 points`,
    );

    // Listing again moves nothing: same UID.
    await h.call("GET", "/api/suggestions", { token });
    expect((await fetchFeed(path)).events.find((e) => e.status === "TENTATIVE")?.uid).toBe(offer?.uid);
  });

  test("only the last 30 days and the next 7: older, later and declined commitments are left out", async () => {
    const { path } = await feedOf("cal-gus");
    const now = Date.now();
    const at = (
      startMs: number,
      extra: Parameters<typeof seedCommitment>[1] extends infer R ? Partial<R> : never,
    ) =>
      seedCommitment(h, {
        userId: "cal-gus",
        periodStart: new Date(startMs),
        periodEnd: new Date(startMs + 3_600_000),
        ...extra,
      });
    const inside = [
      await at(now - 29 * DAY_MS, { status: "settled", rewardPointsActual: 3, settlementRevision: 1 }),
      await at(now - 10 * DAY_MS, { status: "cancelled" }),
      await at(now + 6 * DAY_MS, { status: "committed" }),
    ];
    const outside = [
      await at(now - 31 * DAY_MS, { status: "settled", rewardPointsActual: 3, settlementRevision: 1 }),
      await at(now - 40 * DAY_MS, { status: "cancelled" }),
      await at(now + 8 * DAY_MS, { status: "committed" }),
      await at(now + 2 * DAY_MS, { status: "rejected" }),
    ];
    const uids = (await fetchFeed(path)).events.map((e) => e.uid);
    expect(uids.sort()).toEqual(inside.map((c) => `${c.id}@localhost`).sort());
    for (const c of outside) expect(uids).not.toContain(`${c.id}@localhost`);
  });

  test("If-None-Match with the ETag → 304 (no body, same ETag and caching); a change → 200 with a new ETag", async () => {
    const { token, path } = await feedOf("cal-hal");
    const first = await fetchFeed(path);
    const tag = first.res.headers.get("etag") ?? "";
    const again = await h.call("GET", path, { headers: { "if-none-match": tag } });
    expect(again.status, again.text).toBe(304);
    expect(again.text).toBe("");
    expect(again.headers.get("etag")).toBe(tag);
    expect(again.headers.get("cache-control")).toBe("private, max-age=300");
    // Weak comparison and lists, as clients send them.
    for (const header of [`W/${tag}`, `"other", ${tag}`]) {
      expect((await h.call("GET", path, { headers: { "if-none-match": header } })).status).toBe(304);
    }
    // The same state renders the same bytes.
    expect((await fetchFeed(path)).res.text).toBe(first.res.text);

    await accept(token, windows.publish("cal-hal"));
    const changed = await h.call("GET", path, { headers: { "if-none-match": tag } });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(tag);
  });

  test("tRPC calendar.createToken answers a URL too, and it replaces the REST one", async () => {
    const { token, path } = await feedOf("cal-ivy");
    const res = await h.call("POST", "/trpc/calendar.createToken", { token, body: {} });
    expect(res.status, res.text).toBe(200);
    const url: string = res.json.result.data.url;
    expect(url).toMatch(FEED_URL);
    expectProblem(await h.call("GET", path), 404);
    expect((await h.call("GET", new URL(url).pathname)).status).toBe(200);
  });

  test("the feed asks the policy: read on calendar_feed owned by the secret's member, with no subject", async () => {
    const { path } = await feedOf("cal-jon");
    const from = asked.length;
    await fetchFeed(path);
    expect(asked.slice(from)).toEqual([
      {
        subject: null,
        action: { name: "read" },
        resource: { type: "calendar_feed", attributes: { owner_id: "cal-jon" } },
      },
    ]);
  });
});

describe("errors", () => {
  test.each([
    ["an unknown secret", `/api/calendar/${"A".repeat(43)}.ics`],
    ["a secret without .ics", `/api/calendar/${"A".repeat(43)}`],
    ["a short name", "/api/calendar/abc.ics"],
    ["the token route's name", "/api/calendar/token"],
    ["a long name", `/api/calendar/${"x".repeat(300)}.ics`],
  ])("%s → 404 problem+json", async (_, path) => {
    expectProblem(await h.call("GET", path), 404);
  });

  test("a known secret in another case or with a suffix → 404", async () => {
    const { secret } = await feedOf("cal-kim");
    const flipped = secret.replace(/[a-zA-Z]/g, (c) =>
      c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase(),
    );
    expect(flipped).not.toBe(secret);
    expectProblem(await h.call("GET", `/api/calendar/${flipped}.ics`), 404);
    expectProblem(await h.call("GET", `/api/calendar/${secret}.ics.ics`), 404);
    expectProblem(await h.call("GET", `/api/calendar/${secret}x.ics`), 404);
  });

  test("rate-limited per feed by the app's limits (RATE_LIMIT_FEED_PER_MIN, 10 by default), then 429 with Retry-After (other feeds unaffected); guessed names count against the address", async () => {
    const { path } = await feedOf("cal-lea");
    const { path: other } = await feedOf("cal-max");
    const limits: RateLimits = {
      perMinute: DEFAULT_PER_MINUTE,
      serviceFactor: 10,
      clientIpHeader: "x-real-ip",
    };
    const app = createApp({ ...h.deps, rateLimits: limits });
    const get = (p: string, from = "192.0.2.1") => app.request(p, { headers: { "x-real-ip": from } });
    for (let i = 0; i < DEFAULT_PER_MINUTE.feed; i++) {
      const res = await get(path);
      expect(res.status, `request ${i + 1}: ${await res.text()}`).toBe(200);
    }
    const refused = await get(path);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect((await get(other)).status).toBe(200);
    // Unknown names count against the address: guessing is no cheaper than a wrong token.
    const guess = (i: number) => `/api/calendar/${String(i).padStart(43, "B")}.ics`;
    for (let i = 0; i < DEFAULT_PER_MINUTE.unauthenticated; i++) {
      expect((await get(guess(i), "192.0.2.2")).status).toBe(404);
    }
    expect((await get(guess(999), "192.0.2.2")).status).toBe(429);
  });

  test("POST /api/calendar/token with a non-JSON body → 415 (no body at all is fine)", async () => {
    const token = await h.participant("cal-nia");
    const res = await h.call("POST", "/api/calendar/token", {
      token,
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expectProblem(res, 415);
  });
});

describe("security", () => {
  test("a new token replaces the old one, which stops working at once", async () => {
    const first = await feedOf("cal-olga");
    expect((await h.call("GET", first.path)).status).toBe(200);
    const second = await h.call("POST", "/api/calendar/token", { token: first.token });
    expect(second.status, second.text).toBe(201);
    expect(second.json.url).not.toBe(first.url);
    expectProblem(await h.call("GET", first.path), 404);
    expect((await h.call("GET", new URL(second.json.url).pathname)).status).toBe(200);
  });

  test("another member's commitments and offers never appear in a feed", async () => {
    const mine = await feedOf("cal-pia");
    const theirs = await feedOf("cal-quin");
    const myId = await accept(mine.token, windows.publish("cal-pia"));
    const theirId = await accept(theirs.token, windows.publish("cal-quin"));
    windows.publish("cal-quin", { reward: 99 });
    await h.call("GET", "/api/suggestions", { token: theirs.token });

    const { res, events } = await fetchFeed(mine.path);
    expect(events.map((e) => e.uid)).toContain(`${myId}@localhost`);
    expect(res.text).not.toContain(theirId);
    expect(res.text).not.toContain("99 points");
    expect(events.filter((e) => e.status === "TENTATIVE")).toEqual([]);
    const their = await fetchFeed(theirs.path);
    expect(their.res.text).not.toContain(myId);
  });

  test("a bearer sent with the feed changes nothing: the secret alone decides (a junk token is no 401)", async () => {
    const { path } = await feedOf("cal-rex");
    const plain = await h.call("GET", path);
    const stranger = await h.call("GET", path, {
      headers: { authorization: `Bearer ${await h.participant("cal-stranger")}` },
    });
    const junk = await h.call("GET", path, { headers: { authorization: "Bearer junk.junk.junk" } });
    expect([stranger.status, junk.status]).toEqual([200, 200]);
    expect(stranger.text).toBe(plain.text);
    expect(junk.text).toBe(plain.text);
  });

  test("without a token, only the feed: POST /api/calendar/token is 401", async () => {
    expectProblem(await h.call("POST", "/api/calendar/token"), 401, /missing/);
  });
});
