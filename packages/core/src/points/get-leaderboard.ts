import { and, desc, eq, gte, isNotNull, lt, sql } from "drizzle-orm";
import { type Ctx, withTransaction } from "../context.ts";
import { commitments as c, preferences as p } from "../db/schema.ts";
import { NotFoundError, UpstreamError } from "../errors.ts";
import { messageOf } from "../lib/message-of.ts";
import type { Leaderboard } from "../schemas/points.ts";
import { createZonedClock } from "../settlement/zoned-clock.ts";
import { formatInstant } from "../time.ts";
import { authorizeOwnPoints } from "./participant.ts";
import { rankBoard } from "./rank-board.ts";
import { seasonAt } from "./season.ts";

/**
 * This season's board of the caller's community: the top 10 anonymously, and the caller's own
 * rank, points and percentile. Members who opted out are on nobody's board (their own included);
 * the board's members are those with a commitment in the community this season.
 */
export async function getLeaderboard({ ctx }: { ctx: Ctx }): Promise<Leaderboard> {
  const me = await authorizeOwnPoints(ctx, "read");
  const community = await communityOf(ctx, me);
  const clock = createZonedClock(ctx.config.communityTimezone);
  const season = seasonAt(
    ctx.now(),
    { anchor: ctx.config.method.season.anchorDate, months: ctx.config.method.season.monthsPerSeason },
    clock,
  );
  const rows = await withTransaction(ctx, async (tx) => {
    const members = await tx.db
      .select({
        userId: c.userId,
        points:
          sql<number>`coalesce(sum(${c.rewardPointsActual}) filter (where ${c.status} = 'settled'), 0)`.mapWith(
            Number,
          ),
        visible: sql<boolean>`coalesce(bool_and(${p.leaderboardVisible}), true)`,
      })
      .from(c)
      .leftJoin(p, eq(p.userId, c.userId))
      .where(
        and(eq(c.communityId, community), gte(c.periodStart, season.start), lt(c.periodStart, season.end)),
      )
      .groupBy(c.userId);
    const [mine] = await tx.db.select({ visible: p.leaderboardVisible }).from(p).where(eq(p.userId, me));
    return { members, visible: mine?.visible ?? true };
  });
  const myPoints = rows.members.find((m) => m.userId === me)?.points ?? 0;
  const standings = rows.members.filter((m) => m.visible && m.userId !== me);
  // A visible caller is on their own board even before their first commitment of the season.
  if (rows.visible) standings.push({ userId: me, points: myPoints, visible: true });
  const board = rankBoard(standings, me);
  return {
    community_id: community,
    season: { start: formatInstant(season.start), end: formatInstant(season.end) },
    entries: board.entries,
    me: { rank: board.me?.rank ?? null, points: myPoints, percentile: board.me?.percentile ?? null },
  };
}

/**
 * The caller's community: the Digital Twin's membership, asked with the caller's own token. When
 * the DT cannot answer (down, or no token to forward), the community of their latest commitment
 * stands in, so the board survives a DT outage. A DT that answers "in no community" is believed.
 */
async function communityOf(ctx: Ctx, me: string): Promise<string> {
  let failure: unknown;
  try {
    if (ctx.credentials === null) throw new Error("no caller token to forward to the Digital Twin");
    const membership = await ctx.platform.dt.membership({ kind: "user", token: ctx.credentials }, me);
    if (!membership) throw new NotFoundError("you are not a member of a community");
    return membership.community.key;
  } catch (error) {
    if (error instanceof NotFoundError) throw error;
    failure = error;
  }
  const [latest] = await ctx.db
    .select({ communityId: c.communityId })
    .from(c)
    .where(and(eq(c.userId, me), isNotNull(c.communityId)))
    .orderBy(desc(c.committedAt), desc(c.id))
    .limit(1);
  if (latest?.communityId) {
    ctx.log.warn("leaderboard community from the latest commitment: the Digital Twin did not answer", {
      error: messageOf(failure),
    });
    return latest.communityId;
  }
  if (failure instanceof UpstreamError) throw failure;
  throw new NotFoundError("no community is known for you yet");
}
