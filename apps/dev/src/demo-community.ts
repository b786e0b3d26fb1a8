// The simulated Renewable Energy Community of `bun run dev`: a dozen members with accounts,
// memberships and smart meters, flexibility windows with a midday surplus, a solar forecast, and
// hourly metered consumption for three weeks of baselines. Everything is a pure function of the
// simulated day, so the same day always yields the same numbers (the demo's output is stable).
import { addDays } from "@celine/core";
import type { DigitalTwin, DtConsumptionRow, DtRow, RecRegistry, RegistryMember } from "@celine/fakes";
import { naiveUtc, zonedInstant } from "./zoned-time.ts";

export const DEMO_COMMUNITY = { key: "demo-rec", name: "Comunità Energetica Demo (Trento)" } as const;

export type DemoMember = {
  /** The OIDC subject: what tokens carry and the registry's `user_id`. */
  sub: string;
  key: string;
  name: string;
  role: "prosumer" | "consumer";
  area: string;
  /** The smart meter's sensor id (the member's device). */
  device: string;
  /** Size of the household relative to the typical profile. */
  scale: number;
  /** Moves consumption into the midday window on the simulated day (what an engaged member does). */
  shifts: boolean;
  /** Per-device windows from the DT; without them the member's personal figures are null. */
  enriched: boolean;
};

const NAMES = [
  "Giulia Rossi",
  "Marco Bianchi",
  "Chiara Ferrari",
  "Luca Esposito",
  "Sara Romano",
  "Paolo Colombo",
  "Elena Ricci",
  "Davide Marino",
  "Francesca Greco",
  "Andrea Bruno",
  "Valentina Gallo",
  "Matteo Conti",
];
const AREAS = ["Trento Nord", "Trento Centro", "Povo", "Mattarello"];

export const DEMO_MEMBERS: DemoMember[] = NAMES.map((name, i) => {
  const n = String(i + 1).padStart(2, "0");
  return {
    sub: `member-${n}`,
    key: `m${n}`,
    name,
    role: i % 3 === 0 ? "prosumer" : "consumer",
    area: AREAS[i % AREAS.length] ?? "Trento",
    device: `meter-m${n}`,
    scale: 0.7 + ((i * 7) % 12) / 16,
    // Members 10–12 accept but keep their habits: the demo shows what "not delivered" pays.
    shifts: i < 9,
    enriched: i !== 11,
  };
});

/** A registry entry without an account: the broadcast must skip it. */
const MEMBER_WITHOUT_ACCOUNT: RegistryMember = {
  id: "demo-rec-m13",
  key: "m13",
  user_id: null,
  name: "Condominio Via Roma (no account yet)",
  role: "consumer",
  area: "Trento Centro",
  status: "active",
};

export type DemoWindow = {
  id: string;
  date: string;
  /** Local clock range in community time, e.g. 11:00–14:00. */
  from: string;
  to: string;
  start: Date;
  end: Date;
  communityKwh: number;
  confidence: number | null;
  /** Per-member estimate: kWh a household of scale 1 can move into the window. */
  kwhPerScale: number;
};

/** The windows of `day` and the day after, both with a midday surplus. */
export function demoWindows(day: string, timeZone: string): DemoWindow[] {
  const windows: DemoWindow[] = [];
  for (const [offset, date] of [day, addDays(day, 1)].entries()) {
    const shapes = [
      { from: "11:00", to: "14:00", communityKwh: 31.4 - offset * 3.2, confidence: 0.81, kwhPerScale: 2.1 },
      {
        from: "14:00",
        to: "16:00",
        communityKwh: 12.8 + offset * 1.5,
        confidence: offset === 0 ? 0.66 : null,
        kwhPerScale: 1,
      },
    ];
    for (const shape of shapes) {
      windows.push({
        id: `w-${date}-${shape.from.replace(":", "")}`,
        date,
        ...shape,
        start: zonedInstant(date, shape.from, timeZone),
        end: zonedInstant(date, shape.to, timeZone),
      });
    }
  }
  return windows;
}

/** Typical household consumption per local hour (kWh), scale 1: low midday, an evening peak. */
const PROFILE = [
  0.22, 0.2, 0.19, 0.19, 0.2, 0.24, 0.35, 0.55, 0.5, 0.38, 0.34, 0.33, 0.36, 0.34, 0.32, 0.33, 0.4, 0.62,
  0.85, 0.92, 0.8, 0.62, 0.45, 0.3,
];
/** Local hours an engaged member shifts load into on the simulated day, and where it comes from. */
const SHIFT_INTO = new Set([11, 12, 13]);
const SHIFT_FROM = new Set([18, 19, 20]);

/** kWh metered in one local hour, rounded to Wh as meters report it. */
export function hourlyConsumption(member: DemoMember, date: string, hour: number, day: string): number {
  const typical = (PROFILE[hour] ?? 0.3) * member.scale;
  // ±8 % day-to-day variation, deterministic per member, date and hour.
  const noise = (unitHash(`${member.sub}|${date}|${hour}`) - 0.5) * 0.16;
  let kwh = typical * (1 + noise);
  if (member.shifts && date === day) {
    if (SHIFT_INTO.has(hour)) kwh += 0.7 * member.scale;
    if (SHIFT_FROM.has(hour)) kwh = Math.max(0.1, kwh - 0.5 * member.scale);
  }
  return Math.round(kwh * 1000) / 1000;
}

