import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { Caller, TrustedIssuer } from "./bearer-auth.ts";
import { verifyBearer } from "./bearer-auth.ts";
import type { FakeEnv, FaultControls } from "./fault-controls.ts";
import { answerProblem, createFaultControls, readJsonBody, serveFake } from "./fault-controls.ts";
import { describeIssues } from "./schema-errors.ts";

export type DtProfile = { sub?: string; email?: string } & Record<string, unknown>;
export type DtMembership = {
  community: { key: string; name: string };
  member: { key: string; name: string; role: string; area: string; status: string } & Record<string, unknown>;
};
export type DtAsset = { asset_type: string; key: string; name: string; sensor_id?: string | null } & Record<
  string,
  unknown
>;
/** Rows are served exactly as seeded: tests may put strings-as-numbers or junk in them on purpose. */
export type DtRow = Record<string, unknown>;
export type DtConsumptionRow = { ts: unknown; device_id: unknown; consumption_kwh: unknown } & DtRow;

export type DigitalTwinOptions = {
  issuer: TrustedIssuer;
  /** Checked when set; by default any audience passes, since participant calls forward the user's own token. */
  audience?: string | string[];
  port?: number;
};

export type DigitalTwin = FaultControls & {
  url: string;
  app: Hono<FakeEnv>;
  close(): Promise<void>;
  setProfile(sub: string, profile: DtProfile | null): void;
  setMembership(sub: string, membership: DtMembership | null): void;
  setAssets(sub: string, items: DtAsset[]): void;
  setCommunityWindows(community: string, rows: DtRow[]): void;
  /** Per-device windows of a participant; with `deviceId` they are served only for that `payload.device_id`. */
  setDeviceWindows(sub: string, rows: DtRow[], deviceId?: string): void;
  addConsumption(community: string, rows: DtConsumptionRow[]): void;
  setForecast(community: string, rows: DtRow[]): void;
  /** Forgets every seeded profile, membership, asset and row. */
  clearData(): void;
};

// The DT accepts naive timestamps (meaning UTC) as well as aware ones.
const isoInstant = z.iso.datetime({ offset: true, local: true });

const bodyEnvelope = z.strictObject({ payload: z.unknown() }).refine((body) => body.payload !== undefined, {
  message: "payload is required",
  path: ["payload"],
});

const communityFetchers = {
  rec_flexibility_windows: { limit: 100, payload: z.strictObject({}) },
  rec_settlement_1h: {
    limit: 24,
    payload: z.strictObject({
      device_id: z.string().min(1),
      window_start: isoInstant,
      window_end: isoInstant,
    }),
  },
  rec_forecast: { limit: 48, payload: z.strictObject({ start: isoInstant, end: isoInstant }) },
} as const;

const participantFetchers = {
  rec_flexibility_windows: {
    limit: 100,
    payload: z.strictObject({ device_id: z.string().min(1), offset: z.number().int().min(0) }),
  },
} as const;

