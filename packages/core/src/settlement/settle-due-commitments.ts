import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import type { SETTLEMENT_OUTCOMES } from "../db/schema.ts";

export type SettlementOutcomeName = (typeof SETTLEMENT_OUTCOMES)[number];

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

/**
 * Settle every live commitment whose window has ended (work in progress: see issue 6).
 */
export async function settleDueCommitments({
  ctx,
}: {
  ctx: Ctx;
  input?: { limit?: number };
}): Promise<SettlementRunSummary> {
  await authorize(ctx, "settle", { type: "commitment" });
  return { claimed: 0, settled: {}, waiting: 0, failed: 0, dtCalls: 0 };
}
