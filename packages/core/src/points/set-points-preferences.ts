import { type Ctx, withTransaction } from "../context.ts";
import { preferences } from "../db/schema.ts";
import { PointsPreferences } from "../schemas/points.ts";
import { parseInput } from "../validate.ts";
import { authorizeOwnPoints } from "./participant.ts";

/** Show or hide the caller on every member's leaderboard. Idempotent; answers what is stored. */
export async function setPointsPreferences({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: PointsPreferences;
}): Promise<PointsPreferences> {
  const me = await authorizeOwnPoints(ctx, "write");
  const { leaderboard_visible } = parseInput(PointsPreferences, input);
  const [row] = await withTransaction(ctx, (tx) =>
    tx.db
      .insert(preferences)
      .values({ userId: me, leaderboardVisible: leaderboard_visible, updatedAt: ctx.now() })
      .onConflictDoUpdate({
        target: preferences.userId,
        set: { leaderboardVisible: leaderboard_visible, updatedAt: ctx.now() },
      })
      .returning(),
  );
  return { leaderboard_visible: row?.leaderboardVisible ?? leaderboard_visible };
}