export async function startDigitalTwin(opts: DigitalTwinOptions): Promise<DigitalTwin> {
  const profiles = new Map<string, DtProfile>();
  const memberships = new Map<string, DtMembership>();
  const assets = new Map<string, DtAsset[]>();
  const communityWindows = new Map<string, DtRow[]>();
  const deviceWindows = new Map<string, { rows: DtRow[]; deviceId: string | undefined }>();
  const consumption = new Map<string, DtConsumptionRow[]>();
  const forecasts = new Map<string, DtRow[]>();
  const faults = createFaultControls();

  async function authenticate(
    c: Context<FakeEnv>,
  ): Promise<{ ok: true; caller: Caller } | { ok: false; res: Response }> {
    return verifyBearer(c, opts.issuer, { audience: opts.audience });
  }

  function mayReadParticipant(caller: Caller, sub: string): boolean {
    return caller.kind === "service" || caller.claims.sub === sub;
  }

  function mayReadCommunity(caller: Caller, community: string): boolean {
    if (caller.kind === "service") return true;
    const sub = caller.claims.sub;
    return sub !== undefined && memberships.get(sub)?.community.key === community;
  }

  function parsePayload<T extends z.ZodType>(
    c: Context<FakeEnv>,
    payload: T,
  ): { ok: true; value: z.output<T> } | { ok: false; res: Response } {
    const body = readJsonBody(c);
    if (!body.ok) return body;
    const envelope = bodyEnvelope.safeParse(body.value);
    if (!envelope.success) return { ok: false, res: answerProblem(400, describeIssues(envelope.error)) };
    const parsed = payload.safeParse(envelope.data.payload);
    if (!parsed.success)
      return { ok: false, res: answerProblem(400, describeIssues(parsed.error, "payload")) };
    return { ok: true, value: parsed.data };
  }

  const app = new Hono<FakeEnv>();
  app.use(faults.middleware);

  app.get("/participants/:sub/profile", async (c) => {
    const auth = await authenticate(c);
    if (!auth.ok) return auth.res;
    const sub = c.req.param("sub");
    if (!mayReadParticipant(auth.caller, sub))
      return answerProblem(403, "a participant may only read itself");
    const profile = profiles.get(sub);
    const membership = memberships.get(sub);
    if (!profile && !membership) return answerProblem(404, `participant ${sub} not found`);
    const body: Record<string, unknown> = { profile: profile ?? { sub } };
    // No `membership` key at all means "not in a community".
    if (membership) body.membership = membership;
    return c.json(body);
  });

  app.get("/participants/:sub/assets", async (c) => {
    const auth = await authenticate(c);
    if (!auth.ok) return auth.res;
    const sub = c.req.param("sub");
    if (!mayReadParticipant(auth.caller, sub))
      return answerProblem(403, "a participant may only read itself");
    const items = assets.get(sub) ?? [];
    return c.json({ items, total: items.length });
  });

  app.post("/participants/:sub/values/:fetcher", async (c) => {
    const auth = await authenticate(c);
    if (!auth.ok) return auth.res;
    const sub = c.req.param("sub");
    if (!mayReadParticipant(auth.caller, sub))
      return answerProblem(403, "a participant may only read itself");
    const fetcherName = c.req.param("fetcher");
    if (fetcherName !== "rec_flexibility_windows")
      return answerProblem(404, `unknown fetcher ${fetcherName}`);
    const fetcher = participantFetchers[fetcherName];
    const payload = parsePayload(c, fetcher.payload);
    if (!payload.ok) return payload.res;
    const seeded = deviceWindows.get(sub);
    const rows =
      seeded && (seeded.deviceId === undefined || seeded.deviceId === payload.value.device_id)
        ? seeded.rows
        : [];
    return c.json(answerRows(rows, fetcher.limit));
  });

  app.post("/communities/it/:community/values/:fetcher", async (c) => {
    const auth = await authenticate(c);
    if (!auth.ok) return auth.res;
    const community = c.req.param("community");
    if (!mayReadCommunity(auth.caller, community)) return answerProblem(403, `not a member of ${community}`);
    const fetcherName = c.req.param("fetcher");
    switch (fetcherName) {
      case "rec_flexibility_windows": {
        const fetcher = communityFetchers[fetcherName];
        const payload = parsePayload(c, fetcher.payload);
        if (!payload.ok) return payload.res;
        return c.json(answerRows(communityWindows.get(community) ?? [], fetcher.limit));
      }
      case "rec_settlement_1h": {
        const fetcher = communityFetchers[fetcherName];
        const payload = parsePayload(c, fetcher.payload);
        if (!payload.ok) return payload.res;
        const { device_id, window_start, window_end } = payload.value;
        const rows = selectBetween(
          (consumption.get(community) ?? []).filter((row) => row.device_id === device_id),
          "ts",
          window_start,
          window_end,
        ).map((row) => ({
          window_start: toNaiveUtc(window_start),
          window_end: toNaiveUtc(window_end),
          ...row,
        }));
        return c.json(answerRows(rows, fetcher.limit));
      }
      case "rec_forecast": {
        const fetcher = communityFetchers[fetcherName];
        const payload = parsePayload(c, fetcher.payload);
        if (!payload.ok) return payload.res;
        const rows = selectBetween(
          forecasts.get(community) ?? [],
          "datetime",
          payload.value.start,
          payload.value.end,
        );
        return c.json(answerRows(rows, fetcher.limit));
      }
      default:
        return answerProblem(404, `unknown fetcher ${fetcherName}`);
    }
  });

  return {
    ...serveFake(app, faults, opts.port),
    setProfile: (sub, profile) => void (profile ? profiles.set(sub, profile) : profiles.delete(sub)),
    setMembership: (sub, membership) =>
      void (membership ? memberships.set(sub, membership) : memberships.delete(sub)),
    setAssets: (sub, items) => void assets.set(sub, items),
    setCommunityWindows: (community, rows) => void communityWindows.set(community, rows),
    setDeviceWindows: (sub, rows, deviceId) => void deviceWindows.set(sub, { rows, deviceId }),
    addConsumption: (community, rows) =>
      void consumption.set(community, [...(consumption.get(community) ?? []), ...rows]),
    setForecast: (community, rows) => void forecasts.set(community, rows),
    clearData() {
      for (const store of [
        profiles,
        memberships,
        assets,
        communityWindows,
        deviceWindows,
        consumption,
        forecasts,
      ]) {
        store.clear();
      }
    },
  };
}

function answerRows(
  rows: DtRow[],
  limit: number,
): { items: DtRow[]; limit: number; offset: number; count: number } {
  const items = rows.slice(0, limit);
  return { items, limit, offset: 0, count: items.length };
}

/** Naive timestamps mean UTC, as everywhere in the DT. */
export function parseUtc(value: unknown): number {
  if (typeof value !== "string") return Number.NaN;
  const aware = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  return Date.parse(aware);
}

/** `2026-07-02T11:00:00`: how the DT writes instants. */
export function toNaiveUtc(value: string | Date): string {
  const ms = typeof value === "string" ? parseUtc(value) : value.getTime();
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * Rows whose `key` lies in [start, end), in time order. Rows whose time does not parse are kept
 * (after the others): the DT would serve them, and consumers must survive them.
 */
function selectBetween<T extends DtRow>(rows: T[], key: string, start: string, end: string): T[] {
  const from = parseUtc(start);
  const to = parseUtc(end);
  const dated = rows
    .map((row) => ({ row, at: parseUtc(row[key]) }))
    .filter(({ at }) => Number.isNaN(at) || (at >= from && at < to));
  const valid = dated.filter(({ at }) => !Number.isNaN(at)).sort((a, b) => a.at - b.at);
  const junk = dated.filter(({ at }) => Number.isNaN(at));
  return [...valid, ...junk].map(({ row }) => row);
}
