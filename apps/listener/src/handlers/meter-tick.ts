import { type Ctx, sendDueReminders } from "@celine/core";
import type { PipelineRun } from "../pipeline-run.ts";

/**
 * A meter reading arrived (`meters-flow`, `rec-metering-flow`, about every 5 minutes): send the
 * reminders whose window is open and that could not go out before it (the catch-up).
 */
export async function handleMeterTick({ ctx }: { ctx: Ctx; run: PipelineRun }): Promise<unknown> {
  return sendDueReminders({ ctx });
}
