import { commitmentsRouter } from "./commitments.ts";
import { router } from "./init.ts";
import { membersRouter } from "./members.ts";
import { pointsRouter } from "./points.ts";
import { settlementRouter } from "./settlement.ts";
import { suggestionsRouter } from "./suggestions.ts";

export const appRouter = router({
  commitments: commitmentsRouter,
  members: membersRouter,
  points: pointsRouter,
  settlement: settlementRouter,
  suggestions: suggestionsRouter,
});

export type AppRouter = typeof appRouter;
