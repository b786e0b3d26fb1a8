import { and, asc, eq, gt, inArray, lt, lte, sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { type RowsReader, rowsOf } from "../db/rows.ts";
import {
  type CommitmentRow,
  commitments as c,
  meterChunks,
  pointsLedger,
  type SETTLEMENT_OUTCOMES,
  settlements,
} from "../db/schema.ts";
import type { StoredSettlement } from "../schemas/settlement.ts";
import type { CapReferences } from "./points.ts";

// The settlement's hand-written SQL, in one place. Every statement reads or writes a whole batch.

export type Key = { end: Date; id: string };

const DAY_MS = 86_400_000;
/** Outcomes computed from readings: the only ones a restatement may revise. */
const RESTATABLE = ["delivered", "not_delivered", "no_baseline"] as const;

/** Live commitments whose window has ended, oldest first after `after`, locked (others' locks skipped). */
export async function claimDue(
  tx: Ctx,
  now: Date,
  after: Key | null,
  limit: number,
): Promise<CommitmentRow[]> {
  return tx.db
    .select()
    .from(c)
    .where(and(eq(c.status, "committed"), lte(c.periodEnd, now), afterKey(after)))
    .orderBy(asc(c.periodEnd), asc(c.id))
    .limit(limit)
    .for("update", { skipLocked: true });
}

export type Restatable = { row: CommitmentRow; stored: StoredSettlement; inputs: string | null };

/**
 * Automatic settlements of the last `horizonMs` whose window still touches it (older readings are
 * final, so nothing else can change), locked, with what their latest revision stored.
 */
export async function claimRestatable(
  tx: Ctx,
  now: Date,
  horizonMs: number,
  after: Key | null,
  limit: number,
): Promise<Restatable[]> {
  const since = new Date(now.getTime() - horizonMs);
  const rows = await tx.db
    .select({ row: c, stored: settlements.explanation, inputs: settlements.inputs })
    .from(c)
    .innerJoin(
      settlements,
      and(eq(settlements.commitmentId, c.id), eq(settlements.revision, c.settlementRevision)),
    )
    .where(
      and(
        eq(c.status, "settled"),
        inArray(c.settlementOutcome, [...RESTATABLE]),
        gt(c.settledAt, since),
        // Not what this very run settled.
        lt(c.settledAt, now),
        gt(c.periodEnd, since),
        afterKey(after),
      ),
    )
    .orderBy(asc(c.periodEnd), asc(c.id))
    .limit(limit)
    .for("update", { of: c, skipLocked: true });
  return rows.map((r) => ({ row: r.row, stored: r.stored as StoredSettlement, inputs: r.inputs }));
}

function afterKey(after: Key | null) {
  return after
    ? sql`(${c.periodEnd}, ${c.id}) > (${after.end.toISOString()}::timestamptz, ${after.id}::uuid)`
    : undefined;
}

export type HeldWindow = { id: string; userId: string; start: number; end: number };

/** Live and settled windows of these members overlapping [from, to): baseline days avoid them. */
export async function heldWindows(
  tx: Ctx,
  members: string[],
  from: Date,
  to: Date,
  read: RowsReader = rowsOf,
): Promise<HeldWindow[]> {
  return read<HeldWindow>(
    tx.db,
    sql`select id::text as id, user_id as "userId",
          (extract(epoch from period_start) * 1000)::float8 as start,
          (extract(epoch from period_end) * 1000)::float8 as end
        from ${c}
        where user_id = any(${sql.param(members)}::text[]) and status in ('committed', 'settled')
          and period_end > ${from.toISOString()}::timestamptz and period_start < ${to.toISOString()}::timestamptz`,
  );
}

export type WeekOutcome = { userId: string; week: string; outcome: string };

/**
 * Every settled or live commitment of these members before `before`, by the ISO week (Monday, in
 * `timeZone`) its window starts in; a live one's outcome is "pending" (unjudged).
 */
export async function weekOutcomes(
  tx: Ctx,
  members: string[],
  timeZone: string,
  before: Date,
  read: RowsReader = rowsOf,
): Promise<WeekOutcome[]> {
  return read<WeekOutcome>(
    tx.db,
    sql`select user_id as "userId",
          to_char(date_trunc('week', period_start at time zone ${timeZone}), 'YYYY-MM-DD') as week,
          coalesce(settlement_outcome, 'pending') as outcome
        from ${c}
        where user_id = any(${sql.param(members)}::text[]) and status in ('committed', 'settled')
          and period_start < ${before.toISOString()}::timestamptz`,
  );
}

/**
 * The cap's references for each row: the member's own qualifying windows that started in the
 * `lookbackDays` before the row's window (count, mean raw), and the community's (count, median raw).
 */
export async function capReferences(
  tx: Ctx,
  rows: { id: string; userId: string; communityId: string | null; start: Date }[],
  lookbackDays: number,
): Promise<Map<string, CapReferences>> {
  const span = `${lookbackDays} days`;
  const own = await rowsOf<{ id: string; n: number; mean: number | null }>(
    tx.db,
    sql`select v.id::text as id, o.n, o.mean
        from json_to_recordset(${JSON.stringify(rows.map((r) => ({ id: r.id, user_id: r.userId, start: r.start })))}::json)
          as v(id uuid, user_id text, start timestamptz)
        cross join lateral (
          select count(x.settlement_raw)::int as n, avg(x.settlement_raw)::float8 as mean
          from ${c} x
          where x.user_id = v.user_id and x.status = 'settled' and x.settlement_outcome = 'delivered'
            and x.period_start >= v.start - ${span}::interval and x.period_start < v.start) o`,
  );
  const pairs = [
    ...new Map(
      rows.flatMap((r) =>
        r.communityId === null
          ? []
          : [
              [
                `${r.communityId}|${r.start.getTime()}`,
                { community_id: r.communityId, start: r.start },
              ] as const,
            ],
      ),
    ).values(),
  ];
  const community =
    pairs.length === 0
      ? []
      : await rowsOf<{ community_id: string; start: number; n: number; median: number | null }>(
          tx.db,
          sql`select v.community_id, (extract(epoch from v.start) * 1000)::float8 as start, m.n, m.median
              from json_to_recordset(${JSON.stringify(pairs)}::json) as v(community_id text, start timestamptz)
              cross join lateral (
                select count(x.settlement_raw)::int as n,
                  (percentile_cont(0.5) within group (order by x.settlement_raw))::float8 as median
                from ${c} x
                where x.community_id = v.community_id and x.status = 'settled'
                  and x.settlement_outcome = 'delivered'
                  and x.period_start >= v.start - ${span}::interval and x.period_start < v.start) m`,
        );
  const ownOf = new Map(own.map((o) => [o.id, o]));
  const communityOf = new Map(community.map((m) => [`${m.community_id}|${Math.round(m.start)}`, m]));
  return new Map(
    rows.map((r) => {
      const o = ownOf.get(r.id);
      const m = r.communityId === null ? undefined : communityOf.get(`${r.communityId}|${r.start.getTime()}`);
      return [
        r.id,
        {
          own: { windows: o?.n ?? 0, meanRaw: o?.mean ?? null },
          community: { windows: m?.n ?? 0, medianRaw: m?.median ?? null },
        },
      ];
    }),
  );
}

/** One settlement (or restatement) of one commitment, as written. */
export type SettlementWrite = {
  id: string;
  userId: string;
  communityId: string | null;
  deviceId: string | null;
  revision: number;
  kind: "settlement" | "restatement";
  outcome: (typeof SETTLEMENT_OUTCOMES)[number];
  points: number;
  /** Points this revision adds to the ledger (the first settlement: all of them). */
  delta: number;
  raw: number | null;
  actualKwh: string | null;
  baselineKwh: string | null;
  baselineDays: number | null;
  deliveredKwh: string | null;
  pointsPerKwh: number | null;
  bonusPct: number | null;
  stored: StoredSettlement;
  /** The digest of the inputs judged (see inputsDigest). */
  inputs: string | null;
};

/**
 * Close (or revise) the commitments, append their ledger entries and store what was computed: one
 * statement each. The commitment's row is guarded by its status and revision, so a write never
 * lands on a row another run changed in between (it is locked, but the guard states the invariant).
 */
export async function writeSettlements(tx: Ctx, writes: SettlementWrite[], now: Date): Promise<void> {
  if (writes.length === 0) return;
  const at = now.toISOString();
  const values = JSON.stringify(
    writes.map((w) => ({
      id: w.id,
      community_id: w.communityId,
      device_id: w.deviceId,
      revision: w.revision,
      points: w.points,
      raw: w.raw,
      actual_kwh: w.actualKwh,
      baseline_kwh: w.baselineKwh,
      baseline_days: w.baselineDays,
      delivered_kwh: w.deliveredKwh,
      outcome: w.outcome,
      points_per_kwh: w.pointsPerKwh,
      bonus_pct: w.bonusPct,
    })),
  );
  const updated = await rowsOf<{ id: string }>(
    tx.db,
    sql`
    update ${c} set
      status = 'settled',
      settled_at = case when v.revision = 1 then ${at}::timestamptz else ${c.settledAt} end,
      community_id = v.community_id,
      device_id = v.device_id,
      reward_points_actual = v.points,
      actual_kwh = v.actual_kwh,
      baseline_kwh = v.baseline_kwh,
      baseline_days = v.baseline_days,
      delivered_kwh = v.delivered_kwh,
      settlement_outcome = v.outcome,
      settlement_points_per_kwh = v.points_per_kwh,
      settlement_bonus_pct = v.bonus_pct,
      settlement_revision = v.revision,
      settlement_raw = v.raw
    from json_to_recordset(${values}::json) as v(id uuid, community_id text, device_id text, revision int,
      points int, raw float8, actual_kwh numeric, baseline_kwh numeric, baseline_days int, delivered_kwh numeric,
      outcome text, points_per_kwh numeric, bonus_pct int)
    where ${c.id} = v.id and ${c.settlementRevision} = v.revision - 1
      and ${c.status} = case when v.revision = 1 then 'committed' else 'settled' end
    returning ${c.id}`,
  );
  // The rows are locked by this transaction: anything else is a bug, and the batch rolls back.
  if (updated.length !== writes.length) {
    throw new Error(`settlement wrote ${updated.length} of ${writes.length} commitments`);
  }
  await tx.db.insert(pointsLedger).values(
    writes.map((w) => ({
      commitmentId: w.id,
      userId: w.userId,
      communityId: w.communityId,
      kind: w.kind,
      points: w.delta,
      revision: w.revision,
      createdAt: now,
    })),
  );
  await tx.db.insert(settlements).values(
    writes.map((w) => ({
      commitmentId: w.id,
      revision: w.revision,
      method: w.stored.method,
      outcome: w.outcome,
      points: w.points,
      explanation: w.stored,
      inputs: w.inputs,
      createdAt: now,
    })),
  );
}

/** Ids the DT resolved for rows that stay live: the next run need not ask again. */
export async function writeResolved(
  tx: Ctx,
  resolved: { id: string; communityId: string | null; deviceId: string | null }[],
): Promise<void> {
  if (resolved.length === 0) return;
  await tx.db.execute(sql`
    update ${c} set community_id = v.community_id, device_id = v.device_id
    from json_to_recordset(${JSON.stringify(resolved.map((r) => ({ id: r.id, community_id: r.communityId, device_id: r.deviceId })))}::json)
      as v(id uuid, community_id text, device_id text)
    where ${c.id} = v.id and ${c.status} = 'committed'`);
}

/** Readings older than the retention go (baselines never look back that far). */
export async function sweepReadings(ctx: Ctx, now: Date, retentionDays: number): Promise<number> {
  const rows = await rowsOf<{ n: number }>(
    ctx.db,
    sql`with gone as (delete from ${meterChunks}
          where chunk_start < ${new Date(now.getTime() - retentionDays * DAY_MS).toISOString()}::timestamptz
          returning 1)
        select count(*)::int as n from gone`,
  );
  return rows[0]?.n ?? 0;
}

/** New inputs that judged the same: the latest revision records them, so the next run need not judge again. */
export async function touchInputs(
  tx: Ctx,
  touched: { id: string; revision: number; inputs: string }[],
): Promise<void> {
  if (touched.length === 0) return;
  await tx.db.execute(sql`
    update ${settlements} set inputs = v.inputs
    from json_to_recordset(${JSON.stringify(touched)}::json) as v(id uuid, revision int, inputs text)
    where ${settlements.commitmentId} = v.id and ${settlements.revision} = v.revision`);
}
