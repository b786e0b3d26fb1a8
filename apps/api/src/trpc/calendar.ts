import { CalendarToken, createCalendarToken } from "@celine/core";
import { procedure } from "./init.ts";

/** The calendar procedures (nested under `calendar.` in the router). The feed itself is REST only. */
export const calendar = {
  createToken: procedure.output(CalendarToken).mutation(({ ctx }) => createCalendarToken({ ctx: ctx.verb })),
};
