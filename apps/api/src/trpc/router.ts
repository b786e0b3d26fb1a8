import { commitmentsRouter } from "./commitments.ts";
import { router } from "./init.ts";
import { suggestionsRouter } from "./suggestions.ts";

export const appRouter = router({
  commitments: commitmentsRouter,
  suggestions: suggestionsRouter,
});

export type AppRouter = typeof appRouter;
