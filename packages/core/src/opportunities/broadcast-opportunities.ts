import { and, eq, gt, lt, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { broadcasts } from "../db/schema.ts";
import { messageOf } from "../lib/message-of.ts";
import { enqueue, type OutboxEntry } from "../outbox/enqueue.ts";
import { roundHalfUp } from "../rounding.ts";
import { formatHhmm, toLocalTime } from "../settlement/zoned-clock.ts";
import { enqueueOpportunityEvent } from "../webhooks/events.ts";
import { findOpportunityWindows, type OpportunityWindow, readForecastHours } from "./opportunity-window.ts";

const HOUR_MS = 3_600_000;
/** How far ahead a broadcast looks. */
export const BROADCAST_HORIZON_HOURS = 24;
/** Outbox rows per INSERT: keeps one statement's parameters well below PostgreSQL's limit. */
const ENQUEUE_CHUNK = 1_000;

export type CommunityOutcome =
  | {
      kind: "announced";
      communityId: string;
      windowStart: string;
      windowEnd: string;
      estimatedKwh: number;
      rewardPoints: number;
      members: number;
    }
  /** An announced window of this community overlaps the one found (a rerun, or a later run inside it). */
  | { kind: "already_announced"; communityId: string; windowStart: string }
  | { kind: "no_window"; communityId: string }
  | { kind: "failed"; communityId: string; error: string };

export type BroadcastSummary = {
  /** The forecast horizon asked for: [from, to), whole UTC hours. */
  from: string;
  to: string;
  communities: CommunityOutcome[];
  /** Nudges written to the outbox by this run. */
  nudges: number;
};

/**
 * Announce each community's earliest flexibility opportunity of the next 24 hours to every member
 * with an account, one `flexibility_opportunity` nudge each, and `window.opportunity` to the
 * community's webhooks and its members' own, written to the outbox (the relay delivers them). Every community of the registry is tried; one community's failure is recorded
 * in the summary and never stops the others. A window that overlaps one already announced for
 * the community is not announced again, so reruns of the forecast send nothing twice.
 */
export async function broadcastOpportunities({ ctx }: { ctx: Ctx }): Promise<BroadcastSummary> {
  await authorize(ctx, "write", { type: "opportunity" });
  // Whole hours from the next hour boundary: an hour already under way is not offered.
  const from = new Date(Math.ceil(ctx.now().getTime() / HOUR_MS) * HOUR_MS);
  const to = new Date(from.getTime() + BROADCAST_HORIZON_HOURS * HOUR_MS);
  const summary: BroadcastSummary = {
    from: from.toISOString(),
    to: to.toISOString(),
    communities: [],
    nudges: 0,
  };

  for await (const community of ctx.platform.registry.communities()) {
    let outcome: CommunityOutcome;
    try {
      outcome = await broadcastToCommunity(ctx, community.key, from, to);
    } catch (error) {
      ctx.log.error("opportunity broadcast failed for a community", { community_id: community.key, error });
      outcome = { kind: "failed", communityId: community.key, error: messageOf(error) };
    }
    ctx.metrics.inc("flexibility_broadcast_communities_total", { outcome: outcome.kind });
    if (outcome.kind === "announced") {
      summary.nudges += outcome.members;
      ctx.metrics.inc("flexibility_broadcast_nudges_total", {}, outcome.members);
    }
    summary.communities.push(outcome);
  }
  return summary;
}

async function broadcastToCommunity(
  ctx: Ctx,
  communityId: string,
  from: Date,
  to: Date,
): Promise<CommunityOutcome> {
  const tz = ctx.config.communityTimezone;
  const hours = readForecastHours(await ctx.platform.dt.forecast(communityId, from, to)).filter(
    // The DT filters by the same bounds; rows outside them are not ours to announce.
    (hour) => hour.start >= from && hour.start < to,
  );
  const window = findOpportunityWindows(hours, tz)[0];
  if (!window) return { kind: "no_window", communityId };
  const windowStart = window.start.toISOString();
  // Skip paging through the members when the answer is already known.
  if (await overlapsAnnounced(ctx, communityId, window)) {
    return { kind: "already_announced", communityId, windowStart };
  }

  const userIds = new Set<string>();
  for await (const member of ctx.platform.registry.members(communityId)) {
    if (member.user_id) userIds.add(member.user_id);
  }

  // kWh as announced, 2 decimals; the points are computed from that same figure so the nudge
  // reads consistently (estimated_kwh × the settlement rate per kWh, half up).
  const kwh = roundHalfUp(window.estimatedKwh * 100) / 100;
  const rewardPoints = roundHalfUp(kwh * ctx.config.method.points.ratePerKwh);
  const start = toLocalTime(window.start, tz);
  const facts = {
    facts_version: "1.0" as const,
    scenario: "flexibility_opportunity",
    window_start: formatHhmm(start),
    window_end: formatHhmm(toLocalTime(window.end, tz)),
    estimated_kwh: String(kwh),
    reward_points: String(rewardPoints),
    period: start.date,
  };
  const timestamp = ctx.now().toISOString();
  const entries: OutboxEntry[] = [...userIds].map((userId) => ({
    kind: "nudge",
    event: {
      event_type: "flexibility_opportunity",
      user_id: userId,
      community_id: communityId,
      timestamp,
      payload: { window_start: windowStart, window_end: window.end.toISOString() },
      facts,
    },
  }));

  return withTransaction(ctx, async (tx) => {
    // One announcement per community at a time: the overlap check and the insert must not race
    // with another replica's (the primary key alone only catches an identical window_start).
    await tx.db.execute(
      sql`select pg_advisory_xact_lock(hashtext(${`flexibility_broadcast:${communityId}`}))`,
    );
    if (await overlapsAnnounced(tx, communityId, window)) {
      return { kind: "already_announced", communityId, windowStart };
    }
    await tx.db.insert(broadcasts).values({
      communityId,
      windowStart: window.start,
      windowEnd: window.end,
      estimatedKwh: window.estimatedKwh.toFixed(3),
      members: entries.length,
    });
    for (let i = 0; i < entries.length; i += ENQUEUE_CHUNK) {
      await enqueue(tx, entries.slice(i, i + ENQUEUE_CHUNK));
    }
    await enqueueOpportunityEvent(
      tx,
      {
        community_id: communityId,
        window_start: windowStart,
        window_end: window.end.toISOString(),
        estimated_kwh: kwh,
        reward_points: rewardPoints,
      },
      [...userIds],
    );
    ctx.log.info("opportunity announced", {
      community_id: communityId,
      window_start: windowStart,
      window_end: window.end.toISOString(),
      estimated_kwh: kwh,
      members: entries.length,
    });
    return {
      kind: "announced",
      communityId,
      windowStart,
      windowEnd: window.end.toISOString(),
      estimatedKwh: kwh,
      rewardPoints,
      members: entries.length,
    };
  });
}

async function overlapsAnnounced(ctx: Ctx, communityId: string, window: OpportunityWindow): Promise<boolean> {
  const rows = await ctx.db
    .select({ start: broadcasts.windowStart })
    .from(broadcasts)
    .where(
      and(
        eq(broadcasts.communityId, communityId),
        lt(broadcasts.windowStart, window.end),
        gt(broadcasts.windowEnd, window.start),
      ),
    )
    .limit(1);
  return rows.length > 0;
}
