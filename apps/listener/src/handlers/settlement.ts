import { type Ctx, settleDueCommitments } from "@celine/core";
import type { PipelineRun } from "../pipeline-run.ts";

/** The daily flexibility flow ran (`rec-flexibility-flow`): settle every commitment whose window ended. */
export async function handleSettlement({ ctx }: { ctx: Ctx; run: PipelineRun }): Promise<unknown> {
  return settleDueCommitments({ ctx });
}
