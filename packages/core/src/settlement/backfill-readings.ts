import { sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { rowsOf } from "../db/rows.ts";
import { meterChunks, offers } from "../db/schema.ts";
import { intervalsOf } from "./baseline.ts";
import { instantsRead } from "./decide.ts";
import { CHUNK_SLOTS, createDtGate, createMeterStore, type MeterNeed } from "./meter-store.ts";
import { settlementContext } from "./window-targets.ts";

// Fill the meter store with the readings a member's targets read (issue 13, item 1): listing
// suggestions never asks the DT, so somebody must. Settlement runs fill it for members who commit;
// this fills it for members who were shown windows, in the background (the listener's meter tick).

const DAY_MS = 86_400_000;
/** Members whose windows were listed this recently are back-filled. */
const RECENT_MS = 3_600_000;
/** Devices back-filled per run at most (the most recently listed first); the rest wait for the next tick. */
const DEFAULT_MAX_DEVICES = 200;

/** A member's device and the windows whose targets should have their readings stored. */
export type BackfillMember = {
  userId: string;
  communityId: string;
  deviceId: string;
  windows: { start: Date; end: Date }[];
};

export type BackfillSummary = {
  devices: number;
  /** Chunks asked of the DT (missing, or stored before their day had ended). */
  chunks: number;
  /** Devices whose DT calls failed (tried again next run). */
  failed: number;
  dtCalls: number;
};

/**
 * Fetch, with our service token, every chunk a listed window's target reads that the store lacks:
 * missing, or stored while its day was still running (its later readings never came). A chunk whose
 * day has not ended yet is left alone (progress refreshes the window's own day; settlement reads
 * everything again). Without `members`, the members whose windows were listed in the last hour and
 * are still ahead (`flexibility_offers`), at most `maxDevices` of them, most recent first.
 */
export async function backfillReadings({
  ctx,
  input = {},
}: {
  ctx: Ctx;
  input?: { members?: BackfillMember[]; maxDevices?: number };
}): Promise<BackfillSummary> {
  await authorize(ctx, "settle", { type: "meter_readings" });
  const now = ctx.now();
  const context = settlementContext(ctx);
  const members = input.members ?? (await recentlyListed(ctx, now, input.maxDevices ?? DEFAULT_MAX_DEVICES));
  const chunkMs = context.intervalMs * CHUNK_SLOTS;
  const needs: MeterNeed[] = [];
  for (const m of members) {
    const starts = new Set<number>();
    for (const window of m.windows) {
      for (const at of instantsRead(intervalsOf(window, context.intervalMs), context)) {
        const start = Math.floor(at / chunkMs) * chunkMs;
        if (start + chunkMs <= now.getTime()) starts.add(start);
      }
    }
    if (starts.size > 0) {
      needs.push({ userId: m.userId, community: m.communityId, device: m.deviceId, at: [...starts] });
    }
  }
  const stale = await staleChunks(ctx, needs, chunkMs);
  const wanted = needs.flatMap((n) => {
    const at = n.at.filter((start) => stale.has(`${n.device}|${start}`));
    return at.length === 0 ? [] : [{ ...n, at }];
  });
  const gate = createDtGate(ctx.platform.dt, ctx.config.settlementConcurrency);
  const store = createMeterStore({
    gate,
    now,
    horizonMs: context.method.restatementDays * DAY_MS,
    intervalMs: context.intervalMs,
  });
  const failed = wanted.length === 0 ? new Map() : await store.prepare(ctx, wanted);
  const summary: BackfillSummary = {
    devices: wanted.length,
    chunks: wanted.reduce((sum, n) => sum + n.at.length, 0),
    failed: failed.size,
    dtCalls: gate.calls(),
  };
  if (summary.chunks > 0) ctx.log.info("meter readings back-filled", { ...summary });
  return summary;
}

/** Members with a metering device whose windows were listed lately and have not ended, and those windows. */
async function recentlyListed(ctx: Ctx, now: Date, maxDevices: number): Promise<BackfillMember[]> {
  const rows = await rowsOf<{
    user_id: string;
    community_id: string;
    device_id: string;
    windows: { start: string; end: string }[];
  }>(
    ctx.db,
    sql`select user_id, community_id, device_id,
          json_agg(json_build_object('start', period_start, 'end', period_end)) as windows
        from ${offers}
        where period_end > ${now.toISOString()}::timestamptz
          and offered_at >= ${new Date(now.getTime() - RECENT_MS).toISOString()}::timestamptz
          and device_id is not null and community_id is not null
        group by user_id, community_id, device_id
        order by max(offered_at) desc
        limit ${maxDevices}`,
  );
  return rows.map((r) => ({
    userId: r.user_id,
    communityId: r.community_id,
    deviceId: r.device_id,
    windows: r.windows.map((w) => ({ start: new Date(w.start), end: new Date(w.end) })),
  }));
}

/** `device|start` of the needed chunks that are not stored, or not final and asked for before their day ended. */
async function staleChunks(ctx: Ctx, needs: MeterNeed[], chunkMs: number): Promise<Set<string>> {
  const pairs = needs.flatMap((n) =>
    n.at.map((start) => ({ device_id: n.device, chunk_start: new Date(start).toISOString() })),
  );
  if (pairs.length === 0) return new Set();
  const current = await rowsOf<{ device_id: string; start: number }>(
    ctx.db,
    sql`select c.device_id, (extract(epoch from c.chunk_start) * 1000)::float8 as start
        from json_to_recordset(${JSON.stringify(pairs)}::json) as v(device_id text, chunk_start timestamptz)
        join ${meterChunks} c on c.device_id = v.device_id and c.chunk_start = v.chunk_start
        where c.final or c.fetched_at >= c.chunk_start + ${`${chunkMs / 1000} seconds`}::interval`,
  );
  const fresh = new Set(current.map((r) => `${r.device_id}|${Math.round(r.start)}`));
  return new Set(
    pairs.map((p) => `${p.device_id}|${Date.parse(p.chunk_start)}`).filter((key) => !fresh.has(key)),
  );
}