/** Community PV minus load (kW) in the local hour starting at `hour`: a midday surplus. */
export function forecastKw(hour: number): number {
  const centre = hour + 0.5;
  const pv = 22 * Math.exp(-(((centre - 12.5) / 2) ** 2));
  const load = DEMO_MEMBERS.reduce((sum, m) => sum + (PROFILE[hour] ?? 0.3) * m.scale, 0);
  return Math.round((pv - load) * 100) / 100;
}

/** Days of metered history before the simulated day (baselines look back 90 days; three weeks give every window a baseline). */
export const HISTORY_DAYS = 22;

/**
 * Replaces everything the Digital Twin knows with the demo community around `day` (local date in
 * `timeZone`): profiles, memberships, meters, windows for `day` and the next day, the forecast
 * from the day before to two days after, and hourly consumption from `HISTORY_DAYS` before
 * through `day` itself (the simulated day's readings exist up front; settlement only reads them
 * once the window has ended).
 */
export function seedDigitalTwin(dt: DigitalTwin, { day, timeZone }: { day: string; timeZone: string }): void {
  dt.clearData();
  const windows = demoWindows(day, timeZone);
  dt.setCommunityWindows(
    DEMO_COMMUNITY.key,
    windows.map((w) => ({
      _id: w.id,
      ts_date: w.date,
      window_start: naiveUtc(w.start),
      window_end: naiveUtc(w.end),
      community_kwh: w.communityKwh,
      confidence: w.confidence,
      flexibility_model: "pv-surplus-v2",
    })),
  );
  for (const member of DEMO_MEMBERS) {
    dt.setProfile(member.sub, {
      sub: member.sub,
      email: `${member.sub}@demo.celine.test`,
      name: member.name,
    });
    dt.setMembership(member.sub, {
      community: { ...DEMO_COMMUNITY },
      member: { key: member.key, name: member.name, role: member.role, area: member.area, status: "active" },
    });
    dt.setAssets(member.sub, [
      // The device is the first asset with a sensor: prosumers list their inverter first.
      ...(member.role === "prosumer"
        ? [{ asset_type: "pv_inverter", key: `${member.key}-pv`, name: "Rooftop PV", sensor_id: null }]
        : []),
      {
        asset_type: "smart_meter",
        key: `${member.key}-meter`,
        name: "Smart meter",
        sensor_id: member.device,
      },
    ]);
    if (member.enriched) {
      dt.setDeviceWindows(
        member.sub,
        windows.map((w) => {
          const estimated = Math.round(w.kwhPerScale * member.scale * 100) / 100;
          return {
            _id: w.id,
            window_start: naiveUtc(w.start),
            window_end: naiveUtc(w.end),
            community_kwh: w.communityKwh,
            estimated_kwh: estimated,
            // As the platform's pipeline estimates it: 15 points per kWh moved.
            reward_points_estimated: Math.round(estimated * 15),
            confidence: w.confidence,
          };
        }),
        member.device,
      );
    }
    dt.addConsumption(DEMO_COMMUNITY.key, consumptionRows(member, day, timeZone));
  }
  dt.setForecast(DEMO_COMMUNITY.key, forecastRows(day, timeZone));
}

function consumptionRows(member: DemoMember, day: string, timeZone: string): DtConsumptionRow[] {
  const rows: DtConsumptionRow[] = [];
  for (let back = HISTORY_DAYS; back >= 0; back -= 1) {
    const date = addDays(day, -back);
    for (let hour = 0; hour < 24; hour += 1) {
      const start = zonedInstant(date, `${String(hour).padStart(2, "0")}:00`, timeZone);
      rows.push({
        ts: naiveUtc(start),
        device_id: member.device,
        consumption_kwh: hourlyConsumption(member, date, hour, day),
      });
    }
  }
  return rows;
}

function forecastRows(day: string, timeZone: string): DtRow[] {
  const rows: DtRow[] = [];
  for (let offset = -1; offset <= 2; offset += 1) {
    const date = addDays(day, offset);
    for (let hour = 0; hour < 24; hour += 1) {
      const kw = forecastKw(hour);
      rows.push({
        datetime: naiveUtc(zonedInstant(date, `${String(hour).padStart(2, "0")}:00`, timeZone)),
        prediction: kw,
        // The simulated day and before are measured ("actual": settlement reads its accuracy from them).
        period: offset <= 0 ? "actual" : "forecast",
        lower: Math.round((kw - Math.abs(kw) * 0.2) * 100) / 100,
        upper: Math.round((kw + Math.abs(kw) * 0.2) * 100) / 100,
      });
    }
  }
  return rows;
}

/** The registry: the community, its members with accounts, and one without. */
export function seedRegistry(registry: RecRegistry): void {
  registry.seed([
    {
      ...DEMO_COMMUNITY,
      members: [
        ...DEMO_MEMBERS.map((m) => ({
          id: `demo-rec-${m.key}`,
          key: m.key,
          user_id: m.sub,
          name: m.name,
          role: m.role,
          area: m.area,
          status: "active",
        })),
        MEMBER_WITHOUT_ACCOUNT,
      ],
    },
  ]);
}

/** FNV-1a of `text` mapped to [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}
