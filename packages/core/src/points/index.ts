// Points: a member's standing (totals, season, streak), the leaderboard and its preferences.

export {
  Leaderboard,
  MyPoints,
  PointsPreferences,
} from "../schemas/points.ts";
export { getLeaderboard } from "./get-leaderboard.ts";
export { getMyPoints } from "./get-my-points.ts";
export { setPointsPreferences } from "./set-points-preferences.ts";
