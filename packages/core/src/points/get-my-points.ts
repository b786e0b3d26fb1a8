import { and, count, desc, eq, sql, sum } from "drizzle-orm";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments as c, pointsLedger as l } from "../db/schema.ts";
import { roundHalfUp } from "../rounding.ts";
import type { MyPoints, SettlementSummary } from "../schemas/points.ts";
import { isoWeekOf } from "../settlement/streak.ts";
import { streakInForce } from "../settlement/streak-in-force.ts";
import { createZonedClock } from "../settlement/zoned-clock.ts";
import { formatInstant } from "../time.ts";
import { authorizeOwnPoints } from "./participant.ts";
import { seasonAt } from "./season.ts";

/** Points per level on the app's ladder. */
const LEVEL_SIZE = 100;
const RECENT = 10;

/** The caller's points, level, streak, counts and latest settlements (one consistent snapshot). */
export async function getMyPoints({ ctx }: { ctx: Ctx }): Promise<MyPoints> {
  const me = await authorizeOwnPoints(ctx, "read");
  const clock = createZonedClock(ctx.config.communityTimezone);
  const season = seasonAt(
    ctx.now(),
    { anchor: ctx.config.method.season.anchorDate, months: ctx.config.method.season.monthsPerSeason },
    clock,
  );
  const mine = eq(c.userId, me);
  const settled = and(mine, eq(c.status, "settled"));
  return withTransaction(ctx, async (tx) => {
    // Points are the ledger's: every settlement, restatement and hand settlement is an entry.
    const totals = await tx.db
      .select({
        total: sum(l.points).mapWith(Number),
        season:
          sql<number>`coalesce(sum(${l.points}) filter (where ${c.periodStart} >= ${season.start.toISOString()}::timestamptz and ${c.periodStart} < ${season.end.toISOString()}::timestamptz), 0)`.mapWith(
            Number,
          ),
      })
      .from(l)
      .innerJoin(c, eq(c.id, l.commitmentId))
      .where(eq(l.userId, me));
    const [fulfilledRow] = await tx.db
      .select({ n: count() })
      .from(c)
      .where(and(settled, eq(c.settlementOutcome, "delivered")));
    const byStatus = await tx.db
      .select({ status: c.status, n: count() })
      .from(c)
      .where(mine)
      .groupBy(c.status);
    const streak = await streakInForce(tx, me, isoWeekOf(clock.local(ctx.now()).date));
    const recent = await tx.db
      .select()
      .from(c)
      .where(settled)
      .orderBy(desc(c.settledAt), desc(c.periodStart), desc(c.id))
      .limit(RECENT);

    const counts = { committed: 0, settled: 0, cancelled: 0, rejected: 0 };
    for (const { status, n } of byStatus) counts[status] = n;
    const total = totals[0]?.total ?? 0;
    const fulfilled = fulfilledRow?.n ?? 0;
    const level = 1 + Math.floor(total / LEVEL_SIZE);
    return {
      total_points: total,
      season: {
        start: formatInstant(season.start),
        end: formatInstant(season.end),
        points: totals[0]?.season ?? 0,
      },
      level,
      next_level_at: level * LEVEL_SIZE,
      streak: { current: streak.level, best: streak.peak, multiplier: streak.multiplier },
      counts: { ...counts, fulfilled },
      fulfilment_rate:
        counts.settled === 0 ? null : roundHalfUp((fulfilled / counts.settled) * 10_000) / 10_000,
      recent_settlements: recent.map(
        (row): SettlementSummary => ({
          commitment_id: row.id,
          period_start: formatInstant(row.periodStart),
          period_end: formatInstant(row.periodEnd),
          actual_kwh: kwh(row.actualKwh),
          baseline_kwh: kwh(row.baselineKwh),
          delivered_kwh: kwh(row.deliveredKwh),
          points_per_kwh: row.settlementPointsPerKwh,
          bonus: row.settlementBonusPct === null ? null : row.settlementBonusPct / 100,
          points: row.rewardPointsActual ?? 0,
          outcome: row.settlementOutcome,
        }),
      ),
    };
  });
}

const kwh = (value: string | null) => (value === null ? null : Number(value));
