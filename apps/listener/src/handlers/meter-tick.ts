import { backfillReadings, type Ctx, messageOf, sendDueReminders } from "@celine/core";
import type { PipelineRun } from "../pipeline-run.ts";

/**
 * A meter reading arrived (`meters-flow`, `rec-metering-flow`, about every 5 minutes): send the
 * reminders whose window is open and that could not go out before it (the catch-up), then store the
 * readings the targets of recently listed windows need (listing itself never asks the DT). A failed
 * back-fill is logged and left to the next tick: it never costs the reminders a redelivery.
 */
export async function handleMeterTick({ ctx }: { ctx: Ctx; run: PipelineRun }): Promise<unknown> {
  const reminders = await sendDueReminders({ ctx });
  const readings = await backfillReadings({ ctx }).catch((error: unknown) => {
    ctx.log.warn("meter tick: the readings back-fill failed; the next tick tries again", {
      error: messageOf(error),
    });
    return null;
  });
  return { reminders, readings };
}
