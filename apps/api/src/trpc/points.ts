import {
  getLeaderboard,
  getMyPoints,
  Leaderboard,
  MyPoints,
  PointsPreferences,
  setPointsPreferences,
} from "@celine/core";
import { procedure } from "./init.ts";

/** The points procedures (nested under `points.` in the router). */
export const points = {
  me: procedure.output(MyPoints).query(({ ctx }) => getMyPoints({ ctx: ctx.verb })),
  leaderboard: procedure.output(Leaderboard).query(({ ctx }) => getLeaderboard({ ctx: ctx.verb })),
  setPreferences: procedure
    .input(PointsPreferences)
    .output(PointsPreferences)
    .mutation(({ ctx, input }) => setPointsPreferences({ ctx: ctx.verb, input })),
};
