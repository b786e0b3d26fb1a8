import { describe, expect, test } from "bun:test";
import { commitmentEvent, type FeedCommitment, offerEvent, sequenceOf } from "../src/calendar/feed-events.ts";
import { renderFeed } from "../src/calendar/render-feed.ts";

// The feed's events and their iCalendar text without a database: SEQUENCE from stored state, the
// summaries, wall-clock times with TZID across a DST change, UTC without a VTIMEZONE, and the same
// state rendering the same bytes. (apps/api/test/calendar.test.ts reads the served feed with ical.js.)

const base: FeedCommitment = {
  id: "0b0e5ad5-6c1e-4a61-9a2a-2d1f3b8f3b10",
  status: "committed",
  periodStart: new Date("2026-07-02T09:00:00Z"),
  periodEnd: new Date("2026-07-02T12:00:00Z"),
  committedAt: new Date("2026-07-01T06:16:00Z"),
  settledAt: null,
  rewardPointsEstimated: 15,
  rewardPointsActual: null,
  settlementRevision: 0,
};
const ROME = "Europe/Rome";

describe("SEQUENCE from stored state", () => {
  test.each([
    ["live", { status: "committed", settlementRevision: 0 }, 0],
    ["cancelled", { status: "cancelled", settlementRevision: 0 }, 1],
    ["settled once", { status: "settled", settlementRevision: 1 }, 1],
    ["restated twice", { status: "settled", settlementRevision: 3 }, 3],
    ["settled before revisions were kept", { status: "settled", settlementRevision: 0 }, 1],
  ] as const)("%s → %d", (_, row, sequence) => {
    expect(sequenceOf(row)).toBe(sequence);
  });
});

describe("events", () => {
  test("live: CONFIRMED, an alarm, 'up to' the estimate, community-time clock range", () => {
    expect(commitmentEvent(base, "flex.example.org", ROME)).toMatchObject({
      uid: `${base.id}@flex.example.org`,
      sequence: 0,
      status: "CONFIRMED",
      alarm: true,
      stamp: base.committedAt,
      summary: "Use more energy 11:00–14:00 · up to 15 points",
    });
  });

  test.each([
    [18, "Use more energy 11:00–14:00 · 18 points earned"],
    [1, "Use more energy 11:00–14:00 · 1 point earned"],
    [0, "Use more energy 11:00–14:00 · no points earned"],
  ])("settled with %d points: %s", (points, summary) => {
    const settledAt = new Date("2026-07-03T01:00:00Z");
    const event = commitmentEvent(
      { ...base, status: "settled", settledAt, rewardPointsActual: points, settlementRevision: 1 },
      "h",
      ROME,
    );
    expect(event).toMatchObject({ status: "CONFIRMED", alarm: false, stamp: settledAt, summary });
  });

  test("cancelled: CANCELLED, no alarm, the same UID", () => {
    const event = commitmentEvent({ ...base, status: "cancelled" }, "h", ROME);
    expect(event).toMatchObject({ uid: `${base.id}@h`, status: "CANCELLED", alarm: false, sequence: 1 });
    expect(event.summary).toBe("Cancelled: Use more energy 11:00–14:00");
  });

  test("an estimate of 0 or none promises nothing in the summary", () => {
    expect(commitmentEvent({ ...base, rewardPointsEstimated: 0 }, "h", ROME).summary).toBe(
      "Use more energy 11:00–14:00",
    );
    const offer = {
      windowId: "w",
      periodStart: base.periodStart,
      periodEnd: base.periodEnd,
      rewardPoints: null,
    };
    expect(offerEvent({ ...offer, firstOfferedAt: base.committedAt }, "k", "h", ROME)).toMatchObject({
      uid: "offer-k@h",
      status: "TENTATIVE",
      sequence: 0,
      alarm: false,
      summary: "Offer: Use more energy 11:00–14:00",
    });
  });
});

describe("renderFeed", () => {
  const opts = { timeZone: ROME, reminderLeadMinutes: 30 };

  test("wall-clock times with TZID and the zone's VTIMEZONE, DTSTAMP in UTC, an alarm 30 minutes before", () => {
    const text = renderFeed([commitmentEvent(base, "h", ROME)], opts);
    expect(text).toContain("BEGIN:VTIMEZONE\r\nTZID:Europe/Rome\r\n");
    expect(text).toContain("DTSTART;TZID=Europe/Rome:20260702T110000\r\n");
    expect(text).toContain("DTEND;TZID=Europe/Rome:20260702T140000\r\n");
    expect(text).toContain("DTSTAMP:20260701T061600Z\r\n");
    expect(text).toContain("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT30M\r\n");
    expect(text).toContain("TRANSP:TRANSPARENT\r\n");
  });

  test("across a DST change the wall clock follows the zone (New York, 8 March 2026)", () => {
    const zone = "America/New_York";
    const event = commitmentEvent(
      {
        ...base,
        periodStart: new Date("2026-03-08T06:30:00Z"), // 01:30 EST
        periodEnd: new Date("2026-03-08T07:30:00Z"), // 03:30 EDT
      },
      "h",
      zone,
    );
    const text = renderFeed([event], { ...opts, timeZone: zone });
    expect(text).toContain("DTSTART;TZID=America/New_York:20260308T013000\r\n");
    expect(text).toContain("DTEND;TZID=America/New_York:20260308T033000\r\n");
    expect(text).toContain("TZID:America/New_York\r\n");
  });

  test("a UTC community: times in UTC with Z and no VTIMEZONE", () => {
    const text = renderFeed([commitmentEvent(base, "h", "UTC")], { ...opts, timeZone: "UTC" });
    expect(text).toContain("DTSTART:20260702T090000Z\r\n");
    expect(text).not.toContain("VTIMEZONE");
    expect(text).not.toContain("TZID");
  });

  test("the same events render the same bytes (the ETag depends on nothing else)", () => {
    const events = [
      commitmentEvent(base, "h", ROME),
      commitmentEvent({ ...base, status: "cancelled" }, "h", ROME),
    ];
    expect(renderFeed(events, opts)).toBe(renderFeed(events, opts));
  });
});
