import type { Ctx } from "../context.ts";
import type { RowsReader } from "../db/rows.ts";
import { weekMarks, weeksByMember } from "./evidence.ts";
import { weekOutcomes } from "./queries.ts";
import { type Streak, streakBefore } from "./streak.ts";
import type { LocalDate } from "./zoned-clock.ts";

/**
 * The member's weekly streak in force for the ISO week starting `week` (a Monday, community time):
 * their weeks before it, as settlement steps through them. `GET /api/points/me` shows it for this
 * week; a suggestion's target and a commitment's progress multiply by it.
 */
export async function streakInForce(
  tx: Ctx,
  userId: string,
  week: LocalDate,
  read?: RowsReader,
): Promise<Streak> {
  const outcomes = await weekOutcomes(tx, [userId], tx.config.communityTimezone, tx.now(), read);
  return streakBefore(weekMarks(weeksByMember(outcomes).get(userId)), week, tx.config.method.streak);
}
