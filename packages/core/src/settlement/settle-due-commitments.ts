import { and, asc, desc, eq, gt, inArray, lt, lte, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { type CommitmentRow, commitments as c } from "../db/schema.ts";
import { UpstreamError } from "../errors.ts";
import { enqueue, type OutboxEntry } from "../outbox/enqueue.ts";
import { formatKwh } from "./kwh.ts";
import { type Baseline, type BaselineDay, baselineDaysOf, baselineOf } from "./legacy-baseline.ts";
import { isJudged, judge, type PointsRule, priorStreakOf, type SettlementOutcome } from "./legacy-points.ts";
import { createMeterReader, type MeterReader } from "./meter-reader.ts";
import { isComplete, readWindow, type WindowReading } from "./meter-reading.ts";
import { createZonedClock, type ZonedClock } from "./zoned-clock.ts";

export type SettlementOutcomeName = SettlementOutcome;

/** What one run did; logged by the listener and printed by `bun run settle`. */
export type SettlementRunSummary = {
  /** Due rows this run claimed (live, window ended). */
  claimed: number;
  /** Rows closed by this run, by outcome. */
  settled: Partial<Record<SettlementOutcomeName, number>>;
  /** Rows left live for the next run: data not in yet, device unknown, or the DT failed. */
  waiting: number;
  /** Of `waiting`: rows whose DT calls failed this run. */
  failed: number;
  /** Digital Twin calls made. */
  dtCalls: number;
};

/** Rows claimed (and locked) per transaction. */
const DEFAULT_BATCH = 500;
const DAY_MS = 86_400_000;
/** Baseline days reach back this far; one more day covers windows that cross midnight. */
const LOOKBACK_DAYS = 22;
/** Only commitments the member actually held make a baseline day unusual. */
const HELD = ["committed", "settled"] as const;
const JUDGED = ["delivered", "not_delivered"] as const;

/**
 * Settle every live commitment whose window has ended — any window, including ones that cross
 * midnight and days an earlier run missed — against the member's own baseline.
 *
 * Rows are claimed in batches with FOR UPDATE SKIP LOCKED, so concurrent runs (listener replicas,
 * `bun run settle`) split the work and settle each commitment once. A batch's rows stay locked
 * while its meter data is read, and are written with one UPDATE plus one outbox insert. A row
 * whose data is not in yet stays live and is retried by every run until SETTLEMENT_DEADLINE_DAYS
 * after its window, when it is closed with 0 points and an outcome that says why. A Digital Twin
 * failure leaves only the affected rows live.
 */
export async function settleDueCommitments({
  ctx,
  input = {},
}: {
  ctx: Ctx;
  input?: { batchSize?: number };
}): Promise<SettlementRunSummary> {
  await authorize(ctx, "settle", { type: "commitment" });
  const started = performance.now();
  const run: Run = {
    now: ctx.now(),
    reader: createMeterReader(ctx.platform.dt, ctx.config.settlementConcurrency, ctx.log),
    clock: createZonedClock(ctx.config.communityTimezone),
    rule: {
      pointsPerKwh: ctx.config.pointsPerKwh,
      streakBonusPct: ctx.config.streakBonusPct,
      streakBonusCapPct: ctx.config.streakBonusCapPct,
    },
    deadlineMs: ctx.config.settlementDeadlineDays * DAY_MS,
    communities: new Map(),
    devices: new Map(),
    failingDevices: new Set(),
  };
  const summary: SettlementRunSummary = { claimed: 0, settled: {}, waiting: 0, failed: 0, dtCalls: 0 };
  const batchSize = Math.max(1, input.batchSize ?? DEFAULT_BATCH);
  let after: { end: Date; id: string } | null = null;
  for (;;) {
    const batchStarted = performance.now();
    const last: { end: Date; id: string } | null = await withTransaction(ctx, (tx) =>
      settleBatch(tx, run, batchSize, after, summary),
    );
    if (!last) break;
    after = last;
    ctx.log.debug("settlement batch", {
      claimed_so_far: summary.claimed,
      ms: Math.round(performance.now() - batchStarted),
    });
  }
  summary.dtCalls = run.reader.calls();
  ctx.metrics.observe("flexibility_settlement_run_seconds", (performance.now() - started) / 1000);
  ctx.log.info("settlement run", { ...summary, ms: Math.round(performance.now() - started) });
  return summary;
}

type Run = {
  now: Date;
  reader: MeterReader;
  clock: ZonedClock;
  rule: PointsRule;
  deadlineMs: number;
  /** Per member, resolved once per run (service token). */
  communities: Map<string, Promise<string | null>>;
  devices: Map<string, Promise<string | null>>;
  failingDevices: Set<string>;
};

type Evidence =
  | { kind: "failed"; error: unknown }
  | { kind: "no_device" }
  | { kind: "no_community" }
  | { kind: "no_data"; actual: WindowReading | null }
  | { kind: "data"; actual: WindowReading; baseline: Baseline; days: BaselineDay[]; partial: boolean };

type Closure = {
  row: CommitmentRow;
  communityId: string | null;
  deviceId: string | null;
  outcome: SettlementOutcome;
  points: number;
  actualMicroKwh: number | null;
  baselineMicroKwh: number | null;
  baselineDays: number | null;
  deliveredMicroKwh: number | null;
  bonusPct: number;
};

/** Claim, read, judge and write one batch; returns the last claimed key, null when none was due. */
async function settleBatch(
  tx: Ctx,
  run: Run,
  batchSize: number,
  after: { end: Date; id: string } | null,
  summary: SettlementRunSummary,
): Promise<{ end: Date; id: string } | null> {
  // Keyset order: rows this run left live are not claimed again by its next batch.
  const claimed = await tx.db
    .select()
    .from(c)
    .where(
      and(
        eq(c.status, "committed"),
        lte(c.periodEnd, run.now),
        after
          ? sql`(${c.periodEnd}, ${c.id}) > (${after.end.toISOString()}::timestamptz, ${after.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(asc(c.periodEnd), asc(c.id))
    .limit(batchSize)
    .for("update", { skipLocked: true });
  const lastRow = claimed[claimed.length - 1];
  if (!lastRow) return null;
  summary.claimed += claimed.length;

  const [held, prior] = await Promise.all([heldWindows(tx, claimed), priorJudged(tx, claimed, run.rule)]);
  const evidence = new Map(
    await Promise.all(claimed.map(async (row) => [row.id, await gather(tx, run, row, held)] as const)),
  );

  // Judge each member's rows in window order, so a streak extended in this batch counts for the next.
  const closures: Closure[] = [];
  const resolved: { id: string; communityId: string | null; deviceId: string | null }[] = [];
  const byMember = groupBy(
    [...claimed].sort((a, b) => compareWindows(a, b)),
    (row) => row.userId,
  );
  for (const rows of byMember.values()) {
    const settledHere: { row: CommitmentRow; outcome: SettlementOutcome }[] = [];
    for (const row of rows) {
      const found = evidence.get(row.id) ?? { kind: "no_data", actual: null };
      const ids = await idsOf(run, row).catch(() => ({
        communityId: row.communityId,
        deviceId: row.deviceId,
      }));
      const closure = decide(tx, run, row, found, ids, [...(prior.get(row.id) ?? []), ...settledHere]);
      if (closure) {
        closures.push(closure);
        settledHere.push({ row, outcome: closure.outcome });
        continue;
      }
      summary.waiting++;
      if (found.kind === "failed") summary.failed++;
      if (ids.communityId !== row.communityId || ids.deviceId !== row.deviceId) {
        resolved.push({ id: row.id, ...ids });
      }
    }
  }

  await writeClosures(tx, run, closures);
  await writeResolved(tx, resolved);
  for (const closure of closures) {
    summary.settled[closure.outcome] = (summary.settled[closure.outcome] ?? 0) + 1;
    tx.metrics.inc("flexibility_settlements_total", { outcome: closure.outcome });
  }
  return { end: lastRow.periodEnd, id: lastRow.id };
}

/** Close a row, or null to leave it live for the next run. */
function decide(
  tx: Ctx,
  run: Run,
  row: CommitmentRow,
  found: Evidence,
  ids: { communityId: string | null; deviceId: string | null },
  prior: { row: Pick<CommitmentRow, "periodStart" | "periodEnd" | "id">; outcome: string | null }[],
): Closure | null {
  const overdue = run.now.getTime() >= row.periodEnd.getTime() + run.deadlineMs;
  const empty = {
    row,
    ...ids,
    points: 0,
    actualMicroKwh: null,
    baselineMicroKwh: null,
    baselineDays: null,
    deliveredMicroKwh: null,
    bonusPct: 0,
  };
  switch (found.kind) {
    case "failed":
      // An outage never closes a row; an answer that will never change (4xx) does, at the deadline.
      return overdue && isPermanent(found.error) ? { ...empty, outcome: "no_data" } : null;
    case "no_device":
      return overdue ? { ...empty, outcome: "no_device" } : null;
    case "no_community":
      return overdue ? { ...empty, outcome: "no_data" } : null;
    case "no_data":
      return overdue
        ? { ...empty, outcome: "no_data", actualMicroKwh: found.actual?.microKwh ?? null }
        : null;
    case "data": {
      if (found.actual.unparseable.length > 0) {
        tx.log.warn("settlement hour that will not parse counts 0", {
          commitment_id: row.id,
          device_id: ids.deviceId,
          rows: found.actual.unparseable.length,
        });
      }
      const before = prior
        .filter((p) => compareWindows(p.row, row) < 0 && isJudged(p.outcome))
        .sort((a, b) => compareWindows(b.row, a.row))
        .map((p) => p.outcome);
      const verdict = judge({
        actualMicroKwh: found.actual.microKwh,
        baseline: found.baseline,
        estimated: row.rewardPointsEstimated,
        priorStreak: priorStreakOf(before),
        rule: run.rule,
      });
      // Past the deadline with hours still missing we pay what the data proves, but never judge
      // a member "not delivered" on data we failed to collect.
      if (found.partial && verdict.outcome === "not_delivered") {
        return { ...empty, outcome: "no_data", actualMicroKwh: found.actual.microKwh };
      }
      return {
        ...empty,
        outcome: verdict.outcome,
        points: verdict.points,
        actualMicroKwh: found.actual.microKwh,
        baselineMicroKwh: found.baseline.microKwh,
        baselineDays: found.baseline.days,
        deliveredMicroKwh: verdict.deliveredMicroKwh,
        bonusPct: verdict.bonusPct,
      };
    }
  }
}

/** Everything the DT can tell about one row: ids, the window's hours, the baseline days' hours. */
async function gather(
  tx: Ctx,
  run: Run,
  row: CommitmentRow,
  held: Map<string, { id: string; start: number; end: number }[]>,
): Promise<Evidence> {
  let community: string | null;
  let device: string | null;
  try {
    ({ communityId: community, deviceId: device } = await idsOf(run, row));
  } catch (error) {
    warnOnce(tx, run, `resolve:${row.userId}`, "settlement could not resolve the member", {
      user_id: row.userId,
      error: describe(error),
    });
    return { kind: "failed", error };
  }
  if (!device) return { kind: "no_device" };
  if (!community) return { kind: "no_community" };
  const window = { start: row.periodStart, end: row.periodEnd };
  try {
    const actual = readWindow(await run.reader.rows(community, device, window), window);
    const overdue = run.now.getTime() >= row.periodEnd.getTime() + run.deadlineMs;
    const partial = !isComplete(actual);
    if (partial && !(overdue && actual.hours > 0)) return { kind: "no_data", actual };
    const others = held.get(row.userId) ?? [];
    const days = baselineDaysOf(window, run.clock, (day) =>
      others.some((o) => o.id !== row.id && o.start < day.end.getTime() && o.end > day.start.getTime()),
    );
    const readings = await Promise.all(
      days.map(async (day) => {
        const reading = readWindow(await run.reader.rows(community, device, day), day);
        // A day with hours missing would drag the mean down and inflate the delivery: no data.
        return { date: day.date, microKwh: isComplete(reading) ? reading.microKwh : null };
      }),
    );
    return { kind: "data", actual, baseline: baselineOf(readings), days, partial };
  } catch (error) {
    warnOnce(tx, run, `device:${community}:${device}`, "settlement could not read the meter", {
      community_id: community,
      device_id: device,
      error: describe(error),
    });
    return { kind: "failed", error };
  }
}

/** The row's community and device, asking the DT (service token) for whichever is missing. */
async function idsOf(
  run: Run,
  row: CommitmentRow,
): Promise<{ communityId: string | null; deviceId: string | null }> {
  const [communityId, deviceId] = await Promise.all([
    row.communityId ??
      memo(run.communities, row.userId, () =>
        run.reader
          .call((dt) => dt.membership({ kind: "service" }, row.userId))
          .then((m) => m?.community.key ?? null),
      ),
    row.deviceId ??
      memo(run.devices, row.userId, () =>
        run.reader.call((dt) => dt.deviceOf({ kind: "service" }, row.userId)),
      ),
  ]);
  return { communityId, deviceId };
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let found = cache.get(key);
  if (!found) {
    found = load();
    found.catch(() => {});
    cache.set(key, found);
  }
  return found;
}

/** Windows of commitments the members held around the claimed rows (baseline days avoid them). */
async function heldWindows(
  tx: Ctx,
  claimed: CommitmentRow[],
): Promise<Map<string, { id: string; start: number; end: number }[]>> {
  const members = [...new Set(claimed.map((r) => r.userId))];
  const earliest = Math.min(...claimed.map((r) => r.periodStart.getTime())) - LOOKBACK_DAYS * DAY_MS;
  const latest = Math.max(...claimed.map((r) => r.periodStart.getTime()));
  const rows = await tx.db
    .select({ id: c.id, userId: c.userId, start: c.periodStart, end: c.periodEnd })
    .from(c)
    .where(
      and(
        inArray(c.userId, members),
        inArray(c.status, [...HELD]),
        gt(c.periodEnd, new Date(earliest)),
        lt(c.periodStart, new Date(latest)),
      ),
    );
  return groupBy(
    rows.map((r) => ({ id: r.id, userId: r.userId, start: r.start.getTime(), end: r.end.getTime() })),
    (r) => r.userId,
  );
}

/**
 * For each claimed row, the judged outcomes (delivered / not_delivered) settled before it in
 * window order, newest first — only as many as can still raise the bonus.
 */
async function priorJudged(
  tx: Ctx,
  claimed: CommitmentRow[],
  rule: PointsRule,
): Promise<
  Map<string, { row: Pick<CommitmentRow, "periodStart" | "periodEnd" | "id">; outcome: string | null }[]>
> {
  const found = new Map<
    string,
    { row: Pick<CommitmentRow, "periodStart" | "periodEnd" | "id">; outcome: string | null }[]
  >();
  if (rule.streakBonusPct <= 0 || rule.streakBonusCapPct <= 0) return found;
  const needed = Math.min(Math.ceil(rule.streakBonusCapPct / rule.streakBonusPct), 1000);
  const j = alias(c, "j");
  const before = tx.db
    .select({ outcome: j.settlementOutcome, periodStart: j.periodStart, periodEnd: j.periodEnd, id: j.id })
    .from(j)
    .where(
      and(
        eq(j.userId, c.userId),
        eq(j.status, "settled"),
        inArray(j.settlementOutcome, [...JUDGED]),
        sql`(${j.periodStart}, ${j.periodEnd}, ${j.id}) < (${c.periodStart}, ${c.periodEnd}, ${c.id})`,
      ),
    )
    .orderBy(desc(j.periodStart), desc(j.periodEnd), desc(j.id))
    .limit(needed)
    .as("prior");
  const rows = await tx.db
    .select({
      forId: c.id,
      outcome: before.outcome,
      periodStart: before.periodStart,
      periodEnd: before.periodEnd,
      id: before.id,
    })
    .from(c)
    .crossJoinLateral(before)
    .where(
      inArray(
        c.id,
        claimed.map((r) => r.id),
      ),
    );
  for (const r of rows) {
    const list = found.get(r.forId) ?? [];
    list.push({ row: { periodStart: r.periodStart, periodEnd: r.periodEnd, id: r.id }, outcome: r.outcome });
    found.set(r.forId, list);
  }
  return found;
}

/** One UPDATE for the batch's closures, one outbox insert for their nudges. */
async function writeClosures(tx: Ctx, run: Run, closures: Closure[]): Promise<void> {
  if (closures.length === 0) return;
  const kwh = (micro: number | null) => (micro === null ? null : formatKwh(micro));
  const values = sql.join(
    closures.map(
      (x) =>
        sql`(${x.row.id}::uuid, ${x.communityId}::text, ${x.deviceId}::text, ${x.points}::int,
          ${kwh(x.actualMicroKwh)}::numeric, ${kwh(x.baselineMicroKwh)}::numeric, ${x.baselineDays}::int,
          ${kwh(x.deliveredMicroKwh)}::numeric, ${x.outcome}::text, ${x.bonusPct}::int)`,
    ),
    sql`, `,
  );
  // The rows are locked by this transaction; `status = 'committed'` still guards the invariant
  // that a settled commitment never changes. reward_points_estimated is not touched.
  await tx.db.execute(sql`
    update ${c} set
      status = 'settled',
      settled_at = ${run.now.toISOString()}::timestamptz,
      community_id = v.community_id,
      device_id = v.device_id,
      reward_points_actual = v.points,
      actual_kwh = v.actual_kwh,
      baseline_kwh = v.baseline_kwh,
      baseline_days = v.baseline_days,
      delivered_kwh = v.delivered_kwh,
      settlement_outcome = v.outcome,
      settlement_points_per_kwh = ${run.rule.pointsPerKwh}::int,
      settlement_bonus_pct = v.bonus_pct
    from (values ${values}) as v(id, community_id, device_id, points, actual_kwh, baseline_kwh,
      baseline_days, delivered_kwh, outcome, bonus_pct)
    where ${c.id} = v.id and ${c.status} = 'committed'`);
  await enqueue(
    tx,
    closures.map((x): OutboxEntry => settledNudge(run, x)),
  );
}

/** Ids the DT resolved for rows that stay live: the next run need not ask again. */
async function writeResolved(
  tx: Ctx,
  resolved: { id: string; communityId: string | null; deviceId: string | null }[],
): Promise<void> {
  if (resolved.length === 0) return;
  const values = sql.join(
    resolved.map((r) => sql`(${r.id}::uuid, ${r.communityId}::text, ${r.deviceId}::text)`),
    sql`, `,
  );
  await tx.db.execute(sql`
    update ${c} set community_id = v.community_id, device_id = v.device_id
    from (values ${values}) as v(id, community_id, device_id)
    where ${c.id} = v.id and ${c.status} = 'committed'`);
}

/** `commitment_settled` (PLATFORM §4): facts are strings; `period` is the window's community date. */
function settledNudge(run: Run, x: Closure): OutboxEntry {
  const facts: Record<string, string> = {
    commitment_id: x.row.id,
    actual_kwh: formatKwh(x.actualMicroKwh ?? 0),
    reward_points_actual: String(x.points),
    period: run.clock.local(x.row.periodStart).date,
    outcome: x.outcome,
    reward_points_estimated: String(x.row.rewardPointsEstimated),
  };
  if (x.deliveredMicroKwh !== null) facts.delivered_kwh = formatKwh(x.deliveredMicroKwh);
  if (x.baselineMicroKwh !== null) facts.baseline_kwh = formatKwh(x.baselineMicroKwh);
  return {
    kind: "nudge",
    commitmentId: x.row.id,
    event: {
      event_type: "commitment_settled",
      user_id: x.row.userId,
      community_id: x.communityId ?? "",
      timestamp: run.now.toISOString(),
      facts: { ...facts, facts_version: "1.0", scenario: "commitment_settled" },
    },
  };
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function compareWindows(
  a: Pick<CommitmentRow, "periodStart" | "periodEnd" | "id">,
  b: Pick<CommitmentRow, "periodStart" | "periodEnd" | "id">,
): number {
  return (
    a.periodStart.getTime() - b.periodStart.getTime() ||
    a.periodEnd.getTime() - b.periodEnd.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** A 4xx other than auth or throttling: asking again will not change the answer. */
function isPermanent(error: unknown): boolean {
  if (!(error instanceof UpstreamError) || error.status === undefined) return false;
  return error.status >= 400 && error.status < 500 && ![401, 403, 408, 429].includes(error.status);
}

function warnOnce(tx: Ctx, run: Run, key: string, msg: string, fields: Record<string, unknown>): void {
  if (run.failingDevices.has(key)) return;
  run.failingDevices.add(key);
  tx.log.warn(msg, fields);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
