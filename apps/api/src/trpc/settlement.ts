import { getSettlementMethod, SettlementMethodOut } from "@celine/core";
import { procedure } from "./init.ts";

/** The settlement procedures (nested under `settlement.` in the router). */
export const settlement = {
  method: procedure.output(SettlementMethodOut).query(({ ctx }) => getSettlementMethod({ ctx: ctx.verb })),
};
