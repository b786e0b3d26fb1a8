import { eq, lt } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import { processedRuns } from "../db/schema.ts";

export type RunOnceOutcome<T> = { ran: true; result: T } | { ran: false };

/**
 * Do the work a pipeline run asks for at most once per `run_id`: skipped when the run is already
 * recorded, recorded only after `work` succeeded. A failure leaves no record, so a redelivery of
 * the same event tries again. Two deliveries handled at the very same moment may both run `work`;
 * the work itself is idempotent (claimed rows, keyed broadcasts), so that costs time, not effects.
 */
export async function runOnce<T>({
  ctx,
  input,
  work,
}: {
  ctx: Ctx;
  input: { runId: string; flow: string };
  work: () => Promise<T>;
}): Promise<RunOnceOutcome<T>> {
  await authorize(ctx, "write", { type: "pipeline_run" });
  const done = await ctx.db
    .select({ runId: processedRuns.runId })
    .from(processedRuns)
    .where(eq(processedRuns.runId, input.runId))
    .limit(1);
  if (done.length > 0) return { ran: false };
  const result = await work();
  await ctx.db
    .insert(processedRuns)
    .values({ runId: input.runId, flow: input.flow, processedAt: ctx.now() })
    .onConflictDoNothing();
  return { ran: true, result };
}

/** Forget runs handled before `before` (redeliveries come within minutes, not weeks). */
export async function pruneProcessedRuns({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: { before: Date };
}): Promise<number> {
  await authorize(ctx, "write", { type: "pipeline_run" });
  const deleted = await ctx.db
    .delete(processedRuns)
    .where(lt(processedRuns.processedAt, input.before))
    .returning({ runId: processedRuns.runId });
  return deleted.length;
}
