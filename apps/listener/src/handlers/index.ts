import type { Ctx } from "@celine/core";
import type { PipelineRun } from "../pipeline-run.ts";
import { handleMeterTick } from "./meter-tick.ts";
import { handleOpportunities } from "./opportunities.ts";
import { handleSettlement } from "./settlement.ts";

export const HANDLER_NAMES = ["meter-tick", "opportunities", "settlement"] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Work for one completed run; resolves to a summary for the log, throws when the run must be retried. */
export type RunHandler = (args: { ctx: Ctx; run: PipelineRun }) => Promise<unknown>;

export const HANDLERS: Record<HandlerName, RunHandler> = {
  "meter-tick": handleMeterTick,
  opportunities: handleOpportunities,
  settlement: handleSettlement,
};
