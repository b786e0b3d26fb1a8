import { getSettlementMethod, SettlementMethodOut } from "@celine/core";
import { procedure, router } from "./init.ts";

export const settlementRouter = router({
  method: procedure.output(SettlementMethodOut).query(({ ctx }) => getSettlementMethod({ ctx: ctx.verb })),
});
