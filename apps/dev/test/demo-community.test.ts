import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { formatHhmm, hourOf, toLocalTime } from "@celine/core";
import {
  type DigitalTwin,
  type OidcIssuer,
  type RecRegistry,
  startDigitalTwin,
  startOidcIssuer,
  startRecRegistry,
} from "@celine/fakes";
import {
  DEMO_COMMUNITY,
  DEMO_MEMBERS,
  demoWindows,
  forecastKw,
  HISTORY_DAYS,
  hourlyConsumption,
  seedDigitalTwin,
  seedRegistry,
} from "../src/demo-community.ts";
import { zonedInstant } from "../src/zoned-time.ts";

const TZ = "Europe/Rome";
const DAY = "2026-07-02";

describe("zoned time", () => {
  test.each([
    ["2026-07-02", "11:00", "2026-07-02T09:00:00.000Z"],
    ["2026-01-15", "11:00", "2026-01-15T10:00:00.000Z"],
    // The spring-forward day: 11:00 is already summer time.
    ["2026-03-29", "11:00", "2026-03-29T09:00:00.000Z"],
    ["2026-03-29", "01:00", "2026-03-29T00:00:00.000Z"],
    ["2026-10-25", "11:00", "2026-10-25T10:00:00.000Z"],
  ])("%s %s in Rome is %s", (date, time, expected) => {
    expect(zonedInstant(date, time, TZ).toISOString()).toBe(expected);
    expect(formatHhmm(toLocalTime(new Date(expected), TZ))).toBe(time);
  });
});

describe("the demo community", () => {
  test("a dozen members, each with an account, a meter and a distinct subject", () => {
    expect(DEMO_MEMBERS).toHaveLength(12);
    expect(new Set(DEMO_MEMBERS.map((m) => m.sub)).size).toBe(12);
    expect(new Set(DEMO_MEMBERS.map((m) => m.device)).size).toBe(12);
  });

  test("windows for the day and the next, at midday in community time", () => {
    const windows = demoWindows(DAY, TZ);
    expect(windows.map((w) => w.id)).toEqual([
      "w-2026-07-02-1100",
      "w-2026-07-02-1400",
      "w-2026-07-03-1100",
      "w-2026-07-03-1400",
    ]);
    for (const w of windows) {
      expect(hourOf(toLocalTime(w.start, TZ))).toBeGreaterThanOrEqual(11);
      expect(hourOf(toLocalTime(w.end, TZ))).toBeLessThanOrEqual(16);
    }
  });

  test("the forecast has its surplus (over 0.5 kW) at midday only", () => {
    const surplus = Array.from({ length: 24 }, (_, hour) => hour).filter((hour) => forecastKw(hour) > 0.5);
    expect(surplus).toEqual([10, 11, 12, 13, 14]);
  });

  test("an engaged member consumes more in the window on the day than on the days before", () => {
    const giulia = DEMO_MEMBERS[0];
    const andrea = DEMO_MEMBERS[9];
    if (!giulia || !andrea) throw new Error("members missing");
    const window = (date: string, member = giulia) =>
      [11, 12, 13].reduce((sum, hour) => sum + hourlyConsumption(member, date, hour, DAY), 0);
    expect(window(DAY)).toBeGreaterThan(window("2026-07-01") + 1);
    // Member 10 accepts in the demo but keeps their habits.
    expect(andrea.shifts).toBe(false);
    expect(Math.abs(window(DAY, andrea) - window("2026-07-01", andrea))).toBeLessThan(0.5);
  });
});

describe("seeding the fakes", () => {
  let issuer: OidcIssuer;
  let dt: DigitalTwin;
  let registry: RecRegistry;
  let token: string;

  beforeAll(async () => {
    issuer = await startOidcIssuer();
    dt = await startDigitalTwin({ issuer });
    registry = await startRecRegistry({ issuer });
    seedDigitalTwin(dt, { day: DAY, timeZone: TZ });
    seedRegistry(registry);
    token = await issuer.mintService("svc-flexibility", ["digital-twin.read"]);
  });
  afterAll(async () => {
    await Promise.all([dt.close(), registry.close(), issuer.close()]);
  });

  const post = async (path: string, payload: unknown) => {
    const res = await fetch(`${dt.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ payload }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as { items: Array<Record<string, unknown>> };
  };

  test("the DT answers the contract's fetchers with the demo's rows", async () => {
    const windows = await post(`/communities/it/${DEMO_COMMUNITY.key}/values/rec_flexibility_windows`, {});
    expect(windows.items).toHaveLength(4);
    expect(windows.items[0]).toMatchObject({ _id: "w-2026-07-02-1100", window_start: "2026-07-02T09:00:00" });

    // Settlement reads one local day of a meter at most 24 rows at a time, three weeks back.
    const start = zonedInstant("2026-06-11", "00:00", TZ).toISOString();
    const end = zonedInstant("2026-06-12", "00:00", TZ).toISOString();
    const hours = await post(`/communities/it/${DEMO_COMMUNITY.key}/values/rec_settlement_1h`, {
      device_id: "meter-m01",
      window_start: start,
      window_end: end,
    });
    expect(HISTORY_DAYS).toBeGreaterThanOrEqual(21);
    expect(hours.items).toHaveLength(24);

    const forecast = await post(`/communities/it/${DEMO_COMMUNITY.key}/values/rec_forecast`, {
      start: zonedInstant(DAY, "00:00", TZ).toISOString(),
      end: zonedInstant("2026-07-03", "00:00", TZ).toISOString(),
    });
    expect(forecast.items).toHaveLength(24);
  });

  test("a member's profile, membership and first metered asset", async () => {
    const member = await issuer.mintParticipant("member-04");
    const profile = await fetch(`${dt.url}/participants/member-04/profile`, {
      headers: { authorization: `Bearer ${member}` },
    });
    expect(profile.status, await profile.clone().text()).toBe(200);
    expect(((await profile.json()) as { membership: unknown }).membership).toMatchObject({
      community: { key: DEMO_COMMUNITY.key },
      member: { key: "m04", status: "active" },
    });
    const assets = (await (
      await fetch(`${dt.url}/participants/member-04/assets`, {
        headers: { authorization: `Bearer ${member}` },
      })
    ).json()) as { items: Array<{ sensor_id?: string | null }> };
    // A prosumer: the inverter without a sensor comes first, the meter is the device.
    expect(assets.items.find((a) => a.sensor_id)?.sensor_id).toBe("meter-m04");
    expect(assets.items[0]?.sensor_id).toBeNull();
  });

  test("the registry lists the members, one of them without an account", async () => {
    const res = await fetch(`${registry.url}/admin/communities/${DEMO_COMMUNITY.key}/members?limit=100`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const { items } = (await res.json()) as { items: Array<{ user_id: string | null }> };
    expect(items).toHaveLength(13);
    expect(items.filter((m) => m.user_id === null)).toHaveLength(1);
  });
});
