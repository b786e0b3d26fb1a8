import { commitmentsRouter } from "./commitments.ts";
import { router } from "./init.ts";

export const appRouter = router({
  commitments: commitmentsRouter,
});

export type AppRouter = typeof appRouter;
