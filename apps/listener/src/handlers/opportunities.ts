import { broadcastOpportunities, type Ctx } from "@celine/core";
import type { PipelineRun } from "../pipeline-run.ts";

/**
 * A new forecast (`rec-forecasting-flow`): announce each community's earliest opportunity. A run
 * where some community failed throws after the others were served, so the run is not recorded as
 * done and a redelivery retries only what is missing (announced windows are never sent twice).
 */
export async function handleOpportunities({ ctx }: { ctx: Ctx; run: PipelineRun }): Promise<unknown> {
  const summary = await broadcastOpportunities({ ctx });
  const failed = summary.communities.filter((c) => c.kind === "failed").map((c) => c.communityId);
  if (failed.length > 0) {
    throw new Error(`opportunity broadcast failed for ${failed.length} community(ies): ${failed.join(", ")}`);
  }
  return summary;
}
