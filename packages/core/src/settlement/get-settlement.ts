import { and, asc, desc, eq } from "drizzle-orm";
import { authorize, ownScope } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments as c, pointsLedger, settlements } from "../db/schema.ts";
import { NotFoundError } from "../errors.ts";
import { CommitmentIdParam } from "../schemas/commitments.ts";
import {
  type SettlementExplanation,
  type SettlementMethodOut,
  StoredSettlement,
} from "../schemas/settlement.ts";
import { formatInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { nothingComputed, windowOut } from "./decide.ts";
import { READING_INTERVAL_MS } from "./meter-store.ts";
import { describeMethod } from "./method.ts";
import { createZonedClock } from "./zoned-clock.ts";

/**
 * Why a commitment got its points: what its latest settlement computed and stored (never
 * recomputed), and every ledger entry. The owner, or a service with read or admin scope; anybody
 * else's commitment, and a commitment not settled yet, is reported as not found.
 */
export async function getSettlement({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: { id: string };
}): Promise<SettlementExplanation> {
  await authorize(ctx, "read", { type: "settlement", ownerId: ownScope(ctx.actor) });
  const { id } = parseInput(CommitmentIdParam, input);
  const owner = ownScope(ctx.actor);
  return withTransaction(ctx, async (tx) => {
    const [row] = await tx.db
      .select()
      .from(c)
      .where(and(eq(c.id, id), owner ? eq(c.userId, owner) : undefined));
    if (!row) throw new NotFoundError(`commitment ${id} not found`);
    if (row.status !== "settled")
      throw new NotFoundError(`commitment ${id} is ${row.status}: not settled yet`);
    const [stored] = await tx.db
      .select({ explanation: settlements.explanation })
      .from(settlements)
      .where(eq(settlements.commitmentId, id))
      .orderBy(desc(settlements.revision))
      .limit(1);
    const ledger = await tx.db
      .select()
      .from(pointsLedger)
      .where(eq(pointsLedger.commitmentId, id))
      .orderBy(asc(pointsLedger.revision), asc(pointsLedger.id));
    const explanation = stored ? StoredSettlement.parse(stored.explanation) : recordedBefore(row, ctx);
    return {
      ...explanation,
      commitment_id: row.id,
      reward_points_actual: ledger.reduce((sum, e) => sum + e.points, 0),
      ledger: ledger.map((e) => ({
        kind: e.kind,
        points: e.points,
        revision: e.revision,
        at: formatInstant(e.createdAt),
      })),
    };
  });
}

/** `GET /api/settlement/method`: the configuration settlement uses now, for a "how points work" page. */
export async function getSettlementMethod({ ctx }: { ctx: Ctx }): Promise<SettlementMethodOut> {
  await authorize(ctx, "read", { type: "settlement_method", ownerId: ownScope(ctx.actor) });
  return describeMethod(ctx.config.method, {
    timeZone: ctx.config.communityTimezone,
    intervalMs: READING_INTERVAL_MS,
  });
}

/** A commitment settled before settlements were stored (the earlier method): its recorded columns, as they were. */
function recordedBefore(row: typeof c.$inferSelect, ctx: Ctx): StoredSettlement {
  const kwh = (value: string | null) => (value === null ? null : Number(value));
  const window = windowOut(row, {
    clock: createZonedClock(ctx.config.communityTimezone),
    intervalMs: READING_INTERVAL_MS,
  });
  const actual = kwh(row.actualKwh);
  const baseline = kwh(row.baselineKwh);
  const delivered = kwh(row.deliveredKwh);
  return {
    revision: row.settlementRevision,
    settled_at: formatInstant(row.settledAt ?? row.committedAt),
    method: row.settlementOutcome === "manual" ? "manual" : "legacy/mean-of-days",
    outcome: row.settlementOutcome ?? "manual",
    points: row.rewardPointsActual ?? 0,
    reason:
      row.settlementOutcome === "manual"
        ? "settled by hand by an operator"
        : "settled before per-interval settlements were stored: the figures recorded then",
    config: null,
    window,
    ...nothingComputed(),
    totals:
      actual === null || baseline === null || delivered === null
        ? null
        : {
            actual_kwh: actual,
            baseline_kwh: baseline,
            adjusted_baseline_kwh: baseline,
            shifted_kwh: delivered,
            shift_fraction: baseline > 0 ? delivered / baseline : 0,
            average_shift_kw: delivered / window.hours,
            qualifies: row.settlementOutcome === "delivered",
            intervals_counted: 0,
            intervals_missing: 0,
          },
  };
}
